"""The fake Pinterest API (pinsync.fake): fidelity to the spec, determinism, faults, limits, speed.

Most tests talk HTTP with plain ``requests`` to a :class:`FakeServer`, as pinsync does.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import socket
import threading
import time

import pytest
import requests

from pinsync import api
from pinsync.fake import ROUTE_CATEGORY, Dataset, FakeApiError, FakePinterest, FakeServer
from pinsync.fake import ROUTE_NAMES
from pinsync.fake.analytics import ATTRIBUTE_COLUMNS, FLOAT_METRICS, INT_METRICS
from tests.conftest import SPEC_PATH, TODAY
from pinsync.fake.data import SECRET_BOARDS
from pinsync.fake.declared import BAD_REQUEST, DESCRIBED_ONLY, NOT_API_ROUTES, OPERATIONS, PARAMETERS

# an extract of the official spec (v5.23.0) ships with the tests, so they run on a fresh clone
TOKEN = "demo-token"                     # the fake's default token
ALL_STATUSES = list(api.ENTITY_STATUSES)
CORE = ["SPEND_IN_MICRO_DOLLAR", "SPEND_IN_DOLLAR", "PAID_IMPRESSION", "TOTAL_CLICKTHROUGH", "CTR",
        "TOTAL_CONVERSIONS", "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "CAMPAIGN_NAME"]


def _dataset(**kw) -> Dataset:
    args = dict(seed=7, accounts=3, campaigns_per_account=8, ad_groups_per_campaign=3, ads_per_ad_group=5, pins=120,
                today=TODAY, history_days=120)
    args.update(kw)
    return Dataset(**args)


@pytest.fixture(scope="module")
def shared():
    """A read-only fake shared by the tests that do not change it."""
    ds = _dataset()
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        yield ds, fake, srv


@pytest.fixture
def own():
    """A fresh fake for tests that change state (faults, tokens, restatements)."""
    ds = _dataset(accounts=2, campaigns_per_account=4, pins=40)
    fake = FakePinterest(ds, access_tokens=(TOKEN,), client_id="app-id", client_secret="app-secret",
                         refresh_token="pinr.initial")
    with FakeServer(fake) as srv:
        yield ds, fake, srv


def _session(token: str = TOKEN) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    return s


def _walk(session, url, params=None, page_size=25):
    items, pages, bookmark = [], 0, None
    while True:
        p = dict(params or {}, page_size=page_size)
        if bookmark:
            p["bookmark"] = bookmark
        r = session.get(url, params=p)
        assert r.status_code == 200, r.text
        data = r.json()
        assert set(data) == {"items", "bookmark"}
        items += data["items"]
        pages += 1
        bookmark = data["bookmark"]
        if bookmark is None:
            return items, pages
        assert isinstance(bookmark, str) and bookmark


def _analytics_url(srv, account, level="campaign"):
    return f"{srv.url}/ad_accounts/{account}/{level}s/analytics"


def _error(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"code", "message"} and body["code"] == code and isinstance(body["message"], str)
    return body["message"]


# ------------------------------------------------------------------------------------------ spec fidelity

def _spec_properties(spec: dict, name: str) -> set[str]:
    schemas = spec["components"]["schemas"]

    def resolve(s: dict) -> dict:
        while "$ref" in s:
            s = schemas[s["$ref"].rsplit("/", 1)[-1]]
        return s

    def props(s: dict) -> set[str]:
        s = resolve(s)
        out = set(s.get("properties", {}))
        for sub in s.get("allOf", []):
            out |= props(sub)
        return out

    return props(schemas[name])


@pytest.mark.parametrize("schema,attr", [("AdAccount", "ad_accounts"), ("CampaignResponse", "campaigns"),
                                         ("AdGroupResponse", "ad_groups"), ("AdResponse", "ads"), ("Pin", "pins")])
def test_items_carry_every_property_of_the_spec_object(schema, attr, shared):
    spec = json.loads(SPEC_PATH.read_text())
    wanted = _spec_properties(spec, schema)
    assert len(wanted) >= 8
    items = getattr(shared[0], attr)
    assert items
    for item in items:
        assert wanted <= set(item), (schema, sorted(wanted - set(item)))


def test_field_values_are_realistic(shared):
    ds = shared[0]
    spec = json.loads(SPEC_PATH.read_text())
    enum = lambda name: set(spec["components"]["schemas"][name]["enum"])  # noqa: E731
    for a in ds.ad_accounts:
        assert a["currency"] in enum("Currency") and a["country"] in enum("Country")
        assert set(a["permissions"]) <= enum("BusinessAccessRole")
    assert {a["currency"] for a in ds.ad_accounts} == {"USD", "GBP", "EUR"}
    every = ds.ad_accounts + ds.campaigns + ds.ad_groups + ds.ads + ds.pins
    for item in every:
        assert item["id"].isdigit() and not item["id"].startswith("0") and 16 <= len(item["id"]) <= 18
        assert int(item["id"]) > 2 ** 53                       # a float would corrupt it
    for kind in ("campaigns", "ad_groups", "ads"):
        items = getattr(ds, kind)
        assert [i["id"] for i in items] == sorted((i["id"] for i in items), key=int)
        for i in items:
            assert i["status"] in enum("EntityStatus")
            assert isinstance(i["created_time"], int) and i["created_time"] <= i["updated_time"]
            assert ds.today_epoch - 121 * 86400 <= i["created_time"] < ds.today_epoch
    for c in ds.campaigns:
        assert c["objective_type"] in enum("ObjectiveType") and c["summary_status"] in enum("CampaignSummaryStatus")
        assert c["type"] == "campaign"
    for g in ds.ad_groups:
        assert isinstance(g["targeting_spec"], dict) and g["budget_type"] in enum("BudgetType")
        assert g["bid_multiplier"] is None or isinstance(g["bid_multiplier"], float)
        assert g["targeting_template_ids"] is None or isinstance(g["targeting_template_ids"], list)
        assert g["optimization_goal_metadata"] is None or isinstance(g["optimization_goal_metadata"], dict)
    for a in ds.ads:
        assert a["creative_type"] in enum("CreativeType") and a["summary_status"] in enum("PinPromotionSummaryStatus")
        assert isinstance(a["rejected_reasons"], list) and isinstance(a["rejection_labels"], list)
        assert (a["review_status"] == "REJECTED") == bool(a["rejected_reasons"])
        if a["creative_type"] == "CAROUSEL":
            assert isinstance(a["carousel_destination_urls"], list)
    assert any(a["quiz_pin_data"] for a in _dataset(accounts=5, ads_per_ad_group=10).ads)
    for p in ds.pins:
        dt.datetime.strptime(p["created_at"], "%Y-%m-%dT%H:%M:%S")       # no zone, like the real API
        assert p["media"]["media_type"] == "image" and "600x" in p["media"]["images"]
        assert p["board_owner"]["username"] == ds.ad_accounts[0]["owner"]["username"]
        assert p["pin_metrics"] is None or set(p["pin_metrics"]) == {"90d", "lifetime_metrics"}
    assert any(p["pin_metrics"] is None for p in ds.pins) and any(p["title"] is None for p in ds.pins)
    # the status mix
    counts = collections.Counter(a["status"] for a in _dataset(accounts=5, ads_per_ad_group=10).ads)
    total = sum(counts.values())
    for status, share in (("ACTIVE", 45), ("PAUSED", 20), ("ARCHIVED", 25), ("DRAFT", 7), ("DELETED_DRAFT", 3)):
        assert abs(100 * counts[status] / total - share) < 3, counts


def test_route_categories_follow_the_spec():
    spec = json.loads(SPEC_PATH.read_text())
    ops = {("GET", "/ad_accounts"): "ad_accounts", ("GET", "/ad_accounts/{ad_account_id}/campaigns"): "campaigns",
           ("GET", "/ad_accounts/{ad_account_id}/ad_groups"): "ad_groups",
           ("GET", "/ad_accounts/{ad_account_id}/ads"): "ads", ("GET", "/pins"): "pins",
           ("POST", "/oauth/token"): "oauth_token",
           ("GET", "/ad_accounts/{ad_account_id}/campaigns/analytics"): "campaign_analytics",
           ("GET", "/ad_accounts/{ad_account_id}/ad_groups/analytics"): "ad_group_analytics",
           ("GET", "/ad_accounts/{ad_account_id}/ads/analytics"): "ad_analytics",
           ("GET", "/pins/{pin_id}/analytics"): "pin_analytics", ("GET", "/pins/analytics"): "multi_pin_analytics",
           ("POST", "/ad_accounts/{ad_account_id}/reports"): "create_report",
           ("GET", "/ad_accounts/{ad_account_id}/reports"): "get_report",
           **{(method, path): route for route, (method, path) in OPERATIONS.items()}}
    for (method, path), route in ops.items():
        assert ROUTE_CATEGORY[route] == spec["paths"][path][method.lower()]["x-ratelimit-category"], route
    # and the consent page, which is not part of the API (www.pinterest.com/oauth/)
    assert set(ROUTE_CATEGORY) == {*ops.values(), "oauth_consent"} and ROUTE_CATEGORY["oauth_consent"] is None


def _declared_in_spec(spec: dict, route: str) -> set[str]:
    """The query parameters (POST /oauth/token: the form fields) the spec's operation declares."""
    method, path = OPERATIONS[route]
    op = spec["paths"][path][method.lower()]
    comp = spec["components"]

    def resolve(node: dict, where: str) -> dict:
        while "$ref" in node:
            node = comp[where][node["$ref"].rsplit("/", 1)[-1]]
        return node

    if method == "GET" or route == "create_report":      # create_report: a JSON body, no query
        params = [resolve(p, "parameters") for p in op.get("parameters", [])]
        return {p["name"] for p in params if p["in"] == "query"}

    def props(schema: dict) -> set[str]:
        schema = resolve(schema, "schemas")
        out = set(schema.get("properties", {}))
        for sub in schema.get("allOf", []):
            out |= props(sub)
        for variant in schema.get("discriminator", {}).get("mapping", {}).values():   # each grant's fields
            out |= props({"$ref": variant})
        return out

    body = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    described = {name for name in DESCRIBED_ONLY.get(route, ()) if f"<code>{name}</code>" in op["description"]}
    return props(body) | described


