"""Pure request arithmetic: id batches and date windows (the API's 90-day rules)."""

import datetime as dt

import pytest

from pinsync import api
from pinsync.streams.analytics import align_start, batched, date_windows, earliest_start, fetch_range

D = dt.date


@pytest.mark.parametrize("n,size,expected", [(0, 250, []), (1, 250, [1]), (250, 250, [250]), (251, 250, [250, 1]),
                                             (600, 250, [250, 250, 100]), (100, 100, [100]), (101, 100, [100, 1]),
                                             (3, 1, [1, 1, 1])])
def test_batched_covers_every_id_once_in_fewest_batches(n, size, expected):
    ids = [str(i) for i in range(n)]
    batches = list(batched(ids, size))
    assert [len(b) for b in batches] == expected
    assert [i for b in batches for i in b] == ids


def test_batched_rejects_nonpositive_size():
    with pytest.raises(ValueError):
        list(batched(["1"], 0))


def test_first_run_starts_at_start_date_and_ends_yesterday():
    assert fetch_range(today=D(2026, 11, 29), start_date=D(2026, 10, 1), lookback_days=3, bookmark=None) == (
        D(2026, 10, 1), D(2026, 11, 28))


def test_start_date_later_than_lookback_wins():
    assert fetch_range(today=D(2026, 11, 29), start_date=D(2026, 11, 20), lookback_days=30, bookmark=None) == (
        D(2026, 11, 20), D(2026, 11, 28))


def test_next_run_starts_at_min_of_bookmark_and_lookback():
    # bookmark far behind: start right after it
    assert fetch_range(today=D(2026, 11, 29), start_date=D(2026, 9, 1), lookback_days=7,
                       bookmark=D(2026, 10, 1))[0] == D(2026, 10, 2)
    # bookmark recent: the lookback re-fetches restated days
    assert fetch_range(today=D(2026, 11, 29), start_date=D(2026, 9, 1), lookback_days=7,
                       bookmark=D(2026, 11, 28))[0] == D(2026, 11, 22)


def test_zero_lookback_and_up_to_date_bookmark_fetches_nothing():
    assert fetch_range(today=D(2026, 11, 29), start_date=D(2026, 9, 1), lookback_days=0,
                       bookmark=D(2026, 11, 28)) is None


def test_old_start_date_is_clamped_to_89_days_with_a_warning(caplog):
    today = D(2026, 11, 29)
    start, end = fetch_range(today=today, start_date=D(2025, 1, 1), lookback_days=30, bookmark=None)
    assert start == today - dt.timedelta(days=89) == earliest_start(today)
    assert (end - start).days + 1 <= api.ANALYTICS_MAX_SPAN_DAYS
    assert "older than" in caplog.text


@pytest.mark.parametrize("utc_now", [dt.datetime(2026, 11, 29, 0, 0, 1), dt.datetime(2026, 11, 29, 23, 59, 59)])
def test_clamp_uses_the_utc_date_so_the_start_is_never_90_days_back(utc_now):
    today = utc_now.date()
    start, _ = fetch_range(today=today, start_date=D(2020, 1, 1), lookback_days=89, bookmark=None)
    # the server rejects anything more than 90 days back; one day of margin across midnight
    assert (today - start).days == api.ANALYTICS_SAFE_DAYS_BACK < api.ANALYTICS_DAYS_BACK


def test_today_is_never_requested():
    for lookback in (0, 1, 30):
        rng = fetch_range(today=D(2026, 11, 29), start_date=D(2026, 11, 1), lookback_days=lookback, bookmark=None)
        assert rng is None or rng[1] == D(2026, 11, 28)


def test_week_windows_start_on_monday_and_end_on_last_complete_week():
    start, end = fetch_range(today=D(2026, 11, 29), start_date=D(2026, 10, 29), lookback_days=30, bookmark=None,
                             granularity="WEEK")
    assert start.weekday() == 0 and end.weekday() == 6
    assert end < align_start(D(2026, 11, 29), "WEEK")


def test_week_start_never_goes_past_the_api_reach():
    today = D(2026, 11, 29)
    start, _ = fetch_range(today=today, start_date=D(2020, 1, 1), lookback_days=89, bookmark=None, granularity="WEEK")
    assert start.weekday() == 0 and start >= earliest_start(today)


def test_month_windows_are_whole_months():
    start, end = fetch_range(today=D(2026, 11, 29), start_date=D(2026, 9, 15), lookback_days=45, bookmark=None,
                             granularity="MONTH")
    assert start.day == 1 and (end + dt.timedelta(days=1)).day == 1 and end < D(2026, 11, 1)


def test_hour_windows_are_8_days_back_in_3_day_spans():
    today = D(2026, 11, 29)
    start, end = fetch_range(today=today, start_date=D(2020, 1, 1), lookback_days=30, bookmark=None,
                             granularity="HOUR")
    assert (today - start).days < api.HOUR_DAYS_BACK
    windows = date_windows(start, end, "HOUR")
    assert all((b - a).days + 1 <= api.HOUR_MAX_SPAN_DAYS for a, b in windows)
    assert windows[0][0] == start and windows[-1][1] == end


