"""Asynchronous ads reports in the fake: ``POST /ad_accounts/{id}/reports``,
``GET /ad_accounts/{id}/reports?token=`` and the download host their links point to.

Faithful to the real API (spec v5.23.0: ``AdsAnalyticsCreateAsyncRequest``,
``AdsAnalyticsCreateAsyncResponse``, ``AdsAnalyticsGetAsyncResponse``; the reference digest §9):

* the request is a JSON body and the endpoint takes no query parameters; the body's members,
  their types, enums, patterns and item limits are :data:`REQUEST_FIELDS` (the spec's,
  checked by the tests), unknown members are rejected; dates: at most 914 days back and
  186 days per report (HOUR: 8 and 3, PRODUCT_ITEM: 92 and 31; PRODUCT_ITEM takes no
  ``ad_ids`` / ``ad_statuses``); errors are 400 ``{"code": 400, "message": "Invalid ad
  account ads analytics parameters. <detail>"}`` (the spec's example);
* creating answers ``{"token", "report_status", "message"}``; a poll answers
  ``{"report_status", "url", "size"}`` with ``url`` and ``size`` null until FINISHED; an
  unknown token (or another account's) is ``DOES_NOT_EXIST``; a report is valid for an
  hour (then EXPIRED), its download link for five minutes;
* the link is a pre-signed URL of another host (S3 in reality) that must be fetched
  without any Authorization header (403 otherwise) and fails once expired (403);
* the file is JSON keyed by the level's entity id, each value that entity's rows
  (``{"<id>": [{"DATE": ..., "<COLUMN>": ...}, ...]}``); like the synchronous answers it
  does not zero-fill and omits rows whose columns are all 0; the values are the
  synchronous endpoints' (one truth: :class:`~pinsync.fake.analytics.AdsAnalytics`).

Choices (the API does not say):

* "a maximum time range of 186 days" counts both ends: 186 dates per report at most (the
  synchronous routes read their 90 days more loosely; pinsync stays inside either reading);
* a report is IN_PROGRESS for :attr:`Reports.polls_in_progress` polls (default 2), then
  FINISHED, or the outcome a test asked for (:meth:`Reports.fail_next`); lifetimes are
  seconds of ``time.monotonic()`` (:attr:`Reports.lifetime`, :attr:`Reports.link_lifetime`);
  every FINISHED poll issues a fresh link;
* a report covers every entity of the account at its level (any status), narrowed by the
  id, summary-status and objective filters (ignored at the ADVERTISER level); its data are
  those of the moment it was created (a later :meth:`FakePinterest.restate` does not
  change it);
* rows carry ``DATE`` (not for TOTAL) and the requested columns; the level's id column
  only if requested (the key names the entity); keyword and advertiser metrics are those
  of their own entities (as between the other levels, a parent is not the sum of its
  children);
* the ``*_TARGETING`` levels ADVERTISER_TARGETING, CAMPAIGN_TARGETING, AD_GROUP_TARGETING and
  PIN_PROMOTION_TARGETING are served (an assumption about the file, which the spec does not
  describe): keyed by the level's entity id like the other levels, each row carries
  ``TARGETING_TYPE`` and ``TARGETING_VALUE`` beside ``DATE`` and the columns, one row per
  entity, type, value and date, with exactly the values (and the value's JSON type: a
  metro code is a number) the synchronous ``targeting_analytics`` routes answer
  (:class:`~pinsync.fake.insights.Targeting`); ``targeting_types`` is required there
  (1-5 of ``TargetingTypeFilter``'s enum, AUDIENCE_MULTIPLIER only at CAMPAIGN_TARGETING,
  MEDIA_TYPE only at PRODUCT_ITEM_TARGETING, as its description says) and refused at the
  other levels; reach and frequency (``TOTAL_IMPRESSION_USER``,
  ``TOTAL_IMPRESSION_FREQUENCY``) are refused at targeting levels (real clients strip them:
  "not suitable for targeting report"); ``combine_targeting_types: true`` (BETA) is refused
  as not served by the fake;
* columns only reports know (:data:`pinsync.api.REPORT_ONLY_COLUMNS`) are accepted and
  never have a value; ``attribution_types``, ``metrics_filters``,
  ``custom_conversion_event_metrics``, ``campaign_brand_label``, ``start_hour`` / ``end_hour`` and ``reporting_timezone`` are checked and ignored;
* PRODUCT_GROUP reports cover the product group promotions (keyed by their id, like the
  synchronous product group analytics); PRODUCT_ITEM reports are empty (the fake has no
  catalog items); the
  PRODUCT_GROUP_TARGETING and PRODUCT_ITEM_TARGETING levels, ``primary_sort: BY_DATE`` and
  ``report_format: CSV`` are refused with a 400 saying the fake does not serve them;
* the download host answers S3-like XML errors: 403 ``AccessDenied`` for a request with
  an Authorization header or an expired link, 403 ``SignatureDoesNotMatch`` for an unknown
  signature; :meth:`Reports.truncate_next` makes it send half a file (with a matching
  Content-Length: a complete response whose JSON is cut).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pinsync import api
from pinsync.fake.analytics import ROW_ID_KEY, AdsAnalytics, AnalyticsState
from pinsync.fake.data import Dataset
from pinsync.fake.errors import FakeApiError, bad_request
from pinsync.fake.insights import Targeting

# ---------------------------------------------------------------------------------------------
# The request body, as the spec declares it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One member of a JSON body: its JSON type and constraints (arrays: of each item)."""

    type: str                                   # string, integer, number, boolean, array, object
    enum: tuple = ()
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    items: Field | None = None
    min_items: int | None = None
    max_items: int | None = None
    fields: tuple[tuple[str, Field], ...] = ()  # objects
    required: tuple[str, ...] = ()


