"""Which days a run fetches for an analytics unit, and by which path: the one place that
decides it.

A unit (an analytics stream of one ad account, or pin analytics) holds a range of days,
``[held_from, bookmark]`` in its state. A run must make the table hold ``[start_date,
yesterday]``:

* nothing held (first run, ``--full-refresh``, changed settings): all of it;
* otherwise the days before ``held_from`` that ``start_date`` now asks for (a start date
  moved back: a backfill), and the incremental days from ``min(bookmark + 1, today -
  lookback_days)`` on - nothing else.

Days the synchronous endpoints serve (89 days back; HOUR: 7) are fetched with them; older
days (up to 913 back) by asynchronous reports, for the streams a report level serves. A
stream only reports serve (``keyword_analytics``: no synchronous endpoint) fetches every day
by report.
WEEK and MONTH ranges hold whole buckets, and a bucket is fetched by one path only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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
                 sync: bool = True) -> list[Fetch]:
    """The fetches of one unit, in date order (see the module docs).

    Args:
        bookmark: the last complete day the unit holds (None: it holds nothing usable).
        held_from: the first day it holds.
        reports: whether a report level serves the stream (else history stops at what the
            synchronous endpoints serve).
        sync: whether synchronous endpoints serve the stream (else every day is a report's).
    """
    end = last_complete_day(today, granularity)
    start = _bucket_in(max(start_date, history_floor(today, granularity, reports=reports)), granularity)
    ranges = [(start, end)]
    if bookmark is not None and held_from is not None:
        first = max(start, min(bookmark + DAY, today - dt.timedelta(days=lookback_days)))
        ranges = [(align_start(first, granularity), end)]            # the incremental days
        if start < held_from:                                         # the start date moved back
            ranges.append((start, held_from - DAY))
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
