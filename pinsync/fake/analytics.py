"""Deterministic metric values for the fake ads and pin analytics endpoints.

Faithful to the real API (spec v5.23.0 and the reference digest):

* ads analytics answer a flat JSON array, one object per entity x time bucket,
  ``{"<LEVEL>_ID": id, "DATE": ..., <COLUMN>: value}``; ``DATE`` is absent for TOTAL;
  rows whose metrics are all zero are omitted and zero-valued columns are left out of a
  row ("If a column has no value, it may not be returned");
* micro-currency columns are integers in the account's currency; HOUR has no conversion
  metrics ("HOUR no longer provides data for conversion metrics");
* conversion metrics depend on the attribution windows and ``conversion_report_time``,
  and recent days are restated (their values change later);
* pin analytics: ``{"all": {"daily_metrics": [...], "summary_metrics": {...},
  "lifetime_metrics": {...}}}``, ``data_status`` per day (``BEFORE_PIN_CREATED``,
  ``PROCESSING``, ``READY``), TOTAL_COMMENTS/TOTAL_REACTIONS only as lifetime metrics
  ("only available with lifetime Pin metrics").

Choices (the API does not say):

* values are a pure function of (dataset seed, level, entity id, day, column, the four
  attribution settings, the day's restatement version): per-entity constants come from one
  blake2b digest, per-cell values from cheap integer mixing (lowbias32) vectorised with
  Polars, so a 250 ids x 90 days call costs about 0.1 s of CPU;
* an entity delivers only inside its activity window (:attr:`Dataset.activity`), with a
  ramp-up over its first days, a weekly pattern and about 1.6% of days without delivery;
* column families only some entities have (video, lead, quiz, showcase, idea pins, app
  install, conversion tag) give whole columns of zeros, which are therefore omitted;
* HOUR buckets: ``DATE`` stays a date, as the spec types it (``format: date``), and the UTC
  hour is an integer member ``"HOUR": 0..23`` (the spec says nothing of where the hour goes in
  a synchronous answer; ``HOUR`` is the name its report columns give it); the day's integers
  are split across the 24 hours with a fixed diurnal profile, so the hours of a day sum
  exactly to the DAY value;
* WEEK/MONTH rows carry the bucket start (Monday / the 1st) as ``DATE`` even when the
  requested range starts later; their integers are the sums of the DAY integers of the
  requested days inside the bucket (TOTAL: of every requested day). Floats (rates, costs,
  dollar amounts) are recomputed from the summed integers of the bucket;
* integer columns that are entity settings (``CAMPAIGN_DAILY_SPEND_CAP``,
  ``CAMPAIGN_LIFETIME_SPEND_CAP``) and the float settings ``AD_GROUP_BID_MULTIPLIER``,
  ``AD_GROUP_BUDGET_IN_LOCAL_CURRENCY``, ``VIDEO_LENGTH`` are *attributes*, like the name and
  status columns: they carry the entity's current value in every row that has metrics (and
  are left out when unset); a row is never kept for its attributes alone. If no metric
  column is requested at all, a row is kept for every bucket with delivery;
* ``restate()`` bumps a per-day version: spend then strictly grows (late-billed spend) and
  conversion columns are redrawn; pin metrics of the day are redrawn and impressions grow;
* pin analytics split by APP_TYPE answer the keys ``MOBILE``, ``TABLET`` and ``WEB``;
  ``app_types=ALL`` values are the sums of the three; ``daily_metrics`` lists every
  requested day up to today (later days are not listed; a blanked day is missing);
  today and the two days before are ``PROCESSING``; a day with no activity is ``READY``
  with ``metrics: {}``; pins are images, so video metrics are never returned;
  ``lifetime_metrics`` holds the requested TOTAL_COMMENTS/TOTAL_REACTIONS (integers);
* about a third of the pins are never shown (no activity at all), two in five are shown
  for 2-8 weeks after they are created, the others go on; a pin without impressions has
  no other activity either;
* ``GET /pins?pin_metrics=true``: a pin's ``90d`` counters (``impression``, ``pin_click``,
  ``clickthrough`` = OUTBOUND_CLICK, as in the spec's example) are the sums of its daily
  values over the last 90 days, today included, and its ``lifetime_metrics`` the sums
  since it was created plus ``reaction`` / ``comment`` (the lifetime TOTAL_REACTIONS /
  TOTAL_COMMENTS), all app types together; zeros are given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from pinsync import api
from pinsync.fake.data import Dataset, from_ord, to_ord
from pinsync.fake.errors import FakeApiError, bad_request


def seed_of(*parts: Any) -> int:
    """A stable 64-bit integer for ``parts`` (one blake2b per call: use for constants only)."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


# ---------------------------------------------------------------------------------------------
# Column model
# ---------------------------------------------------------------------------------------------

ATTRIBUTE_NUMERIC = ("CAMPAIGN_LIFETIME_SPEND_CAP", "CAMPAIGN_DAILY_SPEND_CAP", "AD_GROUP_BUDGET_IN_LOCAL_CURRENCY",
                     "AD_GROUP_BID_MULTIPLIER", "VIDEO_LENGTH")
ATTRIBUTE_COLUMNS = frozenset(
    [c for c in api.ANALYTICS_COLUMNS if api.analytics_column_kind(c) in ("str", "bool")] + list(ATTRIBUTE_NUMERIC))

SPEND = "SPEND_IN_MICRO_DOLLAR"
# Hidden integer quantities that some float columns are ratios of (never returned).
HIDDEN_INTS = ("_APP_INSTALL", "_INAPP_APP_INSTALL", "_INAPP_CHECKOUT", "_VIEW_CATEGORY", "_SEARCH", "_WATCH_VIDEO",
               "_UNKNOWN", "_VIDEO_WATCH_SECONDS")

_CONVERSION_WORDS = ("CHECKOUT", "SIGNUP", "ADD_TO_CART", "PAGE_VISIT", "CUSTOM", "WISHLIST", "SUBSCRIBE",
                     "CONVERSIONS", "TOTAL_LEAD", "_LEAD", "VIEW_CATEGORY", "_SEARCH", "_WATCH_VIDEO", "_UNKNOWN",
                     "APP_INSTALL", "INAPP_CHECKOUT")
_CONVERSION_RATES = (("PAGE_VISIT", 0.004), ("ADD_TO_CART", 0.0012), ("CHECKOUT", 0.0006), ("SIGNUP", 0.0004),
                     ("LEAD", 0.0003), ("CUSTOM", 0.0002), ("WISHLIST", 0.0001), ("SUBSCRIBE", 0.0001),
                     ("CONVERSIONS", 0.006), ("VIEW_CATEGORY", 0.002), ("SEARCH", 0.001), ("WATCH_VIDEO", 0.001),
                     ("UNKNOWN", 0.0002), ("APP_INSTALL", 0.0005), ("INAPP_CHECKOUT", 0.0002))
_ORDER_VALUE_MICRO = (("CHECKOUT", 55_000_000), ("SIGNUP", 5_000_000), ("CUSTOM", 20_000_000))
_VIDEO_RATES = (("P100", 0.06), ("P95", 0.075), ("P75", 0.10), ("P50", 0.14), ("P25", 0.20), ("P0", 0.35),
                ("15SEC", 0.10), ("3SEC", 0.30), ("MRC", 0.25))


@dataclass(frozen=True)
class IntMetric:
    """An additive integer column: ``rate`` per unit of the entity's daily volume.

    ``family``: the entity flag the column needs (None: every entity has it).
    ``attributed``: a conversion column (attribution-dependent, restated, none at HOUR).
    ``scaled``: multiplied by the entity's engagement quality (not impressions).
    """

    name: str
    rate: float
    family: str | None
    attributed: bool
    scaled: bool


