"""The one orchestrator: fetch -> write -> advance bookmarks, for every selected stream.

Order of every unit of work (a stream for one ad account, or a user-level stream):

1. fetch everything the unit covers (all pages, all id batches, all windows and reports)
   into typed frames - held in a :class:`~pinsync.buffer.FrameBuffer`, which spills to
   local temp files past the unit's share of ``buffer_mb``;
2. write its files as one batch (each file atomic, all made durable with two disk
   flushes; on an object store, PUT when the batch commits): an entity table or account
   partition whole; for analytics, each month touched is merged (the month's other days
   kept, the fetched days replaced, a month left empty removed) and written only if its
   rows changed. An analytics month is merged into the batch as soon as the last call or
   report that can hold its rows has arrived (:func:`write_batches`: a long history is
   written report by report), but no file is replaced before the unit has fetched
   everything;
3. move the bookmark and save the state file (atomic).

Units run ``max_workers`` at a time (:func:`units_at_once`): a unit is one stream of one ad
account (streams whose path names an ad account) or of the user (the others, synced by shard
0), and it starts once the units of the streams it is fetched for are done (its parent, the
streams its fan-outs carry the ids of: :func:`pinsync.streams.parents_of`). How a unit fetches
is its stream's kind: a listing, ads (or targeting) analytics windows and reports, pin
analytics, the user account's analytics. Their requests go through a pool of twice
``max_workers`` threads, of which the client lets ``max_workers`` have a request in flight
(the others type answers, or wait for a CPU to), under the rate limiters.

A crash at any point leaves the previous state, and the next run re-fetches and
overwrites the same files: nothing is lost and nothing is duplicated. A unit that fails
(e.g. 403 on one ad account) commits nothing and leaves its bookmarks alone; the other
units carry on, and the run reports the failure (exit 1; exit 3 when a stream needs a scope
the token lacks). A stream beyond the default selection that came from ``streams: [all]``
rather than by name is only warned about when Pinterest refuses it (a missing scope, an
account without a catalog): the run still succeeds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import polars as pl

from pinsync import api, clock, frames
from pinsync.buffer import FrameBuffer
from pinsync.client import PinterestClient
from pinsync.connect import client_for, extractor_for
from pinsync.errors import (EXIT_CREDENTIALS, ApiError, AuthError, Cancelled, ConfigError, PayloadError,
                            PinsyncError, ScopeError, SinkError, StateError, SyncFailed)
from pinsync.extractor import Extractor, PinFetch
from pinsync.memory import limit_arenas
from pinsync.plan import (DAY, REPORT, Fetch, Plan, PlanLine, held_range, history_floor, last_complete_day, lost_days,
                          next_bucket, unit_fetches)
from pinsync.schemas import pin_lifetime_metric_types
from pinsync.sink import (DATA_FILE, FINGERPRINT, GROUP_ROWS, MONTH, Sink, WriteResult, fingerprint, fingerprint_scheme,
                          month_of, other_meaning, partition_dir, with_month)
from pinsync.state import State, StateStore
from pinsync.storage import Location
from pinsync.streams import DEFAULT_STREAMS, STREAMS, StreamSpec, needed, parents_of, per_account, select
from pinsync.streams.analytics import (active_pins, align_start, date_windows, log_silent_pins, pins_to_ask,
                                      warn_clamp)

log = logging.getLogger("pinsync.sync")

ALL = "*"


@dataclass
class StreamStats:
    """Per-stream figures for the summary table."""

    stream: str
    rows_fetched: int = 0
    rows_written: int = 0
    files_written: int = 0
    files_deleted: int = 0
    files_unchanged: int = 0       # analytics month files fetched again and found identical: not rewritten
    skipped: int = 0               # pins the API answered 403/404 for (gone or private): no rows, not an error
    requests: int = 0
    seconds: float = 0.0
    units: int = 0
    failed: int = 0


@dataclass
class Event:
    """Progress, for whoever renders it (the CLI draws rich progress bars from these)."""

    kind: str                  # "planned" (one more unit of the stream will run), "start", "rows" (a page or
                               # batch arrived), "done" (a unit committed), "failed", "warning" (a stream from
                               # `all` that Pinterest refused)
    stream: str
    rows: int = 0
    key: str = ""
    message: str = ""


@dataclass
class SyncResult:
    """What a run did."""

    run_id: str
    streams: dict[str, StreamStats]
    failures: list[str] = field(default_factory=list)
    requests_by_category: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)    # streams from `all` Pinterest refused
    exit_code: int = 0          # 0 without failures; 3 if a named stream lacks a scope; else 1

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def requests(self) -> int:
        return sum(self.requests_by_category.values())


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def shard_of(ad_account_id: str, shards: int) -> int:
    """The shard (0-based) an account belongs to: a stable hash, the same on every machine."""
    return int(hashlib.sha256(ad_account_id.encode()).hexdigest(), 16) % shards


class _ParentFailed(Exception):
    """The listing a unit took pages from failed (the unit is reported as skipped)."""

    def __init__(self, parent: str):
        super().__init__(parent)
        self.parent = parent


class _ParentStopped(Exception):
    """The listing a unit took pages from stopped the run (its error is the run's)."""


class PageFeed:
    """A listing's pages, handed on as they are typed to a unit that started with the listing
    (pin analytics ask for the first pins while the next pages are on their way). Iterating
    gives the pages until the listing is done; it raises :class:`_ParentFailed` when the
    listing failed, :class:`_ParentStopped` when the run stopped."""

    DONE, FAILED, STOPPED = "done", "failed", "stopped"

    def __init__(self, parent: str):
        self.parent = parent
        self._pages: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, page: pl.DataFrame) -> None:
        self._pages.put(page)

    def close(self, outcome: str) -> None:
        """The listing ended (``DONE``, ``FAILED`` or ``STOPPED``); a second close is ignored."""
        self._pages.put(outcome)

    def __iter__(self) -> Iterator[pl.DataFrame]:
        while not isinstance(page := self._pages.get(), str):
            yield page
        if page == self.FAILED:
            raise _ParentFailed(self.parent)
        if page == self.STOPPED:
            raise _ParentStopped()