def test_declared_parameters_follow_the_spec():
    spec = json.loads(SPEC_PATH.read_text())
    api_routes = set(ROUTE_NAMES) - NOT_API_ROUTES
    assert set(OPERATIONS) == api_routes == set(PARAMETERS)
    for route in api_routes:
        assert PARAMETERS[route] == _declared_in_spec(spec, route), route
    assert "split_field" not in PARAMETERS["multi_pin_analytics"] and "split_field" in PARAMETERS["pin_analytics"]


def _bad_request_in_spec(spec: dict, route: str) -> tuple[int, str] | None:
    """(code, message) of the spec's example 400 body of the route's operation, if it gives one."""
    method, path = OPERATIONS[route]
    answer = spec["paths"][path][method.lower()].get("responses", {}).get("400", {})
    example = answer.get("content", {}).get("application/json", {}).get("example")
    return (example["code"], example["message"]) if example else None


def test_the_400_bodies_follow_the_spec():
    spec = json.loads(SPEC_PATH.read_text())
    from_spec = {r: _bad_request_in_spec(spec, r) for r in OPERATIONS}
    assert BAD_REQUEST == {r: body for r, body in from_spec.items() if body}
    assert BAD_REQUEST["multi_pin_analytics"] == (1, "Invalid multi_pins analytics parameters.")


def _valid_request(ds, route: str) -> tuple[str, str, dict]:
    """A request each route answers 200 (method, path below /v5, query or form)."""
    acct, pin = ds.ad_accounts[0]["id"], ds.pins[0]["id"]
    end = TODAY - dt.timedelta(days=1)
    dates = {"start_date": end.isoformat(), "end_date": end.isoformat()}
    ids = {"campaign_analytics": "campaign_ids", "ad_group_analytics": "ad_group_ids", "ad_analytics": "ad_ids"}
    if route in ids:
        level = route.removesuffix("_analytics")
        some = next(e["id"] for e in ds.items(level + "s") if e["ad_account_id"] == acct)
        return "GET", f"/ad_accounts/{acct}/{level}s/analytics", {
            ids[route]: some, "columns": "SPEND_IN_DOLLAR", "granularity": "DAY", **dates}
    return {
        "ad_accounts": ("GET", "/ad_accounts", {"page_size": 5}),
        "campaigns": ("GET", f"/ad_accounts/{acct}/campaigns", {"entity_statuses": "ACTIVE"}),
        "ad_groups": ("GET", f"/ad_accounts/{acct}/ad_groups", {"order": "ASCENDING"}),
        "ads": ("GET", f"/ad_accounts/{acct}/ads", {"page_size": 5}),
        "pins": ("GET", "/pins", {"pin_metrics": "true"}),
        "multi_pin_analytics": ("GET", "/pins/analytics", {"pin_ids": pin, "metric_types": "IMPRESSION", **dates}),
        "pin_analytics": ("GET", f"/pins/{pin}/analytics", {"metric_types": "IMPRESSION", **dates}),
        "oauth_token": ("POST", "/oauth/token", {"grant_type": "refresh_token", "refresh_token": "pinr.initial"}),
        **_other_requests(ds, acct, dates),
    }[route]


def _other_requests(ds, acct: str, dates: dict) -> dict[str, tuple[str, str, dict]]:
    """A valid request of each route of the other objects and reports."""
    group = next(g for g in ds.ad_groups if g["ad_account_id"] == acct)
    board = ds.boards[0]["id"]
    ad = next(a["id"] for a in ds.ads if a["ad_account_id"] == acct)
    ads = {"columns": "SPEND_IN_DOLLAR", "granularity": "DAY", **dates}
    targeting = {**ads, "targeting_types": "GENDER,AGE_BUCKET"}
    return {
        "keywords": ("GET", f"/ad_accounts/{acct}/keywords", {"ad_group_ids": group["id"]}),
        "audiences": ("GET", f"/ad_accounts/{acct}/audiences", {"ownership_type": "RECEIVED"}),
        "customer_lists": ("GET", f"/ad_accounts/{acct}/customer_lists", {"order": "DESCENDING"}),
        "conversion_tags": ("GET", f"/ad_accounts/{acct}/conversion_tags", {"filter_deleted": "false"}),
        "product_group_promotions": ("GET", f"/ad_accounts/{acct}/product_group_promotions",
                                     {"ad_group_id": group["id"]}),
        "user_account": ("GET", "/user_account", {}),
        "boards": ("GET", "/boards", {"privacy": "ALL"}),
        "board_sections": ("GET", f"/boards/{board}/sections", {"page_size": 5}),
        "board_pins": ("GET", f"/boards/{board}/pins", {"page_size": 5}),
        "catalogs": ("GET", "/catalogs", {}),
        "catalog_feeds": ("GET", "/catalogs/feeds", {}),
        "catalog_product_groups": ("GET", "/catalogs/product_groups", {}),
        "ad_account_analytics": ("GET", f"/ad_accounts/{acct}/analytics", ads),
        "ad_account_targeting_analytics": ("GET", f"/ad_accounts/{acct}/targeting_analytics", targeting),
        "campaign_targeting_analytics": ("GET", f"/ad_accounts/{acct}/campaigns/targeting_analytics",
                                         {**targeting, "campaign_ids": group["campaign_id"]}),
        "ad_group_targeting_analytics": ("GET", f"/ad_accounts/{acct}/ad_groups/targeting_analytics",
                                         {**targeting, "ad_group_ids": group["id"]}),
        "ad_targeting_analytics": ("GET", f"/ad_accounts/{acct}/ads/targeting_analytics",
                                   {**targeting, "ad_ids": ad}),
        "product_group_analytics": ("GET", f"/ad_accounts/{acct}/product_groups/analytics",
                                    {**ads, "product_group_ids": "1234"}),
        "user_account_analytics": ("GET", "/user_account/analytics", {"metric_types": "IMPRESSION", **dates}),
    }


# the report routes: test_fake_reports.py; the consent page is not an API route
@pytest.mark.parametrize("route", [r for r in ROUTE_NAMES if r not in ("create_report", "get_report", *NOT_API_ROUTES)])
def test_every_route_rejects_a_parameter_its_operation_does_not_declare(own, route):
    """With Pinterest's 400 body: the spec's example for the route where it gives one; the
    targeting routes (no example) like the other analytics; the rest code 1."""
    ds, fake, srv = own
    method, path, params = _valid_request(ds, route)
    code, prefix = _bad_request_in_spec(json.loads(SPEC_PATH.read_text()), route) or (
        (400, "Invalid ad account ") if route.endswith("_targeting_analytics") else (1, "Invalid parameters."))

    def send(extra: dict) -> requests.Response:
        if method == "POST":
            return requests.post(srv.url + path, auth=("app-id", "app-secret"), data={**params, **extra})
        return _session().get(srv.url + path, params={**params, **extra})

    undeclared = {"split_field": "NO_SPLIT"} if route == "multi_pin_analytics" else {"not_in_the_spec": "1"}
    msg = _error(send(undeclared), 400, code)
    assert msg.startswith(prefix) and next(iter(undeclared)) in msg, msg
    assert send({}).status_code == 200