@dataclass(frozen=True)
class FloatMetric:
    """A float column: ``scale * sum(num) / sum(den)`` over integer columns (den None: 1)."""

    name: str
    num: tuple[str, ...]
    den: tuple[str, ...] | None
    scale: float


def _family(name: str) -> str | None:
    for word, fam in (("VIDEO", "video"), ("QUIZ", "quiz"), ("SHOWCASE", "showcase"), ("IDEA_PIN", "idea"),
                      ("OFFLINE", "app"), ("APP_INSTALL", "app"), ("INAPP", "app"), ("LEAD", "lead")):
        if word in name:
            return fam
    if any(w in name for w in _CONVERSION_WORDS) or "WEB_SESSIONS" in name:
        return "conv"
    return None


def _int_metric(name: str) -> IntMetric:
    fam = _family(name)
    attributed = fam in ("conv", "lead", "app") and name != "LEADS" and "WEB_SESSIONS" not in name
    scaled = "IMPRESSION" not in name and name != SPEND
    rate = 0.001
    if name == SPEND:
        rate = 1.0
    elif name == "TOTAL_IMPRESSION_USER":
        rate = 0.7
    elif "SHOWCASE" in name:
        rate = {"IMPRESSION": 0.2, "SWIPE": 0.015, "CLOSEUP": 0.02, "REPIN": 0.002}.get(
            next((w for w in ("IMPRESSION", "SWIPE", "CLOSEUP", "REPIN") if w in name), ""), 0.008)
    elif "IMPRESSION" in name:
        rate = {"TOTAL_IMPRESSION": 1.0, "IMPRESSION_2": 0.1, "IMPRESSION_1_GROSS": 0.93}.get(name, 0.9)
    elif "VIDEO" in name and name != "_WATCH_VIDEO":
        rate = 0.3
        if name == "_VIDEO_WATCH_SECONDS":
            rate = 1.6
        for word, r in _VIDEO_RATES:
            if word in name:
                rate = r
                break
        if name.endswith("_2"):
            rate *= 0.1
        elif name.endswith("_1"):
            rate *= 0.9
    elif "QUIZ" in name:
        rate = 0.003 if "COMPLETED" in name else 0.002
    elif "IDEA_PIN" in name:
        rate = 0.002 * (0.2 if name.endswith("_2") else 1.0)
    elif name == "LEADS":
        rate = 0.0004
    elif "WEB_SESSIONS" in name:
        rate = {"TOTAL_WEB_SESSIONS": 0.006, "WEB_SESSIONS_1": 0.0055}.get(name, 0.0005)
    elif fam in ("conv", "lead", "app"):
        rate = next((r for w, r in _CONVERSION_RATES if w in name), 0.0005)
        if "_CLICK_" in name:
            rate *= 0.6
        elif "_VIEW_" in name and "VIEW_CATEGORY" not in name:
            rate *= 0.3
        elif "_ENGAGEMENT_" in name:
            rate *= 0.1
        if "_WEB_" in name:
            rate *= 0.8
        if "OFFLINE" in name:
            rate *= 0.5
        if "VALUE_IN_MICRO_DOLLAR" in name:
            rate *= next((v for w, v in _ORDER_VALUE_MICRO if w in name), 20_000_000)
    elif "OUTBOUND_CLICK" in name:
        rate = 0.0008 if name.endswith("_2") else 0.007
    elif "CLICKTHROUGH" in name:
        rate = {"TOTAL_CLICKTHROUGH": 0.012, "CLICKTHROUGH_1": 0.011, "CLICKTHROUGH_1_GROSS": 0.0115}.get(name, 0.001)
    elif "REPIN" in name:
        rate = 0.0006 if name.endswith("_2") else 0.004
    elif "ENGAGEMENT" in name:
        rate = {"TOTAL_ENGAGEMENT": 0.03, "ENGAGEMENT_1": 0.027}.get(name, 0.003)
    return IntMetric(name, rate, fam, attributed, scaled)


def _f(name: str, num, den, scale: float = 1.0) -> FloatMetric:
    num = (num,) if isinstance(num, str) else tuple(num)
    den = (den,) if isinstance(den, str) else (tuple(den) if den else None)
    return FloatMetric(name, num, den, scale)


_CLICKS = "TOTAL_CLICKTHROUGH"
FLOAT_METRICS: dict[str, FloatMetric] = {m.name: m for m in (
    _f("SPEND_IN_DOLLAR", SPEND, None, 1e-6),
    _f("CPC_IN_MICRO_DOLLAR", SPEND, "CLICKTHROUGH_1"),
    _f("ECPC_IN_MICRO_DOLLAR", SPEND, _CLICKS),
    _f("ECPC_IN_DOLLAR", SPEND, _CLICKS, 1e-6),
    _f("CTR", "CLICKTHROUGH_1", "IMPRESSION_1"),
    _f("ECTR", _CLICKS, "TOTAL_IMPRESSION"),
    _f("OUTBOUND_CTR_1", "OUTBOUND_CLICK_1", "IMPRESSION_1"),
    _f("ECPE_IN_DOLLAR", SPEND, "TOTAL_ENGAGEMENT", 1e-6),
    _f("ENGAGEMENT_RATE", "ENGAGEMENT_1", "IMPRESSION_1"),
    _f("EENGAGEMENT_RATE", "TOTAL_ENGAGEMENT", "TOTAL_IMPRESSION"),
    _f("ECPM_IN_MICRO_DOLLAR", SPEND, "TOTAL_IMPRESSION", 1000.0),
    _f("REPIN_RATE", "REPIN_1", "IMPRESSION_1"),
    _f("CTR_2", "CLICKTHROUGH_2", "IMPRESSION_2"),
    _f("CPM_IN_MICRO_DOLLAR", SPEND, "PAID_IMPRESSION", 1000.0),
    _f("CPM_IN_DOLLAR", SPEND, "PAID_IMPRESSION", 1e-3),
    _f("TOTAL_IMPRESSION_FREQUENCY", "TOTAL_IMPRESSION", "TOTAL_IMPRESSION_USER"),
    _f("COST_PER_OUTBOUND_CLICK_IN_DOLLAR", SPEND, ("OUTBOUND_CLICK_1", "OUTBOUND_CLICK_2"), 1e-6),
    _f("COST_PER_OUTBOUND_CLICK_IN_DOLLAR_1", SPEND, "OUTBOUND_CLICK_1", 1e-6),
    _f("PAGE_VISIT_COST_PER_ACTION", SPEND, "TOTAL_PAGE_VISIT", 1e-6),
    _f("PAGE_VISIT_ROAS", "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", SPEND),
    _f("CHECKOUT_ROAS", "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", SPEND),
    _f("CUSTOM_ROAS", "TOTAL_CUSTOM_VALUE_IN_MICRO_DOLLAR", SPEND),
    _f("PAID_VIDEO_VIEWABLE_RATE", "VIDEO_MRC_VIEWS_1", "IMPRESSION_1"),
    _f("VIDEO_SPEND_IN_DOLLAR", SPEND, None, 1e-6),
    _f("ECPV_IN_DOLLAR", SPEND, "TOTAL_VIDEO_3SEC_VIEWS", 1e-6),
    _f("ECPCV_IN_DOLLAR", SPEND, "TOTAL_VIDEO_P100_COMPLETE", 1e-6),
    _f("ECPCV_P95_IN_DOLLAR", SPEND, "TOTAL_VIDEO_P95_COMBINED", 1e-6),
    _f("TOTAL_VIDEO_AVG_WATCHTIME_IN_SECOND", "_VIDEO_WATCH_SECONDS", "TOTAL_VIDEO_3SEC_VIEWS"),
    _f("TOTAL_REPIN_RATE", ("REPIN_1", "REPIN_2"), "TOTAL_IMPRESSION"),
    _f("WEB_CHECKOUT_COST_PER_ACTION", SPEND, "TOTAL_WEB_CHECKOUT", 1e-6),
    _f("WEB_CHECKOUT_ROAS", "TOTAL_WEB_CHECKOUT_VALUE_IN_MICRO_DOLLAR", SPEND),
    _f("INAPP_CHECKOUT_COST_PER_ACTION", SPEND, "_INAPP_CHECKOUT", 1e-6),
    _f("TOTAL_APP_INSTALL_CONVERSION_RATE", "_APP_INSTALL", _CLICKS),
    _f("TOTAL_INAPP_APP_INSTALL_CONVERSION_RATE", "_INAPP_APP_INSTALL", _CLICKS),
    _f("COST_PER_LEAD", SPEND, "LEADS", 1e-6),
    _f("QUIZ_COMPLETION_RATE", "QUIZ_COMPLETED", _CLICKS),
    _f("SHOWCASE_AVERAGE_SUBPAGE_CLOSEUP_PER_SESSION", "SHOWCASE_SUBPAGE_CLOSEUP", "SHOWCASE_PIN_CLICKTHROUGH"),
    _f("TOTAL_CHECKOUT_CONVERSION_RATE", "TOTAL_CHECKOUT", _CLICKS),
    _f("TOTAL_VIEW_CATEGORY_CONVERSION_RATE", "_VIEW_CATEGORY", _CLICKS),
    _f("TOTAL_ADD_TO_CART_CONVERSION_RATE", ("TOTAL_CLICK_ADD_TO_CART", "TOTAL_VIEW_ADD_TO_CART"), _CLICKS),
    _f("TOTAL_SIGNUP_CONVERSION_RATE", "TOTAL_SIGNUP", _CLICKS),
    _f("TOTAL_PAGE_VISIT_CONVERSION_RATE", "TOTAL_PAGE_VISIT", _CLICKS),
    _f("TOTAL_LEAD_CONVERSION_RATE", "TOTAL_LEAD", _CLICKS),
    _f("TOTAL_SEARCH_CONVERSION_RATE", "_SEARCH", _CLICKS),
    _f("TOTAL_WATCH_VIDEO_CONVERSION_RATE", "_WATCH_VIDEO", _CLICKS),
    _f("TOTAL_UNKNOWN_CONVERSION_RATE", "_UNKNOWN", _CLICKS),
    _f("TOTAL_CUSTOM_CONVERSION_RATE", "TOTAL_CUSTOM", _CLICKS),
)}
# Float columns gated on a family even though their formula alone would not be.
_FLOAT_FAMILY = {"VIDEO_SPEND_IN_DOLLAR": "video"}