DATE_PATTERN = r"^(\d{4})-(\d{2})-(\d{2})$"
_IDS = Field("array", items=Field("string", pattern=r"^\d+$"), min_items=1, max_items=api.REPORT_IDS_MAX)
_SUMMARY = ("RUNNING", "PAUSED", "NOT_STARTED", "COMPLETED", "ADVERTISER_DISABLED", "ARCHIVED", "DRAFT",
            "DELETED_DRAFT")
_AD_SUMMARY = ("APPROVED", "PAUSED", "PENDING", "REJECTED", "ADVERTISER_DISABLED", "ARCHIVED", "DRAFT",
               "DELETED_DRAFT")
_WINDOW = Field("integer", enum=api.ATTRIBUTION_WINDOW_DAYS)
CUSTOM_EVENT_METRICS = (
    "ADE_COST_PER_ACTION", "ADE_ROAS", "ADE_TOTAL_CONVERSIONS", "ADE_TOTAL_VALUE_IN_MICRO_DOLLAR",
    "ADE_AVERAGE_VALUE_IN_MICRO_DOLLAR", "ADE_TOTAL_CLICK", "ADE_TOTAL_CLICK_VALUE_IN_MICRO_DOLLAR", "ADE_TOTAL_VIEW",
    "ADE_TOTAL_VIEW_VALUE_IN_MICRO_DOLLAR", "ADE_TOTAL_CONVERSION_RATE",
    *(name for channel in ("WEB", "INAPP", "OFFLINE") for name in (
        f"ADE_{channel}_COST_PER_ACTION", f"ADE_{channel}_ROAS", f"ADE_TOTAL_{channel}_CONVERSIONS",
        f"ADE_TOTAL_{channel}_VALUE_IN_MICRO_DOLLAR", f"ADE_TOTAL_{channel}_CLICK",
        f"ADE_TOTAL_{channel}_CLICK_VALUE_IN_MICRO_DOLLAR", f"ADE_TOTAL_{channel}_VIEW",
        f"ADE_TOTAL_{channel}_VIEW_VALUE_IN_MICRO_DOLLAR")),
    *(f"ADE_TOTAL_{channel}CONVERSION_PRODUCT_{what}" for channel in ("", "WEB_", "INAPP_", "OFFLINE_")
      for what in ("QUANTITY", "VALUE", "VALUE_IN_MICRO_UNITS", "VALUE_IN_USD", "VALUE_IN_MICRO_USD")),
)

