"""The fake's asynchronous reports: the spec's request body, the report lifecycle, the download host.

Tests talk HTTP with plain ``requests`` to a :class:`FakeServer`, as pinsync does.
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit

import pytest
import requests

from pinsync import api
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.fake.reports import REQUEST_FIELDS, REQUIRED, Field
from tests.conftest import SPEC_PATH, TODAY

TOKEN = "pina.reports-test-token"
BAD = "Invalid ad account ads analytics parameters."
COLUMNS = ["SPEND_IN_MICRO_DOLLAR", "TOTAL_CLICKTHROUGH", "CTR", "CAMPAIGN_NAME", "TOTAL_CONVERSIONS"]


@pytest.fixture
def env():
    ds = Dataset(seed=3, accounts=2, campaigns_per_account=6, ad_groups_per_campaign=3, ads_per_ad_group=3, pins=20,
                 today=TODAY, history_days=400)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        yield ds, fake, srv, session


def _body(**kw) -> dict:
    body = {"start_date": (TODAY - dt.timedelta(days=30)).isoformat(),
            "end_date": (TODAY - dt.timedelta(days=1)).isoformat(), "granularity": "DAY", "level": "CAMPAIGN",
            "columns": COLUMNS}
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def _reports(srv, account) -> str:
    return f"{srv.url}/ad_accounts/{account}/reports"


def _create(session, srv, account, **kw) -> str:
    r = session.post(_reports(srv, account), json=_body(**kw))
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _poll_until_done(session, srv, account, token, limit=10) -> dict:
    for _ in range(limit):
        r = session.get(_reports(srv, account), params={"token": token})
        assert r.status_code == 200, r.text
        if r.json()["report_status"] != "IN_PROGRESS":
            return r.json()
    raise AssertionError("still in progress")


# ------------------------------------------------------------------------------------------ the spec

def _resolve(schemas: dict, s: dict) -> dict:
    """A property schema with its $ref / allOf merged into one mapping."""
    while "$ref" in s:
        s = schemas[s["$ref"].rsplit("/", 1)[-1]]
    out = {k: v for k, v in s.items() if k != "allOf"}
    for sub in s.get("allOf", []):
        out = {**_resolve(schemas, sub), **out}
    return out


def _field(schemas: dict, s: dict) -> Field:
    s = _resolve(schemas, s)
    fields = tuple((k, _field(schemas, v)) for k, v in s.get("properties", {}).items())
    return Field(s["type"], enum=tuple(s.get("enum", ())), pattern=s.get("pattern"), minimum=s.get("minimum"),
                 maximum=s.get("maximum"), items=_field(schemas, s["items"]) if "items" in s else None,
                 min_items=s.get("minItems"), max_items=s.get("maxItems"), fields=fields,
                 required=tuple(s.get("required", ())))


def _sorted(f: Field | None) -> Field | None:
    """``f`` with its enums in a canonical order (the order of an enum means nothing)."""
    if f is None:
        return None
    return Field(f.type, tuple(sorted(f.enum, key=str)), f.pattern, f.minimum, f.maximum, _sorted(f.items),
                 f.min_items, f.max_items, tuple((k, _sorted(v)) for k, v in f.fields), f.required)


def _members(schemas: dict, s: dict) -> tuple[dict, list]:
    s = schemas[s["$ref"].rsplit("/", 1)[-1]] if "$ref" in s else s
    props, required = dict(s.get("properties", {})), list(s.get("required", []))
    for sub in s.get("allOf", []):
        p, r = _members(schemas, sub)
        props.update(p)
        required += r
    return props, required


def test_the_report_body_the_fake_accepts_is_the_spec_s():
    spec = json.loads(SPEC_PATH.read_text())
    schemas = spec["components"]["schemas"]
    props, required = _members(schemas, schemas["AdsAnalyticsCreateAsyncRequest"])
    assert set(REQUIRED) == set(required) == {"start_date", "end_date", "granularity", "level", "columns"}
    assert set(REQUEST_FIELDS) == set(props)
    for name, prop in props.items():
        assert _sorted(REQUEST_FIELDS[name]) == _sorted(_field(schemas, prop)), name
    assert set(api.REPORT_COLUMNS) == set(schemas["ReportingColumnAsync"]["enum"]) and len(api.REPORT_COLUMNS) == 613
    assert api.REPORT_LEVELS == tuple(schemas["MetricsReportingLevel"]["enum"])
    assert api.REPORT_STATUSES == tuple(schemas["BulkReportingJobStatus"]["enum"])
    assert set(api.REPORT_UNSUPPORTED_COLUMNS) == set(api.ANALYTICS_COLUMNS) - set(api.REPORT_COLUMNS)


def test_keywords_are_spec_shaped_and_belong_to_ad_groups_campaigns_and_accounts(env):
    ds = env[0]
    spec = json.loads(SPEC_PATH.read_text())
    props, _ = _members(spec["components"]["schemas"], spec["components"]["schemas"]["Keyword"])
    assert len(ds.keywords) > 20
    match_types = set(spec["components"]["schemas"]["MatchTypeResponse"]["enum"])
    parents = {"ad_group": ds.ad_group_by_id, "campaign": ds.campaign_by_id, "advertiser": ds.account_by_id}
    for k in ds.keywords:
        assert set(k) == set(props)
        assert k["id"].isdigit() and int(k["id"]) > 2 ** 53 and k["parent_id"] in parents[k["parent_type"]]
        assert k["type"] == "keyword" and k["match_type"] in match_types
        # "Advertisers and campaigns can only be assigned keywords with excluding ('_NEGATIVE')"
        assert k["parent_type"] == "ad_group" or k["match_type"].endswith("_NEGATIVE")
    assert {k["parent_type"] for k in ds.keywords} == set(parents)
    assert [int(k["id"]) for k in ds.keywords] == sorted(int(k["id"]) for k in ds.keywords)
    assert len({k["id"] for k in ds.keywords}) == len(ds.keywords)
    again = Dataset(seed=3, accounts=2, campaigns_per_account=6, ad_groups_per_campaign=3, ads_per_ad_group=3,
                    pins=20, today=TODAY, history_days=400)
    assert again.keywords == ds.keywords


# ------------------------------------------------------------------------------------------ validation

@pytest.mark.parametrize("change,why", [
    (dict(start_date=(TODAY - dt.timedelta(days=187)).isoformat()), "187 days"),
    (dict(start_date=(TODAY - dt.timedelta(days=915)).isoformat(),
          end_date=(TODAY - dt.timedelta(days=900)).isoformat()), "915 days back"),
    (dict(granularity="HOUR", start_date=(TODAY - dt.timedelta(days=4)).isoformat()), "HOUR: 4 days"),
    (dict(granularity="HOUR", start_date=(TODAY - dt.timedelta(days=9)).isoformat(),
          end_date=(TODAY - dt.timedelta(days=8)).isoformat()), "HOUR: 9 days back"),
    (dict(level="PRODUCT_ITEM", start_date=(TODAY - dt.timedelta(days=32)).isoformat()), "PRODUCT_ITEM: 32 days"),
    (dict(level="PRODUCT_ITEM", ad_ids=["1"]), "PRODUCT_ITEM with ad_ids"),
    (dict(end_date=(TODAY - dt.timedelta(days=31)).isoformat()), "end before start"),
    (dict(start_date="2026-02-30"), "not a date"),
    (dict(start_date="20261101"), "date pattern"),
    (dict(granularity="DAILY"), "granularity enum"),
    (dict(level="AD"), "level enum"),
    (dict(columns=["SPEND_IN_MICRO_DOLLAR", "NOT_A_COLUMN"]), "column enum"),
    (dict(columns=["QUIZ_PIN_RESULT_OPEN"]), "a synchronous column reports do not know"),
    (dict(columns="SPEND_IN_MICRO_DOLLAR"), "columns not an array"),
    (dict(click_window_days=2), "attribution window enum"),
    (dict(view_window_days="1"), "window as a string"),
    (dict(conversion_report_time="NOW"), "conversion_report_time enum"),
    (dict(campaign_ids=[str(10 ** 17 + i) for i in range(501)]), "501 campaign ids"),
    (dict(campaign_ids=[]), "no campaign ids"),
    (dict(ad_group_ids=["12x"]), "id pattern"),
    (dict(campaign_statuses=["ACTIVE"]), "summary status enum"),
    (dict(start_hour=24), "start_hour maximum"),
    (dict(targeting_types=["GENDER"]), "targeting_types without a targeting level"),
    (dict(level="CAMPAIGN_TARGETING"), "a targeting level without targeting_types"),
    (dict(level="CAMPAIGN_TARGETING", targeting_types=["GENDER", "COUNTRY", "APPTYPE", "PLACEMENT", "KEYWORD",
                                                       "REGION"]), "six targeting types"),
    (dict(level="CAMPAIGN_TARGETING", targeting_types=["CREATIVE_TYPE"]), "a type outside TargetingTypeFilter"),
    (dict(level="AD_GROUP_TARGETING", targeting_types=["AUDIENCE_MULTIPLIER"]), "AUDIENCE_MULTIPLIER off its level"),
    (dict(level="PIN_PROMOTION_TARGETING", targeting_types=["MEDIA_TYPE"]), "MEDIA_TYPE off its level"),
    (dict(level="ADVERTISER_TARGETING", targeting_types=["GENDER"], columns=COLUMNS + ["TOTAL_IMPRESSION_USER"]),
     "reach in a targeting report"),
    (dict(level="ADVERTISER_TARGETING", targeting_types=["GENDER"], combine_targeting_types="no"),
     "combine_targeting_types not a boolean"),
    (dict(metrics_filters=[{"field": "SPEND_IN_DOLLAR", "operator": "LESS_THAN"}]), "filter without values"),
    (dict(report_format="XLSX"), "report_format enum"),
    (dict(level=None), "level missing"),
    (dict(columns=None), "columns missing"),
    (dict(ad_account_id="1"), "a member the spec does not declare"),
])
def test_report_creation_rejects_what_the_spec_does_not_allow(env, change, why):
    ds, fake, srv, session = env
    r = session.post(_reports(srv, ds.ad_accounts[0]["id"]), json=_body(**change))
    assert r.status_code == 400, why
    assert r.json()["code"] == 400 and r.json()["message"].startswith(BAD), (why, r.json())
    assert not fake.reports.by_token


@pytest.mark.parametrize("change", [
    dict(start_date=(TODAY - dt.timedelta(days=186)).isoformat()),                    # 186 days
    dict(start_date=(TODAY - dt.timedelta(days=914)).isoformat(),
         end_date=(TODAY - dt.timedelta(days=729)).isoformat()),                      # 914 back, 186 days
    dict(granularity="HOUR", start_date=(TODAY - dt.timedelta(days=8)).isoformat(),
         end_date=(TODAY - dt.timedelta(days=6)).isoformat()),
    dict(level="KEYWORD", granularity="MONTH", click_window_days=7, view_window_days=7,
         conversion_report_time="TIME_OF_CONVERSION", attribution_types=["INDIVIDUAL"], campaign_statuses=["RUNNING"],
         metrics_filters=[{"field": "TOTAL_IMPRESSION", "operator": "GREATER_THAN", "values": [10]}],
         report_format="JSON", primary_sort="BY_ID", columns=COLUMNS + ["ADS_CREDIT_SPEND_IN_DOLLAR"]),
    dict(level="CAMPAIGN_TARGETING", targeting_types=["GENDER", "COUNTRY", "APPTYPE", "AUDIENCE_MULTIPLIER", "GEO"],
         combine_targeting_types=False),
    dict(level="PIN_PROMOTION_TARGETING", targeting_types=["LOCATION"], granularity="HOUR",
         start_date=(TODAY - dt.timedelta(days=8)).isoformat(), end_date=(TODAY - dt.timedelta(days=6)).isoformat()),
])
def test_report_creation_accepts_the_limits(env, change):
    ds, fake, srv, session = env
    r = session.post(_reports(srv, ds.ad_accounts[0]["id"]), json=_body(**change))
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"token", "report_status", "message"} and r.json()["report_status"] == "IN_PROGRESS"


def test_the_report_routes_take_no_undeclared_query_parameters(env):
    ds, fake, srv, session = env
    account = ds.ad_accounts[0]["id"]
    r = session.post(_reports(srv, account), json=_body(), params={"level": "CAMPAIGN"})
    assert r.status_code == 400 and r.json()["message"].startswith(BAD)
    r = session.post(_reports(srv, account), data=b"level=CAMPAIGN",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.json()["message"].startswith(BAD)
    token = _create(session, srv, account)
    r = session.get(_reports(srv, account), params={"token": token, "page_size": 25})
    assert r.status_code == 400 and r.json()["message"].startswith(BAD)
    r = session.get(_reports(srv, account))
    assert r.status_code == 400 and "token" in r.json()["message"]
    assert session.put(_reports(srv, account), json=_body()).status_code == 405


# ------------------------------------------------------------------------------------------ lifecycle

def test_a_report_is_in_progress_for_a_few_polls_then_finished_with_a_link_to_another_host(env):
    ds, fake, srv, session = env
    spec = json.loads(SPEC_PATH.read_text())["components"]["schemas"]
    account = ds.ad_accounts[0]["id"]
    fake.reports.polls_in_progress = 3
    token = _create(session, srv, account)
    statuses = [session.get(_reports(srv, account), params={"token": token}).json() for _ in range(4)]
    assert [s["report_status"] for s in statuses] == ["IN_PROGRESS"] * 3 + ["FINISHED"]
    for s in statuses:
        assert set(s) == set(spec["AdsAnalyticsGetAsyncResponse"]["properties"])
    assert statuses[0]["url"] is None and statuses[0]["size"] is None
    url = statuses[-1]["url"]
    link, api_host = urlsplit(url), urlsplit(srv.url)
    assert link.hostname == "127.0.0.1" and link.port != api_host.port and link.port == urlsplit(srv.download_url).port
    assert "X-Amz-Signature=" in link.query and "X-Amz-Expires=300" in link.query
    file = requests.get(url)
    assert file.status_code == 200 and len(file.content) == statuses[-1]["size"]
    assert isinstance(file.json(), dict) and file.json()
    assert fake.calls["create_report"] == 1 and fake.calls["get_report"] == 4 and fake.calls["report_download"] == 1


def test_the_download_host_refuses_any_authorization_header_and_records_what_it_got(env):
    ds, fake, srv, session = env
    account = ds.ad_accounts[0]["id"]
    url = _poll_until_done(session, srv, account, _create(session, srv, account))["url"]
    for auth in (f"Bearer {TOKEN}", "Basic eDp5", "AWS4-HMAC-SHA256 Credential=x"):
        r = requests.get(url, headers={"Authorization": auth})
        assert r.status_code == 403 and b"AccessDenied" in r.content
    assert session.get(url).status_code == 403          # the API session's header is refused too
    assert requests.get(url).status_code == 200
    assert [d[3].get("authorization") for d in fake.downloads] == [
        f"Bearer {TOKEN}", "Basic eDp5", "AWS4-HMAC-SHA256 Credential=x", f"Bearer {TOKEN}", None]
    assert all(d[1] == urlsplit(url).path for d in fake.downloads)


def test_links_and_reports_expire(env):
    ds, fake, srv, session = env
    account = ds.ad_accounts[0]["id"]
    token = _create(session, srv, account)
    url = _poll_until_done(session, srv, account, token)["url"]
    fake.reports.expire_links()
    r = requests.get(url)
    assert r.status_code == 403 and b"Request has expired" in r.content
    fresh = session.get(_reports(srv, account), params={"token": token}).json()
    assert fresh["report_status"] == "FINISHED" and fresh["url"] != url and requests.get(fresh["url"]).ok
    fake.reports.link_lifetime = 0.0
    zero = session.get(_reports(srv, account), params={"token": token}).json()["url"]
    assert requests.get(zero).status_code == 403
    fake.reports.expire()
    assert session.get(_reports(srv, account), params={"token": token}).json() == {
        "report_status": "EXPIRED", "url": None, "size": None}
    fake.reports.lifetime = 0.0
    later = _create(session, srv, account)
    assert session.get(_reports(srv, account), params={"token": later}).json()["report_status"] == "EXPIRED"
    forged = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert b"SignatureDoesNotMatch" in requests.get(forged).content


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "EXPIRED", "DOES_NOT_EXIST"])
def test_a_report_can_be_made_to_end_badly(env, status):
    ds, fake, srv, session = env
    account = ds.ad_accounts[0]["id"]
    fake.reports.fail_next(1, status)
    assert _poll_until_done(session, srv, account, _create(session, srv, account))["report_status"] == status
    assert _poll_until_done(session, srv, account, _create(session, srv, account))["report_status"] == "FINISHED"


def test_unknown_tokens_and_other_accounts_tokens_do_not_exist(env):
    ds, fake, srv, session = env
    a, b = (acc["id"] for acc in ds.ad_accounts)
    token = _create(session, srv, a)
    for account, tok in ((a, "0" * 32), (b, token)):
        r = session.get(_reports(srv, account), params={"token": tok})
        assert r.json() == {"report_status": "DOES_NOT_EXIST", "url": None, "size": None}


def test_the_report_routes_share_ads_analytics_limits_faults_and_forbidden_accounts(env):
    ds, fake, srv, session = env
    a, b = (acc["id"] for acc in ds.ad_accounts)
    fake.forbid_account(b)
    for r in (session.post(_reports(srv, b), json=_body()), session.get(_reports(srv, b), params={"token": "x"})):
        assert r.status_code == 403 and r.json()["code"] == 29
    assert session.post(_reports(srv, "123"), json=_body()).status_code == 404
    assert session.post(_reports(srv, a), json=_body(), headers={"Authorization": "Bearer nope"}).status_code == 401
    fake.add_fault("create_report", "status", status=503)
    assert session.post(_reports(srv, a), json=_body()).status_code == 503
    fake.add_fault("report_download", "status", status=500)
    url = _poll_until_done(session, srv, a, _create(session, srv, a))["url"]
    assert requests.get(url).status_code == 500 and requests.get(url).status_code == 200
    fake.rate_limits = {"ads_analytics": 2}
    codes = [session.get(_reports(srv, a), params={"token": "t"}).status_code for _ in range(2)]
    r = session.post(_reports(srv, a), json=_body())
    assert codes == [200, 200] and r.status_code == 429 and r.json()["code"] == api.RATE_LIMIT_CODE


def test_a_truncated_file_is_half_the_file_with_a_matching_length(env):
    ds, fake, srv, session = env
    account = ds.ad_accounts[0]["id"]
    url = _poll_until_done(session, srv, account, _create(session, srv, account))["url"]
    fake.reports.truncate_next()
    cut, whole = requests.get(url), requests.get(url)
    assert int(cut.headers["Content-Length"]) == len(cut.content) == len(whole.content) // 2
    with pytest.raises(ValueError):
        json.loads(cut.content)


# ------------------------------------------------------------------------------------------ contents

def _flat(file: dict, id_key: str) -> list[dict]:
    return [{id_key: k, **row} for k, rows in file.items() for row in rows]


@pytest.mark.parametrize("level,items,granularity", [
    ("CAMPAIGN", "campaigns", "DAY"), ("AD_GROUP", "ad_groups", "WEEK"), ("PIN_PROMOTION", "ads", "DAY"),
    ("CAMPAIGN", "campaigns", "HOUR"), ("AD_GROUP", "ad_groups", "TOTAL")])
def test_report_rows_are_the_synchronous_rows(env, level, items, granularity):
    """One truth: a report's rows are exactly what the synchronous endpoint answers for the
    account's entities over the same days (a 7-day span the synchronous endpoint serves)."""
    ds, fake, srv, session = env
    sync_level = {"CAMPAIGN": "campaign", "AD_GROUP": "ad_group", "PIN_PROMOTION": "ad"}[level]
    id_key = api.LEVEL_ID_COLUMN[sync_level]
    back = (7, 5) if granularity == "HOUR" else (14, 8)
    start, end = TODAY - dt.timedelta(days=back[0]), TODAY - dt.timedelta(days=back[1])
    columns = COLUMNS + ["AD_GROUP_ID"]
    total = 0
    for acc in ds.ad_accounts:
        token = _create(session, srv, acc["id"], level=level, granularity=granularity, columns=columns,
                        start_date=start.isoformat(), end_date=end.isoformat())
        file = requests.get(_poll_until_done(session, srv, acc["id"], token)["url"]).json()
        ids = [e["id"] for e in ds.items(items) if e["ad_account_id"] == acc["id"]]
        truth = fake.analytics_rows(sync_level, acc["id"], ids, start, end, granularity=granularity, columns=columns)
        assert _flat(file, id_key) == truth
        assert all(isinstance(k, str) and k.isdigit() for k in file)
        assert all(id_key not in row for rows in file.values() for row in rows if sync_level != "ad_group")
        total += len(truth)
    assert total > 0


