"""The fake Pinterest API as a pure function of requests: :class:`FakePinterest`.

``fake.handle(method, path, query, headers, body)`` answers ``(status, headers, body)``
without any network; :class:`pinsync.fake.FakeServer` serves the same object over HTTP.

Faithful to the real API (spec v5.23.0, ``shared/docs/pinterest-api.md``):

* routes, parameters, enums and limits (``pinsync.api``); rate-limit categories from the
  spec's ``x-ratelimit-category`` (:data:`ROUTE_CATEGORY`);
* a parameter the route's operation does not declare (:mod:`pinsync.fake.declared`, e.g.
  ``split_field`` on the multi-pin beta) is answered with the route's 400; every 400 of a
  route has the body of its operation's example where the spec gives one
  (:data:`pinsync.fake.declared.BAD_REQUEST`, e.g. ``{"code": 400, "message": "Invalid ad
  account campaign parameters. <detail>"}``), else ``{"code": 1, "message": "Invalid
  parameters. <detail>"}``;
* errors are ``{"code": int, "message": str}`` (JSON), every response has a unique
  ``x-pinterest-rid``; 401 ``{"code": 2, "message": "Authentication failed."}``, 403
  ``{"code": 29, ...}``, 429 ``{"code": 8, ...}``, analytics 400 ``{"code": 400, "message":
  "Invalid ad account campaign analytics parameters. <detail>"}``; pin analytics as the
  spec's examples: single pin 404 ``{"code": 404, "message": "Pin not found."}`` and 403
  ``{"code": 403, "message": "Not authorized to access board or Pin."}``, the multi-pin
  beta 404 code 50 and 401 ``{"code": 7, "message": "Not authorized to access board or
  Pin."}`` (to an app without the beta, or for a batch holding a pin the user may not
  access: :meth:`FakePinterest.forbid_pin`);
* bookmark pagination (``page_size`` default 25, 1..250; ``{"items", "bookmark"}``, the
  last page has ``bookmark: null``); entity lists default to ACTIVE and PAUSED only;
  ``entity_statuses`` and id filters accept repeated keys and comma-joined values;
* ``POST /oauth/token`` (HTTP Basic app id/secret, form ``grant_type=refresh_token``)
  rotates the refresh token: the old one stops working;
* asynchronous reports (``POST``/``GET /ad_accounts/{id}/reports``) and the download host
  their links point to: see :mod:`pinsync.fake.reports`; the other objects (keywords,
  audiences, boards, catalogs...): :mod:`pinsync.fake.objects`; the other reports (the
  ad account's, targeting, product groups, the user account's): :mod:`pinsync.fake.insights`;
* every token has scopes and each route needs its operation's (:data:`pinsync.fake.objects.SCOPES`);
  without them the answer is **401** ``{"code": 3, "message": "Your token does not have
  sufficient permissions to perform this operation. Please ensure your token is authorized
  with the correct set of scopes."}``: the spec's example of this case (``msot_events/create``),
  and what Pinterest answered in pinterest/api-quickstart#97; :attr:`FakePinterest.scope_status`
  = 403 answers the same body with 403 instead;

Choices where the API is silent (also see the analytics module):

* a rejected refresh token (old, revoked or unknown) answers **401**
  ``{"code": 283, "message": "The authorization grant is invalid"}`` (what Pinterest
  answered in pinterest/pinterest-python-sdk#114); a wrong app id/secret 401 code 2 naming OAuth's ``invalid_client``;
  grant types other than ``refresh_token`` 400 code 1;
* ``x-ratelimit-reset`` is whole seconds (>= 1) until the oldest request of the sliding
  window leaves it; only admitted requests occupy the window (429s and faults do not);
  routes with a configured limit always carry ``x-ratelimit-limit`` and
  ``x-ratelimit-remaining``;
* entity lists are ordered by id (``order=DESCENDING`` reverses); ``/pins`` newest first;
  a bookmark is base64 of ``route:offset:salt`` with a per-instance salt (another
  instance's or a garbled bookmark: 400 code 1);
* ``/pins`` honours ``creative_types`` and ``pin_filter`` (``exclude_repins``,
  ``has_been_promoted``), and ``pin_metrics=true`` (each pin's ``pin_metrics``: the sums of
  its daily analytics over the last 90 days, today included, and since it was created;
  otherwise ``pin_metrics`` is null) and ``include_protected_pins`` (pins on secret boards are
  listed only with it; a token without the ``pins:read_secret`` scope is then answered 401
  ``{"code": 3, "message": "Your token does not have sufficient permissions..."}``, the
  spec's answer for a scope the token lacks); ``pin_type``,
  ``include_shared_accounts``, ``translate_interests_to_names``, ``aggregate_report_rows``,
  ``reporting_timezone`` and ``ad_account_id`` are accepted and ignored;
* ads analytics: ids of other accounts are ignored; columns not valid at the level are
  left out (no error); for ``/ads/analytics`` ``campaign_ids`` + ``pin_ids`` select the
  account's ads of those campaigns promoting those pins;
* multi-pin analytics: unknown pin ids are left out of the answer, 404 code 50 only when
  none is known; its 400s use the spec's example ``{"code": 1, "message": "Invalid
  multi_pins analytics parameters. ..."}``; with ``app_types`` other than ALL each pin's
  one group is ``all`` (as without a split) and holds that app type's numbers;
* a forbidden account (``forbid_account``) answers 403 code 29 on every route with the
  account in its path; it is still listed by ``/ad_accounts``;
* tokens issued by ``/oauth/token`` carry the scopes of :attr:`FakePinterest.scope_text` at
  the time (default: every read scope, :data:`~pinsync.fake.objects.ALL_READ_SCOPES`); static
  tokens those of ``scope_text`` unless ``token_scopes`` (or
  :meth:`FakePinterest.set_token_scopes`) gives them their own; the scope check comes after
  the token is accepted (an unknown token: 401 code 2) and before rate limiting;
* unknown paths: 404 ``{"code": 404, ...}`` (route name ``"unknown"``); wrong method 405;
* a request line (``GET /v5/...?... HTTP/1.1``) longer than ``api.REQUEST_LINE_MAX`` (8 KB)
  answers **414** with an HTML page, before authentication, rate limits and faults, as a
  front-end with an 8 KB header buffer (nginx's default) would; ``calls`` counts it under its
  route and under ``"request_line_too_long"``.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from pinsync import api
from pinsync.fake import errors
from pinsync.fake.analytics import (CORE_COLUMNS, LEVEL_IDS_PARAM, AdsAnalytics, AnalyticsState, PinAnalytics,
                                    ads_error, multi, parse_ads_query, parse_pin_query, pins_error)
from pinsync.fake.declared import PARAMETERS
from pinsync.fake.data import DAY, Dataset, is_protected, to_ord
from pinsync.fake.errors import FakeApiError
from pinsync.fake import insights, objects
from pinsync.fake.faults import HTML_BODY, Fault, FaultSchedule
from pinsync.fake.oauth import Consent
from pinsync.fake.reports import Reports

_ACCOUNT = r"/v5/ad_accounts/(?P<account>[^/]+)"
# (method, pattern, route name, x-ratelimit-category of the spec's operation)
ROUTES = (
    ("GET", r"/v5/ad_accounts", "ad_accounts", "ads_read"),
    ("GET", _ACCOUNT + r"/campaigns", "campaigns", "ads_read"),
    ("GET", _ACCOUNT + r"/ad_groups", "ad_groups", "ads_read"),
    ("GET", _ACCOUNT + r"/ads", "ads", "ads_read"),
    ("GET", _ACCOUNT + r"/campaigns/analytics", "campaign_analytics", "ads_analytics"),
    ("GET", _ACCOUNT + r"/ad_groups/analytics", "ad_group_analytics", "ads_analytics"),
    ("GET", _ACCOUNT + r"/ads/analytics", "ad_analytics", "ads_analytics"),
    ("POST", _ACCOUNT + r"/reports", "create_report", "ads_analytics"),
    ("GET", _ACCOUNT + r"/reports", "get_report", "ads_analytics"),
    ("GET", r"/v5/pins", "pins", "org_read"),
    ("GET", r"/v5/pins/analytics", "multi_pin_analytics", "org_analytics"),
    ("GET", r"/v5/pins/(?P<pin>[^/]+)/analytics", "pin_analytics", "org_analytics"),
    ("POST", r"/v5/oauth/token", "oauth_token", "org_read"),
    ("GET", r"/oauth", "oauth_consent", None),          # www.pinterest.com/oauth/ (the consent page)
    *objects.ROUTES,
    *insights.ROUTES,
)
_COMPILED = tuple((m, re.compile(f"^{p}$"), name, cat) for m, p, name, cat in ROUTES)
ROUTE_CATEGORY = {name: cat for _, _, name, cat in ROUTES}
ROUTE_NAMES = tuple(ROUTE_CATEGORY)
DOWNLOAD_ROUTE = "report_download"       # requests to the download host (faults may target it)
PAGINATED = frozenset({"ad_accounts", "campaigns", "ad_groups", "ads", "pins"}) | objects.PAGED
_LIST_LEVEL = {"campaigns": "campaign", "ad_groups": "ad_group", "ads": "ad"}
_ANALYTICS_LEVEL = {"campaign_analytics": "campaign", "ad_group_analytics": "ad_group", "ad_analytics": "ad"}
_TOUCH_KINDS = {"campaigns": "campaign", "ad_groups": "ad_group", "ads": "ad", "pins": "pin"}
_VERSION_SUFFIX = re.compile(r" v(\d+)$")

ACCESS_TOKEN_TTL = 2_592_000          # 30 days
REFRESH_TOKEN_TTL = 5_184_000         # 60 days
# what a token may do (the oauth token response's "scope": comma-separated, as Pinterest answers):
# by default every read scope
DEFAULT_SCOPES = ",".join(objects.ALL_READ_SCOPES)
JSON_TYPE = "application/json"
REQUEST_LINE_TOO_LONG_BODY = (b"<html><head><title>414 Request-URI Too Large</title></head><body>"
                              b"<center><h1>414 Request-URI Too Large</h1></center></body></html>")


@dataclass
class Reply:
    """A response: ``action`` ``"reset"``/``"truncate"`` tells the server to misbehave;
    ``delay`` is slept before it is sent (the ``timeout`` fault); ``compute``, when set,
    produces the body outside the fake's lock (analytics)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    action: str | None = None
    delay: float = 0.0
    compute: Callable[[], bytes] | None = None