@pytest.mark.parametrize("days", [1, 89, 90, 91, 180, 365])
def test_day_windows_are_the_fewest_spans_of_at_most_90_days(days):
    start = D(2025, 1, 1)
    end = start + dt.timedelta(days=days - 1)
    windows = date_windows(start, end)
    assert len(windows) == -(-days // api.ANALYTICS_MAX_SPAN_DAYS)
    assert windows[0][0] == start and windows[-1][1] == end
    for (a, b), nxt in zip(windows, windows[1:] + [None]):
        assert (b - a).days + 1 <= api.ANALYTICS_MAX_SPAN_DAYS
        if nxt:
            assert nxt[0] == b + dt.timedelta(days=1)


def test_month_windows_never_split_a_month():
    windows = date_windows(D(2025, 1, 1), D(2025, 12, 31), "MONTH")
    for a, b in windows:
        assert a.day == 1 and (b + dt.timedelta(days=1)).day == 1


def test_batches_are_the_longest_that_fit():
    ids = [str(i) for i in range(10, 30)]          # 20 ids of 2 characters

    def fits(batch):                               # a "line" of 3 characters an id: at most 5 ids
        return len(",".join(batch)) <= 14
    assert [len(b) for b in batched(ids, 250, fits)] == [5, 5, 5, 5]
    assert [len(b) for b in batched(ids, 4, fits)] == [4, 4, 4, 4, 4]
    assert [len(b) for b in batched(ids, 250, lambda b: len(b) <= 7)] == [7, 7, 6]
    assert [len(b) for b in batched(ids[:3], 250, lambda b: False)] == [1, 1, 1]   # one alone, even if too long
    assert [i for b in batched(ids, 250, fits) for i in b] == ids


def test_a_day_bookmark_older_than_the_api_serves_is_clamped_to_89_days(caplog):
    today = D(2026, 11, 29)
    assert fetch_range(today=today, start_date=D(2026, 1, 1), lookback_days=7, bookmark=D(2026, 8, 1)) == (
        D(2026, 9, 1), D(2026, 11, 28))
    assert "older than" in caplog.text
    # the day after a bookmark 91 days back is 90 days back: one too many
    assert fetch_range(today=today, start_date=D(2026, 1, 1), lookback_days=7, bookmark=D(2026, 8, 30))[0] == D(
        2026, 9, 1)
    # a bookmark 90 days back: its next day is the first day served
    assert fetch_range(today=today, start_date=D(2026, 1, 1), lookback_days=7, bookmark=D(2026, 8, 31))[0] == D(
        2026, 9, 1)
    assert fetch_range(today=today, start_date=D(2026, 1, 1), lookback_days=7, bookmark=D(2026, 9, 1))[0] == D(
        2026, 9, 2)


def test_batches_that_fit_are_the_longest_possible_for_any_limit():
    """Against a plain scan: each batch takes ids while the next one still fits."""
    for n in range(0, 23):
        ids = [str(10 ** (i % 4)) for i in range(n)]            # ids of 1 to 4 characters
        for size in (1, 2, 5, 250):
            for limit in range(0, 30):
                def fits(batch):
                    return len(",".join(batch)) <= limit
                want, i = [], 0
                while i < n:
                    k = 1
                    while k < size and i + k < n and fits(ids[i:i + k + 1]):
                        k += 1
                    want.append(k)
                    i += k
                got = [len(b) for b in batched(ids, size, fits)]
                assert got == want, (n, size, limit)


def test_a_range_of_one_day_is_fetched():
    today = D(2026, 11, 29)
    assert fetch_range(today=today, start_date=D(2026, 11, 1), lookback_days=1, bookmark=D(2026, 11, 28)) == (
        D(2026, 11, 28), D(2026, 11, 28))
    assert fetch_range(today=today, start_date=D(2026, 11, 28), lookback_days=0, bookmark=None) == (
        D(2026, 11, 28), D(2026, 11, 28))


@pytest.mark.parametrize("start_date,bookmark,lookback,warned", [
    (D(2025, 1, 1), None, 7, True),                  # first run, history older than served
    (D(2025, 1, 1), D(2026, 8, 1), 7, True),         # a bookmark older than served
    (D(2025, 1, 1), D(2026, 8, 31), 7, False),       # the day after the bookmark is the first one served
    (D(2025, 1, 1), D(2026, 9, 1), 120, False),      # a long lookback, but the bookmark itself is served
    (D(2026, 9, 1), None, 7, False),                 # start_date is the first day served
    (D(2026, 9, 1), D(2026, 8, 1), 7, False),        # nothing asked for was out of reach
])
def test_the_clamp_warns_only_when_asked_for_history_is_out_of_reach(start_date, bookmark, lookback, warned):
    calls = []
    start, _ = fetch_range(today=D(2026, 11, 29), start_date=start_date, lookback_days=lookback, bookmark=bookmark,
                           on_clamp=lambda *a: calls.append(a))
    assert start >= D(2026, 9, 1)
    assert calls == ([(start_date, D(2026, 9, 1))] if warned else [])


def test_a_week_starting_on_the_first_day_served_is_kept():
    # 89 days before Saturday 2026-11-28 is Monday 2026-08-31: that week is whole and served
    assert fetch_range(today=D(2026, 11, 28), start_date=D(2020, 1, 1), lookback_days=7, bookmark=None,
                       granularity="WEEK", on_clamp=lambda *a: None) == (D(2026, 8, 31), D(2026, 11, 22))


def test_week_and_month_windows_are_the_fewest_whole_buckets():
    assert date_windows(D(2025, 1, 1), D(2025, 12, 31), "MONTH") == [
        (D(2025, 1, 1), D(2025, 3, 31)), (D(2025, 4, 1), D(2025, 5, 31)), (D(2025, 6, 1), D(2025, 7, 31)),
        (D(2025, 8, 1), D(2025, 9, 30)), (D(2025, 10, 1), D(2025, 11, 30)), (D(2025, 12, 1), D(2025, 12, 31))]
    assert date_windows(D(2025, 1, 6), D(2025, 12, 28), "WEEK") == [
        (D(2025, 1, 6), D(2025, 3, 30)), (D(2025, 3, 31), D(2025, 6, 22)), (D(2025, 6, 23), D(2025, 9, 14)),
        (D(2025, 9, 15), D(2025, 12, 7)), (D(2025, 12, 8), D(2025, 12, 28))]