def test_every_analytics_column_has_a_generator():
    for c in api.ANALYTICS_COLUMNS:
        assert (c in ATTRIBUTE_COLUMNS) + (c in INT_METRICS) + (c in FLOAT_METRICS) == 1, c


def test_dataset_is_deterministic_and_fast():
    assert _dataset().campaigns == _dataset().campaigns and _dataset().pins == _dataset().pins
    assert _dataset(seed=8).campaigns != _dataset().campaigns
    t = time.perf_counter()
    ds = Dataset(seed=3, accounts=5, campaigns_per_account=10, ad_groups_per_campaign=5, ads_per_ad_group=20,
                 pins=2000, today=TODAY)
    assert time.perf_counter() - t < 2.0
    assert len(ds.ads) == 5000 and len(ds.pins) == 2000
    assert len({a["id"] for a in ds.ads}) == 5000


def test_today_defaults_to_utc_today(monkeypatch):
    monkeypatch.delenv("PINSYNC_TODAY")
    assert Dataset(accounts=1, campaigns_per_account=1, pins=1).today == dt.datetime.now(dt.timezone.utc).date()


# ------------------------------------------------------------------------------------------ lists

def test_pagination_walks_every_item_and_ends_with_a_null_bookmark(shared):
    ds, fake, srv = shared
    s = _session()
    accounts, pages = _walk(s, f"{srv.url}/ad_accounts", page_size=2)
    assert [a["id"] for a in accounts] == [a["id"] for a in ds.ad_accounts] and pages == 2
    acct = ds.ad_accounts[0]["id"]
    ads, pages = _walk(s, f"{srv.url}/ad_accounts/{acct}/ads", {"entity_statuses": ALL_STATUSES}, page_size=7)
    expected = [a for a in ds.ads if a["ad_account_id"] == acct]
    assert ads == expected and pages == -(-len(expected) // 7)
    assert [a["id"] for a in ads] == sorted((a["id"] for a in ads), key=int)
    pins, _ = _walk(s, f"{srv.url}/pins", {"include_protected_pins": "true"}, page_size=250)
    assert len(pins) == len(ds.pins) and pins[0]["created_at"] >= pins[-1]["created_at"]
    assert [p["created_at"] for p in pins] == sorted((p["created_at"] for p in pins), reverse=True)
    first = s.get(f"{srv.url}/pins").json()               # default page size 25
    assert len(first["items"]) == 25


def test_page_size_and_bookmark_validation(own):
    ds, fake, srv = own
    s = _session()
    for bad in (0, 251, "x"):
        assert "page_size" in _error(s.get(f"{srv.url}/ad_accounts", params={"page_size": bad}), 400, 1)
    fake.page_size_max = 100
    msg = _error(s.get(f"{srv.url}/pins", params={"page_size": 250}), 400, 1)
    assert msg == "Invalid parameters. page_size must be at most 100."
    assert s.get(f"{srv.url}/pins", params={"page_size": 100}).status_code == 200
    for bookmark in ("garbage!!", base64.b64encode(b"pins:25:nosalt").decode()):
        _error(s.get(f"{srv.url}/pins", params={"bookmark": bookmark}), 400, 1)
    # a bookmark of one list is not valid for another
    acct = ds.ad_accounts[0]["id"]
    bm = s.get(f"{srv.url}/pins", params={"page_size": 5}).json()["bookmark"]
    msg = _error(s.get(f"{srv.url}/ad_accounts/{acct}/campaigns", params={"bookmark": bm}), 400, 400)
    assert msg == "Invalid ad account campaign parameters. bookmark is invalid."     # the route's own 400


def test_default_statuses_hide_archived_and_drafts(shared):
    ds, fake, srv = shared
    s = _session()
    for kind in ("campaigns", "ad_groups", "ads"):
        seen_default, seen_all = [], []
        for acct in ds.ad_accounts:
            url = f"{srv.url}/ad_accounts/{acct['id']}/{kind}"
            seen_default += _walk(s, url, page_size=250)[0]
            seen_all += _walk(s, url, {"entity_statuses": ALL_STATUSES}, page_size=250)[0]   # repeated keys
            joined = _walk(s, url, {"entity_statuses": ",".join(ALL_STATUSES)}, page_size=250)[0]
            assert joined == [e for e in seen_all if e["ad_account_id"] == acct["id"]]
        assert {e["status"] for e in seen_default} == {"ACTIVE", "PAUSED"}
        assert sorted(e["id"] for e in seen_all) == sorted(e["id"] for e in getattr(ds, kind))
        assert {"ARCHIVED", "DRAFT", "DELETED_DRAFT"} <= {e["status"] for e in seen_all}
    msg = _error(s.get(f"{srv.url}/ad_accounts/{ds.ad_accounts[0]['id']}/ads", params={"entity_statuses": "LIVE"}),
                 400, 400)
    assert msg.startswith("Invalid ad account ads parameters. entity_statuses: 'LIVE'")


def test_id_filters_order_unknown_account_and_auth(shared):
    ds, fake, srv = shared
    s = _session()
    acct = ds.ad_accounts[0]["id"]
    camp = next(c for c in ds.campaigns if c["ad_account_id"] == acct)
    groups, _ = _walk(s, f"{srv.url}/ad_accounts/{acct}/ad_groups",
                      {"campaign_ids": camp["id"], "entity_statuses": ALL_STATUSES})
    assert groups == [g for g in ds.ad_groups if g["campaign_id"] == camp["id"]]
    desc, _ = _walk(s, f"{srv.url}/ad_accounts/{acct}/campaigns", {"order": "DESCENDING",
                                                                   "entity_statuses": ALL_STATUSES})
    assert [c["id"] for c in desc] == [c["id"] for c in ds.campaigns if c["ad_account_id"] == acct][::-1]
    assert "not found" in _error(s.get(f"{srv.url}/ad_accounts/1234567890123456/campaigns"), 404, 2)
    _error(requests.get(f"{srv.url}/ad_accounts"), 401, 2)
    _error(_session("pina.wrong").get(f"{srv.url}/ad_accounts"), 401, 2)
    r = s.get(f"{srv.url}/nope")
    assert r.status_code == 404 and "x-pinterest-rid" in r.headers


def test_every_response_has_a_unique_request_id(shared):
    ds, fake, srv = shared
    s = _session()
    rids = [s.get(f"{srv.url}/ad_accounts").headers["x-pinterest-rid"] for _ in range(5)]
    rids.append(requests.get(f"{srv.url}/ad_accounts").headers["x-pinterest-rid"])      # errors too
    assert len(set(rids)) == 6 and all(rids)


# ------------------------------------------------------------------------------------------ oauth

def test_oauth_refresh_rotates_the_refresh_token(own):
    ds, fake, srv = own
    url = f"{srv.url}/oauth/token"
    form = {"grant_type": "refresh_token", "refresh_token": "pinr.initial"}
    _error(requests.post(url, auth=("app-id", "wrong"), data=form), 401, 2)
    r = requests.post(url, auth=("app-id", "app-secret"), data=form)
    assert r.status_code == 200, r.text
    tok = r.json()
    assert tok["access_token"].startswith("pina.") and tok["refresh_token"].startswith("pinr.")
    assert tok["token_type"] == "bearer" and tok["expires_in"] == 2592000 and tok["response_type"] == "refresh_token"
    assert tok["refresh_token_expires_in"] == 5184000 and tok["refresh_token_expires_at"] > time.time()
    assert tok["scope"] == ("ads:read,boards:read,boards:read_secret,catalogs:read,pins:read,pins:read_secret,"
                            "user_accounts:read")
    assert fake.refresh_count == 1 and fake.current_refresh_token == tok["refresh_token"]
    assert _session(tok["access_token"]).get(f"{srv.url}/ad_accounts").status_code == 200
    # the old refresh token is dead now
    assert "grant" in _error(requests.post(url, auth=("app-id", "app-secret"), data=form), 401, 283)
    r2 = requests.post(url, auth=("app-id", "app-secret"), data={**form, "refresh_token": tok["refresh_token"]})
    assert r2.status_code == 200 and fake.refresh_count == 2
    # issued access tokens can be expired; the static one survives unless asked
    fake.expire_access_tokens()
    _error(_session(r2.json()["access_token"]).get(f"{srv.url}/ad_accounts"), 401, 2)
    assert _session().get(f"{srv.url}/ad_accounts").status_code == 200
    fake.expire_access_tokens(include_static=True)
    _error(_session().get(f"{srv.url}/ad_accounts"), 401, 2)
    fake.revoke_refresh_token()
    assert fake.current_refresh_token is None
    _error(requests.post(url, auth=("app-id", "app-secret"),
                         data={**form, "refresh_token": r2.json()["refresh_token"]}), 401, 283)
    _error(requests.post(url, auth=("app-id", "app-secret"), data={"grant_type": "client_credentials"}), 400, 1)
    assert fake.calls["oauth_token"] == 6


# ------------------------------------------------------------------------------------------ ads analytics

def _query(ids, start, end, columns=CORE, granularity="DAY", **extra):
    return {"campaign_ids": ",".join(ids), "start_date": start.isoformat(), "end_date": end.isoformat(),
            "columns": ",".join(columns), "granularity": granularity, **extra}


def test_analytics_validation_like_the_real_api(shared):
    ds, fake, srv = shared
    s = _session()
    acct = ds.ad_accounts[0]["id"]
    ids = [c["id"] for c in ds.campaigns if c["ad_account_id"] == acct]
    end = TODAY - dt.timedelta(days=1)
    url = _analytics_url(srv, acct)
    prefix = "Invalid ad account campaign analytics parameters."
    cases = {
        "too many ids": _query([str(10 ** 16 + i) for i in range(251)], end, end),
        "no ids": {k: v for k, v in _query(ids, end, end).items() if k != "campaign_ids"},
        "91 days back": _query(ids, TODAY - dt.timedelta(days=91), end),
        "span > 90": _query(ids, TODAY - dt.timedelta(days=90), TODAY + dt.timedelta(days=1)),
        "end before start": _query(ids, end, end - dt.timedelta(days=1)),
        "unknown column": _query(ids, end, end, columns=["SPEND_IN_DOLLAR", "NOPE"]),
        "bad granularity": _query(ids, end, end, granularity="WEEKLY"),
        "bad window": _query(ids, end, end, click_window_days=3),
        "bad view window": _query(ids, end, end, view_window_days="x"),
        "bad report time": _query(ids, end, end, conversion_report_time="NOW"),
        "hour too far back": _query(ids, TODAY - dt.timedelta(days=9), TODAY - dt.timedelta(days=8),
                                    granularity="HOUR"),
        "hour span": _query(ids, TODAY - dt.timedelta(days=5), TODAY - dt.timedelta(days=1), granularity="HOUR"),
        "bad date": {**_query(ids, end, end), "start_date": "2026/11/01"},
    }
    for name, params in cases.items():
        msg = _error(s.get(url, params=params), 400, 400)
        assert msg.startswith(prefix), (name, msg)
        if name == "91 days back":
            assert "You can only get data from the last 90 days" in msg
    # the limits themselves are fine
    assert s.get(url, params=_query(ids, TODAY - dt.timedelta(days=90), TODAY)).status_code == 200
    assert s.get(url, params=_query([str(10 ** 16 + i) for i in range(250)], end, end)).json() == []   # unknown ids
    ok = _query(ids, TODAY - dt.timedelta(days=8), TODAY - dt.timedelta(days=5), granularity="HOUR")
    assert s.get(url, params=ok).status_code == 200
    msg = _error(s.get(_analytics_url(srv, acct, "ad_group"), params={"start_date": end.isoformat()}), 400, 400)
    assert msg.startswith("Invalid ad account group analytics parameters.")        # the spec's words


def test_analytics_rows_types_and_zero_omission(shared):
    ds, fake, srv = shared
    s = _session()
    start, end = TODAY - dt.timedelta(days=89), TODAY - dt.timedelta(days=1)
    columns = ["SPEND_IN_MICRO_DOLLAR", "SPEND_IN_DOLLAR", "PAID_IMPRESSION", "TOTAL_CLICKTHROUGH", "CTR",
               "TOTAL_CONVERSIONS", "TOTAL_VIDEO_MRC_VIEWS", "QUIZ_COMPLETED", "CAMPAIGN_NAME", "CAMPAIGN_ID",
               "AD_GROUP_NAME", "AD_NAME", "PIN_ID", "AD_ACCOUNT_ID", "CAMPAIGN_DAILY_SPEND_CAP",
               "AD_GROUP_BID_MULTIPLIER", "CAMPAIGN_BUDGET_OPTIMIZATION"]
    total_rows, missing_cols = 0, collections.Counter()
    for acct in ds.ad_accounts:
        for level, id_col in (("campaign", "CAMPAIGN_ID"), ("ad_group", "AD_GROUP_ID"), ("ad", "AD_ID")):
            items = [e for e in ds.by_level(level).values() if e["ad_account_id"] == acct["id"]]
            ids = [e["id"] for e in items]
            r = s.get(_analytics_url(srv, acct["id"], level),
                      params={f"{level}_ids": ids, "start_date": start.isoformat(), "end_date": end.isoformat(),
                              "columns": ",".join(columns), "granularity": "DAY"})      # repeated-key ids
            assert r.status_code == 200, r.text
            rows = r.json()
            assert rows == fake.analytics_rows(level, acct["id"], ids, start, end, columns=columns)
            assert len(rows) < len(ids) * 89                    # inactive entity-days are missing
            total_rows += len(rows)
            by_entity = {e["id"]: e for e in items}
            for row in rows:
                assert set(row) <= {id_col, "DATE", *columns}
                assert start.isoformat() <= row["DATE"] <= end.isoformat()
                first, last = ds.activity[level][row[id_col]]
                assert first <= (dt.date.fromisoformat(row["DATE"]) - dt.date(1970, 1, 1)).days <= last
                if level == "campaign":
                    assert "AD_NAME" not in row and "AD_GROUP_NAME" not in row and "PIN_ID" not in row
                assert row["CAMPAIGN_NAME"] == ds.campaign_by_id[by_entity[row[id_col]].get("campaign_id",
                                                                                            row[id_col])]["name"]
                for c in columns:
                    if c not in row:
                        missing_cols[c] += 1
                        continue
                    kind = api.analytics_column_kind(c)
                    v = row[c]
                    if kind == "int":
                        assert type(v) is int and v > 0, (c, v)
                    elif kind == "float":
                        assert type(v) is float and v > 0 and round(v, 6) == v, (c, v)
                    elif kind == "str":
                        assert type(v) is str and v, (c, v)
                    else:
                        assert type(v) is bool
    assert total_rows > 500
    assert missing_cols["TOTAL_CONVERSIONS"] > 0 and missing_cols["TOTAL_VIDEO_MRC_VIEWS"] > 0
    assert missing_cols["QUIZ_COMPLETED"] > 0 and missing_cols["CAMPAIGN_DAILY_SPEND_CAP"] > 0
    assert missing_cols["SPEND_IN_MICRO_DOLLAR"] < total_rows // 20


def _daily(fake, ds, level, cols, start, end, **kw):
    rows = []
    for acct in ds.ad_accounts:
        ids = [e["id"] for e in ds.by_level(level).values() if e["ad_account_id"] == acct["id"]]
        rows += fake.analytics_rows(level, acct["id"], ids, start, end, columns=cols, **kw)
    return rows


@pytest.mark.parametrize("granularity", ["WEEK", "MONTH", "TOTAL"])
def test_week_month_total_ints_are_sums_of_days(shared, granularity):
    ds, fake, srv = shared
    cols = ["SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_CLICKTHROUGH", "TOTAL_CONVERSIONS", "CTR",
            "SPEND_IN_DOLLAR"]
    start, end = dt.date(2026, 9, 10), dt.date(2026, 11, 25)     # partial first and last buckets
    day_rows = _daily(fake, ds, "ad_group", cols, start, end)
    bucket_rows = _daily(fake, ds, "ad_group", cols, start, end, granularity=granularity)
    sums = collections.Counter()
    for r in day_rows:
        d = dt.date.fromisoformat(r["DATE"])
        key = {"WEEK": d - dt.timedelta(days=d.weekday()), "MONTH": d.replace(day=1), "TOTAL": None}[granularity]
        for c in cols[:4]:
            sums[(r["AD_GROUP_ID"], key and key.isoformat(), c)] += r.get(c, 0)
    assert bucket_rows
    for r in bucket_rows:
        assert ("DATE" in r) == (granularity != "TOTAL")
        if granularity == "WEEK":
            assert dt.date.fromisoformat(r["DATE"]).weekday() == 0
        if granularity == "MONTH":
            assert r["DATE"].endswith("-01")
        for c in cols[:4]:
            assert r.get(c, 0) == sums[(r["AD_GROUP_ID"], r.get("DATE"), c)], (r, c)
        if "PAID_IMPRESSION" in r and "TOTAL_CLICKTHROUGH" in r:
            assert 0 < r["SPEND_IN_DOLLAR"] == pytest.approx(r["SPEND_IN_MICRO_DOLLAR"] / 1e6)
    assert len({r["AD_GROUP_ID"] for r in bucket_rows}) == len({r["AD_GROUP_ID"] for r in day_rows})


def test_hour_rows_split_the_day(shared):
    ds, fake, srv = shared
    cols = ["SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_CONVERSIONS"]
    start, end = TODAY - dt.timedelta(days=6), TODAY - dt.timedelta(days=4)
    days = _daily(fake, ds, "campaign", cols, start, end)
    hours = _daily(fake, ds, "campaign", cols, start, end, granularity="HOUR")
    sums = collections.Counter()
    for r in hours:
        assert dt.date.fromisoformat(r["DATE"]).isoformat() == r["DATE"]     # the spec's format: date
        assert r["HOUR"] in range(24)                                        # the UTC hour, beside it
        assert "TOTAL_CONVERSIONS" not in r                     # HOUR has no conversion metrics
        sums[(r["CAMPAIGN_ID"], r["DATE"])] += r.get("SPEND_IN_MICRO_DOLLAR", 0)
    assert len({(r["CAMPAIGN_ID"], r["DATE"], r["HOUR"]) for r in hours}) == len(hours)
    assert len({r["HOUR"] for r in hours}) == 24
    assert days and all(sums[(r["CAMPAIGN_ID"], r["DATE"])] == r.get("SPEND_IN_MICRO_DOLLAR", 0) for r in days)


def test_attribution_settings_change_conversions_only(shared):
    ds, fake, srv = shared
    cols = ["SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_CONVERSIONS"]
    start, end = TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=1)
    base = _daily(fake, ds, "campaign", cols, start, end)
    other = _daily(fake, ds, "campaign", cols, start, end, click_window_days=7, view_window_days=0)
    none = _daily(fake, ds, "campaign", cols, start, end, click_window_days=0, engagement_window_days=0,
                  view_window_days=0)
    key = lambda rows, c: {(r["CAMPAIGN_ID"], r["DATE"]): r.get(c) for r in rows}  # noqa: E731
    assert key(base, "SPEND_IN_MICRO_DOLLAR") == key(other, "SPEND_IN_MICRO_DOLLAR")
    assert key(base, "TOTAL_CONVERSIONS") != key(other, "TOTAL_CONVERSIONS")
    assert sum(r.get("TOTAL_CONVERSIONS", 0) for r in other) < sum(r.get("TOTAL_CONVERSIONS", 0) for r in base)
    assert not any("TOTAL_CONVERSIONS" in r for r in none)