REQUEST_FIELDS: dict[str, Field] = {
    "start_date": Field("string", pattern=DATE_PATTERN),
    "end_date": Field("string", pattern=DATE_PATTERN),
    "granularity": Field("string", enum=api.GRANULARITIES),
    "level": Field("string", enum=api.REPORT_LEVELS),
    "columns": Field("array", items=Field("string", enum=api.REPORT_COLUMNS)),
    "click_window_days": _WINDOW,
    "engagement_window_days": _WINDOW,
    "view_window_days": _WINDOW,
    "conversion_report_time": Field("string", enum=api.CONVERSION_REPORT_TIMES),
    "attribution_types": Field("array", items=Field("string", enum=("INDIVIDUAL", "HOUSEHOLD"))),
    "campaign_ids": _IDS,
    "campaign_statuses": Field("array", items=Field("string", enum=_SUMMARY), min_items=1, max_items=6),
    "campaign_objective_types": Field("array", items=Field("string", enum=(
        "AWARENESS", "CONSIDERATION", "WEB_CONVERSION", "CATALOG_SALES", "VIDEO_COMPLETION")),
        min_items=1, max_items=7),
    "campaign_brand_label": Field("string"),
    "ad_group_ids": _IDS,
    "ad_group_statuses": Field("array", items=Field("string", enum=_SUMMARY), min_items=1, max_items=6),
    "ad_ids": _IDS,
    "ad_statuses": Field("array", items=Field("string", enum=_AD_SUMMARY), min_items=1, max_items=6),
    "product_group_ids": _IDS,
    "product_group_statuses": Field("array", items=Field("string", enum=("RUNNING", "PAUSED", "EXCLUDED", "ARCHIVED")),
                                    min_items=1, max_items=6),
    "product_item_ids": _IDS,
    "targeting_types": Field("array", items=Field("string", enum=api.REPORT_TARGETING_TYPES), min_items=1,
                             max_items=api.REPORT_TARGETING_TYPES_MAX),
    "metrics_filters": Field("array", min_items=1, items=Field(
        "object", required=("field", "operator", "values"),
        fields=(("field", Field("string", enum=("SPEND_IN_DOLLAR", "TOTAL_IMPRESSION"))),
                ("operator", Field("string", enum=("LESS_THAN", "GREATER_THAN"))),
                ("values", Field("array", items=Field("number"), min_items=1))))),
    "combine_targeting_types": Field("boolean"),
    "custom_conversion_event_metrics": Field("array", items=Field(
        "object", required=("custom_event_metrics_type", "custom_event_name"),
        fields=(("custom_event_metrics_type", Field("string", enum=CUSTOM_EVENT_METRICS)),
                ("custom_event_name", Field("string"))))),
    "start_hour": Field("integer", minimum=0, maximum=23),
    "end_hour": Field("integer", minimum=0, maximum=23),
    "reporting_timezone": Field("string", enum=("PINTEREST_TIME_ZONE", "AD_ACCOUNT_TIME_ZONE")),
    "primary_sort": Field("string", enum=("BY_ID", "BY_DATE")),
    "report_format": Field("string", enum=("JSON", "CSV")),
}
REQUIRED = ("start_date", "end_date", "granularity", "level", "columns")

# Report level -> the level of :class:`AdsAnalytics` (None: an empty report; the fake has no catalog items).
LEVELS: dict[str, str | None] = {"ADVERTISER": "advertiser", "CAMPAIGN": "campaign", "AD_GROUP": "ad_group",
                                 "PIN_PROMOTION": "ad", "KEYWORD": "keyword", "PRODUCT_GROUP": "product_group",
                                 "PRODUCT_ITEM": None, "ADVERTISER_TARGETING": "advertiser",
                                 "CAMPAIGN_TARGETING": "campaign", "AD_GROUP_TARGETING": "ad_group",
                                 "PIN_PROMOTION_TARGETING": "ad"}


def report_error(detail: str) -> FakeApiError:
    """The reports routes' 400 (their spec example: ``declared.BAD_REQUEST``)."""
    return bad_request("create_report", detail)


def _type_ok(f: Field, v: Any) -> bool:
    return {"string": isinstance(v, str), "integer": isinstance(v, int) and not isinstance(v, bool),
            "number": isinstance(v, (int, float)) and not isinstance(v, bool), "boolean": isinstance(v, bool),
            "array": isinstance(v, list), "object": isinstance(v, dict)}[f.type]


def check_value(name: str, f: Field, v: Any) -> None:
    """Raise the API's 400 unless ``v`` is a valid value of ``f``."""
    if not _type_ok(f, v):
        raise report_error(f"{name} must be of type {f.type}.")
    if f.enum and v not in f.enum:
        raise report_error(f"{name}: {v!r} is not one of the allowed values.")
    if f.pattern and not re.match(f.pattern, v):
        raise report_error(f"{name} does not match {f.pattern}.")
    if (f.minimum is not None and v < f.minimum) or (f.maximum is not None and v > f.maximum):
        raise report_error(f"{name} must be between {f.minimum} and {f.maximum}.")
    if f.type == "array":
        if f.min_items is not None and len(v) < f.min_items:
            raise report_error(f"{name} must contain at least {f.min_items} items.")
        if f.max_items is not None and len(v) > f.max_items:
            raise report_error(f"{name} must contain at most {f.max_items} items.")
        for item in v:
            check_value(f"{name}[]", f.items, item)
    if f.type == "object":
        check_members(name, dict(f.fields), f.required, v)