def test_keyword_and_advertiser_reports(env):
    ds, fake, srv, session = env
    start, end = TODAY - dt.timedelta(days=200), TODAY - dt.timedelta(days=15)
    days = {(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)}
    keyword_rows = 0
    for acc in ds.ad_accounts:
        groups = {g["id"] for g in ds.ad_groups if g["ad_account_id"] == acc["id"]}
        mine = {k["id"]: k for k in ds.keywords if k["parent_id"] in groups}
        token = _create(session, srv, acc["id"], level="KEYWORD", columns=COLUMNS + ["AD_GROUP_ID"],
                        start_date=start.isoformat(), end_date=end.isoformat())
        file = requests.get(_poll_until_done(session, srv, acc["id"], token)["url"]).json()
        assert set(file) <= set(mine)
        for kid, rows in file.items():
            assert not mine[kid]["match_type"].endswith("_NEGATIVE")
            assert [r["DATE"] for r in rows] == sorted({r["DATE"] for r in rows}) and {r["DATE"] for r in rows} <= days
            assert all(r["AD_GROUP_ID"] == mine[kid]["parent_id"] for r in rows)
            assert all(set(r) - {"DATE", "AD_GROUP_ID", "CAMPAIGN_NAME"} for r in rows)   # no all-zero rows
            keyword_rows += len(rows)
        token = _create(session, srv, acc["id"], level="ADVERTISER", columns=COLUMNS + ["AD_GROUP_ID", "ADVERTISER_ID"],
                        start_date=start.isoformat(), end_date=end.isoformat())
        file = requests.get(_poll_until_done(session, srv, acc["id"], token)["url"]).json()
        assert list(file) == [acc["id"]] and file[acc["id"]]
        for row in file[acc["id"]]:
            assert row["ADVERTISER_ID"] == acc["id"] and "AD_GROUP_ID" not in row and "CAMPAIGN_NAME" not in row
    assert keyword_rows > 50
    account = ds.ad_accounts[0]["id"]
    product = _create(session, srv, account, level="PRODUCT_GROUP")
    promotions = {p["id"] for p in ds.product_group_promotions if ds.ad_group_by_id[p["ad_group_id"]]["ad_account_id"]
                  == account}
    assert set(requests.get(_poll_until_done(session, srv, account, product)["url"]).json()) <= promotions