def _dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _json_reply(status: int, data, headers: dict | None = None) -> Reply:
    body = data if isinstance(data, bytes) else _dumps(data)
    return Reply(status, {"Content-Type": JSON_TYPE, **(headers or {})}, body)


def _with_stale_copies(body: bytes) -> bytes:
    """An ads analytics answer with each row preceded by a stale copy (integer metrics one lower)."""
    out = []
    for row in json.loads(body):
        out.append({k: v - 1 if type(v) is int and k != api.HOUR_FIELD else v for k, v in row.items()})
        out.append(row)
    return _dumps(out)


def _edited(body: bytes, edit: Callable) -> bytes:
    """``body`` decoded, changed by ``edit`` (in place, or its return value) and encoded again."""
    data = json.loads(body)
    changed = edit(data)
    return json.dumps(data if changed is None else changed, separators=(",", ":")).encode()


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _flag(query: dict, name: str) -> bool:
    """A boolean query parameter (``true`` / ``false``, default false)."""
    value = query.get(name, ["false"])[-1].lower()
    if value not in ("true", "false"):
        raise errors.bad_params(f"{name} must be true or false (got {value!r}).")
    return value == "true"


def _check_declared(route: str, query: dict) -> None:
    """The route's 400 for a parameter its operation does not declare (:mod:`pinsync.fake.declared`)."""
    unknown = sorted(set(query) - PARAMETERS[route])
    if not unknown:
        return
    detail = f"Unexpected parameter {unknown[0]!r}: the endpoint does not declare it."
    if route in _ANALYTICS_LEVEL:
        raise ads_error(_ANALYTICS_LEVEL[route])(detail)
    if route in ("pin_analytics", "multi_pin_analytics"):
        raise pins_error(route == "multi_pin_analytics")(detail)
    if route in insights.ADS_ROUTES or route == "user_account_analytics":
        raise insights.route_error(route)(detail)
    raise errors.bad_request(route, detail)


