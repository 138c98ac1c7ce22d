"""The fake's other reports: the ad account's own analytics, targeting analytics at four
levels, product group analytics and the user account's analytics.

Faithful to the real API (spec v5.23.0: ``ad_account/analytics``,
``ad_account_targeting_analytics/get``, ``campaign_targeting_analytics/get``,
``ad_groups_targeting_analytics/get``, ``ad_targeting_analytics/get``,
``product_groups/analytics``, ``user_account/analytics``):

* the same parameters, windows (90 days back, spans of 90; HOUR 8 back, spans of 3), column
  enum and attribution settings as the campaign analytics, checked the same way; ids
  (``campaign_ids``, ``ad_group_ids``, ``ad_ids``, ``product_group_ids``) 1-250 and required;
  any undeclared parameter (:mod:`pinsync.fake.declared`) is the route's 400 (:func:`route_error`);
* ``GET /ad_accounts/{id}/analytics`` answers the flat array of ``AdAccountAnalyticsResponse``
  keyed by ``AD_ACCOUNT_ID``; product group analytics the same keyed by ``PRODUCT_GROUP_ID``
  (the ad side's product groups: product group promotions);
* targeting analytics answer ``MetricsResponse``: ``{"data": [{"targeting_type",
  "targeting_value", "metrics": {<ID>, "DATE", <COLUMN>...}}]}``; ``targeting_types`` is
  required, comma-separated (``explode: false``), 1 to the level's maximum (15 for the
  account, 14 otherwise) of the level's enum; ``attribution_types`` at most 2 of INDIVIDUAL,
  HOUSEHOLD; values are what the spec's example shows: strings (``"45-49"``, ``"female"``,
  ``"US"``, ``"US-CA"``, ``"US:94102"``) except LOCATION and AUDIENCE_INCLUDE, which are
  numbers;
* the user account's analytics answer ``AnalyticsResponse``: ``{<group>: {"daily_metrics":
  [{"date", "data_status", "metrics"}], "summary_metrics": {...}}}``; 90 days back, spans of
  90 days; ``metric_types`` comma-separated; the filters (``from_claimed_content``,
  ``pin_format``, ``app_types``, ``content_type``, ``source``) and ``split_field`` take their
  enums.

Choices (the API does not say):

* a targeting value's numbers are those of a slice of its entity: the entity's volume times
  the value's share (shares of one type sum to about 1), drawn like any entity's (zero
  metrics omitted, all-zero rows left out, restated days change); the values come from the
  ad groups' ``targeting_spec`` (age buckets, genders, app types, countries), their
  placement group, their keywords (KEYWORD), their interests (TARGETED_INTEREST),
  audiences (AUDIENCE_INCLUDE) and countries (LOCATION metro codes, REGION, GEO postal
  codes); PINNER_INTEREST from a fixed list; CREATIVE_TYPE (campaigns) from their ads;
  QUIZ_RESULT (ads) for quiz ads; AGE_BUCKET_AND_GENDER (BETA), AUDIENCE_MULTIPLIER and
  CREATIVE_ENHANCEMENTS give no rows; rows come by entity, type (in the order asked),
  value, then date;
* the ad account's metrics are those of its own entity (the reports' ADVERTISER level);
* user account analytics: the groups of a split are ``MOBILE``/``TABLET``/``WEB``
  (APP_TYPE), ``CLAIMED``/``OTHER`` (OWNED_CONTENT), ``YOUR_PINS``/``OTHER_PINS`` (SOURCE),
  the pin formats of the ``pin_format`` enum (PIN_FORMAT), ``all`` without a split; a split's
  groups sum exactly to the whole; a filter other than ALL/BOTH keeps its group's share;
  ``daily_metrics`` lists every requested day up to today (later days are not listed, a
  blanked day is missing), today and the two days before are PROCESSING, days before the
  account existed ``BEFORE_BUSINESS_CREATED`` with no metrics; zero metrics are omitted; a
  rate is the metric over IMPRESSION (6 decimals).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from pinsync import api
from pinsync.fake.analytics import (LEVEL_LABEL, AdsAnalytics, AnalyticsState, AdsQuery, _date, _one, check_range,
                                    multi, parse_ads_query, seed_of)
from pinsync.fake.data import Dataset, from_ord, to_ord
from pinsync.fake.declared import BAD_REQUEST
from pinsync.fake.errors import FakeApiError, bad_request

_ACCOUNT = r"/v5/ad_accounts/(?P<account>[^/]+)"
# (method, pattern, route name, x-ratelimit-category)
ROUTES = (
    ("GET", _ACCOUNT + r"/analytics", "ad_account_analytics", "ads_analytics"),
    ("GET", _ACCOUNT + r"/targeting_analytics", "ad_account_targeting_analytics", "ads_analytics"),
    ("GET", _ACCOUNT + r"/campaigns/targeting_analytics", "campaign_targeting_analytics", "ads_analytics"),
    ("GET", _ACCOUNT + r"/ad_groups/targeting_analytics", "ad_group_targeting_analytics", "ads_analytics"),
    ("GET", _ACCOUNT + r"/ads/targeting_analytics", "ad_targeting_analytics", "ads_analytics"),
    ("GET", _ACCOUNT + r"/product_groups/analytics", "product_group_analytics", "ads_analytics"),
    ("GET", r"/v5/user_account/analytics", "user_account_analytics", "org_analytics"),
)
# route -> (the fake's level, pinsync's level name, the ids parameter)
ADS_ROUTES: dict[str, tuple[str, str, str | None]] = {
    "ad_account_analytics": ("advertiser", "ad_account", None),
    "product_group_analytics": ("product_group", "product_group", "product_group_ids"),
    "ad_account_targeting_analytics": ("advertiser", "ad_account", None),
    "campaign_targeting_analytics": ("campaign", "campaign", "campaign_ids"),
    "ad_group_targeting_analytics": ("ad_group", "ad_group", "ad_group_ids"),
    "ad_targeting_analytics": ("ad", "ad", "ad_ids"),
}
TARGETING_ROUTES = frozenset(r for r in ADS_ROUTES if "targeting" in r)

def route_error(route: str):
    """The route's 400: the spec's example where it has one (``declared.BAD_REQUEST``); the
    targeting routes, which have none, answer in the same style."""
    level = ADS_ROUTES.get(route, (None, "",))[1]
    message = (f"Invalid ad account {LEVEL_LABEL.get(level, level.replace('_', ' '))} targeting analytics "
               "parameters.")

    def err(detail: str) -> FakeApiError:
        if route in BAD_REQUEST:
            return bad_request(route, detail)
        return FakeApiError(400, 400, f"{message} {detail}")
    return err


def parse_targeting_types(route: str, query: dict) -> list[str]:
    """``targeting_types`` (required, 1..the level's maximum, the level's enum) after checking
    ``attribution_types`` (at most 2 of INDIVIDUAL, HOUSEHOLD)."""
    err = route_error(route)
    level = ADS_ROUTES[route][1]
    types = multi(query, "targeting_types")
    if not types:
        raise err("targeting_types is required.")
    limit, allowed = api.TARGETING_TYPES_MAX_BY_LEVEL[level], api.TARGETING_TYPES_BY_LEVEL[level]
    if len(types) > limit:
        raise err(f"targeting_types must contain at most {limit} items.")
    bad = [t for t in types if t not in allowed]
    if bad:
        raise err(f"targeting_types: {bad[0]!r} is not one of {', '.join(allowed)}.")
    attribution = multi(query, "attribution_types") or []
    if len(attribution) > 2 or any(a not in api.ATTRIBUTION_TYPES for a in attribution):
        raise err("attribution_types must be at most 2 of INDIVIDUAL, HOUSEHOLD.")
    return list(dict.fromkeys(types))


def parse_query(route: str, query: dict, today: dt.date) -> AdsQuery:
    level, _, ids_param = ADS_ROUTES[route]
    return parse_ads_query(level, query, today, err=route_error(route), ids_param=ids_param)


# ---------------------------------------------------------------------------------------------
# Targeting values
# ---------------------------------------------------------------------------------------------

_METROS = {"US": (501, 803, 602, 807), "GB": (826044, 826012), "DE": (276011,), "FR": (250075,), "ES": (724028,),
           "IT": (380058,), "NL": (528036,)}
_REGIONS = {"US": ("US-CA", "US-NY", "US-TX"), "GB": ("GB-ENG", "GB-SCT"), "DE": ("DE-BE", "DE-BY"),
            "FR": ("FR-IDF",), "ES": ("ES-MD",), "IT": ("IT-25",), "NL": ("NL-NH",)}
_POSTAL = {"US": ("US:94102", "US:02139", "US:10001"), "GB": ("GB:SW1A",), "DE": ("DE:10115",), "FR": ("FR:75001",),
           "ES": ("ES:28001",), "IT": ("IT:00118",), "NL": ("NL:1012",)}
_INTERESTS = ("Food and Drinks", "Home Decor", "DIY and Crafts", "Gardening", "Travel", "Women's Fashion",
              "Beauty", "Kids and Parenting")
_PLACEMENTS = {"ALL": ("BROWSE", "SEARCH", "OTHER"), "SEARCH": ("SEARCH",), "BROWSE": ("BROWSE",)}


class Targeting:
    """The targeting values of an entity, and their shares of its volume."""

    def __init__(self, ds: Dataset):
        self.ds = ds

    def groups_of(self, level: str, entity_id: str) -> list[dict]:
        ds = self.ds
        if level == "advertiser":
            return [g for g in ds.ad_groups if g["ad_account_id"] == entity_id]
        if level == "campaign":
            return [g for g in ds.ad_groups if g["campaign_id"] == entity_id]
        if level == "ad_group":
            return [ds.ad_group_by_id[entity_id]]
        return [ds.ad_group_by_id[ds.ad_by_id[entity_id]["ad_group_id"]]]

    def values(self, level: str, entity_id: str, ttype: str) -> list[Any]:
        """The values of ``ttype`` an entity has rows for, in a stable order."""
        ds = self.ds
        groups = self.groups_of(level, entity_id)
        spec = [g["targeting_spec"] for g in groups]
        countries = sorted({c for s in spec for c in s.get("LOCATION", [])})

        def union(key: str) -> list[str]:
            return sorted({v for s in spec for v in s.get(key, [])})
        if ttype in ("AGE_BUCKET", "GENDER", "APPTYPE"):
            return union(ttype)
        if ttype == "COUNTRY":
            return countries
        if ttype == "LOCATION":
            return [m for c in countries for m in _METROS.get(c, ())]
        if ttype == "REGION":
            return [r for c in countries for r in _REGIONS.get(c, ())]
        if ttype == "GEO":
            return [p for c in countries for p in _POSTAL.get(c, ())]
        if ttype == "PLACEMENT":
            return sorted({p for g in groups for p in _PLACEMENTS[g["placement_group"]]})
        if ttype == "KEYWORD":
            ids = {g["id"] for g in groups}
            return sorted({k["value"] for k in ds.keywords if k["parent_id"] in ids
                           and not k["match_type"].endswith("_NEGATIVE")})
        if ttype == "TARGETED_INTEREST":
            return sorted({_INTERESTS[int(i) % len(_INTERESTS)] for s in spec for i in s.get("INTEREST", [])})
        if ttype == "PINNER_INTEREST":
            return sorted({_INTERESTS[(seed_of(g["id"], "pinner") + k) % len(_INTERESTS)] for g in groups
                           for k in range(2)})
        if ttype == "AUDIENCE_INCLUDE":
            return sorted({int(a) for s in spec for a in s.get("AUDIENCE_INCLUDE", [])})
        if ttype == "CREATIVE_TYPE":
            ids = {g["id"] for g in groups}
            return sorted({a["creative_type"] for a in ds.ads if a["ad_group_id"] in ids})
        if ttype == "QUIZ_RESULT":
            quiz = ds.ad_by_id[entity_id].get("quiz_pin_data") if level == "ad" else None
            return [str(r["result_id"]) for r in quiz["results"]] if quiz else []
        return []        # AGE_BUCKET_AND_GENDER (BETA), AUDIENCE_MULTIPLIER, CREATIVE_ENHANCEMENTS

    def breakdown(self, types: list[str]):
        """``breakdown(level, id)`` for :meth:`AdsAnalytics.json`: ``(type, value, share)``."""
        def split(level: str, entity_id: str) -> list[tuple[str, Any, float]]:
            out = []
            for ttype in types:
                values = self.values(level, entity_id, ttype)
                weights = [1 + seed_of(entity_id, ttype, v) % 7 for v in values]
                total = sum(weights)
                out += [(ttype, v, w / total) for v, w in zip(values, weights)]
            return out
        return split


# ---------------------------------------------------------------------------------------------
# User account analytics
# ---------------------------------------------------------------------------------------------

_USER_COUNTS = ("IMPRESSION", "SAVE", "PIN_CLICK", "OUTBOUND_CLICK", "ENGAGEMENT")
_USER_RATES = {"ENGAGEMENT_RATE": "ENGAGEMENT", "OUTBOUND_CLICK_RATE": "OUTBOUND_CLICK", "PIN_CLICK_RATE": "PIN_CLICK",
               "SAVE_RATE": "SAVE"}
SPLIT_GROUPS = {
    "NO_SPLIT": ("all",),
    "APP_TYPE": ("MOBILE", "TABLET", "WEB"),
    "OWNED_CONTENT": ("CLAIMED", "OTHER"),
    "SOURCE": ("YOUR_PINS", "OTHER_PINS"),
    "PIN_FORMAT": api.USER_ACCOUNT_FILTERS["pin_format"][1:],
}
# the filter whose groups each split uses (a filter other than its "everything" value keeps that group)
_FILTER_OF_SPLIT = {"APP_TYPE": "app_types", "OWNED_CONTENT": "from_claimed_content", "SOURCE": "source",
                    "PIN_FORMAT": "pin_format"}
_EVERYTHING = {"app_types": "ALL", "from_claimed_content": "BOTH", "pin_format": "ALL", "content_type": "ALL",
               "source": "ALL"}
_FILTER_GROUPS = {"app_types": SPLIT_GROUPS["APP_TYPE"], "from_claimed_content": SPLIT_GROUPS["OWNED_CONTENT"],
                  "source": SPLIT_GROUPS["SOURCE"], "pin_format": SPLIT_GROUPS["PIN_FORMAT"],
                  "content_type": ("PAID", "ORGANIC")}


def _allocate(total: int, weights: list[int]) -> list[int]:
    """``total`` split by ``weights`` exactly (largest remainders)."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    rest = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: -((total * weights[i]) % whole))
    for i in order[:rest]:
        shares[i] += 1
    return shares