class _Run:
    def __init__(self, config, *, today: dt.date, full_refresh: bool, run_id: str,
                 on_event: Callable[[Event], None], shard: tuple[int, int] | None, client: PinterestClient,
                 store: StateStore, state: State, sink: Sink, pool: ThreadPoolExecutor, plan: Plan | None = None):
        self.config, self.today, self.full_refresh, self.run_id = config, today, full_refresh, run_id
        self.plan = plan       # planning (`pinsync plan`): listings only; analytics counted, nothing written
        self.on_event, self.shard, self.client, self.store, self.state, self.sink = (
            on_event, shard, client, store, state, sink)
        self.selected = {s.name for s in select(config.streams)}
        if not pin_lifetime_metric_types(tuple(config.pin_analytics.metric_types)):
            # named among chosen streams (not just "every stream", the default): say why it stays empty
            if "pin_lifetime_metrics" in getattr(config, "named_streams", ()):
                log.warning("pin_lifetime_metrics: no lifetime metric asked for (pin_analytics.metric_types: "
                            "TOTAL_COMMENTS, TOTAL_REACTIONS): nothing to write")
            self.selected.discard("pin_lifetime_metrics")
        self.needed = needed([STREAMS[n] for n in self.selected])
        self.stats = {n: StreamStats(n) for n in STREAMS if n in self.selected}
        self.failures: list[str] = []
        self.warnings: list[str] = []
        self.scope_failed = False
        self.named = set(getattr(config, "named_streams", ()))
        self._refused: dict[tuple[str, str], str] = {}   # (stream, key) -> why Pinterest refused it
        self.cancel = client.cancelled
        self._lock = threading.Lock()
        self._clamp_warned = False
        self._bookmarks: dict[tuple[str, str], dt.date | None] = {}   # usable_bookmark, once per unit
        self._listings: dict[tuple[str, str], dict[str, int]] = {}     # a unit's month files, listed once
        self._checks: dict[tuple[str, str], MonthCheck] = {}           # what that listing found, once per unit
        self._t0: dict[str, float] = {}
        self._feeds: dict[tuple[str, str], PageFeed] = {}   # (listing, key) -> its pages, for a unit that follows them
        self.extractor = extractor_for(client, config, pool=pool, on_progress=self._progress, today=today,
                                       report_sleep=None if client._sleep is time.sleep else client._sleep)
        self.settings = self.extractor.settings
        # the units running at once share buffer_mb; beyond their share they spill to disk
        self.buffer_bytes = config.buffer_mb * 2**20 // units_at_once(config.max_workers)

    # -- bookkeeping -----------------------------------------------------------------------

    def _progress(self, stream: str, rows: int) -> None:
        with self._lock:
            if stream in self.stats:
                self.stats[stream].rows_fetched += rows
        self.on_event(Event("rows", stream, rows=rows))

    def _begin(self, stream: str, key: str = ALL, what: str = "") -> float:
        """A unit starts: the progress event, and at -v a line saying what it fetches."""
        with self._lock:
            self._t0.setdefault(stream, time.monotonic())
        self.on_event(Event("start", stream, key=key))
        log.info("%s: started%s", _unit_name(stream, key), f": {what}" if what else "")
        return time.monotonic()

    def _end(self, stream: str, written: WriteResult, key: str = ALL, started: float | None = None) -> None:
        with self._lock:
            st = self.stats[stream]
            st.rows_written += written.rows_written
            st.files_written += written.files_written
            st.files_deleted += written.files_deleted
            st.files_unchanged += written.files_unchanged
            st.units += 1
            st.seconds = time.monotonic() - self._t0[stream]
        self.on_event(Event("done", stream, rows=written.rows_written, key=key))
        took = f" in {time.monotonic() - started:.2f}s" if started is not None else ""
        log.info("%s: done%s: %s rows written, %d files written, %d kept unchanged%s", _unit_name(stream, key), took,
                 f"{written.rows_written:,}", written.files_written, written.files_unchanged,
                 f", {written.files_deleted} deleted" if written.files_deleted else "")

    def _fail(self, stream: str, key: str, err: Exception, refused: str | None = None) -> None:
        """Record a unit's failure. Pinterest refusing the stream (a scope the token lacks:
        ``refused="scope"``; any other 403: ``"forbidden"``) is only a warning for a stream
        beyond the default selection that came from ``all`` (or only as another's parent)."""
        what = _unit_name(stream, key)
        if isinstance(err, ScopeError):
            refused = "scope"
            scopes = ", ".join(STREAMS[stream].scopes) if stream in STREAMS else "?"
            err = PinsyncError(f"the token lacks a scope this stream needs ({scopes}): add it to the app and run "
                               f"`pinsync login` again (Pinterest: {err.api_message})")
        elif refused is None and isinstance(err, ApiError) and err.status == 403:
            refused = "forbidden"
        msg = f"{what}: {err}"
        soft = refused is not None and stream not in self.named and stream not in DEFAULT_STREAMS
        with self._lock:
            if refused:
                self._refused[(stream, key)] = refused
            if soft:
                self.warnings.append(msg)
            else:
                self.failures.append(msg)
                self.scope_failed |= refused == "scope"
                if stream in self.stats:
                    self.stats[stream].failed += 1
        if soft:
            log.warning("%s (not selected by name: the run goes on)", msg)
            self.on_event(Event("warning", stream, key=key, message=str(err)))
            return
        log.error(msg)
        self.on_event(Event("failed", stream, key=key, message=str(err)))

    def _skip(self, spec: StreamSpec, key: str, parent: str) -> None:
        """A unit whose parent's unit failed: reported like the parent (refused or not)."""
        self._fail(spec.name, key, PinsyncError(f"skipped: {parent} could not be listed"),
                   refused=self._refused.get((parent, key)))

    def _commit(self, stream: str, key: str, bookmark: dict) -> None:
        if self.cancel.is_set():
            raise Cancelled("the run was stopped")
        self.state.set(stream, key, {**bookmark, "last_run": self.run_id})
        self.store.save(self.state)

    # -- entities ------------------------------------------------------------------------

    def entity_unit(self, spec: StreamSpec, key: str, df: pl.DataFrame, started: float | None = None) -> None:
        """Write an entity table (or one account's partition) if its content changed
        (``started``: when its listing began, if it was logged)."""
        if spec.name not in self.selected or self.plan is not None:
            return
        if started is None:
            started = self._begin(spec.name, key,
                                  "listing" if spec.kind == "entity" else "from the pin_analytics answers")
        fp = fingerprint(df, spec.primary_key)
        prev = self.state.get(spec.name, key) or {}
        keys = {"ad_account_id": key} if spec.partition_by else None
        self.sink.remove_stale_temps(spec.name, keys)   # left beside their files by an earlier version
        written = WriteResult()
        if self.full_refresh or prev.get("fingerprint") != fp or (df.height and not self._intact(spec.name, keys)):
            if keys:
                written = self.sink.replace_partitions(spec.name, df, spec.partition_by, covers=[keys], sort_by=spec.primary_key)
            else:
                written = self.sink.write_table(spec.name, df.sort(list(spec.primary_key)))
        cursor = df[spec.cursor].max() if spec.cursor and df.height else None
        if cursor is None and prev.get("cursor"):
            cursor_text = prev["cursor"]
        else:
            cursor_text = cursor.isoformat() if cursor is not None else None
        self._commit(spec.name, key, {"cursor": cursor_text, "rows": df.height, "fingerprint": fp})
        self._end(spec.name, written, key, started)

    def _intact(self, stream: str, keys: dict | None) -> bool:
        """Whether the file the state vouches for is there and whole (its footer reads): a
        file truncated or corrupt on disk is written again, and the repair reported."""
        try:
            return self.sink.footer(self.sink.file_of(stream, keys)) is not None
        except SinkError as e:
            self._repairing(stream, f"{e}; writing it again")
            return False

    def _repairing(self, stream: str, message: str, key: str = ALL) -> None:
        """Report a file the state vouched for that this run repairs (a warning in the log
        and in the run's summary)."""
        what = _unit_name(stream, key)
        log.warning("%s: %s", what, message)
        with self._lock:
            self.warnings.append(f"{what}: {message}")

    # -- ads analytics ------------------------------------------------------------------

    def usable_bookmark(self, stream: str, key: str) -> dt.date | None:
        """The unit's last complete day, if its state can be trusted for this run (not a full
        refresh, the same settings, every month file it vouches for still there and whole,
        written with these settings). Decided once per unit and run.

        A bookmark later than the last complete day (written under a clock that ran ahead, or
        edited by hand) cannot say which days were complete when they were fetched: with a
        warning, it is taken as the day before the last complete bucket, so that bucket
        (yesterday) is fetched again even with ``lookback_days: 0``, and the days after it as
        they complete. A unit whose held days all lie after the last complete day holds nothing."""
        with self._lock:
            if (stream, key) in self._bookmarks:
                return self._bookmarks[(stream, key)]
        usable = self._usable_bookmark(stream, key)
        with self._lock:
            self._bookmarks[(stream, key)] = usable
        return usable

    def _usable_bookmark(self, stream: str, key: str) -> dt.date | None:
        prev = self.state.get(stream, key) or {}
        if self.full_refresh or prev.get("settings") != self.settings_key(stream) or not prev.get("last_complete_date"):
            return None
        problems = self._vouched_files(stream, key, prev.get("partitions") or {})
        if problems:    # the bookmark claims rows that are gone: fetch them again
            self._repairing(stream, f"{'; '.join(problems)}; fetching the whole history again", key)
            return None
        bookmark = dt.date.fromisoformat(prev["last_complete_date"])
        gran = self.granularity(stream)
        last = last_complete_day(self.today, gran)
        if bookmark <= last:
            return bookmark
        what = stream + (f" (ad account {key})" if key != ALL else "")
        held_from = prev.get("held_from")
        if held_from and dt.date.fromisoformat(held_from) > last:
            log.warning("%s: the state says the days %s..%s are held, all later than the last complete day %s (a "
                        "clock that ran ahead, or a hand edit); fetching the whole history again", what, held_from,
                        bookmark, last)
            return None
        start = align_start(last, gran)
        log.warning("%s: the state's bookmark %s is later than the last complete day %s (a clock that ran ahead, or "
                    "a hand edit); fetching again from %s", what, bookmark, last, start)
        return start - dt.timedelta(days=1)

    def _vouched_files(self, stream: str, key: str, partitions: dict) -> list[str]:
        """What is wrong with the month files the state vouches for: missing (deleted by
        hand), unreadable (truncated, corrupt), or rewritten with other columns or settings
        (another configuration sharing the output). The unit's one listing for the missing
        ones (:meth:`_listing`), then the footer of each file (one ranged read)."""
        prefix = _unit_prefix(key)
        on_disk = self._listing(stream, key) if partitions else {}
        lost = {prefix + leaf for leaf in partitions if leaf not in on_disk}
        problems = [f"{stream}/{d}/{DATA_FILE} is missing" for d in sorted(lost)]
        scheme = self.scheme(stream)
        for d in sorted(prefix + leaf for leaf in partitions if leaf in on_disk):
            rel = f"{stream}/{d}/{DATA_FILE}"
            try:
                recorded = (self.sink.footer(rel) or {}).get(FINGERPRINT)
            except SinkError as e:
                problems.append(str(e))
                continue
            if other_meaning(recorded, scheme):
                problems.append(f"{self.sink.location.path(rel)} was written with other columns or settings")
        return problems

    def granularity(self, stream: str) -> str:
        """The analytics granularity of a stream (organic analytics are daily)."""
        return "DAY" if STREAMS[stream].kind in ("pin_analytics", "user_analytics") else self.settings.granularity

    def _clamped(self, start_date: dt.date, floor: dt.date) -> None:
        with self._lock:                 # once per run, not once per stream and account
            first = not self._clamp_warned
            self._clamp_warned = True
        if first:
            warn_clamp(start_date, floor)

    def settings_key(self, stream: str) -> str:
        spec = STREAMS[stream]
        if spec.kind == "pin_analytics":
            p = self.config.pin_analytics
            return f"{sorted(p.metric_types)}|{p.split_by_app_type}"
        if spec.kind == "user_analytics":
            return f"{sorted(self.extractor.user_metric_types)}|{self.extractor.user_split_field}"
        if spec.targeting_types:
            return f"{self.settings.key()}|{sorted(self.extractor.targeting_types_for(spec))}"
        return self.settings.key()

    def unit_fetches(self, spec: StreamSpec, key: str) -> tuple[list[Fetch], dt.date | None, dt.date | None]:
        """The fetches of an analytics unit (:func:`pinsync.plan.unit_fetches`), and the days
        the unit holds already (``held_from``, ``bookmark``; None when it holds nothing
        usable: first run, full refresh, other settings, a month file lost)."""
        prev = self.state.get(spec.name, key) or {}
        bookmark = self.usable_bookmark(spec.name, key)
        gran = self.granularity(spec.name)
        reports = spec.report_level is not None
        floor = history_floor(self.today, gran, reports=reports)
        held_from = dt.date.fromisoformat(prev["held_from"]) if bookmark and prev.get("held_from") else None
        if bookmark and held_from is None and not reports:
            # a bookmark written before held_from was recorded: it holds what start_date asked for
            held_from = max(self.config.start_date, floor)
        if self.config.start_date < floor and bookmark is None:
            self._clamped(self.config.start_date, floor)
        check = self.month_check(spec, key, held_from, bookmark)
        return (unit_fetches(today=self.today, start_date=self.config.start_date,
                             lookback_days=self.config.analytics.lookback_days, granularity=gran, bookmark=bookmark,
                             held_from=held_from, reports=reports, sync=not spec.report_only,
                             repair=check.again if check else ()), held_from, bookmark)

    # -- the month files a unit holds: one listing per unit and run ---------------------------

    def _listing(self, stream: str, key: str) -> dict[str, int]:
        """The unit's month files with their sizes, from one listing of its folder, made once
        per run before the unit writes anything."""
        with self._lock:
            if (stream, key) in self._listings:
                return self._listings[(stream, key)]
        found = self.sink.month_files(stream, _unit_prefix(key).rstrip("/"))
        with self._lock:
            return self._listings.setdefault((stream, key), found)

    def month_check(self, spec: StreamSpec, key: str, held_from: dt.date | None,
                    bookmark: dt.date | None) -> MonthCheck | None:
        """Whether every month file the state records for the unit (``files``) is there with
        the size recorded, from the unit's one listing (no read of a file); None when the
        state holds nothing to check (first run, full refresh, a stream not selected).

        A lost month (missing, another size, or recorded as being replaced by a run that
        stopped and now unreadable) holds days the state claims: those the API still
        serves are fetched again (:func:`pinsync.plan.lost_days`), with one warning; the
        older ones are lost for good, and the state stops claiming them when the unit
        commits (:meth:`_commit_months`). A month file the unit holds that the state does not
        record yet (a state written before ``files`` was) is recorded once its footer reads.
        Decided once per unit and run."""
        stream = spec.name
        with self._lock:
            if (stream, key) in self._checks:
                return self._checks[(stream, key)]
        prev = self.state.get(stream, key) or {}
        if self.full_refresh or stream not in self.selected or not prev.get("last_complete_date"):
            return None
        recorded = prev.get("files") or {}
        first = held_from or (dt.date.fromisoformat(prev["held_from"]) if prev.get("held_from") else _EPOCH)
        last = bookmark or min(dt.date.fromisoformat(prev["last_complete_date"]),
                               last_complete_day(self.today, self.granularity(stream)))
        on_disk = self._listing(stream, key)
        # the lookback window's files: their footers were read already (a usable bookmark)
        footers_read = set(prev.get("partitions") or {}) if bookmark is not None else set()
        check = MonthCheck(on_disk)
        for leaf, size in recorded.items():
            if leaf not in on_disk:
                check.lost[leaf] = "missing"
            elif size is not None and on_disk[leaf] != size:
                check.lost[leaf] = f"{on_disk[leaf]:,} bytes, not the {size:,} recorded"
        for leaf, size in sorted(on_disk.items()):
            month = leaf.partition("=")[2]
            if (leaf in recorded and recorded[leaf] is not None) or not (month_of(first) <= month <= month_of(last)):
                continue
            rel = f"{stream}/{_unit_prefix(key)}{leaf}/{DATA_FILE}"
            try:        # recorded only once seen whole: the state never vouches for a file it has not checked
                if leaf not in footers_read:
                    self.sink.footer(rel)
                check.adopted[leaf] = size
            except SinkError:
                check.lost[leaf] = "unreadable (truncated or corrupt)"
        gran, reports = self.granularity(stream), spec.report_level is not None
        for leaf in sorted(check.lost):
            again, gone = lost_days([leaf.partition("=")[2]], today=self.today, granularity=gran, held_from=first,
                                    bookmark=last, reports=reports)
            check.again += again
            check.gone += gone
            if gone:
                check.gone_months.append(leaf)
        if check.lost:
            what = "; ".join(f"{leaf}: {why}" for leaf, why in sorted(check.lost.items()))
            days = ", ".join(f"{lo}..{hi}" for lo, hi in check.again)
            # (a unit fetching its whole history again has said why, and fetches these days too)
            if bookmark is not None and (check.again or not check.gone):
                self._repairing(stream, f"month files the state records are lost ({what}); fetching their days "
                                        f"again{': ' + days if days else ''}", key)
            if check.gone and self.plan is not None:
                self._repairing(stream, self._gone_message(stream, key, check, None), key)
        with self._lock:
            return self._checks.setdefault((stream, key), check)

    def _gone_message(self, stream: str, key: str, check: MonthCheck, holds: tuple[dt.date, dt.date] | None) -> str:
        spec = STREAMS[stream]
        floor = history_floor(self.today, self.granularity(stream), reports=spec.report_level is not None)
        days = ", ".join(f"{lo}..{hi}" for lo, hi in check.gone)
        now = (f"; the state no longer claims them (it holds {holds[0]}..{holds[1]} now)" if holds
               else "; the next run stops claiming them")
        what = "; ".join(f"{leaf}: {check.lost[leaf]}" for leaf in check.gone_months)
        return (f"month files the state records are lost ({what}) and their days {days} are older than the API "
                f"serves (it serves days from {floor}): restore them from a backup if there is one (pinsync cannot "
                f"fetch them again){now}")

    def ads_analytics_unit(self, spec: StreamSpec, account: dict, entities: pl.DataFrame | None) -> None:
        acct = account["id"]
        fetches, held_from, bookmark = self.unit_fetches(spec, acct)
        end = max((f.end for f in fetches), default=None)
        id_list = _ids_created_by(entities, _CREATED.get(spec.parent), end) if spec.id_param and fetches else None
        tokens = (self.state.get(spec.name, acct) or {}).get("reports") or {}
        if self.plan is not None:
            self._plan_ads(spec, acct, fetches, id_list, tokens)
            return
        started = self._begin(spec.name, acct, ", ".join(f"days {f.start}..{f.end} ({f.path})" for f in fetches) or "nothing to fetch")
        self.sink.remove_stale_temps(spec.name, {"ad_account_id": acct})
        if not fetches:
            self._settle(spec.name, acct, held_from, bookmark)
            self._end(spec.name, WriteResult(), acct, started)
            return
        gran = self.settings.granularity
        covers = [{"ad_account_id": acct, "date": d} for f in fetches for d in _buckets(f.start, f.end, gran)]

        def on_token(name: str, token: str) -> None:
            """A report was created: remember its token before the first poll, so a run
            stopped while waiting polls it again instead of creating another."""
            with self._lock:
                mark = self.state.get(spec.name, acct) or {}
                mark.setdefault("reports", {})[name] = token
                self.state.set(spec.name, acct, mark)
            self.store.save(self.state)

        def batches():
            for f in fetches:
                if f.path == REPORT:
                    yield from self.extractor.report_batches(spec, acct, f.start, f.end, ids=id_list,
                                                             currency=account.get("currency"), tokens=tokens,
                                                             on_token=on_token, today=self.today)
                else:
                    yield from self.extractor.ads_analytics_batches(spec, acct, id_list, f.start, f.end,
                                                                    currency=account.get("currency"))
        scheme = self.scheme(spec.name)
        written = write_batches(self.sink, spec, batches(), covers, self.buffer_bytes,
                                windows=self._ads_windows(spec, acct, fetches, id_list),
                                **self._partition_memory(spec.name, acct, scheme))
        first, last = held_range(fetches, held_from, bookmark)
        # the bookmark holds no report tokens any more: their rows are on disk
        self._commit_months(spec.name, acct, first, last, scheme, written, covers, end)
        self._end(spec.name, written, acct, started)

    def _ads_windows(self, spec: StreamSpec, acct: str, fetches: list[Fetch],
                     ids: list[str] | None) -> list[tuple[dt.date, dt.date]]:
        """The days each batch of :meth:`ads_analytics_unit` covers, in the order they come:
        a report's span, a synchronous call's window (the extractor's own plan of them)."""
        windows: list[tuple[dt.date, dt.date]] = []
        for f in fetches:
            if f.path == REPORT:
                windows += [job.span for job in self.extractor.report_jobs(spec, acct, f.start, f.end, self.today)]
            else:
                windows += [w for _, w in self.extractor.ads_analytics_calls(spec, acct, ids, f.start, f.end)]
        return windows

    def _plan_ads(self, spec: StreamSpec, acct: str, fetches: list[Fetch], ids: list[str] | None,
                  tokens: dict[str, str]) -> None:
        """Count what :meth:`ads_analytics_unit` would request, with the extractor's own batching."""
        line = PlanLine(spec.name, acct, spec.category, fetches)
        for f in fetches:
            if f.path == REPORT:
                jobs = self.extractor.report_jobs(spec, acct, f.start, f.end, self.today)
                resumed = sum(j.key in tokens for j in jobs)
                line.reports += len(jobs) - resumed
                line.resumed += resumed
            else:
                line.calls += len(self.extractor.ads_analytics_calls(spec, acct, ids, f.start, f.end))
        line.calls_most = line.calls
        # each report polled until done (a resumed one found expired: once more, then created again)
        line.polls_most = (line.reports + line.resumed) * self.extractor.report_policy.most_polls() + line.resumed
        self._planned(line)

    def _planned(self, line: PlanLine) -> None:
        with self._lock:
            self.plan.lines.append(line)

    # -- pin analytics ------------------------------------------------------------------

    def pin_analytics_unit(self, pins: pl.DataFrame | None, feed: PageFeed | None = None) -> None:
        """pin_analytics (and pin_lifetime_metrics, from the same answers) for every pin: those
        of ``pins`` (the listing), or of ``feed``'s pages as the listing goes on."""
        spec = STREAMS["pin_analytics"]
        daily = spec.name in self.selected
        fetches, held_from, bookmark = self.unit_fetches(spec, ALL)
        if self.plan is not None:
            line = PlanLine(spec.name if daily else "pin_lifetime_metrics", None, spec.category, fetches)
            for f in fetches:
                fewest, most = self.extractor.pin_analytics_requests(len(self._pins_to_ask(pins, f.start, f.end)),
                                                                     f.start, f.end)
                line.calls, line.calls_most = line.calls + fewest, line.calls_most + most
            self._planned(line)
            return
        started = None
        if daily:
            started = self._begin(spec.name, ALL, ", ".join(f"days {f.start}..{f.end} ({f.path})" for f in fetches) or "nothing to fetch")
            self.sink.remove_stale_temps(spec.name)
        if not fetches:
            if daily:
                self._settle(spec.name, ALL, held_from, bookmark)
                self._end(spec.name, WriteResult(), ALL, started)
            return
        end = max(f.end for f in fetches)
        covers = [{"date": d} for f in fetches for d in _buckets(f.start, f.end, "DAY")]
        fetch = PinFetch()
        # the pages as the listing goes on, or the whole listing as one page
        batches = self.extractor.pin_batches(self._pin_batches_of_pages(feed if feed is not None else [pins],
                                                                        fetches), fetch)
        scheme = self.scheme(spec.name)
        if daily:
            written = write_batches(self.sink, spec, batches, covers, self.buffer_bytes,
                                    **self._partition_memory(spec.name, ALL, scheme))
        else:
            for _ in batches:
                pass
        lifetime = STREAMS["pin_lifetime_metrics"]
        if lifetime.name in self.selected:
            rows = Extractor.finish(lifetime, frames.concat(fetch.lifetime, self.extractor.pin_lifetime_columns()))
            self._progress(lifetime.name, rows.height)
            self.entity_unit(lifetime, ALL, rows)
        if not daily:
            return
        with self._lock:
            self.stats[spec.name].skipped += len(fetch.skipped)
        # days still pending (PROCESSING) are fetched again next run
        last = fetch.pending_from - dt.timedelta(days=1) if fetch.pending_from else end
        first = held_range(fetches, held_from, bookmark)[0]
        self._commit_months(spec.name, ALL, first, last, scheme, written, covers, end)
        self._end(spec.name, written, ALL, started)

    def _pins_to_ask(self, pins: pl.DataFrame, start: dt.date, end: dt.date) -> list[str]:
        """The pins created by ``end`` whose counters do not prove them silent (:func:`pins_to_ask`)."""
        return pins_to_ask(self._live_pins(pins, end), start, end, self.today, self.extractor.pin_metric_types)

    def _live_pins(self, pins: pl.DataFrame, end: dt.date) -> list[tuple[str, str | None]]:
        """``(id, pin_metrics)`` of the pins created by ``end``."""
        live = set(_ids_created_by(pins, _CREATED["pins"], end))
        return [(i, m) for i, m in pins.select("id", "pin_metrics").iter_rows() if i in live]

    def _pin_batches_of_pages(self, pages: Iterable[pl.DataFrame],
                              fetches: list[Fetch]) -> Iterator[tuple[tuple[dt.date, dt.date], list[str]]]:
        """``(window, pin ids)`` batches of 100 of the pins :meth:`_pins_to_ask` would ask for
        from the whole listing, made from its ``pages`` as they come: a batch goes as soon
        as it is full, the rest when the listing ends. A pin listed twice (it moved between
        pages) is asked for once, as its first sighting says."""
        windows = [date_windows(f.start, f.end) for f in fetches]
        pending: dict[tuple[dt.date, dt.date], list[str]] = {w: [] for ws in windows for w in ws}
        seen: list[set[str]] = [set() for _ in fetches]
        first: list[str | None] = [None] * len(fetches)
        asked = [0] * len(fetches)
        for page in pages:
            for i, f in enumerate(fetches):
                pins = [(p, m) for p, m in self._live_pins(page, f.end) if p not in seen[i]]
                seen[i].update(p for p, _ in pins)
                first[i] = first[i] or (pins[0][0] if pins else None)
                ask = active_pins(pins, f.start, f.end, self.today, self.extractor.pin_metric_types)
                asked[i] += len(ask)
                for w in windows[i]:
                    pending[w] += ask
                    while len(pending[w]) >= api.PIN_IDS_MAX:
                        yield w, pending[w][:api.PIN_IDS_MAX]
                        del pending[w][:api.PIN_IDS_MAX]
        for i, f in enumerate(fetches):
            if first[i] is not None and not asked[i]:      # no pin left: the first one all the same
                for w in windows[i]:
                    pending[w].append(first[i])
            log_silent_pins(len(seen[i]) - max(asked[i], first[i] is not None), len(seen[i]), f.start, f.end)
        for w, rest in pending.items():
            if rest:
                yield w, rest

    # -- the user account's analytics -------------------------------------------------------

    def user_analytics_unit(self, spec: StreamSpec) -> None:
        """The user account's daily analytics (split as configured): like pin analytics,
        days still PROCESSING are fetched again next run."""
        table = self.extractor.user_analytics_spec(spec)       # keyed by date, and the split's column
        fetches, held_from, bookmark = self.unit_fetches(spec, ALL)
        if self.plan is not None:
            line = PlanLine(spec.name, None, spec.category, fetches)
            line.calls = line.calls_most = sum(len(date_windows(f.start, f.end)) for f in fetches)
            self._planned(line)
            return
        started = self._begin(spec.name, ALL, ", ".join(f"days {f.start}..{f.end} ({f.path})" for f in fetches) or "nothing to fetch")
        self.sink.remove_stale_temps(spec.name)
        if not fetches:
            self._settle(spec.name, ALL, held_from, bookmark)
            self._end(spec.name, WriteResult(), ALL, started)
            return
        end = max(f.end for f in fetches)
        covers = [{"date": d} for f in fetches for d in _buckets(f.start, f.end, "DAY")]
        pending: list[dt.date] = []

        def note_pending(batch: pl.DataFrame) -> None:
            day = batch.filter(pl.col("data_status").is_in(api.PIN_DATA_STATUS_PENDING))["date"].min()
            if day is not None:
                pending.append(day)
        batches = itertools.chain.from_iterable(self.extractor.user_analytics_batches(spec, f.start, f.end)
                                                for f in fetches)
        scheme = self.scheme(spec.name)
        written = write_batches(self.sink, table, batches, covers, self.buffer_bytes, on_batch=note_pending,
                                **self._partition_memory(spec.name, ALL, scheme))
        last = min(pending) - dt.timedelta(days=1) if pending else end
        first = held_range(fetches, held_from, bookmark)[0]
        self._commit_months(spec.name, ALL, first, last, scheme, written, covers, end)
        self._end(spec.name, written, ALL, started)

    # -- unchanged month files are not rewritten -----------------------------------------

    def scheme(self, stream: str) -> str:
        """The fingerprint scheme of an analytics table's month files: its columns and settings."""
        spec = STREAMS[stream]
        if spec.kind == "pin_analytics":
            columns = self.extractor.pin_analytics_columns()
        elif spec.kind == "user_analytics":
            columns = self.extractor.user_analytics_columns()
        else:
            columns = self.extractor.ads_analytics_columns(spec)
        return fingerprint_scheme(columns, self.settings_key(stream))

    def _partition_memory(self, stream: str, key: str, scheme: str) -> dict:
        """What :meth:`Sink.merge_months` needs to leave unchanged month files alone: the
        fingerprints the state vouches for (none after a settings change or under another
        fingerprint scheme), whether to rewrite them anyway (a full refresh), and a callback
        that stops vouching for months before they change."""
        prefix = _unit_prefix(key)
        on_disk = {prefix + leaf: fp for leaf, fp in self._vouched(stream, key, scheme).items()}

        def before_change(dirs: list[str], removed: bool) -> None:
            """Stop vouching for the months about to change: their hashes go, and their
            sizes become unknown (``null``: a file must be there, to be checked whole before
            it is recorded again) or, for months about to be deleted, go too."""
            leaves = {d[len(prefix):] for d in dirs}
            with self._lock:
                bookmark = self.state.get(stream, key)
                held = (bookmark or {}).get("partitions") or {}
                files = (bookmark or {}).get("files") or {}
                if not leaves & held.keys() and not any(leaf in files and (removed or files[leaf] is not None)
                                                        for leaf in leaves):
                    return
                bookmark["partitions"] = {leaf: fp for leaf, fp in held.items() if leaf not in leaves}
                if files:
                    bookmark["files"] = {leaf: None if leaf in leaves else size for leaf, size in files.items()
                                         if not (removed and leaf in leaves)}
                self.state.set(stream, key, bookmark)
            self.store.save(self.state)
        # a unit fetching its whole history (or a lost month's days) replaces unreadable files
        # rather than failing on them
        check = self._checks.get((stream, key))
        whole = self.usable_bookmark(stream, key) is None
        return {"on_disk": on_disk, "before_change": before_change, "rewrite": self.full_refresh, "scheme": scheme,
                "replace_unreadable": True if whole else {prefix + leaf for leaf in (check.lost if check else ())}}

    def _vouched(self, stream: str, key: str, scheme: str) -> dict[str, str]:
        """The month fingerprints (by folder below the unit's prefix) in the state, if they
        were made with the same settings and scheme."""
        prev = self.state.get(stream, key) or {}
        if prev.get("settings") != self.settings_key(stream) or prev.get("partition_scheme") != scheme:
            return {}
        return prev.get("partitions") or {}

    def _commit_months(self, stream: str, key: str, first: dt.date, last: dt.date, scheme: str,
                       written: WriteResult, covers: list[dict], end: dt.date) -> None:
        """Commit an analytics unit that holds ``[first, last]`` once its files are written:
        the bookmark, the hashes of the months a later run fetches again, and every month
        file it holds with its size. Days of lost month files older than the API serves are
        no longer claimed (``held_from`` moves past them), and reported: exit 1."""
        check = self._checks.get((stream, key))
        first = _claimed_from(check, first)
        self._commit(stream, key, {"last_complete_date": last.isoformat(), "held_from": first.isoformat(),
                                   "settings": self.settings_key(stream),
                                   **self._partitions_bookmark(stream, key, scheme, written, covers, end, first),
                                   "files": self._files_bookmark(stream, key, written, covers, first)})
        self._lost_for_good(stream, key, check, (first, last))

    def _settle(self, stream: str, key: str, held_from: dt.date | None, bookmark: dt.date | None) -> None:
        """A unit with nothing to fetch: what its listing found is committed all the same
        (month files recorded, days lost for good no longer claimed)."""
        check = self._checks.get((stream, key))
        prev = self.state.get(stream, key) or {}
        if check is None or bookmark is None or not (check.gone or check.adopted or check.lost or "files" not in prev):
            return
        first = _claimed_from(check, held_from or dt.date.fromisoformat(prev.get("held_from")
                                                                        or prev["last_complete_date"]))
        partitions = {leaf: fp for leaf, fp in (prev.get("partitions") or {}).items()
                      if _month_end(leaf) >= first}
        self._commit(stream, key, {**prev, "held_from": first.isoformat(), "partitions": partitions,
                                   "files": self._files_bookmark(stream, key, WriteResult(), [], first)})
        self._lost_for_good(stream, key, check, (first, bookmark))

    def _lost_for_good(self, stream: str, key: str, check: MonthCheck | None, holds: tuple[dt.date, dt.date]) -> None:
        """Days the state held that are gone from the output and older than the API serves
        (``check.gone``; the unit now holds ``holds``): the run fails (exit 1), though the
        unit committed the rest."""
        if not check or not check.gone:
            return
        what, message = _unit_name(stream, key), self._gone_message(stream, key, check, holds)
        log.error("%s: %s", what, message)
        with self._lock:
            self.failures.append(f"{what}: {message}")

    def _files_bookmark(self, stream: str, key: str, written: WriteResult, covers: list[dict],
                        held_from: dt.date) -> dict[str, int]:
        """Every month file the unit holds from ``held_from`` on, with its size in bytes:
        those this run wrote (the bytes it wrote), left unchanged or found whole (their listed
        size), and the earlier ones it did not touch."""
        prefix = _unit_prefix(key)
        check = self._checks.get((stream, key))
        listed = check.on_disk if check else {}
        files = dict((self.state.get(stream, key) or {}).get("files") or {})   # as before_change left them
        if check:
            files.update(check.adopted)
            for leaf in check.lost:
                files.pop(leaf, None)        # fetched again below, or lost for good
        for month in {month_of(c["date"]) for c in covers}:
            leaf = partition_dir({MONTH: month})
            if prefix + leaf in written.sizes:
                files[leaf] = written.sizes[prefix + leaf]
            elif prefix + leaf in written.fingerprints:
                files[leaf] = listed.get(leaf, files.get(leaf))    # unchanged: its footer read, its size listed
            else:
                files.pop(leaf, None)               # no file: its days came back empty
        return {leaf: size for leaf, size in sorted(files.items()) if _month_end(leaf) >= held_from}

    def _partitions_bookmark(self, stream: str, key: str, scheme: str, written: WriteResult, covers: list[dict],
                             end: dt.date, held_from: dt.date | None = None) -> dict:
        """The fingerprints of the month files a later run may fetch again (those holding the
        last ``lookback_days``, and the bucket they start in): this run's, and the earlier
        ones it did not fetch again."""
        prefix = _unit_prefix(key)
        gran = self.granularity(stream)
        margin = {"WEEK": 7, "MONTH": 31}.get(gran, 1)
        keep_from = month_of(end - dt.timedelta(days=self.config.analytics.lookback_days + margin))
        held = dict(self._vouched(stream, key, scheme))
        for month in {month_of(c["date"]) for c in covers}:
            held.pop(partition_dir({MONTH: month}), None)
        held.update((d[len(prefix):], fp) for d, fp in written.fingerprints.items() if d.startswith(prefix))
        kept = {leaf: fp for leaf, fp in held.items() if leaf.partition("=")[2] >= keep_from
                and (held_from is None or _month_end(leaf) >= held_from)}
        return {"partition_scheme": scheme, "partitions": dict(sorted(kept.items()))}

    # -- the whole run ----------------------------------------------------------------------

    def _parents(self, spec: StreamSpec, key: str, parents: dict[str, Future]) -> dict[str, pl.DataFrame] | None:
        """The listings of the unit's parents, or None (the unit reported as skipped) when
        one of them failed."""
        got = {name: f.result() for name, f in parents.items()}
        failed = next((name for name, df in got.items() if df is None), None)
        if failed is not None:
            self._skip(spec, key, failed)
            return None
        return got

    def listing_unit(self, spec: StreamSpec, account: dict | None, parents: dict[str, Future]) -> pl.DataFrame | None:
        """List one stream (of an account, or of the user) and write it. Returns what its
        children need (ids and creation times, not the whole frame: a run holds one per
        account and stream), or None if it failed (its children are then reported as not
        synced either). A unit following its pages (:meth:`follows_pages`) gets them as
        they come, and learns at the end whether the listing succeeded."""
        key = account["id"] if account else ALL
        feed = self._feeds.get((spec.name, key))
        outcome = PageFeed.STOPPED      # unless it returns: an error that stops the run
        try:
            got = self._parents(spec, key, parents)
            if got is None:
                outcome = PageFeed.FAILED
                return None

            def keep(df: pl.DataFrame) -> pl.DataFrame:
                return df.select([c for c in ("id", _CREATED.get(spec.name), "pin_metrics") if c and c in df.columns])
            on_page = (lambda page: feed.put(keep(page))) if feed is not None else None
            try:
                started = self._begin(spec.name, key, "listing") if spec.name in self.selected else None
                df = self.extractor.list_unit(spec, account and account["id"], got, on_page=on_page)
                self.entity_unit(spec, key, df, started)
                outcome = PageFeed.DONE
                return keep(df)
            except (ApiError, PayloadError) as e:
                self._fail(spec.name, key, e)
                outcome = PageFeed.FAILED
                return None
        finally:
            if feed is not None:
                feed.close(outcome)

    def follows_pages(self, spec: StreamSpec) -> bool:
        """Whether ``spec``'s unit starts with its parent's listing and takes its pages as
        they come, on a thread of its own (it mostly waits for the next page): pin
        analytics, except when planning (which counts from the whole listing)."""
        return spec.kind == "pin_analytics" and self.plan is None

    def analytics_unit(self, spec: StreamSpec, account: dict | None, parents: dict[str, Future]) -> None:
        """Sync one analytics stream (of an account, or of the user) once its parents are listed."""
        key = account["id"] if account else ALL
        feed = self._feeds.get((spec.parent, key)) if self.follows_pages(spec) else None
        got = self._parents(spec, key, parents) if feed is None else {}
        if got is None:
            return
        try:
            if spec.kind == "pin_analytics":
                self.pin_analytics_unit(got.get(spec.parent), feed)
            elif spec.kind == "user_analytics":
                self.user_analytics_unit(spec)
            else:       # ads analytics, targeting analytics
                self.ads_analytics_unit(spec, account, got.get(spec.parent))
        except _ParentFailed as e:
            self._skip(spec, key, e.parent)
        except _ParentStopped:
            return          # the listing's error stops the run: it is the one reported
        except (ApiError, PayloadError) as e:
            self._fail(spec.name, key, e)

    def accounts(self) -> list[dict]:
        spec = STREAMS["ad_accounts"]
        writes = (not self.shard or self.shard[0] == 0) and spec.name in self.selected
        if writes:
            self.on_event(Event("planned", spec.name))
        started = self._begin(spec.name, ALL, "listing") if writes else None
        df = self.extractor.entities(spec)
        # the ad_accounts table lists every account the token can read, whatever the
        # selection (--ad-accounts, --shard): a subset run never removes the others' rows;
        # with shards, shard 0 writes it. A failed listing raised above: nothing written.
        if writes:
            self.entity_unit(spec, ALL, df, started)
        wanted = tuple(self.config.ad_account_ids)
        if wanted:
            missing = [a for a in wanted if a not in set(df["id"].to_list())]
            for a in missing:
                self._fail("ad_accounts", a, PinsyncError(
                    "this ad account is not visible to the token (check the id and the token's access)"))
            df = df.filter(pl.col("id").is_in(wanted))
        accounts = df.select("id", "currency").to_dicts()
        if self.shard:
            k, n = self.shard
            accounts = [a for a in accounts if shard_of(a["id"], n) == k]
        return accounts

    def units(self) -> list[StreamSpec]:
        """The streams that run as units, parent-first: every needed listing, the selected
        analytics (pin_lifetime_metrics comes from the pin_analytics calls)."""
        wanted = set(self.needed) - {"ad_accounts"}
        if "pin_lifetime_metrics" in self.selected:
            wanted.add("pin_analytics")
        return [s for s in STREAMS.values() if s.name in wanted and s.kind != "pin_lifetime"]

    def execute(self, units_pool: ThreadPoolExecutor) -> None:
        """Run every unit. A unit is handed to the pool once its parents' units are done and
        a thread of the pool is free, so no thread sits waiting for a parent. Ready units start
        in order (the user's units, then each ad account's listings and analytics: an account's
        analytics go before the next account's listings, so the analytics requests, the ones
        the rate limits hold back most, start as soon as their ids are known), except that a
        unit whose rate-limit category has no room now (its first request would wait) goes
        after those whose category has."""
        futures: list[Future] = []
        threads = units_at_once(max(1, self.config.max_workers))
        done: dict[tuple[str, str], Future] = {}
        waiting: list[tuple[StreamSpec, dict | None]] = []      # parent-first, like units()
        units = self.units()
        followers: set[Future] = set()              # the units that follow them (one: the pins')

        def queue(items) -> None:
            """Units to run once their parents are done (progress counts them as planned)."""
            for spec, account in items:
                key = account["id"] if account else ALL
                for name in (spec.name, "pin_lifetime_metrics" if spec.kind == "pin_analytics" else None):
                    if name in self.selected:
                        self.on_event(Event("planned", name, key=key))
                waiting.append((spec, account))

        def submit_ready() -> None:
            while submit_once():        # a listing just started may let a unit following its pages start
                pass

        def submit_once() -> bool:
            """Start the units that can start; whether one of them is a listing whose pages
            a unit follows."""
            followed = False
            ready = []
            for i, (spec, account) in enumerate(waiting):
                key = account["id"] if account else ALL
                parents = [done.get((name, key)) for name in parents_of(spec)]
                # a unit that follows its parent's pages starts once the parent has started
                follows = self.follows_pages(spec) and (spec.parent, key) in self._feeds
                if all(f is not None and (f.done() or follows) for f in parents):
                    ready.append(i)
            free = threads - sum(not f.done() for f in futures if f not in followers)
            room = self.client.rate_limits.room if self.client.rate_limits else (lambda category: None)
            chosen = [ready[i] for i in units_to_start([waiting[i][0] for i in ready], free, room)]
            for i in chosen:
                spec, account = waiting[i]
                key = account["id"] if account else ALL
                parents = {name: done[(name, key)] for name in parents_of(spec)}
                if spec.kind == "entity" and any(s.parent == spec.name and self.follows_pages(s) for s in units):
                    self._feeds[(spec.name, key)] = PageFeed(spec.name)
                    followed = True
                unit = self.listing_unit if spec.kind == "entity" else self.analytics_unit
                done[(spec.name, key)] = future = units_pool.submit(unit, spec, account, parents)
                futures.append(future)
                if spec.kind != "entity" and self.follows_pages(spec):
                    followers.add(future)       # on the pool's extra thread: it takes no unit's place
            gone = set(chosen)
            waiting[:] = [u for i, u in enumerate(waiting) if i not in gone]
            return followed
        try:
            # inside the try: a fatal error while listing the accounts (in this thread) must
            # also stop the user-level units already running, not leave them writing after we return
            if not self.shard or self.shard[0] == 0:
                queue((spec, None) for spec in units if not per_account(spec))
                submit_ready()
            if "ad_accounts" in self.needed:
                try:
                    accounts = self.accounts()
                except (ApiError, PayloadError) as e:
                    self._fail("ad_accounts", ALL, e)
                    accounts = []
                queue((spec, a) for a in accounts for spec in units if per_account(spec))
                submit_ready()
            while waiting:
                running = [f for f in futures if not f.done()]
                if not running:
                    # every unit handed out has finished, some since submit_ready looked at them
                    for f in futures:
                        f.result()      # a fatal error stops the run at once
                    handed_out = len(futures)
                    submit_ready()
                    if len(futures) == handed_out:      # parent-first order makes this impossible: never spin
                        raise RuntimeError(f"units without their parents: {[s.name for s, _ in waiting]}")
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in finished:
                    f.result()          # a fatal error stops the run at once
                submit_ready()
            for f in futures:
                f.result()
        except KeyboardInterrupt:
            self.cancel.set()           # the process is stopping: don't wait for in-flight work
            self._close_feeds()
            raise
        except BaseException:
            # a fatal error (e.g. credentials rejected): stop the other units at their next
            # request or commit, and wait for them so nothing is written after we return
            self.cancel.set()
            for f in futures:
                f.cancel()
            self._close_feeds()         # a listing cancelled before it started closes none
            wait(futures)
            raise

    def _close_feeds(self) -> None:
        """End every listing's pages as stopped: no unit waits for pages that will not come (a
        feed already closed keeps its end)."""
        for feed in self._feeds.values():
            feed.close(PageFeed.STOPPED)