def _norm_query(query) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in (query or {}).items():
        vals = v if isinstance(v, (list, tuple)) else [v]
        out[k] = [str(x).lower() if isinstance(x, bool) else str(x) for x in vals]
    return out


class FakePinterest:
    """A deterministic, in-process Pinterest API v5 (see the module docstring).

    Args:
        dataset: the data to serve (touch/add_pins change it in place).
        access_tokens: bearer tokens accepted from the start.
        client_id, client_secret: the app credentials ``/oauth/token`` expects (HTTP Basic).
        refresh_token: the refresh token valid at the start (None: refreshing is impossible).
        latency: seconds slept per request before answering.
        multi_pin_analytics: whether the multi-pin beta is available to the app (else it
            answers 401 code 7, "Not authorized to access board or Pin.").
        rate_limits: ``{category: max requests per window}`` to enforce (None: no limits).
        rate_limit_window: the sliding window, seconds.
        scopes: the scopes of every token (comma-separated, as the token response says them);
            a route needs its operation's (:data:`pinsync.fake.objects.SCOPES`); without
            ``pins:read_secret``, ``include_protected_pins=true`` is refused too.
        token_scopes: ``{static token: "scope,scope"}``: those tokens' own scopes instead.

    Observability: ``calls`` (Counter by route name, every request), ``requests`` (list of
    ``(method, path, query)``), ``downloads`` (list of ``(method, path, query, headers)``
    the download host received), ``refresh_count``, ``current_refresh_token``.
    Reports: ``reports`` (:class:`~pinsync.fake.reports.Reports`: its timings and switches).
    """

    def __init__(self, dataset: Dataset, access_tokens=("demo-token",), client_id: str = "app-id",
                 client_secret: str = "app-secret", refresh_token: str | None = "pinr.initial",
                 latency: float = 0.0, multi_pin_analytics: bool = True, rate_limits: dict | None = None,
                 rate_limit_window: float = 60.0, scopes: str = DEFAULT_SCOPES,
                 token_scopes: dict[str, str] | None = None):
        self.dataset = dataset
        self.access_tokens = tuple(access_tokens)
        self.client_id = client_id
        self.client_secret = client_secret
        self.current_refresh_token = refresh_token
        self.latency = latency
        self.multi_pin_analytics = multi_pin_analytics
        self.scope_text = scopes
        self.scope_status = 401          # the status of a missing scope's answer (403 as the issue describes it)
        self.rate_limits = dict(rate_limits) if rate_limits else None
        self.rate_limit_window = rate_limit_window
        self.timeout_sleep = 3.0
        self.page_size_max = api.PAGE_SIZE_MAX

        self.lock = threading.RLock()
        self.calls: collections.Counter = collections.Counter()
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.downloads: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = []
        self.refresh_count = 0
        self._issued: dict[str, str] = {}            # access token -> its scopes
        self._static_scopes = dict(token_scopes or {})
        self._static_expired = False
        self._forbidden: set[str] = set()
        self._forbidden_pins: set[str] = set()
        self._faults = FaultSchedule()
        self._windows: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._salt = secrets.token_hex(4)
        self._nonce = 0
        self._rid = 0
        self.analytics_state = AnalyticsState()
        self._ads = AdsAnalytics(dataset, self.analytics_state)
        self._pins = PinAnalytics(dataset, self.analytics_state)
        self._targeting = insights.Targeting(dataset)
        self.reports = Reports(dataset, self._ads, self._targeting)
        self.objects = objects.Objects(dataset)
        self._user = insights.UserAnalytics(dataset, self.analytics_state)
        self.consent = Consent()

    # ================================================================== entry points
    def handle(self, method: str, path: str, query=None, headers=None, body: bytes = b"") -> tuple[int, dict, bytes]:
        """Answer one request without a network: ``(status, headers, body)``.

        A ``reset`` fault raises ConnectionResetError; ``truncate`` returns half the body
        (its Content-Length still says the full length).
        """
        reply = self.serve(method, path, query, headers, body)
        if reply.action == "reset":
            raise ConnectionResetError("fake: connection reset by peer")
        if reply.action == "truncate":
            return reply.status, reply.headers, reply.body[: len(reply.body) // 2]
        return reply.status, reply.headers, reply.body

    def serve(self, method: str, path: str, query=None, headers=None, body: bytes = b"",
              request_line: int | None = None) -> Reply:
        """Like :meth:`handle` but returns the :class:`Reply` (used by the HTTP server).

        ``request_line``: the length in bytes of the request line as received (the HTTP
        server passes it); without it, the line is rebuilt from ``path`` and ``query``."""
        if self.latency:
            time.sleep(self.latency)
        split = urlsplit(path)
        q = _norm_query(query)
        if split.query:
            for k, v in parse_qs(split.query, keep_blank_values=True).items():
                q.setdefault(k, []).extend(v)
        if request_line is None:
            target = split.path + ("?" + urlencode(q, doseq=True) if q else "")
            request_line = len(f"{method.upper()} {target} HTTP/1.1".encode())
        hdrs = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        with self.lock:
            reply = self._dispatch(method.upper(), split.path.rstrip("/") or "/", q, hdrs, body or b"",
                                   too_long=request_line > api.REQUEST_LINE_MAX)
        return self._finish(reply)

    def serve_download(self, method: str, path: str, query=None, headers=None) -> Reply:
        """Answer a request to the download host (report files; see :mod:`pinsync.fake.reports`).
        Faults target it as route ``"report_download"``."""
        split = urlsplit(path)
        q = _norm_query(query)
        hdrs = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        with self.lock:
            self.calls[DOWNLOAD_ROUTE] += 1
            self.downloads.append((method.upper(), split.path, q, dict(hdrs)))
            fault = self._faults.take(DOWNLOAD_ROUTE, False)

            def respond(repeat_bookmark: bool = False) -> Reply:
                status, body = self.reports.download(method.upper(), split.path, q, hdrs)
                if callable(body):
                    return Reply(status, {"Content-Type": "binary/octet-stream"}, compute=body)
                return Reply(status, {"Content-Type": "application/xml"}, body)
            reply = self._fault_reply(fault, respond) if fault is not None else respond()
            reply.headers["x-amz-request-id"] = self._request_id()
        return self._finish(reply)

    def _finish(self, reply: Reply) -> Reply:
        """Compute the body (outside the lock), set Content-Length, sleep a ``timeout`` fault's delay."""
        if reply.compute is not None:       # analytics: validated under the lock, computed in parallel
            compute, reply.compute = reply.compute, None
            try:
                reply.body = compute()
            except Exception as e:          # a bug in the fake: loud, but still an HTTP answer
                keep = {k: v for k, v in reply.headers.items() if k in ("x-pinterest-rid", "x-amz-request-id")}
                reply = _json_reply(500, {"code": 500, "message": f"fake API error: {type(e).__name__}: {e}"}, keep)
        reply.headers["Content-Length"] = str(len(reply.body))
        if reply.delay:
            time.sleep(reply.delay)
        return reply

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(x for x in self.scope_text.replace(" ", ",").split(",") if x)

    # ================================================================== observability & control
    def reset_counters(self) -> None:
        """Forget ``calls`` and ``requests``."""
        with self.lock:
            self.calls.clear()
            self.requests.clear()

    def add_fault(self, route: str, kind: str, times: int = 1, status: int | None = None, body=None,
                  headers: dict | None = None, after: int = 0) -> None:
        """Schedule a fault (see :mod:`pinsync.fake.faults`)."""
        if route != "*" and route not in ROUTE_CATEGORY and route != DOWNLOAD_ROUTE:
            raise ValueError(f"unknown route {route!r}; expected '*' or one of "
                             f"{', '.join(ROUTE_NAMES + (DOWNLOAD_ROUTE,))}")
        with self.lock:
            self._faults.add(Fault(route, kind, times, status, body, dict(headers or {}), after))

    def faults_pending(self) -> int:
        """How many fault firings are still scheduled."""
        with self.lock:
            return self._faults.pending()

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def expire_access_tokens(self, include_static: bool = False) -> None:
        """Every access token issued by ``/oauth/token`` so far stops working (401); with
        ``include_static`` the constructor's ``access_tokens`` too."""
        with self.lock:
            self._issued.clear()
            if include_static:
                self._static_expired = True

    def set_token_scopes(self, token: str, scopes) -> None:
        """Give a static access token these scopes (a comma-separated string or a list)."""
        with self.lock:
            self._static_scopes[token] = scopes if isinstance(scopes, str) else ",".join(scopes)

    def revoke_refresh_token(self) -> None:
        """The current refresh token stops working (``current_refresh_token`` becomes None)."""
        with self.lock:
            self.current_refresh_token = None

    def forbid_account(self, account_id: str) -> None:
        """Every request for this ad account answers 403 code 29."""
        with self.lock:
            self._forbidden.add(str(account_id))

    def allow_account(self, account_id: str) -> None:
        with self.lock:
            self._forbidden.discard(str(account_id))

    def forbid_pin(self, pin_id: str) -> None:
        """The pin's analytics are refused: 403 code 403 alone, 401 code 7 for a multi-pin
        batch that holds it (the spec's answers for a Pin the user may not access)."""
        with self.lock:
            self._forbidden_pins.add(str(pin_id))

    def allow_pin(self, pin_id: str) -> None:
        with self.lock:
            self._forbidden_pins.discard(str(pin_id))

    # ================================================================== data changes
    def touch(self, kind: str, ids, at: int | float | None = None) -> list[dict]:
        """Change a visible field of these items: the name (pins: the title) gets a `` v2``
        suffix (`` v3`` on the next touch...), and campaigns/ad groups/ads get ``updated_time
        = at`` (epoch seconds, default now). Returns the changed items."""
        if kind not in _TOUCH_KINDS:
            raise ValueError(f"touch: kind must be one of {', '.join(_TOUCH_KINDS)}")
        ds = self.dataset
        index = {"campaigns": ds.campaign_by_id, "ad_groups": ds.ad_group_by_id, "ads": ds.ad_by_id,
                 "pins": ds.pin_by_id}[kind]
        stamp = int(at if at is not None else time.time())
        field_name = "title" if kind == "pins" else "name"
        changed = []
        with self.lock:
            for i in ([ids] if isinstance(ids, str) else ids):
                item = index[str(i)]
                name = item.get(field_name) or f"{_TOUCH_KINDS[kind].replace('_', ' ').title()} {item['id'][-5:]}"
                m = _VERSION_SUFFIX.search(name)
                item[field_name] = (name[: m.start()] + f" v{int(m.group(1)) + 1}") if m else name + " v2"
                if kind != "pins":
                    item["updated_time"] = stamp
                changed.append(item)
        return changed

    def add_pins(self, n: int = 1) -> list[dict]:
        """Add ``n`` pins created now (on the dataset's ``today`` if that is not the real
        UTC date: at 12:00 plus a second per pin)."""
        ds = self.dataset
        with self.lock:
            now = int(time.time())
            base = now if now // DAY == ds.today_ord else ds.today_epoch + 12 * 3600
            newest = max((p["created_at"] for p in ds.pins), default="")
            created = []
            for k in range(n):
                t = base + k
                pin = ds.make_pin(t)
                while pin["created_at"] < newest:     # keep "newest first" meaningful
                    t += 1
                    pin["created_at"] = dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
                ds.pins.append(pin)
                created.append(pin)
            ds.reindex()
        return created

    def restate(self, days: int = 14) -> None:
        """Restate the last ``days`` days (``today - days`` .. today): their ads analytics
        (spend, conversions) and pin analytics values change. ``days=0`` does nothing."""
        with self.lock:
            today = self.dataset.today_ord
            for d in range(today - days, today + 1) if days > 0 else ():
                self.analytics_state.versions[d] = self.analytics_state.versions.get(d, 0) + 1

    def blank_day(self, day) -> None:
        """From now on every analytics endpoint returns nothing for ``day``."""
        with self.lock:
            self.analytics_state.blank.add(to_ord(_as_date(day)))

    def unblank_day(self, day) -> None:
        """Undo :meth:`blank_day`."""
        with self.lock:
            self.analytics_state.blank.discard(to_ord(_as_date(day)))

    # ================================================================== expected data
    def analytics_rows(self, level: str, account_id: str, ids, start, end, granularity: str = "DAY",
                       columns=CORE_COLUMNS, click_window_days: int = 30, engagement_window_days: int = 30,
                       view_window_days: int = 1, conversion_report_time: str = "TIME_OF_AD_ACTION") -> list[dict]:
        """Exactly the rows the ads analytics endpoint of ``level`` (campaign, ad_group, ad)
        would answer for these parameters; invalid parameters raise :class:`FakeApiError`."""
        level = {"campaigns": "campaign", "ad_groups": "ad_group", "ads": "ad"}.get(level, level)
        if level not in LEVEL_IDS_PARAM:
            raise ValueError("level must be campaign, ad_group or ad")
        query = {LEVEL_IDS_PARAM[level]: [str(i) for i in ids], "start_date": [_as_date(start).isoformat()],
                 "end_date": [_as_date(end).isoformat()], "granularity": [granularity],
                 "columns": [",".join(columns) if not isinstance(columns, str) else columns],
                 "click_window_days": [str(click_window_days)], "engagement_window_days": [str(engagement_window_days)],
                 "view_window_days": [str(view_window_days)], "conversion_report_time": [conversion_report_time]}
        with self.lock:
            if str(account_id) not in self.dataset.account_by_id:
                raise errors.account_not_found()
            job = self._analytics_job(level, str(account_id), query)
        return json.loads(job())

    def truth_rows(self, level: str, account_id: str, ids, start, end, columns=CORE_COLUMNS, *,
                   granularity: str = "DAY", targeting_types=None) -> list[dict]:
        """The one truth behind the synchronous routes and the reports: the rows of ``ids`` at
        ``level`` (advertiser, campaign, ad_group, ad, keyword, product_group) over ``[start,
        end]``, whatever the windows the routes allow; with ``targeting_types``, one row per
        entity, type, value and bucket (``{"targeting_type", "targeting_value", "metrics"}``).
        Default attribution settings."""
        breakdown = self._targeting.breakdown(list(targeting_types)) if targeting_types else None
        with self.lock:
            return self._ads.rows(level, str(account_id), [str(i) for i in ids], _as_date(start), _as_date(end),
                                  granularity, list(columns), 30, 30, 1, "TIME_OF_AD_ACTION",
                                  self.analytics_state.snapshot(), breakdown=breakdown)

    def pin_analytics_payload(self, pin_id: str, start, end, metric_types, split_field: str = "NO_SPLIT",
                              app_types: str = "ALL") -> dict:
        """Exactly the single-pin analytics response for these parameters."""
        query = {"start_date": [_as_date(start).isoformat()], "end_date": [_as_date(end).isoformat()],
                 "metric_types": [metric_types if isinstance(metric_types, str) else ",".join(metric_types)],
                 "split_field": [split_field], "app_types": [app_types]}
        with self.lock:
            pin = self.dataset.pin_by_id.get(str(pin_id))
            if pin is None:
                raise errors.pin_not_found()
            p = parse_pin_query(query, self.dataset.today)
            return self._pins.payload(pin, p.start, p.end, p.metric_types, p.app_types, p.split_field)

    # ================================================================== dispatch
    def _request_id(self) -> str:
        self._rid += 1
        return f"{self._salt}{self._rid:08x}"

    def _dispatch(self, method: str, path: str, query: dict, headers: dict, body: bytes,
                  too_long: bool = False) -> Reply:
        route, params, category, allowed = "unknown", {}, None, True
        for m, pattern, name, cat in _COMPILED:
            match = pattern.match(path)
            if match and (route == "unknown" or m == method):   # a path of several methods: the method's route
                route, params, category, allowed = name, match.groupdict(), cat, (m == method)
                if allowed:
                    break
        self.calls[route] += 1
        self.requests.append((method, path, query))
        if too_long:        # the front-end refuses it: Pinterest never sees it (no rate limit, no fault)
            self.calls["request_line_too_long"] += 1
            return Reply(414, {"Content-Type": "text/html", "x-pinterest-rid": self._request_id()},
                         REQUEST_LINE_TOO_LONG_BODY)
        try:
            fault = self._faults.take(route, bool(query.get("bookmark", [""])[-1]))
            if fault is not None:
                reply = self._fault_reply(fault, lambda repeat_bookmark=False: self._respond(
                    route, method, params, query, headers, body, category, allowed, repeat_bookmark), route)
            else:
                reply = self._respond(route, method, params, query, headers, body, category, allowed)
        except FakeApiError as e:
            reply = _json_reply(e.status, e.body(), e.headers)
        except Exception as e:    # a bug in the fake: loud, but still an HTTP answer
            reply = _json_reply(500, {"code": 500, "message": f"fake API error: {type(e).__name__}: {e}"})
        reply.headers["x-pinterest-rid"] = self._request_id()
        return reply

    def _fault_reply(self, fault: Fault, respond: Callable[..., Reply], route: str | None = None) -> Reply:
        if fault.kind == "reset":
            return Reply(0, action="reset")
        if fault.kind == "status":
            status = fault.status or 500
            payload = fault.body if fault.body is not None else errors.default_body(status)
            if isinstance(payload, (bytes, str)):
                raw = payload.encode() if isinstance(payload, str) else payload
                ctype = "text/html" if raw.lstrip()[:1] == b"<" else "text/plain"
                return Reply(status, {"Content-Type": ctype, **fault.headers}, raw)
            return _json_reply(status, payload, fault.headers)
        if fault.kind == "html":
            raw = fault.body.encode() if isinstance(fault.body, str) else (fault.body or HTML_BODY)
            return Reply(fault.status or 502, {"Content-Type": "text/html; charset=utf-8", **fault.headers}, raw)
        if fault.kind == "empty":
            return Reply(fault.status or 200, {"Content-Type": JSON_TYPE, **fault.headers}, b"")
        try:
            reply = respond(repeat_bookmark=fault.kind == "repeat_bookmark" or (
                "empty" if fault.kind == "empty_page" else False))
        except FakeApiError as e:
            reply = _json_reply(e.status, e.body(), e.headers)
        reply.headers.update(fault.headers)
        if fault.kind == "duplicate_rows" and route in _ANALYTICS_LEVEL and reply.compute is not None:
            compute = reply.compute
            reply.compute = lambda: _with_stale_copies(compute())
        if fault.kind == "edit" and reply.status == 200:
            compute = reply.compute or (lambda body=reply.body: body)
            reply.compute = lambda: _edited(compute(), fault.body)
        if fault.kind == "timeout":
            reply.delay = self.timeout_sleep
        elif fault.kind == "truncate":
            reply.status, reply.action = 200, "truncate"
        return reply

    def _respond(self, route, method, params, query, headers, body, category, allowed,
                 repeat_bookmark: bool = False) -> Reply:
        if route == "unknown":
            raise FakeApiError(404, 404, "Not found.")
        if not allowed:
            raise FakeApiError(405, 405, "Method not allowed.")
        if route == "oauth_consent":
            status, hdrs, page = self.consent.page(query, self.client_id)
            return Reply(status, hdrs, page)
        if route != "oauth_token":
            granted = self._authenticate(headers)
            if not set(objects.SCOPES.get(route, ())) <= granted:
                raise errors.insufficient_scope(self.scope_status)
        limit_headers = self._admit(category)
        try:
            if "account" in params:
                self._account(params["account"])      # 404/403 before the parameters are looked at
            if route not in ("oauth_token", "create_report", "get_report"):   # these check with their own 400s
                _check_declared(route, query)
            if route == "oauth_token":
                reply = self._oauth_token(headers, body)
            elif route == "ad_accounts":
                reply = self._page(route, self.dataset.ad_accounts, query, repeat_bookmark)
            elif route in _LIST_LEVEL:
                reply = self._page(route, self._entity_list(route, params["account"], query), query, repeat_bookmark)
            elif route == "pins":
                reply = self._page(route, self._pin_list(query, granted), query, repeat_bookmark,
                                   decorate=self._pin_metrics_of(query))
            elif route in _ANALYTICS_LEVEL:
                account = self._account(params["account"])
                job = self._analytics_job(_ANALYTICS_LEVEL[route], account, query)
                reply = Reply(200, {"Content-Type": JSON_TYPE}, compute=lambda: job().encode())
            elif route == "create_report":
                account = self._account(params["account"])
                reply = _json_reply(200, self.reports.create(account, query, body, self.analytics_state.snapshot()))
            elif route == "get_report":
                answer, compute = self.reports.poll(self._account(params["account"]), query)
                reply = _json_reply(200, answer) if compute is None else Reply(
                    200, {"Content-Type": JSON_TYPE}, compute=lambda: _dumps(compute()))
            elif route == "pin_analytics":
                job = self._pin_analytics_job(params["pin"], query)
                reply = Reply(200, {"Content-Type": JSON_TYPE}, compute=lambda: _dumps(job()))
            elif route in objects.PAGED:
                if "account" in params:
                    self._account(params["account"])
                reply = self._page(route, self.objects.listing(route, params, query, granted), query, repeat_bookmark)
            elif route in objects.DOCUMENTS:
                if "account" in params:
                    self._account(params["account"])
                reply = _json_reply(200, self.objects.document(route, params, query))
            elif route in insights.ADS_ROUTES:
                job = self._insights_job(route, self._account(params["account"]), query)
                reply = Reply(200, {"Content-Type": JSON_TYPE}, compute=lambda: job().encode())
            elif route == "user_account_analytics":
                q = insights.parse_user_query(query, self.dataset.today)
                state = self.analytics_state.snapshot()
                reply = Reply(200, {"Content-Type": JSON_TYPE}, compute=lambda: _dumps(self._user.payload(q, state)))
            else:
                job = self._multi_pin_analytics_job(query)
                reply = Reply(200, {"Content-Type": JSON_TYPE}, compute=lambda: _dumps(job()))
        except FakeApiError as e:
            e.headers.update(limit_headers)
            raise errors.as_route_error(route, e) from None
        reply.headers.update(limit_headers)
        return reply

    # ================================================================== auth & limits
    def _authenticate(self, headers: dict) -> frozenset[str]:
        """The scopes of the request's token (401 if it is not accepted)."""
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        ok = scheme.lower() == "bearer" and token and (
            token in self._issued or (token in self.access_tokens and not self._static_expired))
        if not ok:
            raise errors.unauthorized()
        scope = self._issued[token] if token in self._issued else self._static_scopes.get(token, self.scope_text)
        return frozenset(x for x in scope.replace(" ", ",").split(",") if x)

    def _admit(self, category: str | None) -> dict[str, str]:
        """Sliding-window rate limiting per category; the headers to send."""
        limits = self.rate_limits
        if not limits or category not in limits:
            return {}
        limit = int(limits[category])
        window = self._windows[category]
        now = time.monotonic()
        while window and window[0] <= now - self.rate_limit_window:
            window.popleft()
        if len(window) >= limit:
            wait = max(1, math.ceil(window[0] + self.rate_limit_window - now)) if window else 1
            raise FakeApiError(429, api.RATE_LIMIT_CODE, errors.RATE_LIMIT_MESSAGE,
                               {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": "0",
                                "x-ratelimit-reset": str(wait)})
        window.append(now)
        return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(limit - len(window))}

    def _account(self, account_id: str) -> str:
        if account_id not in self.dataset.account_by_id:
            raise errors.account_not_found()
        if account_id in self._forbidden:
            raise errors.forbidden()
        return account_id

    # ================================================================== routes
    def _oauth_token(self, headers: dict, body: bytes) -> Reply:
        scheme, _, cred = headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            user, password = None, None
        if scheme.lower() != "basic" or user != self.client_id or password != self.client_secret:
            raise errors.invalid_client()
        try:
            form = parse_qs(body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            form = {}
        _check_declared("oauth_token", form)
        grant = form.get("grant_type", [""])[-1]
        if grant == "authorization_code":
            self.scope_text = self.consent.exchange(form)       # a new authorisation: a new chain
        elif grant == "refresh_token":
            given = form.get("refresh_token", [""])[-1]
            if not given or given != self.current_refresh_token:
                raise FakeApiError(401, 283, "The authorization grant is invalid")
        else:
            raise errors.bad_params("grant_type must be authorization_code or refresh_token (the grants the "
                                    "fake supports).")
        access = "pina." + secrets.token_urlsafe(32)
        refresh = "pinr." + secrets.token_urlsafe(32)
        self._issued[access] = self.scope_text
        self.current_refresh_token = refresh
        self.refresh_count += grant == "refresh_token"
        return _json_reply(200, {
            "access_token": access, "token_type": "bearer", "expires_in": ACCESS_TOKEN_TTL, "scope": self.scope_text,
            "refresh_token": refresh, "refresh_token_expires_in": REFRESH_TOKEN_TTL,
            "refresh_token_expires_at": int(time.time()) + REFRESH_TOKEN_TTL, "response_type": grant})

    def _page(self, route: str, items: list, query: dict, repeat_bookmark: bool = False,
              decorate: Callable[[list], list] | None = None) -> Reply:
        raw_size = query.get("page_size", [""])[-1]
        try:
            size = int(raw_size) if raw_size != "" else 25
        except ValueError:
            raise errors.bad_params(f"page_size must be an integer (got {raw_size!r}).") from None
        if size < 1:
            raise errors.bad_params("page_size must be at least 1.")
        if size > self.page_size_max:
            raise errors.bad_params(f"page_size must be at most {self.page_size_max}.")
        sent = query.get("bookmark", [""])[-1]
        offset = self._decode_bookmark(route, sent) if sent else 0
        page = items[offset: offset + size]
        nxt = offset + size
        bookmark = self._encode_bookmark(route, nxt) if nxt < len(items) else None
        if repeat_bookmark == "empty":        # the empty_page fault: nothing, and a fresh way on
            self._nonce += 1
            page, bookmark = [], self._encode_bookmark(route, offset, self._nonce)
        elif repeat_bookmark and sent:
            bookmark = sent
        return _json_reply(200, {"items": decorate(page) if decorate else page, "bookmark": bookmark})

    def _encode_bookmark(self, route: str, offset: int, nonce: int = 0) -> str:
        text = f"{route}:{offset}:{self._salt}" + (f":{nonce}" if nonce else "")
        return base64.urlsafe_b64encode(text.encode()).decode()

    def _decode_bookmark(self, route: str, bookmark: str) -> int:
        try:
            r, off, salt = base64.urlsafe_b64decode(bookmark.encode()).decode().split(":")[:3]
            offset = int(off)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise errors.bad_params("bookmark is invalid.") from None
        if r != route or salt != self._salt or offset < 0:
            raise errors.bad_params("bookmark is invalid.")
        return offset

    def _id_filter(self, query: dict, name: str) -> set[str] | None:
        ids = multi(query, name)
        if ids is None:
            return None
        if not ids or len(ids) > api.ANALYTICS_IDS_MAX:
            raise errors.bad_params(f"{name} must contain 1 to {api.ANALYTICS_IDS_MAX} ids.")
        return set(ids)

    def _entity_list(self, route: str, account_id: str, query: dict) -> list[dict]:
        account_id = self._account(account_id)
        statuses = multi(query, "entity_statuses")
        if statuses is None or not statuses:
            statuses = list(api.API_DEFAULT_ENTITY_STATUSES)
        bad = [s for s in statuses if s not in api.ENTITY_STATUSES]
        if bad:
            raise errors.bad_params(f"entity_statuses: {bad[0]!r} is not one of {', '.join(api.ENTITY_STATUSES)}.")
        wanted = set(statuses)
        filters = {"campaign_id": self._id_filter(query, "campaign_ids")}
        if route in ("ad_groups", "ads"):
            filters["ad_group_id"] = self._id_filter(query, "ad_group_ids")
        if route == "ads":
            filters["id"] = self._id_filter(query, "ad_ids")
        if route == "campaigns":
            filters = {"id": filters["campaign_id"]}
        active = [(k, v) for k, v in filters.items() if v is not None]
        items = [e for e in self.dataset.items(route)
                 if e["ad_account_id"] == account_id and e["status"] in wanted
                 and all(e[k] in v for k, v in active)]
        order = query.get("order", ["ASCENDING"])[-1] or "ASCENDING"
        if order not in ("ASCENDING", "DESCENDING"):
            raise errors.bad_params("order must be ASCENDING or DESCENDING.")
        return items[::-1] if order == "DESCENDING" else items

    def _pin_list(self, query: dict, granted: frozenset[str]) -> list[dict]:
        pins = self.dataset.pins
        if not _flag(query, "include_protected_pins"):
            pins = [p for p in pins if not is_protected(p)]
        elif api.SECRET_PINS_SCOPE not in granted:
            raise errors.insufficient_scope(self.scope_status)
        types = multi(query, "creative_types")
        if types:
            pins = [p for p in pins if p["creative_type"] in set(types)]
        pin_filter = query.get("pin_filter", [""])[-1]
        if pin_filter == "exclude_repins":
            pins = [p for p in pins if p["parent_pin_id"] is None]
        elif pin_filter == "has_been_promoted":
            pins = [p for p in pins if p["has_been_promoted"]]
        elif pin_filter not in ("", "exclude_native"):
            raise errors.bad_params("pin_filter must be exclude_native, exclude_repins or has_been_promoted.")
        return sorted(pins, key=lambda p: (p["created_at"], p["id"]), reverse=True)

    def _pin_metrics_of(self, query: dict) -> Callable[[list], list]:
        """The pins of a page as answered: ``pin_metrics`` (90 days and lifetime, consistent
        with the analytics endpoints) only when asked for, else null."""
        asked = _flag(query, "pin_metrics")
        state = self.analytics_state.snapshot()

        def decorate(page: list) -> list:
            metrics = self._pins.pin_metrics(page, state) if asked else {}
            return [{**p, "pin_metrics": metrics.get(p["id"])} for p in page]
        return decorate

    def _analytics_job(self, level: str, account_id: str, query: dict) -> Callable[[], str]:
        """Validate now (under the lock); the returned function computes the JSON body."""
        q = parse_ads_query(level, query, self.dataset.today)
        ids = q.ids
        if q.pin_ids is not None:      # ads: campaign_ids + pin_ids
            campaigns, pins = set(q.ids), set(q.pin_ids)
            ids = [a["id"] for a in self.dataset.ads
                   if a["ad_account_id"] == account_id and a["campaign_id"] in campaigns and a["pin_id"] in pins]
        state = self.analytics_state.snapshot()
        return lambda: self._ads.json(level, account_id, ids, q.start, q.end, q.granularity, q.columns, q.click,
                                      q.engagement, q.view, q.report_time, state)

    def _insights_job(self, route: str, account_id: str, query: dict) -> Callable[[], str]:
        """Validate now (under the lock); the returned function computes the JSON body."""
        q = insights.parse_query(route, query, self.dataset.today)
        types = insights.parse_targeting_types(route, query) if route in insights.TARGETING_ROUTES else None
        state = self.analytics_state.snapshot()
        return lambda: insights.ads_json(self._ads, self._targeting, route, account_id, q, types, state)

    def _pin_analytics_job(self, pin_id: str, query: dict) -> Callable[[], dict]:
        pin = self.dataset.pin_by_id.get(pin_id)
        if pin is None:
            raise errors.pin_not_found(code=404)
        if pin_id in self._forbidden_pins:
            raise FakeApiError(403, 403, errors.NOT_AUTHORIZED_PIN)
        p = parse_pin_query(query, self.dataset.today)
        state = self.analytics_state.snapshot()
        return lambda: self._pins.payload(pin, p.start, p.end, p.metric_types, p.app_types, p.split_field, state)

    def _multi_pin_analytics_job(self, query: dict) -> Callable[[], dict]:
        if not self.multi_pin_analytics:
            raise errors.not_authorized_pin()
        err = pins_error(multi_pin=True)
        pin_ids = multi(query, "pin_ids")
        if not pin_ids:
            raise err("pin_ids is required.")
        if len(pin_ids) > api.PIN_IDS_MAX:
            raise err(f"pin_ids must contain at most {api.PIN_IDS_MAX} items.")
        p = parse_pin_query(query, self.dataset.today, multi_pin=True)
        if self._forbidden_pins.intersection(pin_ids):
            raise errors.not_authorized_pin()
        pins = [self.dataset.pin_by_id[i] for i in dict.fromkeys(pin_ids) if i in self.dataset.pin_by_id]
        if not pins:
            raise errors.pin_not_found()
        state = self.analytics_state.snapshot()
        return lambda: self._pins.payloads(pins, p.start, p.end, p.metric_types, p.app_types, p.split_field, state)
