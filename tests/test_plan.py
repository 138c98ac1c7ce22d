"""Which days a unit fetches, and by which path (literal dates: today is 2026-11-29)."""

from __future__ import annotations

import datetime as dt

import pytest

from pinsync.plan import REPORT, SYNC, Fetch, held_range, lost_days, unit_fetches
from tests.conftest import TODAY

D = dt.date.fromisoformat


def plan(start, *, bookmark=None, held_from=None, lookback=30, gran="DAY", reports=True):
    return [(str(f.start), str(f.end), f.path) for f in unit_fetches(
        today=TODAY, start_date=D(start), lookback_days=lookback, granularity=gran,
        bookmark=D(bookmark) if bookmark else None, held_from=D(held_from) if held_from else None, reports=reports)]


def test_a_first_run_within_the_synchronous_window_is_one_sync_fetch():
    assert plan("2026-11-09") == [("2026-11-09", "2026-11-28", SYNC)]


def test_a_first_run_of_a_year_splits_at_89_days_back():
    # 2026-11-29 - 89 days = 2026-09-01
    assert plan("2025-11-29") == [("2025-11-29", "2026-08-31", REPORT), ("2026-09-01", "2026-11-28", SYNC)]


def test_history_stops_913_days_back_and_without_reports_at_89():
    assert plan("2020-01-01")[0] == ("2024-05-30", "2026-08-31", REPORT)       # 913 days back
    assert plan("2020-01-01", reports=False) == [("2026-09-01", "2026-11-28", SYNC)]


def test_a_next_day_run_fetches_the_lookback_window_only():
    assert plan("2025-11-29", bookmark="2026-11-27", held_from="2025-11-29", lookback=5) == [
        ("2026-11-24", "2026-11-28", SYNC)]


def test_a_start_date_moved_back_fetches_exactly_the_missing_days_and_the_usual_window():
    assert plan("2026-03-01", bookmark="2026-11-27", held_from="2026-09-17", lookback=5) == [
        ("2026-03-01", "2026-08-31", REPORT), ("2026-09-01", "2026-09-16", SYNC), ("2026-11-24", "2026-11-28", SYNC)]


def test_a_start_date_moved_forward_fetches_nothing_older():
    assert plan("2026-11-01", bookmark="2026-11-27", held_from="2026-09-17", lookback=5) == [
        ("2026-11-24", "2026-11-28", SYNC)]


def test_a_stale_bookmark_resumes_where_it_stopped_even_in_report_territory():
    assert plan("2025-11-29", bookmark="2026-06-30", held_from="2025-11-29", lookback=5) == [
        ("2026-07-01", "2026-08-31", REPORT), ("2026-09-01", "2026-11-28", SYNC)]


def test_month_buckets_are_whole_and_fetched_by_one_path():
    # the synchronous floor 2026-09-01 is a month start; the last complete month is October
    assert plan("2026-01-15", gran="MONTH") == [("2026-02-01", "2026-08-31", REPORT),
                                                ("2026-09-01", "2026-10-31", SYNC)]


def test_week_buckets_start_on_mondays():
    got = plan("2026-06-01", gran="WEEK")
    assert got[0][0] == "2026-06-01" and all(D(s).weekday() == 0 for s, _, _ in got)
    assert got[-1][1] == "2026-11-22"                                           # the last complete week
    assert {p for *_, p in got} == {REPORT, SYNC} and D(got[1][0]) >= D("2026-09-01")


def test_hour_history_is_what_the_synchronous_endpoints_serve():
    assert plan("2026-11-01", gran="HOUR") == [("2026-11-22", "2026-11-28", SYNC)]


def test_held_range_grows_with_the_fetches():
    fetches = [Fetch(D("2026-03-01"), D("2026-08-31"), REPORT), Fetch(D("2026-11-24"), D("2026-11-28"), SYNC)]
    assert held_range(fetches, D("2026-09-17"), D("2026-11-27")) == (D("2026-03-01"), D("2026-11-28"))
    assert held_range(fetches, None, None) == (D("2026-03-01"), D("2026-11-28"))


def lost(months, *, held_from, bookmark, gran="DAY", reports=True):
    again, gone = lost_days(months, today=TODAY, granularity=gran, held_from=D(held_from), bookmark=D(bookmark),
                            reports=reports)
    return [(str(a), str(b)) for a, b in again], [(str(a), str(b)) for a, b in gone]


def test_the_days_of_a_lost_month_are_those_held_and_split_at_what_the_api_serves():
    # held 2024-03-10 .. 2026-11-27; reports serve from 2024-05-30, synchronous calls from 2026-09-01
    held = dict(held_from="2024-03-10", bookmark="2026-11-27")
    assert lost(["2025-02"], **held) == ([("2025-02-01", "2025-02-28")], [])
    assert lost(["2024-03", "2026-11"], **held) == ([("2026-11-01", "2026-11-27")], [("2024-03-10", "2024-03-31")])
    assert lost(["2024-05"], **held) == ([("2024-05-30", "2024-05-31")], [("2024-05-01", "2024-05-29")])
    assert lost(["2026-08"], reports=False, **held) == ([], [("2026-08-01", "2026-08-31")])     # organic: 89 days
    assert lost(["2024-01"], **held) == ([], [])                                              # never held


def test_the_lost_days_of_week_and_month_buckets_are_the_whole_buckets_filed_in_the_month():
    # weeks starting in October 2026: Mondays 5, 12, 19, 26 (the last ends on November 1)
    assert lost(["2026-10"], held_from="2026-01-05", bookmark="2026-11-22", gran="WEEK") == (
        [("2026-10-05", "2026-11-01")], [])
    # the bucket the bookmark falls in is not held whole: not claimed
    assert lost(["2026-11"], held_from="2026-01-05", bookmark="2026-11-25", gran="WEEK") == (
        [("2026-11-02", "2026-11-22")], [])
    assert lost(["2026-10"], held_from="2026-01-01", bookmark="2026-10-31", gran="MONTH") == (
        [("2026-10-01", "2026-10-31")], [])


def test_a_lost_month_is_fetched_again_beside_the_lookback_window_by_the_path_its_days_need():
    got = [(str(f.start), str(f.end), f.path) for f in unit_fetches(
        today=TODAY, start_date=D("2025-11-29"), lookback_days=5, granularity="DAY", bookmark=D("2026-11-27"),
        held_from=D("2025-11-29"), reports=True,
        repair=[(D("2026-08-01"), D("2026-08-31")), (D("2026-09-01"), D("2026-09-30"))])]
    assert got == [("2026-08-01", "2026-08-31", REPORT), ("2026-09-01", "2026-09-30", SYNC),
                   ("2026-11-24", "2026-11-28", SYNC)]