def run(config, *, today: dt.date | None = None, full_refresh: bool = False,
        on_event: Callable[[Event], None] | None = None, run_id: str | None = None,
        shard: tuple[int, int] | None = None, raise_on_failure: bool = True,
        lock_wait: float = 0.0, sleep: Callable[[float], None] = time.sleep) -> SyncResult:
    """Sync every selected stream of ``config`` into its output, incrementally.

    Args:
        config: a :class:`pinsync.config.Config` (see :func:`pinsync.load_config`).
        today: the current UTC date (injectable for tests).
        full_refresh: ignore the bookmarks: fetch everything the API serves and rewrite
            every table of the selected streams (other streams' bookmarks are kept).
        on_event: receives :class:`Event` progress updates.
        run_id: names this run in the lock and in the files' metadata.
        shard: ``(k, n)``: sync only the ad accounts whose stable hash falls in shard k of n;
            user-level streams (ad_accounts, and those whose path names no ad account: pins and
            their analytics, boards, catalogs, the user's account) are synced by shard 0.
        raise_on_failure: raise :class:`SyncFailed` (carrying the result) when any part
            failed; otherwise return the result with ``failures`` filled.
        lock_wait: seconds to wait for another run's lock before failing.
        sleep: how retries and rate limits wait (injectable for tests).

    Returns:
        A :class:`SyncResult` with per-stream figures.

    Raises:
        ConfigError, StateError, LockError, AuthError, SinkError: the run could not start
        or had to stop; nothing uncommitted was claimed in the state.
        SyncFailed: some units failed; the others were committed.
    """
    today = today or clock.today()
    run_id = run_id or new_run_id()
    on_event = on_event or (lambda e: None)
    if shard is not None and not (0 <= shard[0] < shard[1]):
        raise ConfigError(f"--shard: shard {shard[0] + 1}/{shard[1]} does not exist")
    t0 = time.monotonic()
    limit_arenas()
    try:
        store = StateStore(config.state.url, config.state.storage_options)
    except SinkError as e:   # e.g. an unknown protocol: a configuration mistake (exit 2)
        raise ConfigError(f"state.url: {e}") from None
    with store.lock(run_id, wait=lock_wait):
        try:
            state = store.load()
        except StateError as e:
            if not full_refresh:
                raise
            log.warning("%s; --full-refresh starts from an empty state and will replace it", e)
            state = State()
        try:
            output = Location(config.output.url, config.output.storage_options)
            output.check_writable()
        except SinkError as e:   # an output that cannot be written is a configuration mistake (exit 2)
            raise ConfigError(f"output.url: {e}") from None
        sink = Sink(output, run_id)
        _check_layout(sink, config.streams)
        _check_output(state, config.output.url, full_refresh)
        client = client_for(config, owner=run_id, sleep=sleep)
        with sink:      # its temp files are staged outside the tables, and removed at the end
            job = _execute(config, client, lambda pool: _Run(
                config, today=today, full_refresh=full_refresh, run_id=run_id, on_event=on_event, shard=shard,
                client=client, store=store, state=state, sink=sink, pool=pool))
        for name, st in job.stats.items():      # pin_lifetime_metrics comes from the pin_analytics calls
            st.requests = client.requests_by_tag.get("pin_analytics" if name == "pin_lifetime_metrics" else name, 0)
        result = SyncResult(run_id, job.stats, job.failures, dict(client.requests_by_category),
                            time.monotonic() - t0, warnings=job.warnings,
                            exit_code=(EXIT_CREDENTIALS if job.scope_failed else 1) if job.failures else 0)
    if result.failures and raise_on_failure:
        err = SyncFailed(result.failures)
        err.result = result
        err.exit_code = result.exit_code
        raise err
    return result