INT_METRICS: dict[str, IntMetric] = {
    c: _int_metric(c) for c in (*api.ANALYTICS_COLUMNS, *HIDDEN_INTS)
    if c in HIDDEN_INTS or (api.analytics_column_kind(c) == "int" and c not in ATTRIBUTE_COLUMNS)}

_unclassified = [c for c in api.ANALYTICS_COLUMNS
                 if c not in ATTRIBUTE_COLUMNS and c not in INT_METRICS and c not in FLOAT_METRICS]
assert not _unclassified, f"analytics columns without a generator: {_unclassified}"
assert all(d in INT_METRICS for m in FLOAT_METRICS.values() for d in (*m.num, *(m.den or ()))), "float deps"
assert all(api.analytics_column_kind(c) == "float" for c in FLOAT_METRICS)

_COLUMN_SALT = {c: seed_of("column", c) for c in INT_METRICS}
_WEEKDAY = (250, 262, 266, 262, 246, 226, 240)            # Mon..Sun, /256
# Diurnal profile (UTC hours), sums to _PROFILE_TOTAL; cumulative for exact integer splits.
_PROFILE = (18, 12, 9, 7, 6, 7, 11, 18, 27, 34, 38, 41, 44, 45, 45, 46, 48, 52, 58, 63, 62, 53, 40, 27)
_PROFILE_TOTAL = sum(_PROFILE)
_PROFILE_CUM = tuple(sum(_PROFILE[:i]) for i in range(25))
_WINDOW_WEIGHT = {
    "click": {0: 0.0, 1: 0.45, 7: 0.75, 14: 0.85, 30: 1.0, 60: 1.1},
    "engagement": {0: 0.0, 1: 0.5, 7: 0.8, 14: 0.9, 30: 1.0, 60: 1.05},
    "view": {0: 0.0, 1: 1.0, 7: 1.6, 14: 1.8, 30: 2.0, 60: 2.2},
}

CORE_COLUMNS = ("SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_IMPRESSION", "TOTAL_CLICKTHROUGH", "CTR",
                "CPC_IN_MICRO_DOLLAR", "TOTAL_ENGAGEMENT", "TOTAL_CONVERSIONS", "TOTAL_CHECKOUT",
                "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR")

LEVEL_LABEL = {"campaign": "campaign", "ad_group": "ad group", "ad": "ad"}
LEVEL_IDS_PARAM = {"campaign": "campaign_ids", "ad_group": "ad_group_ids", "ad": "ad_ids"}


def attribution_factor(click: int, engagement: int, view: int, report_time: str) -> float:
    """How the attribution settings scale conversions (1.0 for the default 30/30/1)."""
    f = (0.6 * _WINDOW_WEIGHT["click"][click] + 0.15 * _WINDOW_WEIGHT["engagement"][engagement]
         + 0.25 * _WINDOW_WEIGHT["view"][view])
    return f * (0.97 if report_time == "TIME_OF_CONVERSION" else 1.0)


# ---------------------------------------------------------------------------------------------
# Vectorised hashing (polars)
# ---------------------------------------------------------------------------------------------
# Per-cell randomness is lowbias32 (C. Wellons) applied to UInt64 columns that hold 32-bit
# values: every product is < 2**64, so nothing depends on overflow behaviour.

_TWO32 = 1 << 32
_G32 = 0x9E3779B1
_GV32 = 0x85EBCA77
_GR32 = 0xC2B2AE3D
_H2_SALT = 0x27D4EB2F
_STEPS = ((0, 16), (1, 0x7FEB352D), (0, 15), (1, 0x846CA68B), (0, 16))


def _u(c: int) -> pl.Expr:
    return pl.lit(c, dtype=pl.UInt64)