def test_restate_changes_recent_values_only(own):
    ds, fake, srv = own
    cols = ["SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_CONVERSIONS"]
    start, end = TODAY - dt.timedelta(days=60), TODAY - dt.timedelta(days=1)
    pins = [p for p in ds.pins if p["created_at"] < "2026-09-01"][:10]
    pin_before = {p["id"]: fake.pin_analytics_payload(p["id"], start, end, ["IMPRESSION", "SAVE"]) for p in pins}
    before = _daily(fake, ds, "ad", cols, start, end)
    fake.restate(days=0)                                      # nothing
    assert _daily(fake, ds, "ad", cols, start, end) == before
    fake.restate(days=14)
    after = _daily(fake, ds, "ad", cols, start, end)
    cut = (TODAY - dt.timedelta(days=14)).isoformat()
    assert [r for r in before if r["DATE"] < cut] == [r for r in after if r["DATE"] < cut]
    old_recent = {(r["AD_ID"], r["DATE"]): r for r in before if r["DATE"] >= cut}
    new_recent = {(r["AD_ID"], r["DATE"]): r for r in after if r["DATE"] >= cut}
    assert old_recent.keys() == new_recent.keys() and old_recent
    for k, r in new_recent.items():
        assert r["SPEND_IN_MICRO_DOLLAR"] > old_recent[k]["SPEND_IN_MICRO_DOLLAR"]    # late spend
        assert r["PAID_IMPRESSION"] == old_recent[k]["PAID_IMPRESSION"]
    assert any(r.get("TOTAL_CONVERSIONS") != old_recent[k].get("TOTAL_CONVERSIONS") for k, r in new_recent.items())
    changed_pin_days = set()
    for p in pins:
        now = fake.pin_analytics_payload(p["id"], start, end, ["IMPRESSION", "SAVE"])["all"]["daily_metrics"]
        for a, b in zip(pin_before[p["id"]]["all"]["daily_metrics"], now):
            assert a["date"] == b["date"]
            if a["metrics"] != b["metrics"]:
                changed_pin_days.add(a["date"])
    assert changed_pin_days and min(changed_pin_days) >= cut