def _execute(config, client: PinterestClient, make_job: Callable[[ThreadPoolExecutor], _Run]) -> _Run:
    """Build a run's job on a request pool and execute its units; the pools and the client
    are closed however it ends."""
    workers = max(1, config.max_workers)
    # the client lets `workers` requests be in flight; as many threads again type the answers
    # (or wait for a CPU to) meanwhile, so typing never keeps a request from going out
    requests_pool = ThreadPoolExecutor(2 * workers, thread_name_prefix="pinsync-req")
    # units (an entity listing, or an analytics stream of one account) mostly wait on
    # their requests, which run in the request pool; one more thread is for a unit that
    # follows a listing's pages (pin analytics), which mostly waits for the next page
    units_pool = ThreadPoolExecutor(units_at_once(workers) + 1, thread_name_prefix="pinsync-unit")
    job = make_job(requests_pool)
    try:
        job.execute(units_pool)
    finally:
        # after an error the units have stopped (or, on Ctrl-C, will stop at their next
        # request or commit): never block the caller on in-flight requests
        requests_pool.shutdown(wait=False, cancel_futures=True)
        units_pool.shutdown(wait=False, cancel_futures=True)
        client.close()
    return job


def planned_units(config, plan: Plan, *, today: dt.date, shard: tuple[int, int] | None = None,
                  sleep: Callable[[float], None] = time.sleep) -> None:
    """Fill ``plan`` (see :func:`pinsync.plan.plan`): the run's units against the state as it
    is, listings made, analytics and reports counted, nothing written and no lock taken."""
    if shard is not None and not (0 <= shard[0] < shard[1]):
        raise ConfigError(f"--shard: shard {shard[0] + 1}/{shard[1]} does not exist")
    try:
        store = StateStore(config.state.url, config.state.storage_options)
        output = Location(config.output.url, config.output.storage_options)
    except SinkError as e:
        raise ConfigError(f"state.url / output.url: {e}") from None
    state = store.load()
    _check_layout(Sink(output, "plan"), config.streams)
    _check_output(state, config.output.url, False)
    client = client_for(config, owner="plan", sleep=sleep)
    job = _execute(config, client, lambda pool: _Run(
        config, today=today, full_refresh=False, run_id="plan", on_event=lambda e: None, shard=shard,
        client=client, store=store, state=state, sink=Sink(output, "plan"), pool=pool, plan=plan))
    for name, n in client.requests_by_tag.items():      # the listings the run makes too
        if name in STREAMS and STREAMS[name].kind == "entity":
            plan.lines.append(PlanLine(name, None, STREAMS[name].category, listing=n))
    order = {name: i for i, name in enumerate(STREAMS)}
    plan.lines.sort(key=lambda line: (order.get(line.stream, len(order)), line.ad_account_id or ""))
    plan.failures.extend(job.failures)
    plan.warnings.extend(job.warnings)


