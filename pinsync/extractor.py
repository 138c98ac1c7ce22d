"""Fetching: API records -> typed frames, for one stream and one parent at a time.

:class:`Extractor` knows *how to ask* (paths, parameters, batching, windows, reports) and
*how to type* the answers; it writes nothing. :mod:`pinsync.sync` decides what to fetch,
writes the frames and moves the bookmarks; :func:`pinsync.extract` uses it directly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from pinsync import api, clock, frames
from pinsync.client import PinterestClient
from pinsync.config import DEFAULT_TARGETING_TYPES, DEFAULT_USER_METRIC_TYPES
from pinsync.errors import ApiError, PayloadError, ScopeError
from pinsync.memory import REPORTS, cpu_slot
from pinsync.reports import (ReportJob, ReportPolicy, ReportRunner, flatten_report, report_key, report_spans,
                             report_unsupported)
from pinsync.schemas import (ENTITY_COLUMNS, Column, analytics_columns, pin_analytics_columns,
                             pin_daily_metric_types, pin_lifetime_columns, pin_lifetime_metric_types,
                             targeting_analytics_columns, user_account_analytics_columns, valid_columns_for_level)
from pinsync.streams import STREAMS, Fanout, StreamSpec
from pinsync.streams.analytics import MULTI_PIN_PATH, REPORTS_PATH, align_start, batched, date_windows

log = logging.getLogger("pinsync.extractor")

@dataclass(frozen=True)
class AnalyticsSettings:
    """What every ads analytics request sends besides ids and dates."""

    columns: tuple[str, ...]
    granularity: str = "DAY"
    click_window_days: int = 30
    engagement_window_days: int = 30
    view_window_days: int = 1
    conversion_report_time: str = "TIME_OF_AD_ACTION"

    def params(self, level: str) -> dict:
        return {
            "columns": ",".join(valid_columns_for_level(level, self.columns)),
            "granularity": self.granularity,
            "click_window_days": self.click_window_days,
            "engagement_window_days": self.engagement_window_days,
            "view_window_days": self.view_window_days,
            "conversion_report_time": self.conversion_report_time,
        }

    def report_body(self, level: str, report_level: str, span: tuple[dt.date, dt.date],
                    targeting_types: tuple[str, ...] = ()) -> dict:
        """The body creating the report of ``span`` at ``report_level``: what :meth:`params` asks
        the synchronous endpoint of ``level`` for (columns a report cannot carry left out).
        A targeting report breaks metrics down by ``targeting_types`` (each type on its own)."""
        columns = [c for c in valid_columns_for_level(level, self.columns) if c not in report_unsupported(report_level)]
        body = {
            "start_date": span[0].isoformat(), "end_date": span[1].isoformat(), "granularity": self.granularity,
            "level": report_level, "columns": columns,
            "click_window_days": self.click_window_days, "engagement_window_days": self.engagement_window_days,
            "view_window_days": self.view_window_days, "conversion_report_time": self.conversion_report_time,
            "report_format": "JSON",
        }
        if targeting_types:
            body.update(targeting_types=list(targeting_types), combine_targeting_types=False)
        return body

    def key(self) -> str:
        """Changes whenever the numbers a request returns could change meaning."""
        return json.dumps([sorted(self.columns), self.granularity, self.click_window_days,
                           self.engagement_window_days, self.view_window_days, self.conversion_report_time])


class PinFetch:
    """What a pin analytics fetch learns besides its daily rows, collected as the answers
    arrive (from several request threads).

    Attributes:
        pending_from: the first day some answer still marks as pending (PROCESSING): it and
            later days are to be fetched again.
        skipped: pins the API answered 403/404 for (gone, or not accessible to the token).
        lifetime: frames of pin_lifetime_metrics rows.
    """

    def __init__(self) -> None:
        self.pending_from: dt.date | None = None
        self.skipped: set[str] = set()
        self.lifetime: list[pl.DataFrame] = []
        self._lock = threading.Lock()

    def skip(self, pin_ids: list[str]) -> None:
        with self._lock:
            self.skipped.update(pin_ids)

    def add_lifetime(self, df: pl.DataFrame) -> None:
        if df.height:
            with self._lock:
                self.lifetime.append(df)

    def settle(self, df: pl.DataFrame, metrics: list[str]) -> pl.DataFrame:
        """Note ``df``'s first pending day, and keep the rows worth a row: not before the pin
        was created (only that status is dropped: one missing or unknown is kept) and with
        at least one metric value ("no activity, no rows", as the API leaves out zeros)."""
        pending = df.filter(pl.col("data_status").is_in(api.PIN_DATA_STATUS_PENDING))["date"].min()
        if pending is not None:
            with self._lock:
                self.pending_from = pending if self.pending_from is None else min(self.pending_from, pending)
        if not metrics:
            return df.clear()
        df = df.filter(pl.col("data_status").ne_missing(api.PIN_DATA_STATUS_NOT_CREATED)
                       & pl.any_horizontal(pl.col(metrics).is_not_null()))
        undated = df.filter(pl.col("date").is_null())
        if undated.height:
            raise PayloadError(f"pin_analytics: field 'date' of record {undated['pin_id'][0]!r} is missing "
                               "from a day with metrics")
        return df


def hold_keys(stream: str, df: pl.DataFrame, keys: dict, id_column: str) -> pl.DataFrame:
    """``df`` with the values ``keys`` the rows were asked for under (the ad account listed,
    the board...): a row that carries another value is a :class:`PayloadError` naming the
    stream, the field and the record; a row without one gets the request's. Partition keys
    come from the request, never from the payload."""
    for name, value in keys.items():
        other = df.filter(pl.col(name).is_not_null() & (pl.col(name) != value))
        if other.height:
            row = other.row(0, named=True)
            raise frames.field_error(stream, name, row[id_column],
                                     f"is {row[name]!r}, but the record was listed under {name} {value!r}")
    return df.with_columns(pl.lit(v, df.schema[k]).alias(k) for k, v in keys.items()) if keys else df


def check_dates(stream: str, df: pl.DataFrame, window: tuple[dt.date, dt.date], granularity: str,
                id_column: str | None) -> None:
    """Every row is dated within the days asked for (``window``; WEEK and MONTH rows by their
    bucket's start): a row dated elsewhere, or not at all, would replace days of a month file
    that were not fetched, or land in no month. A :class:`PayloadError` naming the record."""
    if not df.height:
        return
    date = pl.col("date")
    day = date.dt.date() if df.schema["date"] == pl.Datetime else date
    lo, hi = align_start(window[0], granularity), window[1]
    bad = df.filter(date.is_null() | ~day.is_between(lo, hi))
    if bad.height:
        row = bad.row(0, named=True)
        detail = ("is missing (null)" if row["date"] is None
                  else f"is {row['date']}, outside the days asked for ({window[0]}..{window[1]})")
        raise frames.field_error(stream, "date", row[id_column] if id_column else None, detail)


class _MultiPinRefused(Exception):
    """The multi-pin beta refused a batch (401 code 7, or 403)."""


def _decode_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except ValueError as e:
        raise PayloadError(f"pin_analytics: response is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise PayloadError("pin_analytics: expected a JSON object keyed by pin id")
    return data


class Extractor:
    """Fetches one stream's records for one parent and returns typed frames.

    Args:
        client: the run's API client.
        entity_statuses: statuses asked for on campaigns / ad groups / ads lists.
        settings: ads analytics settings.
        pin_metric_types, split_by_app_type: pin analytics settings.
        pool: executor for independent requests (id batches, windows); None runs them inline.
        ahead: how many requests of one stream may run ahead of the one being typed
            (default: 8).
        on_progress: called with (stream, rows, requests) as data arrives.
        report_policy: waits and bounds of asynchronous reports.
        targeting_types: what targeting analytics break metrics down by (each level asks for
            those of them its endpoint accepts).
        user_metric_types, user_split_field: user account analytics settings.
        today: the run's date (UTC): lifetime pin metrics are as of it.
    """

    def __init__(self, client: PinterestClient, *, entity_statuses: tuple[str, ...] = api.ENTITY_STATUSES,
                 settings: AnalyticsSettings | None = None,
                 pin_metric_types: tuple[str, ...] = ("IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE", "SAVE_RATE"),
                 split_by_app_type: bool = False, pool: Executor | None = None,
                 on_progress: Callable[[str, int], None] | None = None, ahead: int = 8,
                 report_policy: ReportPolicy | None = None, today: dt.date | None = None,
                 targeting_types: tuple[str, ...] = DEFAULT_TARGETING_TYPES,
                 user_metric_types: tuple[str, ...] = DEFAULT_USER_METRIC_TYPES, user_split_field: str = "NO_SPLIT"):
        self.client = client
        self.targeting_types = targeting_types
        self.user_metric_types = user_metric_types
        self.user_split_field = user_split_field
        self.report_policy = report_policy or ReportPolicy()
        self.entity_statuses = entity_statuses
        self.settings = settings or AnalyticsSettings(columns=())
        self.pin_metric_types = pin_metric_types
        self.split_by_app_type = split_by_app_type
        self.pool = pool
        self.ahead = max(1, ahead)
        self.on_progress = on_progress or (lambda stream, rows: None)
        self.today = today or clock.today()
        self._multi_pin: bool | None = None     # detected once per run
        self._multi_lock = threading.Lock()
        self._warned: set = set()         # stream names, (stream, column) pairs: warned once a run
        self._warn_lock = threading.Lock()

    # -- entities ------------------------------------------------------------------------

    def entities(self, spec: StreamSpec, ad_account_id: str | None = None,
                 on_page: Callable[[pl.DataFrame], None] | None = None) -> pl.DataFrame:
        """Every record of an entity stream (for one ad account), typed, one row per id.
        ``on_page`` (pins): called with each page, typed, as it comes (in order, from
        another thread; a record that moved between pages comes twice)."""
        if spec.name == "pins":
            columns = ENTITY_COLUMNS[spec.name]
            df = frames.concat(self._pin_pages(spec, spec.path, dict(spec.params), columns, on_page), columns)
            # a record that moved between pages while we listed is kept once (its last sighting)
            return self.finish(spec, df)
        return self.listing(spec, [{"ad_account_id": ad_account_id}] if ad_account_id else [{}])

    def list_unit(self, spec: StreamSpec, ad_account_id: str | None = None,
                  parents: dict[str, pl.DataFrame] | None = None,
                  on_page: Callable[[pl.DataFrame], None] | None = None) -> pl.DataFrame:
        """Every record of a listed stream for one unit (an ad account, or the user): the
        path's other parameters (``{board_id}``) are filled from the parent's ids, the
        fan-outs carry their parents' ids (``parents``: each parent's listing, with ``id``).
        ``on_page``: see :meth:`entities` (pins only)."""
        if spec.name == "pins":
            return self.entities(spec, on_page=on_page)
        parents = parents or {}
        if "{" not in spec.path.replace("{ad_account_id}", ""):
            contexts = [{"ad_account_id": ad_account_id}] if ad_account_id else [{}]
        else:       # one listing per parent record, e.g. per board
            name = spec.path.split("{", 1)[1].split("}", 1)[0]
            contexts = [{name: i} for i in sorted(parents[spec.parent]["id"].to_list())]
        return self.listing(spec, contexts, {f.parent: parents[f.parent]["id"].to_list()
                                             for f in spec.fanouts if f.parent})

    def listing(self, spec: StreamSpec, contexts: list[dict] | None = None,
                parent_ids: dict[str, list[str]] | None = None) -> pl.DataFrame:
        """Every record of a listed stream, typed, one row per key.

        Args:
            contexts: the path parameters of each listing (``{"ad_account_id": ...}``,
                ``{"board_id": ...}``); default: one listing without any.
            parent_ids: the ids of the parent streams the spec's fan-outs carry (e.g. the
                account's campaigns and ad groups for keywords), by stream name.

        The calls (contexts x fan-outs x id batches) run on the pool; a record seen twice (it
        moved between pages, or two calls list it) is kept once: its last sighting.
        """
        columns = ENTITY_COLUMNS[spec.name]
        params = dict(spec.params)
        if spec.entity_statuses:
            params["entity_statuses"] = list(self.entity_statuses)
        tasks = []
        for context in [{}] if contexts is None else contexts:
            for fan in spec.fanouts:
                if fan.values:
                    tasks += [(context, fan, {fan.param: v}, v) for v in fan.values]
                elif fan.parent is not None:
                    ids = sorted((parent_ids or {}).get(fan.parent, ()))
                    tasks += [(context, fan, {fan.param: b[0] if fan.batch == 1 else ",".join(b)}, None)
                              for b in batched(ids, fan.batch)]
                else:
                    tasks.append((context, fan, {}, None))

        def one(context: dict, fan: Fanout, extra: dict, value: str | None) -> pl.DataFrame:
            path = spec.path.format(**context)
            query = {**params, **extra}
            if spec.shape == "page":
                df = frames.concat(self._pages(spec, path, query, columns), columns)
            else:
                data = self.client.get_json(path, query, category=spec.category, tag=spec.name)
                records = data.get("items") if spec.shape == "items" and isinstance(data, dict) else [data]
                if not isinstance(records, list):
                    raise ApiError(f"GET /{path}: response has no 'items' list")
                df = frames.records_to_frame(records, columns, stream=spec.name, source_names=spec.rename)
                self.on_progress(spec.name, len(records))
            df = hold_keys(spec.name, df, {k: v for k, v in context.items() if k in spec.context},
                           spec.primary_key[-1])
            return df.with_columns(pl.lit(value, df.schema[fan.column]).alias(fan.column)) if fan.column else df

        return self.finish(spec, frames.concat(self._imap(one, tasks), columns))

    def _pages(self, spec: StreamSpec, path: str, params: dict, columns,
               on_page: Callable[[pl.DataFrame], None] | None = None) -> list[pl.DataFrame]:
        """Every page, typed. Pages are asked for one after another (each needs the last
        one's bookmark): a page is typed by a thread of its own while the next one is on its
        way (not on the request pool, whose workers may be waiting for this listing), which
        then hands it to ``on_page``."""
        def typed(items: list) -> pl.DataFrame:
            df = frames.records_to_frame(items, columns, stream=spec.name, source_names=spec.rename)
            if on_page is not None:
                on_page(df)
            return df

        with ThreadPoolExecutor(1, thread_name_prefix="pinsync-type") as typer:
            parts: list[Future] = []
            try:
                for page in self.client.paginate(path, params, category=spec.category, tag=spec.name):
                    parts.append(typer.submit(typed, page.items))
                    self.on_progress(spec.name, len(page.items))
                return [p.result() for p in parts]
            finally:
                typer.shutdown(cancel_futures=True)

    def _pin_pages(self, spec: StreamSpec, path: str, params: dict, columns,
                   on_page: Callable[[pl.DataFrame], None] | None = None) -> list[pl.DataFrame]:
        """The pins, those on secret boards ("protected pins") included when the token may
        read them (the pins:read_secret scope). When its scopes are not known (a static
        token), they are asked for, and the API's answer for a token without the scope (401
        code 3) means they are listed without."""
        scopes = self.client.token_scopes()
        if scopes is None or api.SECRET_PINS_SCOPE in scopes:
            try:
                return self._pages(spec, path, {**params, "include_protected_pins": True}, columns, on_page)
            except ScopeError:      # at the first page: nothing handed to on_page yet
                pass
        if self._warn_once("protected pins"):
            log.warning("pins on secret boards (protected pins) are not listed, nor their analytics: the token "
                        "lacks the %s scope (authorise the app with it to list them)", api.SECRET_PINS_SCOPE)
        return self._pages(spec, path, params, columns, on_page)

    # -- ads analytics -------------------------------------------------------------------

    def ads_analytics_columns(self, spec: StreamSpec) -> tuple[Column, ...]:
        if spec.targeting_types:
            return targeting_analytics_columns(spec.level, self.settings.columns, self.settings.granularity)
        return analytics_columns(spec.level, self.settings.columns, self.settings.granularity)

    def targeting_types_for(self, spec: StreamSpec) -> tuple[str, ...]:
        """The configured targeting types the level's endpoint accepts (all in one call)."""
        return tuple(t for t in self.targeting_types if t in api.TARGETING_TYPES_BY_LEVEL[spec.level])

    def report_targeting_types_for(self, spec: StreamSpec) -> tuple[str, ...]:
        """The targeting types a report of the stream's level breaks metrics down by: those of
        :meth:`targeting_types_for` reports know (warned about once when some are not)."""
        types = self.targeting_types_for(spec)
        known = tuple(t for t in types if t in api.REPORT_TARGETING_TYPES
                      and spec.report_level in api.REPORT_TARGETING_TYPE_LEVELS.get(t, (spec.report_level,)))
        lost = [t for t in types if t not in known]
        if lost and self._warn_once(f"{spec.name}:report types"):
            log.warning("%s: reports do not break metrics down by %s: days older than the synchronous endpoints "
                        "serve have no rows for them", spec.name, ", ".join(lost))
        return known

    def ads_analytics(self, spec: StreamSpec, ad_account_id: str, ids: list[str] | None, start: dt.date,
                      end: dt.date, *, currency: str | None = None) -> pl.DataFrame:
        """Metrics of ``ids`` over ``[start, end]``: the fewest calls (250 ids x widest windows).
        Streams of the ad account itself (no ``id_param``) take no ids. Targeting streams ask
        for every configured targeting type the level accepts in each call. A stream only
        reports serve is fetched from reports."""
        if spec.report_only:
            batches = self.report_batches(spec, ad_account_id, start, end, ids=ids, currency=currency,
                                          today=self.today)
        else:
            batches = self.ads_analytics_batches(spec, ad_account_id, ids, start, end, currency=currency)
        return self.finish(spec, frames.concat(batches, self.ads_analytics_columns(spec)))

    def ads_analytics_batches(self, spec: StreamSpec, ad_account_id: str, ids: list[str] | None, start: dt.date,
                              end: dt.date, *, currency: str | None = None) -> Iterator[pl.DataFrame]:
        """Like :meth:`ads_analytics`, one typed frame per call as the answers arrive (in
        request order, a bounded number of requests ahead), not deduplicated or sorted
        (see :meth:`finish`). Lets the caller keep memory flat."""
        self._warn_dropped(spec)
        type_body = self._ads_typer(spec, ad_account_id, currency)
        path = spec.path.format(ad_account_id=ad_account_id)

        def one(params: dict, window: tuple[dt.date, dt.date]) -> pl.DataFrame:
            body = self._get_analytics(path, params, spec, expect="object" if spec.targeting_types else "array")
            df = type_body(body, window)
            self.on_progress(spec.name, df.height)
            return df

        yield from self._imap(one, self.ads_analytics_calls(spec, ad_account_id, ids, start, end))

    def ads_analytics_calls(self, spec: StreamSpec, ad_account_id: str, ids: list[str] | None, start: dt.date,
                            end: dt.date) -> list[tuple[dict, tuple[dt.date, dt.date]]]:
        """The synchronous calls of :meth:`ads_analytics_batches` (``(query, window)`` each, in
        request order): windows x id batches, each batch as long as the request line allows.
        ``pinsync plan`` counts them without making them."""
        path = spec.path.format(ad_account_id=ad_account_id)
        base = self.settings.params(spec.level)
        if spec.targeting_types:
            types = self.targeting_types_for(spec)
            if not types:
                return []
            base["targeting_types"] = ",".join(types)

        def params_of(window: tuple[dt.date, dt.date], batch: list[str] | None) -> dict:
            params = {**base, "start_date": window[0].isoformat(), "end_date": window[1].isoformat()}
            if batch is not None:
                params[spec.id_param] = ",".join(batch)
            return params

        windows = date_windows(start, end, self.settings.granularity)
        if not windows or (spec.id_param and not ids):
            return []

        def fits(batch: list[str]) -> bool:    # dates are ISO, so one window's line is every window's
            return self.client.request_line_length(path, params_of(windows[0], batch)) <= api.REQUEST_LINE_MAX
        id_batches = list(batched(sorted(ids), spec.batch_size, fits)) if spec.id_param else [None]
        return [(params_of(w, b), w) for w in windows for b in id_batches]

    def report_batches(self, spec: StreamSpec, ad_account_id: str, start: dt.date, end: dt.date, *,
                       ids: list[str] | None = None, currency: str | None = None,
                       tokens: dict[str, str] | None = None, on_token: Callable[[str, str], None] | None = None,
                       today: dt.date | None = None) -> Iterator[pl.DataFrame]:
        """The days of ``[start, end]`` that reports serve (see :mod:`pinsync.reports`), from
        asynchronous reports: one typed frame per report, in date order, with exactly the
        columns, dtypes and values the synchronous calls give (:meth:`ads_analytics_batches`).
        Targeting streams take one report per span and 5 targeting types.

        Args:
            ids: keep only these entities (as the synchronous calls ask for); None keeps all.
            tokens: report tokens saved by an earlier run (by key): those reports are polled,
                not created again.
            on_token: called with ``(key, token)`` right after a report is created, before
                its first poll, so the caller can save it.
            today: the current UTC date (default: :func:`pinsync.clock.today`).
        """
        if spec.report_level is None:
            raise ValueError(f"{spec.name}: no report serves this stream")
        self._warn_dropped(spec)
        unsupported = [c for c in valid_columns_for_level(spec.level, self.settings.columns)
                       if c in report_unsupported(spec.report_level)]
        if unsupported and self._warn_once(f"{spec.name}:report"):
            log.warning("%s: reports cannot carry %s; history from reports has them empty", spec.name,
                        ", ".join(unsupported))
        type_body = self._ads_typer(spec, ad_account_id, currency)
        jobs = self.report_jobs(spec, ad_account_id, start, end, today)
        id_key = api.LEVEL_ID_COLUMN[spec.level]
        id_col = id_key.lower()

        held: dict[str, int] = {}      # job -> bytes of REPORTS it holds until the caller is done with its rows

        def read(job: ReportJob, file: BinaryIO) -> pl.DataFrame:
            """Each file is typed as it is downloaded, from the temp file it was streamed to
            (a file that is not JSON is fetched again), once the process holds few enough
            other reports' rows (:data:`pinsync.memory.REPORTS`); a targeting report's rows
            first take the targeting endpoints' shape."""
            held[job.key] = REPORTS.take(file.seek(0, os.SEEK_END))
            file.seek(0)
            try:
                if spec.targeting_types:
                    return type_body(flatten_report(json.load(file), id_key, spec.name, targeting=True), job.span)
                return type_body(file, job.span, keyed=True)
            except BaseException:
                REPORTS.give_back(held.pop(job.key))
                raise
        runner = ReportRunner(self.client, self.report_policy, read=read, pool=self.pool)
        wanted = pl.Series(list(ids), dtype=pl.String) if ids is not None else None
        try:
            for job, df in runner.run(REPORTS_PATH.format(ad_account_id=ad_account_id), jobs, tag=spec.name,
                                      tokens=tokens, on_token=on_token):
                if ids is not None:
                    kept = df[id_col].is_in(wanted.implode())
                    if not kept.all():      # usually every entity is asked for: no copy then
                        df = df.filter(kept)
                self.on_progress(spec.name, df.height)
                yield df
                del df          # the caller asks for the next report once it is done with this one's rows
                REPORTS.give_back(held.pop(job.key))
        finally:
            for size in held.values():
                REPORTS.give_back(size)

    def report_jobs(self, spec: StreamSpec, ad_account_id: str, start: dt.date, end: dt.date,
                    today: dt.date | None = None) -> list[ReportJob]:
        """The reports :meth:`report_batches` obtains for ``[start, end]``: one per span
        (:func:`pinsync.reports.report_spans`) - for targeting streams, one per span and 5
        targeting types -, each with its saved-token key. ``pinsync plan`` counts them without
        creating them."""
        groups: list[tuple[str, ...]] = [()]
        if spec.targeting_types:
            groups = list(map(tuple, batched(self.report_targeting_types_for(spec), api.REPORT_TARGETING_TYPES_MAX)))
        jobs = []
        for span in report_spans(start, end, self.settings.granularity, today or clock.today()):
            for types in groups:
                body = self.settings.report_body(spec.level, spec.report_level, span, types)
                label = f"level {spec.report_level}" + (f" ({', '.join(types)})" if types else "")
                jobs.append(ReportJob(report_key(ad_account_id, body), body, f"{spec.name}: ad account "
                                      f"{ad_account_id}, {label}, {span[0]}..{span[1]}"))
        return jobs

    def _ads_typer(self, spec: StreamSpec, ad_account_id: str,
                   currency: str | None) -> Callable[..., pl.DataFrame]:
        """The function typing an ads analytics answer (a flat JSON array of rows; ``keyed``: a
        report file, rows keyed by entity id, as bytes or a file) over a window into the stream's frame: one for
        synchronous answers and reports alike."""
        columns = self.ads_analytics_columns(spec)
        id_key = api.LEVEL_ID_COLUMN[spec.level]
        source = {c.name: c.name.upper() for c in columns[:1]}
        if spec.targeting_types:
            source.update(targeting_type="targeting_type", targeting_value="targeting_value")
        time_key = "date"
        source[time_key] = "DATE"
        metric_names = {c.lower(): c for c in valid_columns_for_level(spec.level, self.settings.columns)}
        for c in columns:
            if c.name in metric_names and c.name not in source:
                source[c.name] = metric_names[c.name]
        if "AD_ACCOUNT_ID" in metric_names.values():
            source["ad_account_id"] = "AD_ACCOUNT_ID"
        gran = self.settings.granularity
        if gran == "TOTAL":
            source.pop("date")
        context = {
            "granularity": pl.lit(gran),
            "click_window_days": pl.lit(self.settings.click_window_days, pl.Int64),
            "engagement_window_days": pl.lit(self.settings.engagement_window_days, pl.Int64),
            "view_window_days": pl.lit(self.settings.view_window_days, pl.Int64),
            "conversion_report_time": pl.lit(self.settings.conversion_report_time),
            "currency": pl.lit(currency, pl.String),
        }
        names = [c.name for c in columns]
        read = frames.read_targeting if spec.targeting_types else frames.read_json_array

        def type_body(body: bytes | BinaryIO, window: tuple[dt.date, dt.date], keyed: bool = False) -> pl.DataFrame:
            with cpu_slot():
                df = read(body, columns, stream=spec.name, source_names=source, id_field=id_key,
                          **({"keyed": True} if keyed else {}))
                del body
                if gran == "TOTAL":
                    df = df.with_columns(date=pl.lit(window[0]), start_date=pl.lit(window[0]),
                                         end_date=pl.lit(window[1]))
                check_dates(spec.name, df, window, gran, columns[0].name)
                df = hold_keys(spec.name, df, {"ad_account_id": ad_account_id}, columns[0].name)
                df = df.with_columns(**context).select(names)
            self._warn_widened(spec.name, columns, df)
            return df
        return type_body

    @staticmethod
    def dedupe(spec: StreamSpec, df: pl.DataFrame) -> pl.DataFrame:
        """One row per key: the last answer wins (order otherwise kept). Without duplicates
        (the usual case) ``df`` itself is returned: no copy. A row without a key value is a
        :class:`PayloadError`."""
        key = list(spec.primary_key)
        nulls = df.select(pl.col(key).null_count()).row(0, named=True)
        if any(nulls.values()):
            field = next(k for k, n in nulls.items() if n)
            row = df.filter(pl.col(field).is_null()).row(0, named=True)
            known = {k: row[k] for k in (*key, "name", "title") if row.get(k) is not None}
            record = frames.preview(known) if known else "no other id"
            raise PayloadError(f"{spec.name}: field '{field}' of a record is missing (null), so the record cannot be "
                               f"kept apart from others (the record: {record})")
        if df.select(pl.struct(key).n_unique()).item() == df.height:
            return df
        return df.unique(subset=key, keep="last", maintain_order=True)

    @classmethod
    def finish(cls, spec: StreamSpec, df: pl.DataFrame) -> pl.DataFrame:
        """One row per key, sorted by the key: what a table holds."""
        return cls.dedupe(spec, df).sort(list(spec.primary_key))

    def _get_analytics(self, path: str, params: dict, spec: StreamSpec, expect: str = "array") -> bytes:
        try:
            return self.client.get_bytes(path, params, category=spec.category, tag=spec.name, expect=expect)
        except ApiError as e:
            # Pinterest sometimes answers a valid request with a spurious "last 90 days" 400; once more.
            if e.status == 400 and "90 days" in (e.api_message or ""):
                log.info("%s: spurious 90-day 400; asking once more", spec.name)
                return self.client.get_bytes(path, params, category=spec.category, tag=spec.name, expect=expect)
            raise

    def _warn_widened(self, stream: str, columns: tuple[Column, ...], df: pl.DataFrame) -> None:
        """Warn (once a run per column) that an integer column came with fractions: it is
        Float64 in what this run writes, so the values are kept and the stream goes on."""
        for c in columns:
            if c.kind == "int" and df.schema[c.name] == pl.Float64:
                if self._warn_once((stream, c.name)):
                    sample = df.filter(pl.col(c.name) != pl.col(c.name).round(0))[c.name].head(1).to_list()
                    log.warning("%s: column '%s' holds fractional values (e.g. %s) where whole numbers were "
                                "expected; it is written as Float64 instead of Int64 (values kept as sent)",
                                stream, c.name, sample[0] if sample else "?")

    def _warn_once(self, what: str) -> bool:
        with self._warn_lock:
            first = what not in self._warned
            self._warned.add(what)
        return first

    def _warn_dropped(self, spec: StreamSpec) -> None:
        """Warn once per stream about chosen columns its level cannot serve (the defaults'
        id and name columns of other levels are expected to drop out: no warning)."""
        from pinsync.config import DEFAULT_ANALYTICS_COLUMNS

        valid = valid_columns_for_level(spec.level, self.settings.columns)
        dropped = [c for c in self.settings.columns if c not in valid and c not in DEFAULT_ANALYTICS_COLUMNS]
        if dropped and self._warn_once(spec.name):
            log.warning("%s: columns not valid at the %s level are not requested: %s", spec.name,
                        spec.level.replace("_", " "), ", ".join(dropped))

    # -- pin analytics -------------------------------------------------------------------

    def pin_analytics_columns(self) -> tuple[Column, ...]:
        return pin_analytics_columns(self.pin_metric_types)

    def pin_lifetime_columns(self) -> tuple[Column, ...]:
        return pin_lifetime_columns(self.pin_metric_types)

    def pin_analytics(self, pin_ids: list[str], start: dt.date, end: dt.date,
                      fetch: PinFetch | None = None) -> pl.DataFrame:
        """Daily organic metrics of ``pin_ids`` (TOTAL, plus each app type when split)."""
        spec = STREAMS["pin_analytics"]
        return self.finish(spec, frames.concat(self.pin_analytics_batches(pin_ids, start, end, fetch),
                                               self.pin_analytics_columns()))

    def pin_analytics_batches(self, pin_ids: list[str], start: dt.date, end: dt.date,
                              fetch: PinFetch | None = None) -> Iterator[pl.DataFrame]:
        """Like :meth:`pin_analytics`, one typed frame per call as the answers arrive (see
        :meth:`ads_analytics_batches`). Days before a pin was created and days without any
        metric value give no row. ``fetch`` collects the rest of what the answers say (the
        first day still pending, the pins skipped, the lifetime metrics).

        The multi-pin beta (100 pins a call) is used when the app has it: the first batch
        doubles as the check. Without it, one call per pin (per app-type view)."""
        ids = sorted(pin_ids)
        yield from self.pin_batches(((w, b) for w in date_windows(start, end) for b in batched(ids, api.PIN_IDS_MAX)),
                                    fetch)

    def pin_batches(self, batches: Iterable[tuple[tuple[dt.date, dt.date], list[str]]],
                    fetch: PinFetch | None = None) -> Iterator[pl.DataFrame]:
        """:meth:`pin_analytics_batches` of ``(window, pin ids)`` batches (at most 100 pins,
        one window of at most 90 days each), taken as they come: ``batches`` may still be
        growing (batches made from a pins listing's pages as they arrive)."""
        fetch = fetch if fetch is not None else PinFetch()
        batches = iter(batches)
        first: list[tuple] = []
        while self._multi_pin is None and (unit := next(batches, None)) is not None:
            window, batch = unit
            # the first batch doubles as the capability check: no extra request
            yield from self._probe_multi_pin(window, batch, fetch)
            if self._multi_pin:
                first += [(window, batch, view, True, fetch) for view in self._views(True)[1:]]

        def tasks() -> Iterator[tuple]:
            yield from first
            for w, b in batches:
                if self._multi_pin:
                    yield from ((w, b, view, True, fetch) for view in self._views(True))
                else:
                    yield from ((w, [p], view, False, fetch) for p in b for view in self._views(False))
        yield from self._imap(self._pin_task, tasks())
        if fetch.skipped:
            log.warning("pin_analytics: %d pin(s) skipped: the API answers that they are gone or not accessible "
                        "(e.g. %s)", len(fetch.skipped), ", ".join(sorted(fetch.skipped)[:3]))

    def pin_analytics_requests(self, pins: int, start: dt.date, end: dt.date) -> tuple[int, int]:
        """The calls :meth:`pin_analytics_batches` makes for ``pins`` pins over ``[start, end]``:
        the fewest (the app has the multi-pin beta: 100 pins a call) and the most (it has not,
        or refuses batches: each batch asked for once, then pin by pin)."""
        windows = len(date_windows(start, end)) if pins else 0
        batches = -(-pins // api.PIN_IDS_MAX)
        views = len(self._views(True))          # at least as many as one pin alone needs
        return windows * batches * views, windows * (batches + pins) * views

    def _views(self, multi: bool) -> tuple[str, ...]:
        """The calls each batch needs: ``ALL`` (the TOTAL rows), then per app type either one
        ``split_field=APP_TYPE`` call (single pin) or one ``app_types`` call per app type (the
        multi-pin beta has no split_field)."""
        if not self.split_by_app_type:
            return ("ALL",)
        return ("ALL", *api.PIN_APP_TYPES) if multi else ("ALL", "APP_TYPE")

    def _probe_multi_pin(self, window, batch, fetch: PinFetch) -> Iterator[pl.DataFrame]:
        """Ask the multi-pin beta for ``batch``; on a refusal fetch the batch pin by pin, and
        decide whether the app has the beta (a refusal while every pin answers alone: no)."""
        try:
            first = self._pin_call(window, batch, "ALL", True, fetch)
        except _MultiPinRefused:
            pass
        else:
            self._multi_pin = True
            yield first
            return
        skipped_before = len(fetch.skipped & set(batch))
        yield from self._imap(self._pin_task, [(window, [p], view, False, fetch) for p in batch
                                               for view in self._views(False)])
        if len(fetch.skipped & set(batch)) == skipped_before:
            log.info("the multi-pin analytics beta is not available to this app; one call per pin")
            self._multi_pin = False
        # else: a pin of the batch was refused alone too, which may be why the batch was: ask again

    def _pin_task(self, window, batch, view, multi: bool, fetch: PinFetch) -> pl.DataFrame:
        try:
            return self._pin_call(window, batch, view, multi, fetch)
        except _MultiPinRefused:
            # e.g. a pin of the batch the token may not read: the batch pin by pin (the single-pin
            # endpoint takes the same app_types), where such a pin is skipped alone
            log.info("pin_analytics: a batch of %d pins was refused (401 code 7); asking pin by pin", len(batch))
            return frames.concat([self._pin_call(window, [p], view, False, fetch) for p in batch],
                                 self.pin_analytics_columns())

    def _pin_call(self, window, batch, view, multi: bool, fetch: PinFetch) -> pl.DataFrame:
        """One pin analytics request; its rows (see :meth:`pin_analytics_batches`)."""
        spec = STREAMS["pin_analytics"]
        columns = self.pin_analytics_columns()
        daily = pin_daily_metric_types(self.pin_metric_types)
        params = {"start_date": window[0].isoformat(), "end_date": window[1].isoformat(),
                  "metric_types": ",".join(self.pin_metric_types)}
        split, label = "NO_SPLIT", "TOTAL"
        if view == "APP_TYPE":
            params["split_field"] = split = "APP_TYPE"
        elif view != "ALL":
            params["app_types"] = label = view
        lifetime = pin_lifetime_metric_types(self.pin_metric_types)
        try:
            if multi:
                body = self.client.get_bytes(MULTI_PIN_PATH, {"pin_ids": ",".join(batch), **params},
                                             category=spec.category, tag=spec.name, expect="object")
                data = None
            else:
                data = {batch[0]: self.client.get_json(spec.path.format(pin_id=batch[0]), params,
                                                       category=spec.category, tag=spec.name)}
        except ApiError as e:
            refused = e.status == 403 or (e.status, e.code) == (401, api.NOT_AUTHORIZED_CODE)
            if multi and refused:
                raise _MultiPinRefused() from None
            if refused or e.status == 404:
                fetch.skip(batch)      # gone, or not (any more) accessible to this token
                self.on_progress(spec.name, 0)
                return frames.concat([], columns)
            raise
        with cpu_slot():
            if data is None and not lifetime:
                df = frames.read_pin_payload(body, columns, daily, split, pin_ids=batch, app_type=label)
            else:
                if data is None:
                    data = _decode_object(body)
                df = frames.pin_payload_frame(data, columns, daily, split, app_type=label)
                if lifetime:
                    fetch.add_lifetime(frames.pin_lifetime_frame(data, self.pin_lifetime_columns(), lifetime, split,
                                                                 app_type=label, as_of=self.today))
            df = fetch.settle(df, [c.name for c in columns[4:]])
            check_dates(spec.name, df, window, "DAY", "pin_id")
        self._warn_widened(spec.name, columns, df)
        self.on_progress(spec.name, df.height)
        return df

    # -- user account analytics -----------------------------------------------------------

    def user_analytics_columns(self) -> tuple[Column, ...]:
        return user_account_analytics_columns(self.user_metric_types, self.user_split_field)

    def user_analytics_key(self) -> tuple[str, ...]:
        """The table's key: the date, and the split field's column when split."""
        return ("date",) + ((self.user_split_field.lower(),) if self.user_split_field != "NO_SPLIT" else ())

    def user_analytics_spec(self, spec: StreamSpec) -> StreamSpec:
        """``spec`` keyed as its table is: by date, and the split field's column when split."""
        return dataclasses.replace(spec, primary_key=self.user_analytics_key())

    def user_account_analytics(self, spec: StreamSpec, start: dt.date, end: dt.date) -> pl.DataFrame:
        """The user account's daily metrics over ``[start, end]`` (one call per 90-day window),
        one row per day (and split group); days before the business account existed are left out."""
        batches = self.user_analytics_batches(spec, start, end)
        return self.finish(self.user_analytics_spec(spec), frames.concat(batches, self.user_analytics_columns()))

    def user_analytics_batches(self, spec: StreamSpec, start: dt.date, end: dt.date) -> Iterator[pl.DataFrame]:
        """Like :meth:`user_account_analytics`, one typed frame per call (see
        :meth:`ads_analytics_batches`)."""
        columns = self.user_analytics_columns()

        def one(window: tuple[dt.date, dt.date]) -> pl.DataFrame:
            params = {"start_date": window[0].isoformat(), "end_date": window[1].isoformat(),
                      "metric_types": ",".join(self.user_metric_types), "split_field": self.user_split_field}
            data = self.client.get_json(spec.path, params, category=spec.category, tag=spec.name)
            df = frames.user_analytics_frame(data, columns, self.user_metric_types, self.user_split_field)
            check_dates(spec.name, df, window, "DAY", self.user_analytics_key()[-1])
            self.on_progress(spec.name, df.height)
            # days before the account existed carry nothing (like a pin's days before it was created)
            return df.filter(pl.col("data_status").ne_missing(api.USER_DATA_STATUS_NOT_CREATED))

        yield from self._imap(one, [(w,) for w in date_windows(start, end)])

    # -- helpers ---------------------------------------------------------------------------

    def _imap(self, fn, tasks: Iterable[tuple]) -> Iterator:
        """``fn(*task)`` for each task, in order, with up to ``ahead`` tasks running ahead
        (``tasks`` may be a generator still waiting for its next task)."""
        if self.pool is None or (isinstance(tasks, list) and len(tasks) <= 1):
            for t in tasks:
                yield fn(*t)
            return
        pending: deque = deque()
        todo = iter(tasks)
        try:
            for t in itertools.islice(todo, self.ahead):
                pending.append(self.pool.submit(fn, *t))
            while pending:
                result = pending.popleft().result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(self.pool.submit(fn, *nxt))
                yield result
        finally:
            for f in pending:
                f.cancel()