def check_members(where: str, fields: dict[str, Field], required: tuple[str, ...], data: dict) -> None:
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise report_error(f"{where}: unknown field {unknown[0]!r}.")
    missing = [k for k in required if k not in data]
    if missing:
        raise report_error(f"{missing[0]} is required.")
    for k, v in data.items():
        check_value(k, fields[k], v)


@dataclass(frozen=True)
class ReportQuery:
    """A validated report request."""

    level: str
    start: dt.date
    end: dt.date
    granularity: str
    columns: tuple[str, ...]
    click: int
    engagement: int
    view: int
    report_time: str
    filters: dict = field(default_factory=dict)
    targeting_types: tuple[str, ...] = ()


def parse_report_request(body: bytes, query: dict, today: dt.date) -> ReportQuery:
    """Validate a report creation like the real API (400 code 400 on any problem)."""
    if query:
        raise report_error(f"This endpoint does not support URL query parameters (got {min(query)!r}).")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise report_error("The request body must be JSON.") from None
    if not isinstance(data, dict):
        raise report_error("The request body must be a JSON object.")
    check_members("body", REQUEST_FIELDS, REQUIRED, data)
    try:
        start, end = dt.date.fromisoformat(data["start_date"]), dt.date.fromisoformat(data["end_date"])
    except ValueError:
        raise report_error("start_date and end_date must be dates in the format YYYY-MM-DD.") from None
    level, gran = data["level"], data["granularity"]
    if end < start:
        raise report_error("end_date must be on or after start_date.")
    if gran == "HOUR":
        back, span, what = api.REPORT_HOUR_DAYS_BACK, api.REPORT_HOUR_MAX_SPAN_DAYS, "If granularity is HOUR, "
    elif level == "PRODUCT_ITEM":
        back, span, what = (api.REPORT_PRODUCT_ITEM_DAYS_BACK, api.REPORT_PRODUCT_ITEM_MAX_SPAN_DAYS,
                            "If level is PRODUCT_ITEM, ")
    else:
        back, span, what = api.REPORT_DAYS_BACK, api.REPORT_MAX_SPAN_DAYS, ""
    problem = None
    if start < today - dt.timedelta(days=back):
        problem = f"you can pull data from up to {back} days before the current date in UTC time."
    elif (end - start).days + 1 > span:
        problem = f"the maximum time range is {span} days."
    if problem:
        raise report_error(f"{what}{problem}" if what else problem[0].upper() + problem[1:])
    if level == "PRODUCT_ITEM" and ("ad_ids" in data or "ad_statuses" in data):
        raise report_error("If level is PRODUCT_ITEM, ad_ids and ad_statuses parameters are not allowed.")
    types = tuple(dict.fromkeys(data.get("targeting_types", ())))
    if level.endswith("_TARGETING"):
        if not types:
            raise report_error(f"targeting_types is required for level {level}.")
        wrong = [t for t in types if level not in api.REPORT_TARGETING_TYPE_LEVELS.get(t, (level,))]
        if wrong:
            raise report_error(f"targeting_types: {wrong[0]} is only available in "
                               f"{' and '.join(api.REPORT_TARGETING_TYPE_LEVELS[wrong[0]])} level.")
        reach = [c for c in data["columns"] if c in api.REPORT_TARGETING_UNSUPPORTED_COLUMNS]
        if reach:
            raise report_error(f"columns: {reach[0]} is not available for targeting reports.")
    elif types:
        raise report_error("targeting_types requires a level ending in _TARGETING.")
    if (level not in LEVELS or data.get("combine_targeting_types") or data.get("primary_sort") == "BY_DATE"
            or data.get("report_format") == "CSV"):
        raise report_error("(fake API: PRODUCT_GROUP_TARGETING and PRODUCT_ITEM_TARGETING levels, "
                           "combine_targeting_types, primary_sort BY_DATE and report_format CSV are not served by "
                           "pinsync's fake)")
    filters = {k: set(data[k]) for k in ("campaign_ids", "ad_group_ids", "ad_ids", "campaign_statuses",
                                         "ad_group_statuses", "ad_statuses", "campaign_objective_types") if k in data}
    return ReportQuery(level, start, end, gran, tuple(dict.fromkeys(data["columns"])),
                       data.get("click_window_days", 30), data.get("engagement_window_days", 30),
                       data.get("view_window_days", 1), data.get("conversion_report_time", "TIME_OF_AD_ACTION"),
                       filters, types)