def write_batches(sink: Sink, spec: StreamSpec, batches: Iterable[pl.DataFrame], covers: list[dict],
                  buffer_bytes: int, *, windows: list[tuple[dt.date, dt.date]] | None = None,
                  on_batch: Callable[[pl.DataFrame], None] | None = None,
                  on_disk: dict[str, str] | None = None,
                  before_change: Callable[[list[str], bool], None] | None = None, rewrite: bool = False,
                  scheme: str = "", replace_unreadable: bool | set[str] = False) -> WriteResult:
    """Merge an analytics unit's batches, deduplicated by key, into the month files the
    ``covers`` dates fall in (leaving alone those whose fingerprint in ``on_disk`` matches:
    see :meth:`Sink.merge_months`). Rows are sorted by ``date``, then the rest of the key.

    The batches wait in a :class:`FrameBuffer` (spilling past ``buffer_bytes``) until their
    months are complete: with ``windows`` (the days each batch covers, in order), a month
    is merged as soon as the last batch that can hold its rows has arrived - a long history
    is written report by report, and a unit holds about one report's rows however many days
    it fetches -, else every month once all batches are in. Either way the months are
    written as one batch when the unit ends (:meth:`pinsync.storage.Location.batch`): a
    unit that fails half-way replaces no file."""
    order = (spec.cursor, *(k for k in spec.primary_key if k != spec.cursor))
    batches = iter(batches)
    last: dict[str, int] = {}           # month -> the last batch that can hold its rows
    for i, (start, end) in enumerate(windows or ()):
        last.update((month, i) for month in _months(start, end))
    completes: dict[int, set[str]] = {}
    for month, i in last.items():
        completes.setdefault(i, set()).add(month)

    def dedupe(df: pl.DataFrame) -> pl.DataFrame:
        return Extractor.dedupe(spec, df)

    with FrameBuffer(spec.partition_by, buffer_bytes) as buf:
        def months() -> Iterator[pl.DataFrame]:
            for i, batch in enumerate(batches):
                if windows is not None and i >= len(windows):
                    raise RuntimeError(f"{spec.name}: more batches than windows (a bug in pinsync)")
                buf.add(with_month(batch), spill=False)
                if on_batch:
                    on_batch(batch)
                del batch           # only the buffer holds its rows: gone once its months are written
                done = completes.get(i)
                if done:
                    yield from buf.take([k for k in buf.partitions() if k[-1] in done], dedupe, GROUP_ROWS)
                buf.fit()
            yield from buf.chunks(dedupe)
        return sink.merge_months(spec.name, months(), spec.partition_by, covers=covers, sort_by=order,
                                 on_disk=on_disk, before_change=before_change, rewrite=rewrite, scheme=scheme,
                                 replace_unreadable=replace_unreadable)