def test_blank_day_returns_nothing_for_that_day(own):
    ds, fake, srv = own
    s = _session()
    day = TODAY - dt.timedelta(days=3)
    acct = ds.ad_accounts[0]["id"]
    ids = [c["id"] for c in ds.campaigns if c["ad_account_id"] == acct]
    params = _query(ids, day - dt.timedelta(days=2), day + dt.timedelta(days=1))
    rows = s.get(_analytics_url(srv, acct), params=params).json()
    assert any(r["DATE"] == day.isoformat() for r in rows)
    pin = ds.pins[0]["id"]
    pparams = {"start_date": params["start_date"], "end_date": params["end_date"], "metric_types": "IMPRESSION"}
    fake.blank_day(day)
    after = s.get(_analytics_url(srv, acct), params=params).json()
    assert after == [r for r in rows if r["DATE"] != day.isoformat()]
    daily = s.get(f"{srv.url}/pins/{pin}/analytics", params=pparams).json()["all"]["daily_metrics"]
    assert day.isoformat() not in {d["date"] for d in daily} and len(daily) == 3
    fake.unblank_day(day)
    assert s.get(_analytics_url(srv, acct), params=params).json() == rows


def test_ids_of_other_accounts_are_ignored_and_forbidden_accounts(own):
    ds, fake, srv = own
    s = _session()
    a, b = ds.ad_accounts[0]["id"], ds.ad_accounts[1]["id"]
    ids_b = [c["id"] for c in ds.campaigns if c["ad_account_id"] == b]
    end = TODAY - dt.timedelta(days=1)
    assert s.get(_analytics_url(srv, a), params=_query(ids_b, end - dt.timedelta(days=30), end)).json() == []
    fake.forbid_account(b)
    for path in ("campaigns", "ads", "campaigns/analytics"):
        r = s.get(f"{srv.url}/ad_accounts/{b}/{path}", params=_query(ids_b, end, end))
        assert _error(r, 403, 29) == "You are not permitted to access that resource."
    assert b in {x["id"] for x in s.get(f"{srv.url}/ad_accounts").json()["items"]}
    fake.allow_account(b)
    assert s.get(f"{srv.url}/ad_accounts/{b}/campaigns").status_code == 200


def test_ads_analytics_by_campaign_and_pin_ids(shared):
    ds, fake, srv = shared
    acct = ds.ad_accounts[0]["id"]
    ads = [a for a in ds.ads if a["ad_account_id"] == acct]
    camp, pin = ads[0]["campaign_id"], ads[0]["pin_id"]
    chosen = [a["id"] for a in ads if a["campaign_id"] == camp and a["pin_id"] == pin]
    start, end = TODAY - dt.timedelta(days=80), TODAY - dt.timedelta(days=1)
    r = _session().get(_analytics_url(srv, acct, "ad"), params={
        "campaign_ids": camp, "pin_ids": pin, "start_date": start.isoformat(), "end_date": end.isoformat(),
        "columns": "SPEND_IN_MICRO_DOLLAR", "granularity": "TOTAL"})
    assert r.status_code == 200
    assert r.json() == fake.analytics_rows("ad", acct, chosen, start, end, "TOTAL", ["SPEND_IN_MICRO_DOLLAR"])


def test_analytics_values_are_deterministic_across_instances(shared):
    ds, fake, srv = shared
    other = FakePinterest(_dataset(), access_tokens=(TOKEN,))
    acct = ds.ad_accounts[1]["id"]
    ids = [c["id"] for c in ds.ads if c["ad_account_id"] == acct]
    start, end = TODAY - dt.timedelta(days=40), TODAY - dt.timedelta(days=1)
    rows = fake.analytics_rows("ad", acct, ids, start, end, columns=CORE)
    assert rows and rows == other.analytics_rows("ad", acct, ids, start, end, columns=CORE)
    with pytest.raises(FakeApiError) as e:
        fake.analytics_rows("ad", acct, ids, TODAY - dt.timedelta(days=95), end)
    assert e.value.status == 400 and "90 days" in e.value.message