def test_a_report_holds_the_data_of_its_creation_and_honours_filters(env):
    ds, fake, srv, session = env
    account = ds.ad_accounts[0]["id"]
    day = TODAY - dt.timedelta(days=3)
    before = _create(session, srv, account, start_date=day.isoformat(), end_date=day.isoformat())
    fake.restate(5)
    after = _create(session, srv, account, start_date=day.isoformat(), end_date=day.isoformat())
    one, two = (requests.get(_poll_until_done(session, srv, account, t)["url"]).json() for t in (before, after))
    assert one and one != two
    campaign = next(iter(two))
    only = _create(session, srv, account, campaign_ids=[campaign], start_date=day.isoformat(),
                   end_date=day.isoformat())
    assert requests.get(_poll_until_done(session, srv, account, only)["url"]).json() == {campaign: two[campaign]}


@pytest.mark.parametrize("level,route,ids_param,granularity", [
    ("ADVERTISER_TARGETING", "targeting_analytics", None, "DAY"),
    ("CAMPAIGN_TARGETING", "campaigns/targeting_analytics", "campaign_ids", "WEEK"),
    ("AD_GROUP_TARGETING", "ad_groups/targeting_analytics", "ad_group_ids", "DAY"),
    ("PIN_PROMOTION_TARGETING", "ads/targeting_analytics", "ad_ids", "HOUR")])