def _months(start: dt.date, end: dt.date) -> list[str]:
    """The months (``YYYY-MM``) the days ``[start, end]`` fall in."""
    out, d = [], start.replace(day=1)
    while d <= end:
        out.append(month_of(d))
        d = (d + dt.timedelta(days=32)).replace(day=1)
    return out


def _check_output(state: State, url: str, full_refresh: bool) -> None:
    """The state vouches for one output location: a run pointed elsewhere (a new folder, disk
    to S3) would quietly write only the lookback window there. Record it on the first run."""
    recorded = state.output
    if recorded is not None and recorded != url and not full_refresh and state.as_dict()["bookmarks"]:
        raise ConfigError(f"output.url: this state holds bookmarks for the output {recorded}, not {url}; run with "
                          "--full-refresh to fill the new location from start_date, or point output.url (or "
                          "--output) back at the old one")
    state.output = url


def _check_layout(sink: Sink, streams) -> None:
    """Refuse an output holding analytics tables in the earlier one-file-per-day layout:
    merging months into it would leave both layouts side by side."""
    for spec in select(streams):
        if MONTH in spec.partition_by:
            found = sink.day_layout(spec.name)
            if found:
                raise ConfigError(f"output.url: {sink.location.path(found)} is in the earlier one-file-per-day "
                                  f"layout (date= folders); this pinsync writes one file per month: run with "
                                  f"--full-refresh into a new location")