def test_serving_250_ids_x_90_days_is_fast():
    ds = Dataset(seed=2, accounts=1, campaigns_per_account=10, ad_groups_per_campaign=5, ads_per_ad_group=5,
                 pins=0, today=TODAY, history_days=200)
    for ad_id in ds.activity["ad"]:
        ds.activity["ad"][ad_id] = (0, ds.today_ord)          # every ad delivers every day: ~22k rows
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    acct = ds.ad_accounts[0]["id"]
    params = {"ad_ids": ",".join(a["id"] for a in ds.ads), "start_date": (TODAY - dt.timedelta(days=90)).isoformat(),
              "end_date": (TODAY - dt.timedelta(days=1)).isoformat(), "granularity": "DAY",
              "columns": ",".join(["SPEND_IN_DOLLAR", "PAID_IMPRESSION", "TOTAL_IMPRESSION", "TOTAL_CLICKTHROUGH",
                                   "TOTAL_ENGAGEMENT", "CTR", "ECTR", "CPC_IN_MICRO_DOLLAR", "ECPC_IN_DOLLAR",
                                   "CAMPAIGN_ID", "AD_GROUP_ID", "PIN_ID", "CAMPAIGN_NAME", "AD_GROUP_NAME",
                                   "AD_NAME", "TOTAL_CONVERSIONS"])}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    fake.handle("GET", f"/v5/ad_accounts/{acct}/ads/analytics", params, headers)          # warm-up (imports)
    cpu = time.process_time()
    status, _, body = fake.handle("GET", f"/v5/ad_accounts/{acct}/ads/analytics", params, headers)
    cpu = time.process_time() - cpu
    assert status == 200 and len(ds.ads) == 250
    assert len(json.loads(body)) > 20_000
    assert cpu < 0.5, cpu


# ------------------------------------------------------------------------------------------ pin analytics

def test_pin_analytics_statuses_and_shape(shared):
    ds, fake, srv = shared
    s = _session()
    shown = [p for p in ds.pins if fake.pin_analytics_payload(p["id"], TODAY - dt.timedelta(days=1), TODAY,
                                                               ["IMPRESSION"])["all"]["summary_metrics"]]
    pin = max(shown, key=lambda p: p["created_at"] if p["created_at"] < "2026-11-20" else "")
    created = dt.date.fromisoformat(pin["created_at"][:10])
    start, end = created - dt.timedelta(days=3), TODAY - dt.timedelta(days=1)
    params = {"start_date": start.isoformat(), "end_date": end.isoformat(),
              "metric_types": "IMPRESSION,SAVE,SAVE_RATE,PIN_CLICK,TOTAL_COMMENTS,TOTAL_REACTIONS,VIDEO_MRC_VIEW"}
    r = s.get(f"{srv.url}/pins/{pin['id']}/analytics", params=params)
    assert r.status_code == 200
    body = r.json()
    assert body == fake.pin_analytics_payload(pin["id"], start, end, params["metric_types"].split(","))
    assert set(body) == {"all"} and set(body["all"]) == {"daily_metrics", "summary_metrics", "lifetime_metrics"}
    daily = body["all"]["daily_metrics"]
    assert [d["date"] for d in daily] == [(start + dt.timedelta(days=i)).isoformat()
                                          for i in range((end - start).days + 1)]
    for d in daily:
        day = dt.date.fromisoformat(d["date"])
        if day < created:
            assert d["data_status"] == "BEFORE_PIN_CREATED" and d["metrics"] == {}
        elif day >= TODAY - dt.timedelta(days=2):
            assert d["data_status"] == "PROCESSING"
        else:
            assert d["data_status"] == "READY"
        assert all(v != 0 for v in d["metrics"].values())
        assert "VIDEO_MRC_VIEW" not in d["metrics"] and "TOTAL_COMMENTS" not in d["metrics"]
        if "SAVE_RATE" in d["metrics"]:
            assert isinstance(d["metrics"]["SAVE_RATE"], float)
            assert d["metrics"]["SAVE_RATE"] == round(d["metrics"]["SAVE"] / d["metrics"]["IMPRESSION"], 6)
    assert body["all"]["summary_metrics"]["IMPRESSION"] == sum(d["metrics"].get("IMPRESSION", 0) for d in daily)
    assert all(type(v) is int for v in body["all"]["lifetime_metrics"].values())
    assert set(body["all"]["lifetime_metrics"]) <= {"TOTAL_COMMENTS", "TOTAL_REACTIONS"}
    split = s.get(f"{srv.url}/pins/{pin['id']}/analytics", params={**params, "split_field": "APP_TYPE"}).json()
    assert set(split) == {"MOBILE", "TABLET", "WEB"}
    for i, d in enumerate(daily):       # "all" is the sum of the app types
        assert d["metrics"].get("IMPRESSION", 0) == sum(
            split[a]["daily_metrics"][i]["metrics"].get("IMPRESSION", 0) for a in split)
    web = s.get(f"{srv.url}/pins/{pin['id']}/analytics", params={**params, "app_types": "WEB"}).json()
    assert web["all"]["daily_metrics"] == split["WEB"]["daily_metrics"]


def test_pin_metrics_only_when_asked_and_equal_to_the_sums_of_the_daily_analytics(shared):
    ds, fake, srv = shared
    s = _session()
    plain, _ = _walk(s, f"{srv.url}/pins", {"include_protected_pins": "true"})
    assert {p["id"] for p in plain} == {p["id"] for p in ds.pins} and all(p["pin_metrics"] is None for p in plain)
    asked, _ = _walk(s, f"{srv.url}/pins", {"pin_metrics": "true", "include_protected_pins": "true"})
    assert [{**p, "pin_metrics": None} for p in asked] == plain
    names = {"impression": "IMPRESSION", "pin_click": "PIN_CLICK", "clickthrough": "OUTBOUND_CLICK"}
    zero = 0
    for p in asked[::7]:
        pm = p["pin_metrics"]
        assert set(pm) == {"90d", "lifetime_metrics"} and set(pm["90d"]) == set(names)
        assert set(pm["lifetime_metrics"]) == set(names) | {"reaction", "comment"}
        created = dt.date.fromisoformat(p["created_at"][:10])
        for key, since in (("90d", TODAY - dt.timedelta(days=89)), ("lifetime_metrics", created)):
            if since < TODAY - dt.timedelta(days=90):       # older than the analytics endpoint serves
                assert all(pm[key][k] >= pm["90d"][k] for k in names)
                continue
            days = fake.pin_analytics_payload(p["id"], since, TODAY, list(names.values()))["all"]["daily_metrics"]
            for k, metric in names.items():
                assert pm[key][k] == sum(d["metrics"].get(metric, 0) for d in days), (key, k)
        life = fake.pin_analytics_payload(p["id"], TODAY, TODAY, ["TOTAL_COMMENTS", "TOTAL_REACTIONS"])
        assert pm["lifetime_metrics"]["comment"] == life["all"]["lifetime_metrics"].get("TOTAL_COMMENTS", 0)
        assert pm["lifetime_metrics"]["reaction"] == life["all"]["lifetime_metrics"].get("TOTAL_REACTIONS", 0)
        zero += not any(pm["lifetime_metrics"].values())
    assert 0 < zero < len(asked[::7])          # some pins were never shown
    _error(s.get(f"{srv.url}/pins", params={"pin_metrics": "yes"}), 400, 1)


def test_protected_pins_are_listed_only_when_asked_and_only_for_a_token_with_the_secret_scope(own):
    ds, fake, srv = own
    s = _session()
    protected = {p["id"] for p in ds.pins if p["board_id"] in SECRET_BOARDS}
    assert 0 < len(protected) < len(ds.pins) / 2
    public, _ = _walk(s, f"{srv.url}/pins")
    assert {p["id"] for p in public} == {p["id"] for p in ds.pins} - protected
    every, _ = _walk(s, f"{srv.url}/pins", {"include_protected_pins": "true"})
    assert {p["id"] for p in every} == {p["id"] for p in ds.pins}
    fake.scope_text = "ads:read,boards:read,pins:read"
    msg = _error(s.get(f"{srv.url}/pins", params={"include_protected_pins": "true"}), 401, 3)
    assert "scopes" in msg
    assert s.get(f"{srv.url}/pins", params={"include_protected_pins": "false"}).status_code == 200
    tok = requests.post(f"{srv.url}/oauth/token", auth=("app-id", "app-secret"),
                        data={"grant_type": "refresh_token", "refresh_token": "pinr.initial"}).json()
    assert tok["scope"] == "ads:read,boards:read,pins:read"