def _hash_columns(df: pl.DataFrame, columns: dict[str, pl.Expr]) -> pl.DataFrame:
    """Add ``columns`` (UInt64 expressions < 2**32) passed through lowbias32, stage by stage."""
    if not columns:
        return df
    df = df.with_columns(**{name: (e % _u(_TWO32)) for name, e in columns.items()})
    for kind, k in _STEPS:
        if kind == 0:
            df = df.with_columns(**{n: pl.col(n).xor(pl.col(n) // _u(1 << k)) for n in columns})
        else:
            df = df.with_columns(**{n: (pl.col(n) * _u(k)) % _u(_TWO32) for n in columns})
    return df


def _scaled(imp: pl.Expr, rate: pl.Expr, u: pl.Expr) -> pl.Expr:
    """floor(imp * rate * J + U): J in [0.875, 1.125) from 8 bits of ``u``, U in [0, 1) from the
    other 24 (stochastic rounding, so small expected values still give some non-zero days)."""
    jitter = (pl.lit(896.0) + (u % _u(256)).cast(pl.Float64)) / 1024.0
    rnd = (u // _u(256)).cast(pl.Float64) / float(1 << 24)
    return (imp.cast(pl.Float64) * rate * jitter + rnd).floor().cast(pl.Int64)


def _json_array(df: pl.DataFrame, head: list[tuple[str, str]], members: list[str], wrap: str | None = None) -> str:
    """A JSON array with one object per row of ``df``, built by vectorised string concatenation.

    ``head``: ``(key, column)`` string members that are always present (the id, ``DATE``).
    ``members``: columns holding either null (member left out) or the member's JSON text
    ``,"KEY":value``. ``wrap``: a column whose text opens an outer object around each row's
    (closed by one more ``}``), e.g. ``{"targeting_type":…,"metrics":``.
    """
    if df.height == 0:
        return "[]"
    parts: list[pl.Expr] = [pl.col(wrap)] if wrap else []
    for i, (key, col) in enumerate(head):
        parts += [pl.lit(("{" if i == 0 else ",") + json.dumps(key) + ':"'), pl.col(col), pl.lit('"')]
    parts += [pl.col(c).fill_null("") for c in members]
    parts.append(pl.lit("}}" if wrap else "}"))
    return "[" + df.select(pl.concat_str(parts).str.join(",")).item() + "]"


def _member(key: str, value: pl.Expr) -> pl.Expr:
    """``,"KEY":<value as JSON>`` for non-null numbers, null otherwise."""
    return pl.concat_str(pl.lit("," + json.dumps(key) + ":"), value.cast(pl.String))


# ---------------------------------------------------------------------------------------------
# Shared state and per-entity constants
# ---------------------------------------------------------------------------------------------

class AnalyticsState:
    """What changes over time: restatement versions per day and blanked days (day ordinals)."""

    def __init__(self) -> None:
        self.versions: dict[int, int] = {}
        self.blank: set[int] = set()

    def snapshot(self) -> "AnalyticsState":
        """A copy that later changes do not affect (to compute outside the fake's lock)."""
        copy = AnalyticsState()
        copy.versions, copy.blank = dict(self.versions), set(self.blank)
        return copy


class _Meta:
    __slots__ = ("eh", "base", "cpm", "quality", "families", "first", "last")


def _families_for(level: str, item: dict, objective: str, r: random.Random) -> frozenset[str]:
    fams = set()
    creative = item.get("creative_type")
    if level == "ad":
        if creative in ("VIDEO", "MAX_VIDEO", "MAX_WIDTH_VIDEO_COLLECTION"):
            fams.add("video")
        for fam, ctype in (("quiz", "QUIZ"), ("showcase", "SHOWCASE"), ("idea", "IDEA")):
            if creative == ctype:
                fams.add(fam)
    else:
        if objective == "VIDEO_COMPLETION" or r.random() < 0.3:
            fams.add("video")
        for fam, p in (("quiz", 0.05), ("showcase", 0.05), ("idea", 0.1)):
            if r.random() < p:
                fams.add(fam)
    if objective in ("WEB_CONVERSION", "CATALOG_SALES") or r.random() < 0.65:
        fams.add("conv")
    if r.random() < 0.15:
        fams.add("lead")
    if r.random() < 0.1:
        fams.add("app")
    return frozenset(fams)


_BASE_VOLUME = {"advertiser": (5_000, 150_000), "campaign": (2_000, 60_000), "ad_group": (800, 25_000),
                "ad": (60, 8_000), "keyword": (30, 4_000), "product_group": (100, 6_000)}


def _day_frame(days: list[int], versions: dict[int, int], bucket: str | None) -> pl.DataFrame:
    data: dict[str, list] = {"d": days, "date": [from_ord(d).isoformat() for d in days],
                             "wd": [_WEEKDAY[(d + 3) % 7] for d in days], "ver": [versions.get(d, 0) for d in days]}
    if bucket == "WEEK":
        data["bucket"] = [d - (d + 3) % 7 for d in days]
    elif bucket == "MONTH":
        data["bucket"] = [to_ord(from_ord(d).replace(day=1)) for d in days]
    schema = {"d": pl.Int32, "date": pl.String, "wd": pl.Int64, "ver": pl.Int64, "bucket": pl.Int32}
    return pl.DataFrame(data, schema={k: schema[k] for k in data})


_HOURS = pl.DataFrame({"hr": list(range(24)), "c0": list(_PROFILE_CUM[:24]), "c1": list(_PROFILE_CUM[1:]),
                       "_HOUR": [f',"HOUR":{h}' for h in range(24)]},
                      schema={"hr": pl.Int32, "c0": pl.Int64, "c1": pl.Int64, "_HOUR": pl.String})


# Attribute columns that are one field of the entity or of its parents: column -> (whose, field).
_FIELD_COLUMNS = {
    "AD_ACCOUNT_ID": ("account", "id"), "ADVERTISER_ID": ("account", "id"),
    "CAMPAIGN_ID": ("campaign", "id"), "CAMPAIGN_NAME": ("campaign", "name"),
    "CAMPAIGN_ENTITY_STATUS": ("campaign", "status"), "CAMPAIGN_OBJECTIVE_TYPE": ("campaign", "objective_type"),
    "CAMPAIGN_DAILY_SPEND_CAP": ("campaign", "daily_spend_cap"),
    "CAMPAIGN_LIFETIME_SPEND_CAP": ("campaign", "lifetime_spend_cap"), "ORDER_LINE_ID": ("campaign", "order_line_id"),
    "AD_GROUP_ID": ("ad_group", "id"), "AD_GROUP_NAME": ("ad_group", "name"),
    "AD_GROUP_ENTITY_STATUS": ("ad_group", "status"), "AD_GROUP_BUDGET_TYPE": ("ad_group", "budget_type"),
    "AD_GROUP_BID_MULTIPLIER": ("ad_group", "bid_multiplier"),
    "AD_ID": ("ad", "id"), "PIN_PROMOTION_ID": ("ad", "id"), "AD_NAME": ("ad", "name"), "PIN_ID": ("ad", "pin_id"),
}


# The key naming the entity of a row, per level (reports of the keyword level key rows by
# keyword id; the synchronous endpoints serve campaign, ad_group and ad).
ROW_ID_KEY = {**api.LEVEL_ID_COLUMN, "advertiser": "ADVERTISER_ID"}


class AdsAnalytics:
    """Rows of the ads analytics endpoints for a :class:`Dataset`: the synchronous ones
    (campaign, ad_group, ad) and the reports (also advertiser and keyword)."""

    def __init__(self, ds: Dataset, state: AnalyticsState):
        self.ds = ds
        self.state = state
        self._meta: dict[tuple[str, str], _Meta] = {}

    def meta(self, level: str, entity_id: str) -> _Meta:
        key = (level, entity_id)
        m = self._meta.get(key)
        if m is None:
            item = self.ds.by_level(level)[entity_id]
            m = _Meta()
            m.eh = seed_of(self.ds.seed, level, entity_id)
            r = random.Random(m.eh)
            lo, hi = _BASE_VOLUME[level]
            m.base = int(lo * (hi / lo) ** r.random())
            m.cpm = r.randint(2_000_000, 14_000_000)            # micro-currency per 1000 impressions
            m.quality = 0.5 * 4 ** r.random()                   # 0.5 .. 2.0
            campaign = self.ds.lineage(level, entity_id)[1]
            m.families = _families_for(level, item, campaign["objective_type"] if campaign else "", r)
            m.first, m.last = self.ds.activity[level][entity_id]
            self._meta[key] = m
        return m

    # ------------------------------------------------------------------ attributes
    def attributes(self, level: str, item: dict, columns: list[str]) -> dict[str, Any]:
        """The attribute columns (names, ids, statuses, settings) of ``item``; unset ones are None."""
        account, camp, group, ad = self.ds.lineage(level, item["id"])
        sources = {"campaign": camp, "ad_group": group, "ad": ad, "account": account}
        out: dict[str, Any] = {}
        for c in columns:
            v: Any = None
            if c in _FIELD_COLUMNS:
                source, field = _FIELD_COLUMNS[c]
                if sources[source] is not None:
                    v = sources[source][field]
            elif camp is not None and c == "CAMPAIGN_BUDGET_OPTIMIZATION":
                v = bool(camp["is_campaign_budget_optimization"])
            elif camp is not None and c == "IS_PREMIERE_CAMPAIGN":
                v = False
            elif camp is not None and c == "ORDER_LINE_NAME":
                v = f"IO {camp['order_line_id']}" if camp["order_line_id"] else None
            elif group is not None and c == "AD_GROUP_BUDGET_IN_LOCAL_CURRENCY":
                b = group["budget_in_micro_currency"]
                v = round(b / 1e6, 6) if b else None
            elif group is not None and c == "AD_GROUP_OPTIMIZATION":
                goal = (group["optimization_goal_metadata"] or {}).get("conversion_tag_v3_goal_metadata")
                v = goal["conversion_event"] if goal else group["billable_event"]
            elif c == "VIDEO_LENGTH":
                m = self.meta(level, item["id"])
                v = round(6 + (m.eh % 5400) / 100, 2) if "video" in m.families else None
            # CAMPAIGN_BRAND_LABEL, PROMO_*, PRODUCT_GROUP_AD_*_TAG: never set in the fake.
            out[c] = None if v == "" else v
        return out

    # ------------------------------------------------------------------ rows
    def rows(self, *args, **kwargs) -> list[dict]:
        """Exactly the rows the endpoint answers (arguments as :meth:`json`)."""
        return json.loads(self.json(*args, **kwargs))

    def json(self, level: str, account_id: str, ids, start: dt.date, end: dt.date, granularity: str,
             columns, click: int, engagement: int, view: int, report_time: str,
             state: AnalyticsState | None = None, *, id_key: str | None = None,
             breakdown: Callable[[str, str], list[tuple[str, Any, float]]] | None = None) -> str:
        """The endpoint's JSON body for validated parameters.

        Rows: entities in request order (unknown ids and ids of other accounts ignored,
        duplicates once), then time. Columns not valid at ``level`` are left out.
        ``state``: a snapshot to read versions and blank days from (default: the live one).
        ``id_key``: the member naming the entity (default: :data:`ROW_ID_KEY` of the level).
        ``breakdown(level, id)``: for targeting analytics, the entity's ``(targeting type,
        value, share)``: each becomes a row group of its own, ``share`` of the entity's volume,
        wrapped as ``{"targeting_type", "targeting_value", "metrics": <row>}``.
        """
        ds = self.ds
        state = state or self.state
        id_col = id_key or ROW_ID_KEY[level]
        items = ds.by_level(level)
        entities: dict[str, dict] = {}
        for i in ids:
            item = items.get(i)
            if item is not None and ds.lineage(level, i)[0]["id"] == account_id:
                entities.setdefault(i, item)

        cols = [c for c in dict.fromkeys(columns)
                if level in api.COLUMNS_NEEDING_LEVEL.get(c, (level,)) and c != id_col]
        attr_cols = [c for c in cols if c in ATTRIBUTE_COLUMNS]
        int_cols = [c for c in cols if c in INT_METRICS]
        float_cols = [FLOAT_METRICS[c] for c in cols if c in FLOAT_METRICS]
        needed: dict[str, int] = {}
        for c in int_cols:
            needed.setdefault(c, len(needed))
        for fm in float_cols:
            for c in (*fm.num, *(fm.den or ())):
                needed.setdefault(c, len(needed))
        metrics = [INT_METRICS[c] for c in needed]

        hour = granularity == "HOUR"
        afactor = 0.0 if hour else attribution_factor(click, engagement, view, report_time)
        attr_salt = seed_of("attribution", click, engagement, view, report_time) & 0xFFFFFFFF
        lo_req, hi_req = to_ord(start), to_ord(end)
        days = [d for d in range(lo_req, hi_req + 1) if d not in state.blank]

        # ---- one row per entity with its constants and per-metric rates
        e_cols: dict[str, list] = {k: [] for k in ("ord", "eid", "ehi", "elo", "base", "cpm", "first", "last")}
        rates: list[list[float]] = [[] for _ in metrics]
        attrs: dict[str, list] = {c: [] for c in attr_cols}
        video: list[bool] = []
        wraps: list[str] = []
        groups: list[tuple[str, dict, _Meta, int, int, str | None]] = []    # (id, item, meta, hash, volume, wrap)
        for eid, item in entities.items():
            m = self.meta(level, eid)
            if max(lo_req, m.first) > min(hi_req, m.last):
                continue
            if breakdown is None:
                groups.append((eid, item, m, m.eh, m.base, None))
                continue
            for ttype, value, share in breakdown(level, eid):
                wrap = ('{"targeting_type":' + json.dumps(ttype) + ',"targeting_value":' + json.dumps(value)
                        + ',"metrics":')
                groups.append((eid, item, m, seed_of(m.eh, ttype, value), max(1, int(m.base * share)), wrap))
        for n, (eid, item, m, eh, base, wrap) in enumerate(groups):
            if wrap is not None:
                wraps.append(wrap)
            for k, v in (("ord", n), ("eid", eid), ("ehi", eh >> 32), ("elo", eh & 0xFFFFFFFF),
                         ("base", base), ("cpm", m.cpm), ("first", m.first), ("last", m.last)):
                e_cols[k].append(v)
            for i, im in enumerate(metrics):
                rate = im.rate
                if im.family is not None and im.family not in m.families:
                    rate = 0.0
                if im.scaled:
                    rate *= m.quality
                if im.attributed:
                    rate *= afactor
                rates[i].append(rate)
            for c, v in self.attributes(level, item, attr_cols).items():
                attrs[c].append(v)
            video.append("video" in m.families)
        if not e_cols["ord"] or not days:
            return "[]"

        schema = {"ord": pl.Int32, "eid": pl.String, "ehi": pl.UInt64, "elo": pl.UInt64, "base": pl.Int64,
                  "cpm": pl.Int64, "first": pl.Int32, "last": pl.Int32}
        ent = pl.DataFrame(e_cols, schema=schema)
        spend_i = None
        rate_cols = {}
        for i, im in enumerate(metrics):
            if im.name == SPEND:
                spend_i = i
            elif any(rates[i]):
                rate_cols[f"r{i}"] = pl.Series(rates[i], dtype=pl.Float64)
        ent = ent.with_columns(**rate_cols)
        snippets = {c: pl.Series([None if v is None else f",{json.dumps(c)}:{json.dumps(v)}" for v in attrs[c]],
                                 dtype=pl.String) for c in attr_cols}
        info = pl.DataFrame({"ord": e_cols["ord"], "eid": e_cols["eid"], "_video": video, **snippets,
                             **({"_wrap": pl.Series(wraps, dtype=pl.String)} if breakdown else {})},
                            schema_overrides={"ord": pl.Int32})

        # ---- entity x day, inside the activity window, with delivery
        x = ent.join(_day_frame(days, state.versions, granularity if granularity in ("WEEK", "MONTH") else None),
                     how="cross").filter((pl.col("d") >= pl.col("first")) & (pl.col("d") <= pl.col("last")))
        if x.height == 0:
            return "[]"
        x = _hash_columns(x, {"h1": pl.col("elo").xor((pl.col("d").cast(pl.UInt64) * _u(_G32)) % _u(_TWO32))})
        x = _hash_columns(x, {"h1": pl.col("h1").xor(pl.col("ehi"))})
        age = pl.col("d") - pl.col("first")
        jitter = pl.lit(768, pl.Int64) + (pl.col("h1") % _u(512)).cast(pl.Int64)        # 0.75 .. 1.25 (/1024)
        imp = (pl.col("base") * pl.col("wd") * jitter) // (1 << 18)
        x = x.with_columns(imp=pl.when(age < 4).then(imp * (age.cast(pl.Int64) + 1) // 5).otherwise(imp))
        x = x.filter((pl.col("imp") > 0) & (pl.col("h1") // _u(1 << 26) != 0))
        ver = pl.col("ver").cast(pl.UInt64)
        x = _hash_columns(x, {
            "h2": pl.col("h1").xor(_u(_H2_SALT)),
            "hv": pl.col("h1").xor(_u(attr_salt)).xor((ver * _u(_GV32)) % _u(_TWO32)),
            "hr": pl.col("h1").xor((ver * _u(_GR32)) % _u(_TWO32)),
        })
        x = _hash_columns(x, {f"u{i}": pl.col("hv" if metrics[i].attributed else "h2").xor(
            _u(_COLUMN_SALT[metrics[i].name] & 0xFFFFFFFF)) for i in range(len(metrics)) if f"r{i}" in rate_cols})
        mexprs = {}
        for i, im in enumerate(metrics):
            if i == spend_i:
                sp = (pl.col("imp") * pl.col("cpm")
                      * (pl.lit(960, pl.Int64) + ((pl.col("h1") // _u(512)) % _u(128)).cast(pl.Int64))) // 1_024_000
                v = pl.col("ver")
                mexprs[f"m{i}"] = pl.when(v > 0).then(
                    sp + v + sp * (7 * v + (pl.col("hr") % _u(5)).cast(pl.Int64)) // 1000).otherwise(sp)
            elif f"r{i}" in rate_cols:
                mexprs[f"m{i}"] = _scaled(pl.col("imp"), pl.col(f"r{i}"), pl.col(f"u{i}"))
            else:
                mexprs[f"m{i}"] = pl.lit(0, pl.Int64)
        mnames = list(mexprs)
        keep = ["ord", "d", "date"] + (["bucket"] if "bucket" in x.columns else [])
        x = x.select(*keep, **mexprs)

        # ---- time buckets
        if granularity == "DAY":
            x = x.rename({"date": "DATE"})
            sort = ["ord", "d"]
        elif hour:
            x = x.join(_HOURS, how="cross").with_columns(
                **{n: pl.col(n) * pl.col("c1") // _PROFILE_TOTAL - pl.col(n) * pl.col("c0") // _PROFILE_TOTAL
                   for n in mnames}).rename({"date": "DATE"})
            if mnames:
                x = x.filter(pl.any_horizontal([pl.col(n) != 0 for n in mnames]))
            sort = ["ord", "d", "hr"]
        elif granularity in ("WEEK", "MONTH"):
            x = x.group_by("ord", "bucket").agg([pl.col(n).sum() for n in mnames]) if mnames else \
                x.select("ord", "bucket").unique()
            x = x.with_columns(DATE=pl.col("bucket").map_elements(lambda b: from_ord(b).isoformat(),
                                                                 return_dtype=pl.String))
            sort = ["ord", "bucket"]
        else:   # TOTAL
            x = x.group_by("ord").agg([pl.col(n).sum() for n in mnames]) if mnames else x.select("ord").unique()
            sort = ["ord"]
        x = x.join(info, on="ord", how="left")

        # ---- requested metrics, zeros as null (dropped from the JSON)
        outs = {}
        for c in int_cols:
            m = pl.col(f"m{needed[c]}")
            outs[c] = pl.when(m != 0).then(m)
        for fm in float_cols:
            n = pl.sum_horizontal([pl.col(f"m{needed[c]}") for c in fm.num])
            q = pl.sum_horizontal([pl.col(f"m{needed[c]}") for c in fm.den]) if fm.den else pl.lit(1, pl.Int64)
            cond = (n != 0) & (q != 0)
            if _FLOAT_FAMILY.get(fm.name) == "video":
                cond = cond & pl.col("_video")
            outs[fm.name] = pl.when(cond).then((n.cast(pl.Float64) * fm.scale / q.cast(pl.Float64)).round(6))
        x = x.with_columns(**outs)
        if outs:
            x = x.with_columns(**{c: pl.when(pl.col(c) != 0).then(_member(c, pl.col(c))) for c in outs})
            x = x.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in outs]))
        x = x.sort(sort)
        head = [(id_col, "eid")] + ([("DATE", "DATE")] if granularity != "TOTAL" else [])
        return _json_array(x, head, (["_HOUR"] if hour else []) + cols, "_wrap" if breakdown else None)


# ---------------------------------------------------------------------------------------------
# Pin analytics
# ---------------------------------------------------------------------------------------------

PIN_LIFETIME_ONLY = api.PIN_LIFETIME_METRIC_TYPES
# the pin_metrics keys of GET /pins (the spec's example) and the metric each one counts
PIN_METRICS_KEYS = {"PIN_CLICK": "pin_click", "IMPRESSION": "impression", "OUTBOUND_CLICK": "clickthrough",
                    "TOTAL_REACTIONS": "reaction", "TOTAL_COMMENTS": "comment"}
# pins never shown to anyone, and pins shown for 2-8 weeks after they were created; the others go on
_PIN_NEVER_SHOWN, _PIN_SHORT_LIVED = 0.35, 0.75
_PIN_RATES = {"IMPRESSION": 1.0, "OUTBOUND_CLICK": 0.01, "PIN_CLICK": 0.02, "SAVE": 0.008, "USER_FOLLOW": 0.0008,
              "PROFILE_VISIT": 0.003, "TOTAL_COMMENTS": 0.0005, "TOTAL_REACTIONS": 0.002}
_PIN_VIDEO = frozenset(m for m in api.PIN_METRIC_TYPES if "VIDEO" in m or "QUARTILE" in m)
_APP_SHARE = {"MOBILE": 70, "TABLET": 8, "WEB": 22}
_APP_SALT = {a: seed_of("app", a) & 0xFFFFFFFF for a in api.PIN_APP_TYPES}
_PIN_SALT = {m: seed_of("pin-metric", m) & 0xFFFFFFFF for m in api.PIN_METRIC_TYPES}


class PinAnalytics:
    """Payloads of ``GET /pins/{pin_id}/analytics`` and, per pin, of ``GET /pins/analytics``."""

    def __init__(self, ds: Dataset, state: AnalyticsState):
        self.ds = ds
        self.state = state
        self._meta: dict[str, tuple[int, int, int, float, int]] = {}

    def meta(self, pin: dict) -> tuple[int, int, int, float, int]:
        """(hash, daily impressions scale, created day ordinal, engagement quality, last day
        with any activity: before the created day for a pin never shown)."""
        m = self._meta.get(pin["id"])
        if m is None:
            ph = seed_of(self.ds.seed, "pin", pin["id"])
            r = random.Random(ph)
            created = to_ord(dt.date.fromisoformat(pin["created_at"][:10]))
            base, quality, u = int(5 * 600 ** r.random()), 0.5 * 4 ** r.random(), r.random()
            active = 0 if u < _PIN_NEVER_SHOWN else (14 + int(42 * r.random()) if u < _PIN_SHORT_LIVED else 10**6)
            m = (ph, base, created, quality, created + active - 1)
            self._meta[pin["id"]] = m
        return m

    def payload(self, pin: dict, start: dt.date, end: dt.date, metric_types, app_types: str = "ALL",
                split_field: str = "NO_SPLIT", state: AnalyticsState | None = None) -> dict:
        """The single-pin response for validated parameters."""
        return self.payloads([pin], start, end, metric_types, app_types, split_field, state)[pin["id"]]

    def payloads(self, pins: list[dict], start: dt.date, end: dt.date, metric_types, app_types: str = "ALL",
                 split_field: str = "NO_SPLIT", state: AnalyticsState | None = None) -> dict[str, dict]:
        """``{pin_id: single-pin response}`` for validated parameters, computed in one pass."""
        state = state or self.state
        metrics = list(dict.fromkeys(metric_types))
        daily = [t for t in metrics if t not in PIN_LIFETIME_ONLY]
        ints = [t for t in daily if api.pin_metric_kind(t) == "int" and t not in _PIN_VIDEO]
        if "SAVE_RATE" in daily:
            ints += [t for t in ("SAVE", "IMPRESSION") if t not in ints]
        apps = api.PIN_APP_TYPES if app_types == "ALL" else (app_types,)
        keys = ["all"] if split_field == "NO_SPLIT" else list(apps)
        today = self.ds.today_ord
        lo, hi = to_ord(start), min(to_ord(end), today)
        days = [d for d in range(lo, hi + 1) if d not in state.blank]
        metas = [self.meta(p) for p in pins]
        values: dict[tuple[int, str, int], tuple] = {}
        if days and pins and ints:
            values = self._values(metas, days, ints, apps, split_field, state.versions)

        isos = {d: from_ord(d).isoformat() for d in days}
        idx = {name: i for i, name in enumerate(ints)}
        out: dict[str, dict] = {}
        for n, (pin, m) in enumerate(zip(pins, metas)):
            created = m[2]
            resp = {}
            for key in keys:
                entries = []
                totals = [0] * len(ints)
                for d in days:
                    if d < created:
                        entries.append({"date": isos[d], "data_status": "BEFORE_PIN_CREATED", "metrics": {}})
                        continue
                    vals = values.get((n, key, d))
                    if vals is not None:
                        for i, v in enumerate(vals):
                            totals[i] += v
                    entries.append({"date": isos[d], "data_status": "PROCESSING" if d >= today - 2 else "READY",
                                    "metrics": _pin_metrics(daily, idx, vals) if vals else {}})
                group_apps = apps if key == "all" else (key,)
                lifetime = {}
                for name in metrics:
                    if name in PIN_LIFETIME_ONLY:
                        v = self._lifetime(m, name, group_apps)
                        if v:
                            lifetime[name] = v
                resp[key] = {"daily_metrics": entries, "summary_metrics": _pin_metrics(daily, idx, totals),
                             "lifetime_metrics": lifetime}
            out[pin["id"]] = resp
        return out

    def _values(self, metas, days: list[int], ints: list[str], apps, split_field: str,
                versions: dict[int, int]) -> dict:
        p = pl.DataFrame({"n": list(range(len(metas))), "phi": [m[0] >> 32 for m in metas],
                          "plo": [m[0] & 0xFFFFFFFF for m in metas], "base": [m[1] for m in metas],
                          "created": [m[2] for m in metas], "quality": [m[3] for m in metas],
                          "last": [min(m[4], 2**31 - 1) for m in metas]},
                         schema={"n": pl.Int32, "phi": pl.UInt64, "plo": pl.UInt64, "base": pl.Int64,
                                 "created": pl.Int32, "quality": pl.Float64, "last": pl.Int32})
        dframe = pl.DataFrame({"d": days, "ver": [versions.get(d, 0) for d in days]},
                              schema={"d": pl.Int32, "ver": pl.Int64})
        aframe = pl.DataFrame({"app": list(apps), "share": [_APP_SHARE[a] for a in apps],
                               "asalt": [_APP_SALT[a] for a in apps]},
                              schema={"app": pl.String, "share": pl.Int64, "asalt": pl.UInt64})
        x = (p.join(dframe, how="cross").filter((pl.col("d") >= pl.col("created")) & (pl.col("d") <= pl.col("last")))
             .join(aframe, how="cross"))
        if x.height == 0:
            return {}
        x = _hash_columns(x, {"h": pl.col("plo").xor((pl.col("d").cast(pl.UInt64) * _u(_G32)) % _u(_TWO32))})
        x = _hash_columns(x, {"h": pl.col("h").xor(pl.col("phi")).xor(pl.col("asalt")),
                              "hb": pl.col("h").xor(pl.col("phi")).xor(pl.col("asalt")).xor(
                                  (pl.col("ver").cast(pl.UInt64) * _u(_GV32)) % _u(_TWO32))})
        x = x.with_columns(h=pl.when(pl.col("ver") > 0).then(pl.col("hb")).otherwise(pl.col("h")))
        age = (pl.col("d") - pl.col("created")).cast(pl.Int64)
        imp = (pl.col("base") * pl.col("share") * (pl.lit(768, pl.Int64) + (pl.col("h") % _u(512)).cast(pl.Int64))
               * 32) // (100 * 1024 * (age + 32))
        imp = pl.when(pl.col("h") // _u(1 << 27) == 0).then(pl.lit(0, pl.Int64)).otherwise(imp)
        v = pl.col("ver")
        x = x.with_columns(imp=pl.when((v > 0) & (imp > 0)).then(imp + v * (1 + imp // 50)).otherwise(imp))
        others = [t for t in ints if t != "IMPRESSION"]
        x = _hash_columns(x, {f"u_{t}": pl.col("h").xor(_u(_PIN_SALT[t])) for t in others})
        x = x.select("n", "d", "app", *[
            (pl.col("imp") if t == "IMPRESSION" else
             _scaled(pl.col("imp"), pl.col("quality") * _PIN_RATES.get(t, 0.001), pl.col(f"u_{t}"))).alias(t)
            for t in ints])
        if split_field == "NO_SPLIT":
            x = x.group_by("n", "d").agg([pl.col(t).sum() for t in ints]).with_columns(app=pl.lit("all"))
        cols = [x.get_column(c).to_list() for c in ("n", "app", "d", *ints)]
        return dict(zip(zip(*cols[:3]), zip(*cols[3:])))

    def _lifetime(self, m, name: str, apps) -> int:
        """A lifetime total: the integral of the decaying daily volume over the days the pin
        was active (none: 0)."""
        ph, base, created, quality, last = m
        age = max(0, min(self.ds.today_ord, last) - created + 1)
        share = sum(_APP_SHARE[a] for a in apps) / 100
        return int(base * share * 32 * math.log1p(age / 32) * _PIN_RATES[name] * quality)

    def pin_metrics(self, pins: list[dict], state: AnalyticsState | None = None) -> dict[str, dict]:
        """``{pin_id: pin_metrics}`` of ``GET /pins?pin_metrics=true``: the sums of the pin's
        daily values (every app type) over the last 90 days, today included, and since it
        was created, plus its lifetime reactions and comments (what the analytics endpoints
        answer as TOTAL_REACTIONS / TOTAL_COMMENTS)."""
        state = state or self.state
        today = self.ds.today_ord
        metas = [self.meta(p) for p in pins]
        first = min((m[2] for m in metas), default=today)
        days = [d for d in range(first, today + 1) if d not in state.blank]
        names = [name for name in PIN_METRICS_KEYS if name not in PIN_LIFETIME_ONLY]
        values = self._values(metas, days, names, api.PIN_APP_TYPES, "NO_SPLIT", state.versions) if days else {}
        since = today - api.PIN_METRICS_90D_DAYS + 1
        sums = [[[0] * len(names), [0] * len(names)] for _ in pins]
        for (n, _, d), vals in values.items():
            for i, v in enumerate(vals):
                sums[n][1][i] += v
                if d >= since:
                    sums[n][0][i] += v
        out = {}
        for pin, m, (recent, ever) in zip(pins, metas, sums):
            lifetime = {PIN_METRICS_KEYS[name]: v for name, v in zip(names, ever)}
            lifetime.update({PIN_METRICS_KEYS[name]: self._lifetime(m, name, api.PIN_APP_TYPES)
                             for name in PIN_LIFETIME_ONLY})
            out[pin["id"]] = {"90d": {PIN_METRICS_KEYS[name]: v for name, v in zip(names, recent)},
                              "lifetime_metrics": lifetime}
        return out


def _pin_metrics(daily: list[str], idx: dict[str, int], vals) -> dict:
    """The non-zero metrics of ``daily`` from ``vals`` (``idx``: metric -> position)."""
    out: dict[str, Any] = {}
    for name in daily:
        if name in idx:
            v = vals[idx[name]]
            if v:
                out[name] = v
        elif name == "SAVE_RATE":
            imp, save = vals[idx["IMPRESSION"]], vals[idx["SAVE"]]
            if imp and save:
                out[name] = round(save / imp, 6)
        # video metrics (and VIDEO_AVG_WATCH_TIME): video pins only; the fake's pins are images.
    return out


# ---------------------------------------------------------------------------------------------
# Parameter validation (shared by the router and the expected-data helpers)
# ---------------------------------------------------------------------------------------------

def _one(query: dict, name: str) -> str | None:
    v = query.get(name)
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return v[-1] if v else None
    return str(v)


def multi(query: dict, name: str) -> list[str] | None:
    """A list parameter: repeated keys and comma-joined values both accepted; None if absent."""
    v = query.get(name)
    if v is None:
        return None
    vals = v if isinstance(v, (list, tuple)) else [v]
    out = []
    for x in vals:
        out += [p.strip() for p in str(x).split(",") if p.strip()]
    return out


def _date(query: dict, name: str, err) -> dt.date:
    v = _one(query, name)
    if not v:
        raise err(f"{name} is required.")
    try:
        if len(v) != 10:
            raise ValueError
        return dt.date.fromisoformat(v)
    except ValueError:
        raise err(f"{name} must be a date in the format YYYY-MM-DD.") from None


def check_range(start: dt.date, end: dt.date, today: dt.date, err, granularity: str = "DAY") -> None:
    """The real API's date rules (90 days back / span 90; HOUR: 8 back / span 3)."""
    if end < start:
        raise err("end_date must be on or after start_date.")
    if granularity == "HOUR":
        if start < today - dt.timedelta(days=api.HOUR_DAYS_BACK):
            raise err(f"For HOUR granularity you can only get data from the last {api.HOUR_DAYS_BACK} days.")
        if (end - start).days > api.HOUR_MAX_SPAN_DAYS:
            raise err(f"For HOUR granularity the date range cannot exceed {api.HOUR_MAX_SPAN_DAYS} days.")
        return
    if start < today - dt.timedelta(days=api.ANALYTICS_DAYS_BACK):
        raise err(f"You can only get data from the last {api.ANALYTICS_DAYS_BACK} days.")
    if (end - start).days > api.ANALYTICS_MAX_SPAN_DAYS:
        raise err(f"end_date cannot be more than {api.ANALYTICS_MAX_SPAN_DAYS} days past start_date.")


@dataclass(frozen=True)
class AdsQuery:
    """Validated ads analytics parameters."""

    ids: list[str]
    start: dt.date
    end: dt.date
    columns: list[str]
    granularity: str
    click: int
    engagement: int
    view: int
    report_time: str
    pin_ids: list[str] | None = None     # ads only: campaign_ids + pin_ids selection


def ads_error(level: str):
    """The 400 of the level's analytics route (its spec example: ``declared.BAD_REQUEST``)."""
    def err(detail: str) -> FakeApiError:
        return bad_request(f"{level}_analytics", detail)
    return err


def _ids_param(query: dict, name: str, limit: int, err, required: bool = True) -> list[str] | None:
    ids = multi(query, name)
    if ids is None or not ids:
        if required:
            raise err(f"{name} is required.")
        return None
    if len(ids) > limit:
        raise err(f"{name} must contain at most {limit} items.")
    bad = [i for i in ids if not i.isdigit()]
    if bad:
        raise err(f"{name} must be digit strings (got {bad[0]!r}).")
    return ids


def parse_ads_query(level: str, query: dict, today: dt.date, *, err=None, ids_param: str | None = "") -> AdsQuery:
    """Validate an ads analytics query like the real API (400 code 400 on any problem).

    ``ids_param``: the required id list (default: the level's, and for ads ``campaign_ids`` +
    ``pin_ids`` instead of ``ad_ids``); None for the ad account's own analytics (no ids).
    ``err``: the route's 400 (default: the level's :func:`ads_error`).
    """
    err = err or ads_error(level)
    pin_ids = None
    if ids_param is None:
        ids = []
    elif ids_param:
        ids = _ids_param(query, ids_param, api.ANALYTICS_IDS_MAX, err)
    elif level == "ad":
        ids = _ids_param(query, "ad_ids", api.ANALYTICS_IDS_MAX, err, required=False)
        if ids is None:
            campaign_ids = _ids_param(query, "campaign_ids", api.ANALYTICS_IDS_MAX, err, required=False)
            pin_ids = _ids_param(query, "pin_ids", api.PIN_IDS_MAX, err, required=False)
            if campaign_ids is None or pin_ids is None:
                raise err("ad_ids, or campaign_ids and pin_ids, are required.")
            ids = campaign_ids
    else:
        ids = _ids_param(query, LEVEL_IDS_PARAM[level], api.ANALYTICS_IDS_MAX, err)
    start, end = _date(query, "start_date", err), _date(query, "end_date", err)
    columns = multi(query, "columns")
    if not columns:
        raise err("columns is required.")
    unknown = [c for c in columns if c not in api.ANALYTICS_COLUMNS]
    if unknown:
        raise err(f"Unknown column {unknown[0]!r}: columns must be values of the reporting columns enum.")
    granularity = _one(query, "granularity")
    if not granularity:
        raise err("granularity is required.")
    if granularity not in api.GRANULARITIES:
        raise err(f"granularity must be one of {', '.join(api.GRANULARITIES)} (got {granularity!r}).")
    windows = []
    for name, default in (("click_window_days", 30), ("engagement_window_days", 30), ("view_window_days", 1)):
        raw = _one(query, name)
        if raw is None or raw == "":
            windows.append(default)
            continue
        try:
            w = int(raw)
        except ValueError:
            w = -1
        if w not in api.ATTRIBUTION_WINDOW_DAYS:
            raise err(f"{name} must be one of {', '.join(map(str, api.ATTRIBUTION_WINDOW_DAYS))} (got {raw!r}).")
        windows.append(w)
    report_time = _one(query, "conversion_report_time") or "TIME_OF_AD_ACTION"
    if report_time not in api.CONVERSION_REPORT_TIMES:
        raise err(f"conversion_report_time must be one of {', '.join(api.CONVERSION_REPORT_TIMES)}.")
    check_range(start, end, today, err, granularity)
    return AdsQuery(ids, start, end, columns, granularity, *windows, report_time, pin_ids)


@dataclass(frozen=True)
class PinQuery:
    """Validated pin analytics parameters."""

    start: dt.date
    end: dt.date
    metric_types: list[str]
    app_types: str
    split_field: str


def pins_error(multi_pin: bool):
    """The 400 of the pin analytics routes (their spec examples: single pin code 400, the
    multi-pin beta code 1)."""
    def err(detail: str) -> FakeApiError:
        return bad_request("multi_pin_analytics" if multi_pin else "pin_analytics", detail)
    return err


def parse_pin_query(query: dict, today: dt.date, multi_pin: bool = False) -> PinQuery:
    """Validate a pin analytics query (single pin: 400 code 400; multi-pin: 400 code 1)."""
    err = pins_error(multi_pin)
    start, end = _date(query, "start_date", err), _date(query, "end_date", err)
    metric_types = multi(query, "metric_types")
    if not metric_types:
        raise err("metric_types is required.")
    unknown = [t for t in metric_types if t not in api.PIN_METRIC_TYPES]
    if unknown:
        raise err(f"Unknown metric type {unknown[0]!r}.")
    app_types = _one(query, "app_types") or "ALL"
    if app_types not in ("ALL", *api.PIN_APP_TYPES):
        raise err(f"app_types must be one of ALL, {', '.join(api.PIN_APP_TYPES)}.")
    split_field = _one(query, "split_field") or "NO_SPLIT"
    if split_field not in ("NO_SPLIT", "APP_TYPE"):
        raise err("split_field must be NO_SPLIT or APP_TYPE.")
    check_range(start, end, today, err)
    return PinQuery(start, end, metric_types, app_types, split_field)