_EPOCH = dt.date(1970, 1, 1)     # a held range without its first day: from before any Pinterest data


@dataclass
class MonthCheck:
    """What the listing of a unit's folder found, against the month files its state records."""

    on_disk: dict[str, int]                                            # month folder -> bytes
    lost: dict[str, str] = field(default_factory=dict)                 # month folder -> what is wrong
    adopted: dict[str, int] = field(default_factory=dict)              # held, not recorded yet: checked whole
    again: list[tuple[dt.date, dt.date]] = field(default_factory=list)  # lost days the API still serves
    gone: list[tuple[dt.date, dt.date]] = field(default_factory=list)   # lost days older than it serves
    gone_months: list[str] = field(default_factory=list)


# the creation time of each parent entity: children created after a window cannot have metrics
_CREATED = {"campaigns": "created_time", "ad_groups": "created_time", "ads": "created_time", "pins": "created_at"}


def _unit_name(stream: str, key: str) -> str:
    """A unit in messages: the stream, and the ad account it is of."""
    return stream + (f" (ad account {key})" if key not in (ALL, "") else "")


def _claimed_from(check: MonthCheck | None, first: dt.date) -> dt.date:
    """The first day a unit's state still claims: past the days of lost month files older
    than the API serves (``check.gone``), which can never be fetched again."""
    return max(first, max(hi for _, hi in check.gone) + DAY) if check and check.gone else first