def test_pin_analytics_errors(shared):
    ds, fake, srv = shared
    s = _session()
    pin = ds.pins[0]["id"]
    end = TODAY - dt.timedelta(days=1)
    good = {"start_date": end.isoformat(), "end_date": end.isoformat(), "metric_types": "IMPRESSION"}
    url = f"{srv.url}/pins/{pin}/analytics"
    # the spec's example bodies: 404 code 404 here, code 50 on the multi-pin endpoint
    assert _error(s.get(f"{srv.url}/pins/123456789012345678/analytics", params=good), 404, 404) == "Pin not found."
    for bad in ({"start_date": (TODAY - dt.timedelta(days=91)).isoformat()}, {"metric_types": "IMPRESSIONS"},
                {"metric_types": ""}, {"end_date": (end - dt.timedelta(days=1)).isoformat()},
                {"split_field": "DEVICE"}, {"app_types": "IOS"}):
        msg = _error(s.get(url, params={**good, **bad}), 400, 400)
        assert msg.startswith("Invalid pins analytics parameters.")
    msg = _error(s.get(url, params={**good, "start_date": (TODAY - dt.timedelta(days=91)).isoformat()}), 400, 400)
    assert "You can only get data from the last 90 days" in msg


def test_multi_pin_analytics_limit_and_beta_flag(own):
    ds, fake, srv = own
    s = _session()
    ids = [p["id"] for p in ds.pins]
    start, end = TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=1)
    params = {"start_date": start.isoformat(), "end_date": end.isoformat(), "metric_types": "IMPRESSION,SAVE"}
    r = s.get(f"{srv.url}/pins/analytics", params={**params, "pin_ids": ",".join(ids[:10] + ["999999999999999999"])})
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ids[:10]                                # unknown ids are left out
    assert body[ids[3]] == fake.pin_analytics_payload(ids[3], start, end, ["IMPRESSION", "SAVE"])
    fake.add_pins(70)
    ids = [p["id"] for p in ds.pins]
    assert len(ids) == 110
    assert s.get(f"{srv.url}/pins/analytics", params={**params, "pin_ids": ",".join(ids[:100])}).status_code == 200
    msg = _error(s.get(f"{srv.url}/pins/analytics", params={**params, "pin_ids": ",".join(ids[:101])}), 400, 1)
    assert "pin_ids" in msg
    _error(s.get(f"{srv.url}/pins/analytics", params=params), 400, 1)
    _error(s.get(f"{srv.url}/pins/analytics", params={**params, "pin_ids": "999999999999999999"}), 404, 50)
    fake.multi_pin_analytics = False          # the spec's "not authorized" answer of the beta endpoint
    r = s.get(f"{srv.url}/pins/analytics", params={**params, "pin_ids": ids[0]})
    assert _error(r, 401, 7) == "Not authorized to access board or Pin."
    assert fake.calls["multi_pin_analytics"] == 6
    fake.multi_pin_analytics = True
    fake.forbid_pin(ids[1])                   # a pin the user may not access: alone 403, in a batch 401 code 7
    _error(s.get(f"{srv.url}/pins/analytics", params={**params, "pin_ids": ",".join(ids[:3])}), 401, 7)
    assert _error(s.get(f"{srv.url}/pins/{ids[1]}/analytics", params=params), 403, 403) == \
        "Not authorized to access board or Pin."
    assert s.get(f"{srv.url}/pins/{ids[0]}/analytics", params=params).status_code == 200
    fake.allow_pin(ids[1])
    assert s.get(f"{srv.url}/pins/analytics", params={**params, "pin_ids": ",".join(ids[:3])}).status_code == 200


# ------------------------------------------------------------------------------------------ mutations

def test_touch_and_add_pins(own):
    ds, fake, srv = own
    s = _session()
    camp = ds.campaigns[0]
    fake.touch("campaigns", [camp["id"]], at=1_790_000_000)
    listed = _walk(s, f"{srv.url}/ad_accounts/{camp['ad_account_id']}/campaigns",
                   {"entity_statuses": ALL_STATUSES})[0]
    got = next(c for c in listed if c["id"] == camp["id"])
    assert got["name"].endswith(" v2") and got["updated_time"] == 1_790_000_000
    fake.touch("campaigns", camp["id"])
    assert camp["name"].endswith(" v3") and not camp["name"].endswith(" v2 v3")
    assert abs(camp["updated_time"] - time.time()) < 5
    pin = ds.pins[0]
    fake.touch("pins", [pin["id"]])
    assert (pin["title"] or "").endswith(" v2")
    newest_before = _walk(s, f"{srv.url}/pins", {"include_protected_pins": "true"}, page_size=250)[0][0]
    new = fake.add_pins(3)
    pins = _walk(s, f"{srv.url}/pins", {"include_protected_pins": "true"}, page_size=250)[0]
    assert len(pins) == len(ds.pins) == 43
    assert {p["id"] for p in pins[:3]} == {p["id"] for p in new} and pins[3] == newest_before
    assert all(int(p["id"]) > int(newest_before["id"]) for p in new)
    assert all(p["created_at"].startswith(TODAY.isoformat()) for p in new)
    with pytest.raises(KeyError):
        fake.touch("ads", ["1"])


# ------------------------------------------------------------------------------------------ faults

def test_status_faults_with_after_and_times(own):
    ds, fake, srv = own
    s = _session()
    url = f"{srv.url}/ad_accounts"
    fake.add_fault("ad_accounts", "status", status=429, times=2, after=1, headers={"x-ratelimit-reset": "1"})
    assert fake.faults_pending() == 2
    assert s.get(url).status_code == 200                         # skipped
    for _ in range(2):
        r = s.get(url)
        assert _error(r, 429, 8).startswith("This request exceeded a rate limit")
        assert r.headers["x-ratelimit-reset"] == "1"
    assert s.get(url).status_code == 200 and fake.faults_pending() == 0
    fake.add_fault("*", "status", status=503, headers={"Retry-After": "2"})
    r = s.get(f"{srv.url}/pins")
    assert r.status_code == 503 and r.headers["Retry-After"] == "2" and r.json()["code"] == 503
    fake.add_fault("pins", "status", status=500, body={"code": 1, "message": "boom"})
    assert s.get(url).status_code == 200                         # other routes unaffected
    assert s.get(f"{srv.url}/pins").json() == {"code": 1, "message": "boom"}
    with pytest.raises(ValueError):
        fake.add_fault("pins", "explode")
    with pytest.raises(ValueError):
        fake.add_fault("no_such_route", "reset")