def test_targeting_report_rows_are_the_synchronous_targeting_rows(env, level, route, ids_param, granularity):
    """The file of a targeting report is keyed by the level's entity id; each row is a
    synchronous targeting row: its metrics with TARGETING_TYPE and TARGETING_VALUE (the value's
    JSON type kept: metro codes are numbers)."""
    ds, fake, srv, session = env
    items = {"campaign_ids": "campaigns", "ad_group_ids": "ad_groups", "ad_ids": "ads"}.get(ids_param)
    id_key = {None: "AD_ACCOUNT_ID", "campaign_ids": "CAMPAIGN_ID", "ad_group_ids": "AD_GROUP_ID",
              "ad_ids": "AD_ID"}[ids_param]
    back = (7, 5) if granularity == "HOUR" else (30, 2)
    start, end = (TODAY - dt.timedelta(days=d) for d in back)
    types = ["GENDER", "LOCATION", "AGE_BUCKET"]
    total = 0
    for acc in ds.ad_accounts:
        token = _create(session, srv, acc["id"], level=level, granularity=granularity, targeting_types=types,
                        start_date=start.isoformat(), end_date=end.isoformat(), combine_targeting_types=False)
        file = requests.get(_poll_until_done(session, srv, acc["id"], token)["url"]).json()
        params = {"start_date": start.isoformat(), "end_date": end.isoformat(), "granularity": granularity,
                  "columns": ",".join(COLUMNS), "targeting_types": ",".join(types)}
        if ids_param:
            params[ids_param] = ",".join(e["id"] for e in ds.items(items) if e["ad_account_id"] == acc["id"])
        sync = session.get(f"{srv.url}/ad_accounts/{acc['id']}/{route}", params=params)
        assert sync.status_code == 200, sync.text
        want = sync.json()["data"]
        got = [{"targeting_type": r["TARGETING_TYPE"], "targeting_value": r["TARGETING_VALUE"],
                "metrics": {**{k: v for k, v in r.items() if not k.startswith("TARGETING_")}, id_key: key}}
               for key, rows in file.items() for r in rows]
        assert got == want
        assert all(isinstance(k, str) and k.isdigit() for k in file)
        assert any(isinstance(t["targeting_value"], int) for t in got)        # LOCATION: numbers, as synchronously
        total += len(got)
    assert total > 0