def _month_end(leaf: str) -> dt.date:
    """The last day of a month folder's month (``month=2026-11``: November 30)."""
    return next_bucket(dt.date.fromisoformat(leaf.partition("=")[2] + "-01"), "MONTH") - DAY


def _unit_prefix(key: str) -> str:
    """The partition folder prefix of an analytics unit: ``ad_account_id=1/``, or none."""
    return "" if key == ALL else partition_dir({"ad_account_id": key}) + "/"


def units_to_start(ready: list[StreamSpec], free: int, room: Callable[[str], int | None]) -> list[int]:
    """Which of the ``ready`` units (by index) start on ``free`` threads: in their order, those
    whose first request can go at once before those whose first request would wait for its
    rate-limit category (``room(category)``: how many requests may start now; None: not
    limited). Each unit started counts as one request of its category."""
    left: dict[str, int | None] = {}
    at_once, held = [], []
    for i, spec in enumerate(ready):
        if spec.category not in left:
            left[spec.category] = room(spec.category)
        n = left[spec.category]
        if n is None or n > 0:
            if n is not None:
                left[spec.category] = n - 1
            at_once.append(i)
            if len(at_once) >= free:
                break
        else:
            held.append(i)
    return (at_once + held)[:max(0, free)]


def units_at_once(max_workers: int) -> int:
    """How many units run at once: as many as requests in flight. Many ad accounts make many
    small units of one request each (an entity page, 250 ads' metrics): fewer units would leave
    the request pool half empty while they write. Memory does not grow with it: the units share
    ``buffer_mb``, the client lets ``max_workers`` requests run at once, and encoding takes
    turns per CPU."""
    return max(2, max_workers)


def _ids_created_by(entities: pl.DataFrame, column: str | None, end: dt.date) -> list[str]:
    """Ids of the entities created by the end of ``end``: the others cannot have metrics yet
    (all of them when the entities say nothing of when they were created)."""
    if not entities.height:
        return []
    if column is None or column not in entities.columns:
        return entities["id"].to_list()
    cutoff = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    return entities.filter(pl.col(column).is_null() | (pl.col(column) < cutoff))["id"].to_list()


def _buckets(start: dt.date, end: dt.date, granularity: str) -> list[dt.date]:
    """The ``date`` values a fetch of ``[start, end]`` covers (days, hours, week or month
    starts; for TOTAL the window's start): the rows they had are replaced by the fetched ones."""
    if granularity == "TOTAL":
        return [start]
    if granularity == "HOUR":
        first = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
        return [first + dt.timedelta(hours=h) for h in range(24 * ((end - start).days + 1))]
    out, seen = [], set()
    d = start
    while d <= end:
        b = align_start(d, granularity)
        if b not in seen:
            seen.add(b)
            out.append(b)
        d += dt.timedelta(days=1)
    return out


__all__ = ["run", "SyncResult", "StreamStats", "Event", "shard_of", "AuthError", "StateError", "SinkError",
           "api"]
