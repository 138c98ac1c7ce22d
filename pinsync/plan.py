"""Which days a run fetches for an analytics unit, and by which path: the one place that
decides it.

A unit (an analytics stream of one ad account, or pin analytics) holds a range of days,
``[held_from, bookmark]`` in its state. A run must make the table hold ``[start_date,
yesterday]``:

* nothing held (first run, ``--full-refresh``, changed settings): all of it;
* otherwise the days before ``held_from`` that ``start_date`` now asks for (a start date
  moved back: a backfill), the incremental days from ``min(bookmark + 1, today -
  lookback_days)`` on, and the days of month files it held that are lost (missing, or not
  the size recorded: :func:`lost_days`) - nothing else.

Days the synchronous endpoints serve (89 days back; HOUR: 7) are fetched with them; older
days (up to 913 back) by asynchronous reports, for the streams a report level serves. A
stream only reports serve (``keyword_analytics``: no synchronous endpoint) fetches every day
by report.
WEEK and MONTH ranges hold whole buckets, and a bucket is fetched by one path only.

:func:`plan` (``pinsync plan``) says what the next run would fetch and what it costs in
requests, computed by the run's own code (the same units, state, fetches and batching)
with every analytics and report request counted instead of made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pinsync import api
from pinsync.streams.analytics import align_start, earliest_start, next_bucket

DAY = dt.timedelta(days=1)
SYNC, REPORT = "sync", "report"


@dataclass(frozen=True)
class Fetch:
    """Days ``[start, end]`` fetched by ``path`` (``"sync"`` or ``"report"``)."""

    start: dt.date
    end: dt.date
    path: str


def history_floor(today: dt.date, granularity: str = "DAY", *, reports: bool = True) -> dt.date:
    """The oldest day a stream can be fetched at all: 913 days back through reports
    (HOUR, and streams no report serves: what the synchronous endpoints serve)."""
    if granularity == "HOUR" or not reports:
        return earliest_start(today, granularity)
    return today - dt.timedelta(days=api.REPORT_SAFE_DAYS_BACK)


def last_complete_day(today: dt.date, granularity: str = "DAY") -> dt.date:
    """Yesterday (UTC); for WEEK and MONTH, the last day of the last complete bucket."""
    if granularity in ("WEEK", "MONTH"):
        return align_start(today, granularity) - DAY
    return today - DAY


def _bucket_in(day: dt.date, granularity: str) -> dt.date:
    """The first bucket that starts on or after ``day`` (``day`` itself for DAY and HOUR):
    a bucket starting earlier would reach past what ``day`` allows."""
    aligned = align_start(day, granularity)
    return aligned if aligned >= day else next_bucket(aligned, granularity)


def unit_fetches(*, today: dt.date, start_date: dt.date, lookback_days: int, granularity: str,
                 bookmark: dt.date | None, held_from: dt.date | None, reports: bool,
                 sync: bool = True, repair: Sequence[tuple[dt.date, dt.date]] = ()) -> list[Fetch]:
    """The fetches of one unit, in date order (see the module docs).

    Args:
        bookmark: the last complete day the unit holds (None: it holds nothing usable).
        held_from: the first day it holds.
        reports: whether a report level serves the stream (else history stops at what the
            synchronous endpoints serve).
        sync: whether synchronous endpoints serve the stream (else every day is a report's).
        repair: days of held month files that are lost, to fetch again (the first ranges
            :func:`lost_days` returns).
    """
    end = last_complete_day(today, granularity)
    start = _bucket_in(max(start_date, history_floor(today, granularity, reports=reports)), granularity)
    ranges = [(start, end)]
    if bookmark is not None and held_from is not None:
        first = max(start, min(bookmark + DAY, today - dt.timedelta(days=lookback_days)))
        ranges = [(align_start(first, granularity), end)]            # the incremental days
        if start < held_from:                                         # the start date moved back
            ranges.append((start, held_from - DAY))
    ranges += [(lo, min(hi, end)) for lo, hi in repair]              # lost month files
    sync_from = _bucket_in(earliest_start(today, granularity), granularity) if sync else end + DAY
    out: list[Fetch] = []
    for lo, hi in _merge(ranges):
        if lo > hi:
            continue
        if lo < sync_from:
            out.append(Fetch(lo, min(hi, sync_from - DAY), REPORT))
        if hi >= sync_from:
            out.append(Fetch(max(lo, sync_from), hi, SYNC))
    return out


def lost_days(months: Iterable[str], *, today: dt.date, granularity: str, held_from: dt.date, bookmark: dt.date,
              reports: bool) -> tuple[list[tuple[dt.date, dt.date]], list[tuple[dt.date, dt.date]]]:
    """The days a unit held in lost month files (``"YYYY-MM"``): those the API still serves,
    to fetch again, and those older than it serves (:func:`history_floor`), lost for good.

    Only the days of ``[held_from, bookmark]`` count; for WEEK and MONTH, the whole buckets
    filed in the month (those starting in it: :func:`pinsync.sink.month_of`).
    """
    floor = _bucket_in(history_floor(today, granularity, reports=reports), granularity)
    again: list[tuple[dt.date, dt.date]] = []
    gone: list[tuple[dt.date, dt.date]] = []
    for month in sorted(set(months)):
        first = dt.date.fromisoformat(month + "-01")
        last = next_bucket(first, "MONTH") - DAY
        lo = _bucket_in(max(first, held_from), granularity)
        last_start = align_start(min(last, bookmark), granularity)
        hi = next_bucket(last_start, granularity) - DAY
        if hi > bookmark:                       # the bucket the bookmark falls in is not held whole
            hi = last_start - DAY
        if lo > hi:
            continue
        if lo < floor:
            gone.append((lo, min(hi, floor - DAY)))
        if hi >= floor:
            again.append((max(lo, floor), hi))
    return again, gone


def _merge(ranges: list[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Overlapping or touching ranges joined, in order."""
    out: list[list[dt.date]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + DAY:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def held_range(fetches: list[Fetch], held_from: dt.date | None, bookmark: dt.date | None) -> tuple[dt.date, dt.date]:
    """The days a unit holds once ``fetches`` are on disk (it held ``[held_from, bookmark]``)."""
    lo = min([f.start for f in fetches] + ([held_from] if held_from else []))
    hi = max([f.end for f in fetches] + ([bookmark] if bookmark else []))
    return lo, hi


# -- what the next run would do ------------------------------------------------------------

@dataclass
class PlanLine:
    """What the next run fetches for one stream of one ad account (``ad_account_id`` None:
    of the user, or a listing over every account), and the requests it makes.

    Attributes:
        fetches: the days, by path (listings: none).
        listing: listing calls (the plan made the same ones).
        calls: synchronous analytics calls (pin analytics: with the multi-pin beta).
        calls_most: the most synchronous calls (pin analytics: without the beta).
        reports: reports to create.
        resumed: reports an earlier run created and saved the token of: polled first (and
            created again if no longer valid).
        polls_most: the most polls of all its reports (each report is polled at least once).
    """

    stream: str
    ad_account_id: str | None
    category: str
    fetches: list[Fetch] = field(default_factory=list)
    listing: int = 0
    calls: int = 0
    calls_most: int = 0
    reports: int = 0
    resumed: int = 0
    polls_most: int = 0

    @property
    def downloads(self) -> int:
        """Report files to download (from the report host: not a Pinterest rate-limit category)."""
        return self.reports + self.resumed

    @property
    def requests(self) -> int:
        """The fewest requests (each answered at the first try, every report polled once)."""
        polls = self.reports + self.resumed
        return self.listing + self.calls + self.reports + polls

    @property
    def most(self) -> int:
        """The most requests a run without faults makes (retries after faults aside): a
        resumed report may have to be created again, a report may be polled until timeout."""
        creations = self.reports + self.resumed
        return self.listing + self.calls_most + creations + self.polls_most

    def as_dict(self) -> dict:
        return {"stream": self.stream, "ad_account_id": self.ad_account_id, "category": self.category,
                "fetches": [{"start": f.start.isoformat(), "end": f.end.isoformat(), "path": f.path,
                             "days": (f.end - f.start).days + 1} for f in self.fetches],
                "listing": self.listing, "sync_calls": self.calls, "sync_calls_most": self.calls_most,
                "report_creations": self.reports, "reports_resumed": self.resumed,
                "report_polls": self.reports + self.resumed, "report_polls_most": self.polls_most,
                "downloads": self.downloads,
                "requests": self.requests, "requests_most": self.most}


@dataclass
class Plan:
    """What the next run would fetch (:func:`plan`).

    ``requests`` and ``requests_most`` bound, per rate-limit category, the requests of the
    next run (retries after faults aside): polls (at least one per report, at most what the
    report timeout allows) and pin analytics (with or without the multi-pin beta) make the
    difference; everything else is exact. ``downloads`` are report files fetched from the
    report host, which no Pinterest rate limit counts.
    """

    today: dt.date
    start_date: dt.date
    lines: list[PlanLine] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def _total(self, what: Callable[[PlanLine], int]) -> dict[str, int]:
        out: Counter = Counter()
        for line in self.lines:
            out[line.category] += what(line)
        return {k: v for k, v in sorted(out.items())}

    @property
    def requests(self) -> dict[str, int]:
        return self._total(lambda line: line.requests)

    @property
    def requests_most(self) -> dict[str, int]:
        return self._total(lambda line: line.most)

    @property
    def downloads(self) -> int:
        return sum(line.downloads for line in self.lines)

    def as_dict(self) -> dict:
        return {"today": self.today.isoformat(), "start_date": self.start_date.isoformat(),
                "requests": self.requests, "requests_most": self.requests_most,
                "total": sum(self.requests.values()), "total_most": sum(self.requests_most.values()),
                "downloads": self.downloads, "units": [line.as_dict() for line in self.lines],
                "failures": self.failures, "warnings": self.warnings}


def plan(config, *, today: dt.date | None = None, start_date: dt.date | None = None,
         shard: tuple[int, int] | None = None, sleep: Callable[[float], None] = time.sleep) -> Plan:
    """What :func:`pinsync.run` would fetch next, per stream and ad account: the days, by
    which path (synchronous calls or reports), and the requests per rate-limit category.

    It lists the entities as the run does (those listing calls are counted too: the run
    makes the same ones) but makes no analytics or report request, and writes nothing: no
    state, no output, no lock.

    Args:
        config: a :class:`pinsync.config.Config`.
        today: the current UTC date (default: :func:`pinsync.clock.today`).
        start_date: plan for this start date instead of the config's.
        shard: ``(k, n)`` as for :func:`pinsync.run`.
        sleep: how retries and rate limits wait (injectable for tests).

    Returns:
        A :class:`Plan`; ``plan(...).requests`` is ``{category: requests}``.

    Raises:
        ConfigError, StateError, AuthError: as :func:`pinsync.run` would.
    """
    from pinsync import clock
    from pinsync.config import start_date_problem
    from pinsync.errors import ConfigError
    from pinsync.sync import planned_units

    today = today or clock.today()
    if start_date is not None:
        problem = start_date_problem(start_date, today)
        if problem:
            raise ConfigError(f"--start-date: {problem}")
        config = dataclasses.replace(config, start_date=start_date)
    result = Plan(today, config.start_date)
    planned_units(config, result, today=today, shard=shard, sleep=sleep)
    return result