def _group_weights(seed: int, name: str, groups: tuple[str, ...]) -> list[int]:
    return [1 + seed_of(seed, name, g) % 9 for g in groups]


def parse_user_query(query: dict, today: dt.date) -> dict:
    err = route_error("user_account_analytics")
    start, end = _date(query, "start_date", err), _date(query, "end_date", err)
    check_range(start, end, today, err)
    metric_types = multi(query, "metric_types") or list(api.USER_ACCOUNT_METRIC_TYPES)
    bad = [m for m in metric_types if m not in api.USER_ACCOUNT_METRIC_TYPES]
    if bad:
        raise err(f"metric_types: {bad[0]!r} is not one of {', '.join(api.USER_ACCOUNT_METRIC_TYPES)}.")
    split = _one(query, "split_field") or "NO_SPLIT"
    if split not in api.USER_ACCOUNT_SPLIT_FIELDS:
        raise err(f"split_field must be one of {', '.join(api.USER_ACCOUNT_SPLIT_FIELDS)} (got {split!r}).")
    filters = {}
    for name, choices in api.USER_ACCOUNT_FILTERS.items():
        v = _one(query, name) or _EVERYTHING[name]
        if v not in choices:
            raise err(f"{name} must be one of {', '.join(choices)} (got {v!r}).")
        filters[name] = v
    ad_account = _one(query, "ad_account_id")
    if ad_account is not None and not ad_account.isdigit():
        raise err(f"ad_account_id must be digits (got {ad_account!r}).")
    return {"start": start, "end": end, "metric_types": list(dict.fromkeys(metric_types)), "split": split,
            "filters": filters}


