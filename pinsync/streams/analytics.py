"""The analytics streams and the pure arithmetic behind their requests.

Windows: the synchronous endpoints serve at most 90 days back (we ask for 89: the
server's "today" is UTC) and spans of at most 90 days; HOUR serves 8 days back in spans
of 3. WEEK and MONTH windows start on a bucket start (Monday; the 1st) so that no stored
bucket is a partial sum. Today is never requested: it is not complete yet. Older days
come from asynchronous reports (``report_level``; see :mod:`pinsync.reports`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from pinsync import api
from pinsync.streams import ADS_SCOPES, PINS_SCOPES, USER_SCOPES, StreamSpec

log = logging.getLogger("pinsync.streams")
T = TypeVar("T")

ANALYTICS_STREAMS = (
    StreamSpec("campaign_analytics", "ads_analytics", "ad_accounts/{ad_account_id}/campaigns/analytics",
               "ads_analytics", "campaigns", ("campaign_id", "date"), "date", ("ad_account_id", "month"),
               level="campaign", id_param="campaign_ids", batch_size=api.ANALYTICS_IDS_MAX,
               report_level="CAMPAIGN", scopes=ADS_SCOPES, description="Campaign metrics per day (or configured granularity)"),
    StreamSpec("ad_group_analytics", "ads_analytics", "ad_accounts/{ad_account_id}/ad_groups/analytics",
               "ads_analytics", "ad_groups", ("ad_group_id", "date"), "date", ("ad_account_id", "month"),
               level="ad_group", id_param="ad_group_ids", batch_size=api.ANALYTICS_IDS_MAX,
               report_level="AD_GROUP", scopes=ADS_SCOPES, description="Ad group metrics per day (or configured granularity)"),
    StreamSpec("ad_analytics", "ads_analytics", "ad_accounts/{ad_account_id}/ads/analytics",
               "ads_analytics", "ads", ("ad_id", "date"), "date", ("ad_account_id", "month"),
               level="ad", id_param="ad_ids", batch_size=api.ANALYTICS_IDS_MAX,
               report_level="PIN_PROMOTION", scopes=ADS_SCOPES, description="Ad metrics per day (or configured granularity)"),
    StreamSpec("pin_analytics", "pin_analytics", "pins/{pin_id}/analytics", "org_analytics", "pins",
               ("pin_id", "app_type", "date"), "date", ("month",),
               id_param="pin_ids", batch_size=api.PIN_IDS_MAX,
               scopes=PINS_SCOPES, description="Organic pin metrics per day and app type"),
    StreamSpec("pin_lifetime_metrics", "pin_lifetime", "pins/{pin_id}/analytics", "org_analytics", "pins",
               ("pin_id", "app_type"), "as_of", (), id_param="pin_ids", batch_size=api.PIN_IDS_MAX,
               scopes=PINS_SCOPES, description="Lifetime pin metrics (TOTAL_COMMENTS, TOTAL_REACTIONS) per app type, as of the "
                           "last run; from the pin_analytics calls"),
)

MULTI_PIN_PATH = "pins/analytics"
REPORTS_PATH = "ad_accounts/{ad_account_id}/reports"


def _targeting(level: str, path: str, parent: str, id_param: str | None, report_level: str) -> StreamSpec:
    """Targeting analytics of a level: the level's metrics per targeting type and value."""
    id_col = api.LEVEL_ID_COLUMN[level].lower()
    return StreamSpec(f"{level}_targeting_analytics", "targeting_analytics", f"ad_accounts/{{ad_account_id}}/{path}",
                      "ads_analytics", parent, (id_col, "targeting_type", "targeting_value", "date"), "date",
                      ("ad_account_id", "month"), level=level, id_param=id_param,
                      batch_size=api.ANALYTICS_IDS_MAX if id_param else None, report_level=report_level,
                      targeting_types=True, scopes=ADS_SCOPES,
                      description=f"{level.replace('_', ' ').capitalize()} metrics per targeting value and day")