def test_reset_fault_closes_the_connection_without_a_response(own):
    ds, fake, srv = own
    fake.add_fault("ad_accounts", "reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        _session().get(f"{srv.url}/ad_accounts")
    assert _session().get(f"{srv.url}/ad_accounts").status_code == 200
    assert fake.calls["ad_accounts"] == 2
    fake.add_fault("ad_accounts", "reset")
    with pytest.raises(ConnectionResetError):
        fake.handle("GET", "/v5/ad_accounts", {}, {"Authorization": f"Bearer {TOKEN}"})


def test_timeout_fault_delays_the_answer(own):
    ds, fake, srv = own
    fake.timeout_sleep = 0.6
    fake.add_fault("pins", "timeout")
    with pytest.raises(requests.exceptions.ReadTimeout):
        _session().get(f"{srv.url}/pins", timeout=0.2)
    fake.add_fault("pins", "timeout")
    t = time.perf_counter()
    r = _session().get(f"{srv.url}/pins", timeout=5)
    assert r.status_code == 200 and time.perf_counter() - t >= 0.55


def _raw_get(srv, path: str) -> tuple[bytes, bytes]:
    """One HTTP/1.1 GET over a bare socket: (head, body as received until the server closed)."""
    host, port = "127.0.0.1", srv.port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_truncate_fault_sends_half_the_body(own):
    ds, fake, srv = own
    fake.add_fault("ad_accounts", "truncate")
    head, body = _raw_get(srv, "/v5/ad_accounts?page_size=5")
    assert head.startswith(b"HTTP/1.1 200")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    assert 0 < len(body) == length // 2
    with pytest.raises(ValueError):
        json.loads(body)
    fake.add_fault("ad_accounts", "truncate")
    with pytest.raises(requests.exceptions.RequestException):
        _session().get(f"{srv.url}/ad_accounts")
    fake.add_fault("pins", "truncate")
    status, headers, half = fake.handle("GET", "/v5/pins", {}, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and len(half) == int(headers["Content-Length"]) // 2


def test_html_empty_and_repeat_bookmark_faults(own):
    ds, fake, srv = own
    s = _session()
    fake.add_fault("pins", "html")
    r = s.get(f"{srv.url}/pins")
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    assert r.text == "<html><body>Bad Gateway</body></html>"
    fake.add_fault("pins", "html", status=200)
    r = s.get(f"{srv.url}/pins")
    assert r.status_code == 200 and r.text.startswith("<html>")
    fake.add_fault("pins", "empty")
    r = s.get(f"{srv.url}/pins")
    assert r.status_code == 200 and r.content == b"" and r.headers["Content-Length"] == "0"
    # repeat_bookmark: the first page passes, the next one echoes the bookmark it was sent
    fake.add_fault("pins", "repeat_bookmark")
    first = s.get(f"{srv.url}/pins", params={"page_size": 10}).json()
    assert fake.faults_pending() == 1
    again = s.get(f"{srv.url}/pins", params={"page_size": 10, "bookmark": first["bookmark"]}).json()
    assert again["bookmark"] == first["bookmark"] and fake.faults_pending() == 0
    assert again["items"] == s.get(f"{srv.url}/pins", params={"page_size": 10,
                                                              "bookmark": first["bookmark"]}).json()["items"]


# ------------------------------------------------------------------------------------------ limits & counters

def test_rate_limits_per_category(own):
    ds, fake, srv = own
    fake.rate_limits = {"org_analytics": 3, "ads_read": 100}
    fake.rate_limit_window = 1.0
    s = _session()
    end = TODAY - dt.timedelta(days=1)
    params = {"start_date": end.isoformat(), "end_date": end.isoformat(), "metric_types": "IMPRESSION"}
    pin = ds.pins[0]["id"]
    remaining = []
    for _ in range(3):
        r = s.get(f"{srv.url}/pins/{pin}/analytics", params=params)
        assert r.status_code == 200 and r.headers["x-ratelimit-limit"] == "3"
        remaining.append(r.headers["x-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]
    r = s.get(f"{srv.url}/pins/analytics", params={**params, "pin_ids": pin})      # same category
    assert _error(r, 429, api.RATE_LIMIT_CODE).startswith("This request exceeded a rate limit")
    assert 1 <= int(r.headers["x-ratelimit-reset"]) <= 2 and r.headers["x-ratelimit-remaining"] == "0"
    r = s.get(f"{srv.url}/ad_accounts")                                               # other category
    assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == "99"
    assert "x-ratelimit-limit" not in s.get(f"{srv.url}/pins").headers                # no limit configured
    r = s.get(f"{srv.url}/pins/{pin}/analytics", params=params)
    assert r.status_code == 429
    time.sleep(int(r.headers["x-ratelimit-reset"]))                                   # a slot frees by then
    assert s.get(f"{srv.url}/pins/{pin}/analytics", params=params).status_code == 200


def test_calls_requests_and_reset_counters(own):
    ds, fake, srv = own
    fake.reset_counters()
    s = _session()
    acct = ds.ad_accounts[0]["id"]
    s.get(f"{srv.url}/ad_accounts")
    s.get(f"{srv.url}/ad_accounts/{acct}/campaigns", params={"entity_statuses": ["ACTIVE", "ARCHIVED"]})
    s.get(f"{srv.url}/ad_accounts/{acct}/ads/analytics", params={"ad_ids": "1"})       # failed: still counted
    requests.get(f"{srv.url}/pins")                                                     # 401: still counted
    assert fake.calls == collections.Counter({"ad_accounts": 1, "campaigns": 1, "ad_analytics": 1, "pins": 1})
    assert fake.requests[1] == ("GET", f"/v5/ad_accounts/{acct}/campaigns",
                                {"entity_statuses": ["ACTIVE", "ARCHIVED"]})
    assert [r[1] for r in fake.requests][-1] == "/v5/pins"
    fake.reset_counters()
    assert not fake.calls and fake.requests == []


def test_latency_and_concurrency():
    ds = _dataset(accounts=1, campaigns_per_account=2, pins=10)
    fake = FakePinterest(ds, access_tokens=(TOKEN,), latency=0.2)
    with FakeServer(fake) as srv:
        results = []

        def get():
            results.append(_session().get(f"{srv.url}/ad_accounts").status_code)

        threads = [threading.Thread(target=get) for _ in range(8)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t
    assert results == [200] * 8 and fake.calls["ad_accounts"] == 8
    assert 0.2 <= elapsed < 1.0                                    # slept in parallel, not in series


def test_handle_works_without_a_server(shared):
    ds, fake, srv = shared
    status, headers, body = fake.handle("GET", "/v5/ad_accounts", {"page_size": ["250"]},
                                        {"Authorization": f"Bearer {TOKEN}"}, b"")
    assert status == 200 and headers["Content-Type"] == "application/json" and headers["x-pinterest-rid"]
    assert json.loads(body) == {"items": ds.ad_accounts, "bookmark": None}
    status, _, body = fake.handle("GET", "/v5/ad_accounts?page_size=1", None, {"authorization": f"Bearer {TOKEN}"})
    assert status == 200 and len(json.loads(body)["items"]) == 1


def test_advance_is_the_same_world_a_day_later():
    """A benchmark's "next day": same entities and the same history; today's delivery goes on."""
    today = TODAY
    shape = dict(seed=3, accounts=2, campaigns_per_account=4, ad_groups_per_campaign=2, ads_per_ad_group=3, pins=40)
    before, after = Dataset(today=today, **shape), Dataset(today=today, **shape).advance(1)
    assert after.today == today + dt.timedelta(days=1)
    for kind in ("ad_accounts", "campaigns", "ad_groups", "ads", "pins"):
        assert after.items(kind) == before.items(kind)
    f0, f1 = FakePinterest(before), FakePinterest(after)
    start = today - dt.timedelta(days=30)
    for acct in before.ad_accounts:
        ids = [a["id"] for a in before.ads if a["ad_account_id"] == acct["id"]]
        old = f0.analytics_rows("ad", acct["id"], ids, start, today - dt.timedelta(days=1))
        new = f1.analytics_rows("ad", acct["id"], ids, start, today)
        assert [r for r in new if r["DATE"] < today.isoformat()] == old          # history unchanged
        assert [r for r in new if r["DATE"] == today.isoformat()]               # delivery goes on
    pin = before.pins[0]["id"]
    old = f0.pin_analytics_payload(pin, start, today - dt.timedelta(days=3), ["IMPRESSION", "SAVE"])
    new = f1.pin_analytics_payload(pin, start, today - dt.timedelta(days=3), ["IMPRESSION", "SAVE"])
    assert old["all"]["daily_metrics"] == new["all"]["daily_metrics"]


def test_request_lines_over_8_kb_are_refused_with_414_like_a_front_end(shared):
    ds, fake, srv = shared
    prefix = f"/v5/ad_accounts/{ds.ad_accounts[0]['id']}/campaigns?campaign_ids="
    overhead = len("GET  HTTP/1.1") + len(prefix)
    for line, refused in ((8192, False), (8193, True)):
        ids = "1" * (line - overhead)                # one long (unknown) id: only the length matters here
        head, body = _raw_get(srv, prefix + ids)
        assert head.startswith(b"HTTP/1.1 414") == refused, (line, head[:40])
        if refused:
            assert b"414 Request-URI Too Large" in body
    # the in-process router measures the line it would have received
    query = {"campaign_ids": ["1" * (8193 - overhead)]}
    status, _, _ = fake.handle("GET", prefix.split("?")[0], query, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 414


def test_duplicate_rows_fault_sends_a_stale_copy_before_each_row(own):
    ds, fake, srv = own
    acct = ds.ad_accounts[0]["id"]
    ids = [c["id"] for c in ds.campaigns if c["ad_account_id"] == acct]
    day = TODAY - dt.timedelta(days=3)
    params = _query(ids, day, day, columns=["SPEND_IN_MICRO_DOLLAR", "CTR"])
    truth = _session().get(_analytics_url(srv, acct), params=params).json()
    fake.add_fault("campaign_analytics", "duplicate_rows")
    twice = _session().get(_analytics_url(srv, acct), params=params).json()
    assert truth and twice[1::2] == truth
    for stale, row in zip(twice[::2], truth):
        assert stale == {**row, "SPEND_IN_MICRO_DOLLAR": row["SPEND_IN_MICRO_DOLLAR"] - 1}
    assert _session().get(_analytics_url(srv, acct), params=params).json() == truth     # fired once