class UserAnalytics:
    """The token user's account analytics (see the module docstring)."""

    def __init__(self, ds: Dataset, state: AnalyticsState):
        self.ds = ds
        self.state = state

    def _totals(self, day: int, version: int) -> dict[str, int]:
        r = random.Random(seed_of(self.ds.seed, "user-account", day, version))
        if r.random() < 0.02:
            return {m: 0 for m in _USER_COUNTS}
        weekday = (250, 262, 266, 262, 246, 226, 240)[(day + 3) % 7]
        imp = int(3_000 * weekday / 256 * (0.75 + r.random() / 2)) + version * 17
        out = {"IMPRESSION": imp, "SAVE": int(imp * 0.012 * (0.8 + r.random() / 2)),
               "PIN_CLICK": int(imp * 0.021 * (0.8 + r.random() / 2)),
               "OUTBOUND_CLICK": int(imp * 0.006 * (0.8 + r.random() / 2))}
        out["ENGAGEMENT"] = out["SAVE"] + out["PIN_CLICK"] + out["OUTBOUND_CLICK"] + int(imp * 0.002 * r.random())
        return out

    def payload(self, q: dict, state: AnalyticsState | None = None) -> dict:
        """The response for validated parameters (:func:`parse_user_query`)."""
        ds, state = self.ds, state or self.state
        seed = ds.seed
        groups = SPLIT_GROUPS[q["split"]]
        lo, hi = to_ord(q["start"]), min(to_ord(q["end"]), ds.today_ord)
        days = [d for d in range(lo, hi + 1) if d not in state.blank]
        out: dict[str, dict] = {g: {"daily_metrics": [], "summary_metrics": {}} for g in groups}
        sums = {g: dict.fromkeys(_USER_COUNTS, 0) for g in groups}
        for d in days:
            date = from_ord(d).isoformat()
            if d < ds.user_created_ord:
                for g in groups:
                    out[g]["daily_metrics"].append({"date": date, "data_status": "BEFORE_BUSINESS_CREATED",
                                                    "metrics": {}})
                continue
            totals = self._totals(d, state.versions.get(d, 0))
            for name, value in q["filters"].items():      # a filter keeps its group's share
                if value != _EVERYTHING[name]:
                    options = _FILTER_GROUPS[name]
                    for m in _USER_COUNTS:
                        totals[m] = _allocate(totals[m], _group_weights(seed + d, name, options))[options.index(value)]
            split = {g: {} for g in groups}
            for m in _USER_COUNTS:
                parts = ([totals[m]] if q["split"] == "NO_SPLIT" else
                         _allocate(totals[m], _group_weights(seed + d, _FILTER_OF_SPLIT[q["split"]], groups)))
                for g, v in zip(groups, parts):
                    split[g][m] = v
                    sums[g][m] += v
            status = "PROCESSING" if d >= ds.today_ord - 2 else "READY"
            for g in groups:
                out[g]["daily_metrics"].append({"date": date, "data_status": status,
                                                "metrics": _user_metrics(split[g], q["metric_types"])})
        for g in groups:
            out[g]["summary_metrics"] = _user_metrics(sums[g], q["metric_types"])
        return out


def _user_metrics(counts: dict[str, int], metric_types: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metric_types:
        if m in _USER_RATES:
            num, imp = counts[_USER_RATES[m]], counts["IMPRESSION"]
            if num and imp:
                out[m] = round(num / imp, 6)
        elif counts[m]:
            out[m] = counts[m]
    return out


def ads_json(ads: AdsAnalytics, targeting: Targeting, route: str, account: str, q: AdsQuery, types: list[str] | None,
             state: AnalyticsState) -> str:
    """The body of one of the :data:`ADS_ROUTES` for validated parameters."""
    level = ADS_ROUTES[route][0]
    ids = [account] if level == "advertiser" else q.ids
    id_key = "AD_ACCOUNT_ID" if level == "advertiser" else None
    body = ads.json(level, account, ids, q.start, q.end, q.granularity, q.columns, q.click, q.engagement, q.view,
                    q.report_time, state, id_key=id_key,
                    breakdown=targeting.breakdown(types) if types is not None else None)
    return '{"data":' + body + "}" if types is not None else body