# The other reports (``streams: [all]``).
OTHER_ANALYTICS_STREAMS = (
    StreamSpec("ad_account_analytics", "ads_analytics", "ad_accounts/{ad_account_id}/analytics", "ads_analytics",
               "ad_accounts", ("ad_account_id", "date"), "date", ("ad_account_id", "month"), level="ad_account",
               report_level="ADVERTISER", scopes=ADS_SCOPES,
               description="Ad account metrics per day (or configured granularity)"),
    _targeting("ad_account", "targeting_analytics", "ad_accounts", None, "ADVERTISER_TARGETING"),
    _targeting("campaign", "campaigns/targeting_analytics", "campaigns", "campaign_ids", "CAMPAIGN_TARGETING"),
    _targeting("ad_group", "ad_groups/targeting_analytics", "ad_groups", "ad_group_ids", "AD_GROUP_TARGETING"),
    _targeting("ad", "ads/targeting_analytics", "ads", "ad_ids", "PIN_PROMOTION_TARGETING"),
    StreamSpec("product_group_analytics", "ads_analytics", "ad_accounts/{ad_account_id}/product_groups/analytics",
               "ads_analytics", "product_group_promotions", ("product_group_id", "date"), "date",
               ("ad_account_id", "month"), level="product_group", id_param="product_group_ids",
               batch_size=api.PRODUCT_GROUP_IDS_MAX, report_level="PRODUCT_GROUP", scopes=ADS_SCOPES,
               description="Product group metrics per day (or configured granularity)"),
    # keyword metrics exist only in reports: every day comes from them (no ids: a report covers the account)
    StreamSpec("keyword_analytics", "ads_analytics", REPORTS_PATH, "ads_analytics", "ad_accounts",
               ("keyword_id", "date"), "date", ("ad_account_id", "month"), level="keyword", report_level="KEYWORD",
               report_only=True, scopes=ADS_SCOPES,
               description="Keyword metrics per day (or configured granularity), from reports"),
    # the key is (date,) plus the split field's column when split
    StreamSpec("user_account_analytics", "user_analytics", "user_account/analytics", "org_analytics", None,
               ("date",), "date", ("month",), scopes=USER_SCOPES,
               description="The user account's organic metrics per day (and split group)"),
)


def batched(ids: Sequence[T], size: int, fits: Callable[[list[T]], bool] | None = None) -> Iterator[list[T]]:
    """``ids`` in consecutive batches of at most ``size`` (the last may be shorter).

    With ``fits``, each batch is also the longest for which ``fits(batch)`` holds (found by
    bisection: a batch that fits must fit with fewer ids too), e.g. a request line short
    enough for the servers on the way; an id that does not fit even alone goes alone.
    """
    if size < 1:
        raise ValueError("batch size must be positive")
    i = 0
    while i < len(ids):
        n = min(size, len(ids) - i)
        if fits is not None and not fits(list(ids[i:i + n])):
            lo, hi, n = 1, n - 1, 1          # the longest prefix that fits lies in [1, hi]
            while lo <= hi:
                mid = (lo + hi) // 2
                if fits(list(ids[i:i + mid])):
                    n, lo = mid, mid + 1
                else:
                    hi = mid - 1
        yield list(ids[i:i + n])
        i += n


def earliest_start(today: dt.date, granularity: str = "DAY") -> dt.date:
    """The oldest date the synchronous endpoints will serve, with a day of margin (UTC)."""
    back = api.HOUR_SAFE_DAYS_BACK if granularity == "HOUR" else api.ANALYTICS_SAFE_DAYS_BACK
    return today - dt.timedelta(days=back)


def align_start(day: dt.date, granularity: str) -> dt.date:
    """Move ``day`` back to the start of its WEEK (Monday) or MONTH (the 1st) bucket."""
    if granularity == "WEEK":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "MONTH":
        return day.replace(day=1)
    return day


def next_bucket(day: dt.date, granularity: str) -> dt.date:
    """The start of the bucket after the one starting on ``day`` (DAY, HOUR, TOTAL: the next day)."""
    if granularity == "WEEK":
        return day + dt.timedelta(days=7)
    if granularity == "MONTH":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=1)


def fetch_range(
    *,
    today: dt.date,
    start_date: dt.date,
    lookback_days: int,
    bookmark: dt.date | None,
    granularity: str = "DAY",
    on_clamp: Callable[[dt.date, dt.date], None] | None = None,
) -> tuple[dt.date, dt.date] | None:
    """The dates a run fetches: ``[start, end]``, or None when there is nothing to fetch.

    The first run starts at ``start_date``; later runs at
    ``min(bookmark + 1, today - lookback_days)``, not before ``start_date``; never before
    what the API serves (a warning is logged when ``start_date`` is clamped).
    ``on_clamp(start_date, floor)`` is called when ``start_date`` had to be moved (default:
    a warning). ``end`` is yesterday: the last complete UTC day. WEEK and MONTH start on a bucket
    start inside the served range, and end on the last complete bucket.
    """
    end = today - dt.timedelta(days=1)
    if bookmark is None:
        start = start_date                       # first run: all the history asked for
    else:
        start = max(min(bookmark + dt.timedelta(days=1), today - dt.timedelta(days=lookback_days)), start_date)
    floor = earliest_start(today, granularity)
    if start < floor:
        if start_date < floor and (bookmark is None or bookmark < floor):
            (on_clamp or warn_clamp)(start_date, floor)
        start = floor
    if granularity in ("WEEK", "MONTH"):
        aligned = align_start(start, granularity)
        start = aligned if aligned >= floor else next_bucket(aligned, granularity)
        # the last complete bucket ends the day before the current bucket starts
        end = align_start(today, granularity) - dt.timedelta(days=1)
    if start > end:
        return None
    return start, end