# ---------------------------------------------------------------------------------------------
# Reports and their links
# ---------------------------------------------------------------------------------------------

@dataclass
class Report:
    token: str
    account: str
    query: ReportQuery
    created: float
    state: AnalyticsState
    outcome: str = "FINISHED"
    polls: int = 0
    body: bytes | None = None


def _s3_error(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>").encode()


class Reports:
    """The reports of one fake (every method is called under the fake's lock).

    Attributes:
        polls_in_progress: polls a report answers IN_PROGRESS before it is done.
        lifetime: seconds after its creation a report answers EXPIRED.
        link_lifetime: seconds a download link works.
        base_url: the download host (``FakeServer`` sets it).
        by_token: every report created, by token.
    """

    def __init__(self, dataset: Dataset, ads: AdsAnalytics, targeting: Targeting):
        self.ds = dataset
        self.ads = ads
        self.targeting = targeting
        self.polls_in_progress = 2
        self.lifetime = float(api.REPORT_LIFETIME_SECONDS)
        self.link_lifetime = float(api.REPORT_LINK_SECONDS)
        self.base_url = "http://reports.fake.invalid"
        self.by_token: dict[str, Report] = {}
        self._links: dict[str, tuple[str, str, float]] = {}     # signature -> (token, path, expiry)
        self._outcomes: deque[str] = deque()
        self._truncate = 0

    # ------------------------------------------------------------------ test switches
    def fail_next(self, n: int = 1, status: str = "FAILED") -> None:
        """The next ``n`` reports created end ``status`` (FAILED, CANCELLED, EXPIRED or
        DOES_NOT_EXIST) instead of FINISHED, after their IN_PROGRESS polls."""
        if status not in api.REPORT_GONE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(api.REPORT_GONE_STATUSES)}")
        self._outcomes.extend([status] * n)

    def expire(self) -> None:
        """Every report created so far answers EXPIRED from now on."""
        for r in self.by_token.values():
            r.created = -float("inf")

    def expire_links(self) -> None:
        """Every download link issued so far stops working (403)."""
        self._links = {sig: (tok, path, -float("inf")) for sig, (tok, path, _) in self._links.items()}

    def truncate_next(self, n: int = 1) -> None:
        """The next ``n`` downloads send half the file (Content-Length says so: the
        response is complete, its JSON is not)."""
        self._truncate += n

    # ------------------------------------------------------------------ the API
    def create(self, account: str, query: dict, body: bytes, state: AnalyticsState) -> dict:
        q = parse_report_request(body, query, self.ds.today)
        token = secrets.token_hex(16)
        outcome = self._outcomes.popleft() if self._outcomes else "FINISHED"
        self.by_token[token] = Report(token, account, q, time.monotonic(), state, outcome)
        return {"token": token, "report_status": "IN_PROGRESS", "message": None}

    def poll(self, account: str, query: dict) -> tuple[dict, Callable[[], dict] | None]:
        """The poll's answer, or a function computing it (outside the lock) once the file is due."""
        extra = sorted(k for k in query if k != "token")
        if extra:
            raise report_error(f"Unknown parameter {extra[0]!r}.")
        token = (query.get("token") or [""])[-1]
        if not token:
            raise report_error("token is required.")
        r = self.by_token.get(token)
        gone = {"report_status": "DOES_NOT_EXIST", "url": None, "size": None}
        if r is None or r.account != account:
            return gone, None
        if time.monotonic() - r.created > self.lifetime:
            return {**gone, "report_status": "EXPIRED"}, None
        r.polls += 1
        if r.polls <= self.polls_in_progress:
            return {**gone, "report_status": "IN_PROGRESS"}, None
        if r.outcome != "FINISHED":
            return {**gone, "report_status": r.outcome}, None
        url = self._link(r)

        def finished() -> dict:
            return {"report_status": "FINISHED", "url": url, "size": len(self.file(r))}
        return {}, finished

    def download(self, method: str, path: str, query: dict, headers: dict) -> tuple[int, bytes | Callable[[], bytes]]:
        """``(status, body or a function computing it)`` for a request to the download host."""
        if "authorization" in headers:
            return 403, _s3_error("AccessDenied", "Only one auth mechanism allowed; only the X-Amz-Algorithm "
                                                  "query parameter or the Authorization header may be specified")
        if method != "GET":
            return 405, _s3_error("MethodNotAllowed", "The specified method is not allowed against this resource.")
        link = self._links.get((query.get("X-Amz-Signature") or [""])[-1])
        if link is None or link[1] != path:
            return 403, _s3_error("SignatureDoesNotMatch", "The request signature we calculated does not match "
                                                           "the signature you provided.")
        token, _, expiry = link
        if time.monotonic() > expiry:
            return 403, _s3_error("AccessDenied", "Request has expired")
        r = self.by_token[token]
        cut = self._truncate > 0
        self._truncate -= cut

        def body() -> bytes:
            data = self.file(r)
            return data[: len(data) // 2] if cut else data
        return 200, body

    # ------------------------------------------------------------------ files
    def _link(self, r: Report) -> str:
        sig = secrets.token_hex(32)
        path = f"/async_reporting_v3/{r.account}/{r.token}/metrics_report.txt"
        self._links[sig] = (r.token, path, time.monotonic() + self.link_lifetime)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return (f"{self.base_url}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=FAKEACCESSKEY%2F"
                f"{stamp[:8]}%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={stamp}&X-Amz-Expires="
                f"{int(self.link_lifetime)}&X-Amz-SignedHeaders=host&X-Amz-Signature={sig}")

    def file(self, r: Report) -> bytes:
        """The report's file (computed once; deterministic, so a concurrent second computation is harmless)."""
        if r.body is None:
            r.body = self.build(r.account, r.query, r.state)
        return r.body

    def build(self, account: str, q: ReportQuery, state: AnalyticsState | None = None) -> bytes:
        """The JSON file of a report on ``account`` for validated parameters."""
        level = LEVELS[q.level]
        if level is None:
            return b"{}"
        id_key = ROW_ID_KEY[level]
        known = [c for c in q.columns if c in api.ANALYTICS_COLUMNS]
        breakdown = self.targeting.breakdown(list(q.targeting_types)) if q.targeting_types else None
        body = self.ads.json(level, account, self._entities(level, account, q.filters), q.start, q.end,
                             q.granularity, known, q.click, q.engagement, q.view, q.report_time, state,
                             breakdown=breakdown)
        out: dict[str, list[dict]] = {}
        keep_id = id_key in q.columns
        for row in json.loads(body):
            if breakdown is not None:       # {"targeting_type", "targeting_value", "metrics"}: one flat row
                row = {**row["metrics"], "TARGETING_TYPE": row["targeting_type"],
                       "TARGETING_VALUE": row["targeting_value"]}
            key = row[id_key] if keep_id else row.pop(id_key)
            out.setdefault(key, []).append(row)
        return json.dumps(out, separators=(",", ":")).encode()

    def _entities(self, level: str, account: str, f: dict) -> list[str]:
        out = []
        for eid in self.ds.by_level(level):
            acc, camp, group, ad = self.ds.lineage(level, eid)
            if acc["id"] != account:
                continue
            if camp is None and level != "advertiser":     # negative keywords of an account or campaign
                if not f:
                    out.append(eid)
                continue
            if level == "product_group" and "product_group_ids" in f and eid not in f["product_group_ids"]:
                continue
            if level != "advertiser" and not all((
                    "campaign_ids" not in f or camp["id"] in f["campaign_ids"],
                    "campaign_statuses" not in f or camp["summary_status"] in f["campaign_statuses"],
                    "campaign_objective_types" not in f or camp["objective_type"] in f["campaign_objective_types"],
                    "ad_group_ids" not in f or (group is not None and group["id"] in f["ad_group_ids"]),
                    "ad_group_statuses" not in f or (group is not None and group["summary_status"]
                                                     in f["ad_group_statuses"]),
                    "ad_ids" not in f or (ad is not None and ad["id"] in f["ad_ids"]),
                    "ad_statuses" not in f or (ad is not None and ad["summary_status"] in f["ad_statuses"]))):
                continue
            out.append(eid)
        return out