def pins_to_ask(pins: list[tuple[str, str | None]], start: dt.date, end: dt.date, today: dt.date,
                metric_types: Sequence[str]) -> list[str]:
    """The pins whose daily metrics over ``[start, end]`` must be asked for: every pin but
    those whose ``pin_metrics`` (from the listing, JSON text) prove they have no row there.

    "No activity, no rows": a day without any metric value has no row. A pin is left out
    only when its counters covering the whole window are all zero - the ``90d`` ones when
    the window lies within the last 90 days, else the lifetime ones - with an
    ``impression`` counter among them (a pin never shown has no saves, clicks, follows or
    views either), and, when a lifetime-only metric is asked for, its lifetime ``reaction``
    and ``comment`` are zero too. Anything missing or unreadable: the pin is asked for. If
    no pin is left, the first one is asked for all the same: the answer says which days are
    still pending.

    Args:
        pins: ``(id, pin_metrics)`` of each pin.
        start, end: the window the run fetches.
        today: the run's date (the 90 days end on it).
        metric_types: the metric types asked for.
    """
    ask = active_pins(pins, start, end, today, metric_types)
    if pins and not ask:
        ask = [pins[0][0]]
    log_silent_pins(len(pins) - len(ask), len(pins), start, end)
    return ask


def active_pins(pins: list[tuple[str, str | None]], start: dt.date, end: dt.date, today: dt.date,
                metric_types: Sequence[str]) -> list[str]:
    """:func:`pins_to_ask` without its last rule (no pin left: the first one all the same)."""
    covered = start >= today - dt.timedelta(days=api.PIN_METRICS_90D_DAYS - 1) and end <= today
    lifetime = any(m in api.PIN_LIFETIME_METRIC_TYPES for m in metric_types)
    return [pin_id for pin_id, metrics in pins
            if not _no_activity(metrics, "90d" if covered else "lifetime_metrics", lifetime)]


def log_silent_pins(silent: int, pins: int, start: dt.date, end: dt.date) -> None:
    if silent:
        log.info("pin_analytics: %d of %d pins show no activity from %s to %s (pin_metrics): not asked for",
                 silent, pins, start, end)


def _no_activity(pin_metrics: str | None, window: str, lifetime: bool) -> bool:
    try:
        metrics = json.loads(pin_metrics) if pin_metrics else None
    except ValueError:
        return False
    if not isinstance(metrics, dict):
        return False

    def zero(counters, keys: tuple[str, ...] | None = None) -> bool:
        """``keys`` (default: every counter) are there and zero; and an impression counter."""
        if not isinstance(counters, dict) or "impression" not in counters:
            return False
        values = [counters.get(k) for k in keys] if keys else counters.values()
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0 for v in values)
    if not zero(metrics.get(window)):
        return False
    return not lifetime or zero(metrics.get("lifetime_metrics"), ("reaction", "comment"))


def warn_clamp(start_date: dt.date, floor: dt.date) -> None:
    log.warning("start_date %s is older than the analytics API serves for the streams no report serves "
                "(organic, user account and targeting analytics): they start at %s", start_date, floor)


def date_windows(start: dt.date, end: dt.date, granularity: str = "DAY",
                 span: int | None = None) -> list[tuple[dt.date, dt.date]]:
    """Split ``[start, end]`` into the fewest request windows the API allows.

    Spans are at most ``span`` days (default: the synchronous endpoints' 90, 3 for HOUR);
    WEEK and MONTH windows break on bucket boundaries so a bucket is never split across
    two requests.
    """
    if span is None:
        span = api.HOUR_MAX_SPAN_DAYS if granularity == "HOUR" else api.ANALYTICS_MAX_SPAN_DAYS
    out = []
    cur = start
    while cur <= end:
        last = min(end, cur + dt.timedelta(days=span - 1))
        if granularity in ("WEEK", "MONTH") and last < end:
            # back off to the end of the last whole bucket inside the span
            b = cur
            while next_bucket(b, granularity) - dt.timedelta(days=1) <= last:
                b = next_bucket(b, granularity)
            last = b - dt.timedelta(days=1) if b > cur else last
        out.append((cur, last))
        cur = last + dt.timedelta(days=1)
    return out
