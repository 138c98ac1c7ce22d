"""The other objects and reports through pinsync's extractor: each stream equals the fake's
truth (every row, every field, exact dtypes) in the fewest calls the API allows."""

from __future__ import annotations

import datetime as dt
import json
import math

import polars as pl
import pytest

from coverage_support import UTC_DATETIME, expected_dtype, expected_value, properties, resolve
from pinsync import api
from pinsync.auth import StaticToken
from pinsync.client import PinterestClient, RetryPolicy
from pinsync.config import DEFAULT_ANALYTICS_COLUMNS
from pinsync.errors import ApiError, PayloadError, ScopeError
from pinsync.extractor import AnalyticsSettings, Extractor
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.fake.objects import ALL_READ_SCOPES
from pinsync.streams import DEFAULT_STREAMS, STREAMS
from tests.conftest import TODAY

TOKEN = "pina.coverage-token-0123456789"
S = STREAMS


@pytest.fixture(scope="module")
def world():
    # the first account has 130 campaigns and 260 ad groups: more than one batch of 250
    ds = Dataset(seed=5, accounts=2, campaigns_per_account=130, ad_groups_per_campaign=2, ads_per_ad_group=1, pins=40,
                 today=TODAY, history_days=150)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        client = PinterestClient(srv.url, StaticToken(TOKEN), policy=RetryPolicy(max_retries=2, backoff_base=0.001))
        yield ds, fake, client
        client.close()


@pytest.fixture
def env(world):
    ds, fake, client = world
    fake.reset_counters()
    fake.clear_faults()
    return ds, fake, Extractor(client, settings=AnalyticsSettings(DEFAULT_ANALYTICS_COLUMNS))


def _mine(ds, kind: str, account: str) -> list[str]:
    return [e["id"] for e in ds.items(kind) if e["ad_account_id"] == account]


def _check_dtypes(df: pl.DataFrame, schema: str, extra: dict[str, pl.DataType], rename: dict | None = None) -> None:
    """Every property of the spec's object is a column of the dtype its spec type calls for
    (a fixed-shape object of strings may be a struct of them); ``extra`` columns are context,
    and ``_extra`` holds the fields no column holds (none here: JSON text, null)."""
    props = properties(schema)
    extra = {**extra, "_extra": pl.String()}
    rename = rename or {}
    columns = {rename.get(c, c): c for c in df.columns}
    assert set(columns) == set(props) | {rename.get(c, c) for c in extra}, set(columns) ^ set(props)
    for field, prop in props.items():
        got = df.schema[columns[field]]
        if isinstance(got, pl.Struct):
            inner = properties_of(prop)
            assert all(f.dtype == pl.String() and inner[f.name].get("type") == "string" for f in got.fields), field
        else:
            assert got == expected_dtype(field, prop), (field, got)
    for name, dtype in extra.items():
        assert df.schema[name] == dtype, name


def properties_of(prop: dict) -> dict:
    p = resolve(prop)
    for part in p.get("allOf", ()):
        p = resolve(part)
    return p["properties"]


def _expected(items: list[dict], df: pl.DataFrame, key: list[str], extra=lambda item: {},
              rename: dict | None = None) -> list[dict]:
    rename = rename or {}
    rows = []
    for item in items:
        row = {}
        for col, dtype in df.schema.items():
            row[col] = expected_value(col, item.get(rename.get(col, col)), dtype)
        row.update(extra(item))
        rows.append(row)
    return sorted(rows, key=lambda r: tuple(r[k] for k in key))


# ------------------------------------------------------------------------------------------ ads objects

def test_keywords_of_every_parent_level_in_the_fewest_calls(env):
    ds, fake, ex = env
    total = 0
    for acc in ds.ad_accounts:
        a = acc["id"]
        camps, groups = _mine(ds, "campaigns", a), _mine(ds, "ad_groups", a)
        fake.reset_counters()
        df = ex.listing(S["keywords"], [{"ad_account_id": a}], {"campaigns": camps, "ad_groups": groups})
        parents = {a, *camps, *groups}
        truth = [k for k in ds.keywords if k["parent_id"] in parents]

        def pages(parent_ids) -> int:        # 250 keywords a page; an empty listing is one page
            return max(1, math.ceil(sum(k["parent_id"] in parent_ids for k in truth) / 250))
        # the account's own, one listing per campaign, 250 ad groups a listing: nothing less is complete
        batches = [set(sorted(groups)[b:b + 250]) for b in range(0, len(groups), 250)]
        assert len(batches) == math.ceil(len(groups) / 250)
        assert fake.calls["keywords"] == pages({a}) + sum(pages({c}) for c in camps) + sum(map(pages, batches))
        assert {k["parent_type"] for k in truth} == {"advertiser", "campaign", "ad_group"}
        _check_dtypes(df, "Keyword", {"ad_account_id": pl.String()})
        assert df.to_dicts() == _expected(truth, df, ["id"], lambda k: {"ad_account_id": a})
        total += df.height
    assert len(_mine(ds, "ad_groups", ds.ad_accounts[0]["id"])) == 260 and total > 200


def test_audiences_tags_lists_and_promotions_equal_the_fake_s_truth(env):
    ds, fake, ex = env
    for acc in ds.ad_accounts:
        a = acc["id"]
        groups = _mine(ds, "ad_groups", a)
        fake.reset_counters()
        aud = ex.listing(S["audiences"], [{"ad_account_id": a}])
        lists = ex.listing(S["customer_lists"], [{"ad_account_id": a}])
        tags = ex.listing(S["conversion_tags"], [{"ad_account_id": a}])
        promos = ex.listing(S["product_group_promotions"], [{"ad_account_id": a}], {"ad_groups": groups})
        # owned and received; one list; deleted tags asked for; the API needs an ad group a call
        assert dict(fake.calls) == {"audiences": 2, "customer_lists": 1, "conversion_tags": 1,
                                    "product_group_promotions": len(groups)}
        assert all(q.get("filter_deleted") == ["false"] for _, p, q in fake.requests if p.endswith("conversion_tags"))
        _check_dtypes(aud, "Audience", {"ownership_type": pl.String()})
        truth = [x for x in ds.audiences if x["ad_account_id"] == a]
        owner = ds.audience_ownership
        assert aud.to_dicts() == _expected(truth, aud, ["id"], lambda x: {"ownership_type": owner[x["id"]]})
        assert set(aud["ownership_type"]) == {"OWNED", "RECEIVED"}
        _check_dtypes(lists, "CustomerList", {})
        assert lists.to_dicts() == _expected([c for c in ds.customer_lists if c["ad_account_id"] == a], lists, ["id"])
        _check_dtypes(tags, "ConversionTag", {})
        truth = [t for t in ds.conversion_tags if t["ad_account_id"] == a]
        assert tags.to_dicts() == _expected(truth, tags, ["id"]) and "ARCHIVED" in set(tags["status"])
        assert tags.schema["last_fired_time_ms"] == UTC_DATETIME
        _check_dtypes(promos, "ProductGroupPromotion", {"ad_account_id": pl.String()})
        truth = [p for p in ds.product_group_promotions if p["ad_group_id"] in set(groups)]
        assert promos.to_dicts() == _expected(truth, promos, ["id"], lambda p: {"ad_account_id": a})
    assert ds.product_group_promotions and {p["status"] for p in ds.product_group_promotions} - {"ACTIVE", "PAUSED"}


# ------------------------------------------------------------------------------------------ organic, catalogs

def test_user_account_boards_sections_and_board_pins(env):
    ds, fake, ex = env
    user = ex.listing(S["user_account"])
    _check_dtypes(user, "Account", {})
    assert user.to_dicts() == _expected([ds.user_account], user, ["username"])
    boards = ex.listing(S["boards"])
    _check_dtypes(boards, "Board", {})
    assert boards.to_dicts() == _expected(ds.boards, boards, ["id"])
    assert all(q.get("privacy") == ["ALL"] for _, p, q in fake.requests if p.endswith("/boards"))
    ids = boards["id"].to_list()
    fake.reset_counters()
    sections = ex.listing(S["board_sections"], [{"board_id": b} for b in ids])
    pins = ex.listing(S["board_pins"], [{"board_id": b} for b in ids])
    assert dict(fake.calls) == {"board_sections": len(ids), "board_pins": len(ids)}
    _check_dtypes(sections, "BoardSection", {"board_id": pl.String()})
    truth = [{**s, "board_id": b} for b, ss in ds.board_sections.items() for s in ss]
    assert sections.to_dicts() == _expected(truth, sections, ["id"])
    # note and product_tags: on real pins, not in the spec's Pin (as in the pins table)
    _check_dtypes(pins, "Pin", {"note": pl.String(), "product_tags": pl.String()}, rename={"pin_id": "id"})
    assert pins.columns[:2] == ["board_id", "pin_id"]
    assert pins.to_dicts() == _expected(ds.pins, pins, ["board_id", "pin_id"], rename={"pin_id": "id"})
    assert set(pins["board_id"]) < set(ids)                   # two boards have no pins
    assert {b["privacy"] for b in ds.boards if b["id"] in set(pins["board_id"])} >= {"PUBLIC", "SECRET"}


def test_catalogs_feeds_and_product_groups_and_no_password_is_kept(env):
    ds, fake, ex = env
    catalogs = ex.listing(S["catalogs"])
    feeds = ex.listing(S["catalog_feeds"])
    groups = ex.listing(S["catalog_product_groups"])
    assert dict(fake.calls) == {"catalogs": 1, "catalog_feeds": 1, "catalog_product_groups": 1}
    _check_dtypes(catalogs, "Catalog", {})
    assert catalogs.to_dicts() == _expected(ds.catalogs, catalogs, ["id"])
    _check_dtypes(feeds, "CatalogsFeed", {})
    assert feeds.schema["credentials"] == pl.Struct({"username": pl.String()})      # the password is not a column
    assert feeds.to_dicts() == _expected(ds.catalog_feeds, feeds, ["id"])
    assert ds.feed_passwords and not any(p in str(feeds.to_dicts()) for p in ds.feed_passwords)
    _check_dtypes(groups, "CatalogsVerticalProductGroup", {})
    assert groups.to_dicts() == _expected(ds.catalog_product_groups, groups, ["id"])


# ------------------------------------------------------------------------------------------ reports

CONTEXT = {"granularity": "DAY", "click_window_days": 30, "engagement_window_days": 30, "view_window_days": 1,
           "conversion_report_time": "TIME_OF_AD_ACTION"}
METRICS = {"spend_in_dollar": pl.Float64(), "paid_impression": pl.Int64(), "total_impression": pl.Int64(),
           "total_clickthrough": pl.Int64(), "total_engagement": pl.Int64(), "ctr": pl.Float64(),
           "ectr": pl.Float64(), "cpc_in_micro_dollar": pl.Float64(), "ecpc_in_dollar": pl.Float64()}
CONTEXT_DTYPES = {"granularity": pl.String(), "click_window_days": pl.Int64(), "engagement_window_days": pl.Int64(),
                  "view_window_days": pl.Int64(), "conversion_report_time": pl.String(), "currency": pl.String()}


def _fake_answer(fake, path: str, query: dict):
    """The fake's answer for a query (its truth), not counted among the extractor's calls."""
    status, _, body = fake.handle("GET", "/v5/" + path, query, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    fake.reset_counters()
    return json.loads(body)


def _truth_query(start, end, **kw) -> dict:
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "granularity": "DAY",
            "columns": ",".join(DEFAULT_ANALYTICS_COLUMNS), **kw}


def _metric_values(row: dict, attrs: dict[str, str]) -> dict:
    out = {m: row.get(m.upper()) for m in METRICS}
    out.update({c: row.get(src) for c, src in attrs.items()})
    return out


def test_ad_account_and_product_group_analytics_equal_the_fake_s_truth(env):
    ds, fake, ex = env
    start, end = TODAY - dt.timedelta(days=89), TODAY - dt.timedelta(days=1)
    delivered = 0
    for acc in ds.ad_accounts:
        a, cur = acc["id"], acc["currency"]
        truth = _fake_answer(fake, f"ad_accounts/{a}/analytics", _truth_query(start, end))
        df = ex.ads_analytics(S["ad_account_analytics"], a, None, start, end, currency=cur)
        assert dict(fake.calls) == {"ad_account_analytics": 1}
        assert dict(df.schema) == {"ad_account_id": pl.String(), "date": pl.Date(), **METRICS, **CONTEXT_DTYPES}
        want = sorted(({"ad_account_id": a, "date": dt.date.fromisoformat(r["DATE"]), **_metric_values(r, {}),
                        **CONTEXT, "currency": cur} for r in truth), key=lambda r: r["date"])
        assert df.to_dicts() == want and len(want) > 60
        promos = [p["id"] for p in ds.product_group_promotions
                  if ds.ad_group_by_id[p["ad_group_id"]]["ad_account_id"] == a]
        truth = [r for b in range(0, len(promos), 250) for r in _fake_answer(
            fake, f"ad_accounts/{a}/product_groups/analytics",
            _truth_query(start, end, product_group_ids=",".join(promos[b:b + 250])))]
        df = ex.ads_analytics(S["product_group_analytics"], a, promos, start, end, currency=cur)
        assert fake.calls["product_group_analytics"] == math.ceil(len(promos) / 250)
        attrs = {"campaign_id": "CAMPAIGN_ID", "ad_group_id": "AD_GROUP_ID", "campaign_name": "CAMPAIGN_NAME",
                 "ad_group_name": "AD_GROUP_NAME"}
        assert dict(df.schema) == {"product_group_id": pl.String(), "ad_account_id": pl.String(), "date": pl.Date(),
                                   **METRICS, **{c: pl.String() for c in attrs}, **CONTEXT_DTYPES}
        want = sorted(({"product_group_id": r["PRODUCT_GROUP_ID"], "ad_account_id": a,
                        "date": dt.date.fromisoformat(r["DATE"]), **_metric_values(r, attrs), **CONTEXT,
                        "currency": cur} for r in truth), key=lambda r: (r["product_group_id"], r["date"]))
        assert df.select(sorted(df.columns)).to_dicts() == [dict(sorted(r.items())) for r in want]
        delivered += len(want)
    assert delivered > 30


@pytest.mark.parametrize("name,kind,param", [
    ("ad_account_targeting_analytics", None, None), ("campaign_targeting_analytics", "campaigns", "campaign_ids"),
    ("ad_group_targeting_analytics", "ad_groups", "ad_group_ids"), ("ad_targeting_analytics", "ads", "ad_ids")])
def test_targeting_analytics_equal_the_fake_s_truth_all_types_in_one_call(env, name, kind, param):
    ds, fake, ex = env
    spec = S[name]
    a, cur = ds.ad_accounts[0]["id"], ds.ad_accounts[0]["currency"]
    start, end = TODAY - dt.timedelta(days=8), TODAY - dt.timedelta(days=1)
    ids = _mine(ds, kind, a) if kind else None
    types = ",".join(ex.targeting_types_for(spec))
    assert types == "AGE_BUCKET,GENDER,COUNTRY,APPTYPE,PLACEMENT"
    batches = [None] if ids is None else [sorted(ids)[b:b + 250] for b in range(0, len(ids), 250)]
    truth = [r for batch in batches for r in _fake_answer(fake, spec.path.format(ad_account_id=a), _truth_query(
        start, end, targeting_types=types, **({param: ",".join(batch)} if batch else {})))["data"]]
    df = ex.ads_analytics(spec, a, ids, start, end, currency=cur)
    # the five types in every call, 250 ids a call, one window
    assert fake.calls[name] == len(batches) == (1 if ids is None else math.ceil(len(ids) / 250))
    assert all(q["targeting_types"] == [types] for _, p, q in fake.requests)
    level_id = api.LEVEL_ID_COLUMN[spec.level]
    id_col = level_id.lower()
    attrs = {c.lower(): c for c in ("CAMPAIGN_ID", "AD_GROUP_ID", "AD_ID", "PIN_ID", "CAMPAIGN_NAME", "AD_GROUP_NAME",
                                    "AD_NAME") if spec.level in api.COLUMNS_NEEDING_LEVEL.get(c, (spec.level,))
             and c != level_id}
    head = {id_col: pl.String()} if id_col == "ad_account_id" else {id_col: pl.String(), "ad_account_id": pl.String()}
    assert dict(df.schema) == {**head, "targeting_type": pl.String(), "targeting_value": pl.String(),
                               "date": pl.Date(), **METRICS, **{c: pl.String() for c in attrs}, **CONTEXT_DTYPES}
    want = [{id_col: r["metrics"].get(level_id, a), "ad_account_id": a, "targeting_type": r["targeting_type"],
             "targeting_value": r["targeting_value"], "date": dt.date.fromisoformat(r["metrics"]["DATE"]),
             **_metric_values(r["metrics"], attrs), **CONTEXT, "currency": cur} for r in truth]
    key = list(spec.primary_key)
    want = sorted(want, key=lambda r: tuple(r[k] for k in key))
    assert df.select(sorted(df.columns)).to_dicts() == [dict(sorted(r.items())) for r in want]
    assert len(want) > 20 and df.select(key).is_duplicated().sum() == 0
    assert {"45-49", "female", "BROWSE"} & set(df["targeting_value"])


def test_targeting_values_keep_their_text_and_numbers_their_digits(env):
    ds, fake, ex = env
    ex.targeting_types = ("AGE_BUCKET", "LOCATION", "GEO", "REGION", "AUDIENCE_INCLUDE")
    spec = S["ad_group_targeting_analytics"]
    a = ds.ad_accounts[0]["id"]
    groups = _mine(ds, "ad_groups", a)
    start = TODAY - dt.timedelta(days=3)
    df = ex.ads_analytics(spec, a, groups, start, TODAY - dt.timedelta(days=1))
    values = set(df["targeting_value"])
    assert {"45-49", "501", "US:02139", "US-CA"} <= values
    audiences = {g for grp in ds.ad_groups if grp["ad_account_id"] == a
                 for g in grp["targeting_spec"].get("AUDIENCE_INCLUDE", [])}
    assert audiences and set(df.filter(pl.col("targeting_type") == "AUDIENCE_INCLUDE")["targeting_value"]) <= audiences
    assert all(v.isdigit() for v in df.filter(pl.col("targeting_type") == "LOCATION")["targeting_value"])


def test_a_targeting_value_that_is_not_text_or_an_integer_is_refused_naming_it(env):
    ds, fake, ex = env
    spec = S["ad_account_targeting_analytics"]
    a = ds.ad_accounts[0]["id"]
    body = {"data": [{"targeting_type": "LOCATION", "targeting_value": 501.5,
                      "metrics": {"AD_ACCOUNT_ID": a, "DATE": "2026-11-27", "TOTAL_IMPRESSION": 3}}]}
    fake.add_fault(spec.name, "status", status=200, body=body)
    with pytest.raises(PayloadError, match="targeting_value"):
        list(ex.ads_analytics_batches(spec, a, None, TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1)))
    good = {"data": [{"targeting_type": "LOCATION", "targeting_value": 501,
                      "metrics": {"AD_ACCOUNT_ID": a, "DATE": "2026-11-27", "TOTAL_IMPRESSION": 3}}]}
    fake.add_fault(spec.name, "status", status=200, body=good)
    df = ex.ads_analytics(spec, a, None, TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1))
    assert df.select("targeting_type", "targeting_value", "date", "total_impression").rows() == [
        ("LOCATION", "501", dt.date(2026, 11, 27), 3)]


def test_a_level_that_takes_none_of_the_types_asks_for_nothing(env):
    ds, fake, ex = env
    ex.targeting_types = ("QUIZ_RESULT",)           # only ads take it
    a = ds.ad_accounts[0]["id"]
    df = ex.ads_analytics(S["campaign_targeting_analytics"], a, _mine(ds, "campaigns", a), TODAY - dt.timedelta(days=3),
                          TODAY - dt.timedelta(days=1))
    assert df.height == 0 and fake.calls["campaign_targeting_analytics"] == 0


@pytest.mark.parametrize("split", ["NO_SPLIT", "APP_TYPE", "PIN_FORMAT"])
def test_user_account_analytics_equal_the_fake_s_truth(env, split):
    ds, fake, ex = env
    ex.user_split_field = split
    ex.user_metric_types = ("IMPRESSION", "SAVE", "SAVE_RATE", "ENGAGEMENT_RATE")
    start, end = TODAY - dt.timedelta(days=89), TODAY - dt.timedelta(days=1)
    truth = {}
    for w in [(start, end)]:
        for group, body in _fake_answer(fake, "user_account/analytics", {
                "start_date": w[0].isoformat(), "end_date": w[1].isoformat(), "split_field": split,
                "metric_types": "IMPRESSION,SAVE,SAVE_RATE,ENGAGEMENT_RATE"}).items():
            truth.setdefault(group, []).extend(body["daily_metrics"])
    df = ex.user_account_analytics(S["user_account_analytics"], start, end)
    assert fake.calls["user_account_analytics"] == 1                # 89 days: one window
    split_col = {} if split == "NO_SPLIT" else {split.lower(): pl.String()}
    assert dict(df.schema) == {"date": pl.Date(), **split_col, "data_status": pl.String(), "impression": pl.Int64(),
                               "save": pl.Int64(), "save_rate": pl.Float64(), "engagement_rate": pl.Float64()}
    want = [{"date": dt.date.fromisoformat(d["date"]), **({split.lower(): g} if split_col else {}),
             "data_status": d["data_status"], "impression": d["metrics"].get("IMPRESSION"),
             "save": d["metrics"].get("SAVE"), "save_rate": d["metrics"].get("SAVE_RATE"),
             "engagement_rate": d["metrics"].get("ENGAGEMENT_RATE")} for g, days in truth.items() for d in days]
    key = ["date", *split_col]
    assert df.to_dicts() == sorted(want, key=lambda r: tuple(r[k] for k in key))
    assert len({r["date"] for r in want}) == 89 and df.select(key).is_duplicated().sum() == 0


def test_a_token_without_a_stream_s_scope_fails_that_stream_with_a_scope_error(world):
    ds, fake, client = world
    fake.set_token_scopes(TOKEN, "ads:read,boards:read,pins:read")
    try:
        ex = Extractor(client)
        for name in ("user_account", "catalogs"):
            with pytest.raises(ScopeError) as info:
                ex.listing(S[name])
            assert info.value.status == 401 and info.value.code == api.SCOPE_ERROR_CODE
        # without boards:read_secret the secret and protected boards are not listed
        assert ex.listing(S["boards"])["id"].to_list() == [b["id"] for b in ds.boards if b["privacy"] == "PUBLIC"]
    finally:
        fake.set_token_scopes(TOKEN, ",".join(ALL_READ_SCOPES))


OTHER = {
        "keywords", "audiences", "customer_lists", "conversion_tags", "product_group_promotions", "user_account",
        "boards", "board_sections", "board_pins", "catalogs", "catalog_feeds", "catalog_product_groups",
        "ad_account_analytics", "ad_account_targeting_analytics", "campaign_targeting_analytics",
        "ad_group_targeting_analytics", "ad_targeting_analytics", "product_group_analytics", "keyword_analytics",
        "user_account_analytics"}


def test_the_other_streams_are_data_beside_the_core_ones_outside_the_default_selection():
    assert set(STREAMS) == OTHER | set(DEFAULT_STREAMS) and not OTHER & set(DEFAULT_STREAMS)
    for spec in (STREAMS[n] for n in OTHER):
        assert spec.scopes and spec.category in api.RATE_LIMITS_PER_MINUTE and spec.description
        assert spec.parent is None or spec.parent in STREAMS


class _CountingTokens:
    """A refreshable token provider that counts refreshes."""

    def __init__(self):
        self.refreshes = 0

    def token(self) -> str:
        return TOKEN

    def refresh(self, rejected: str) -> str:
        self.refreshes += 1
        return TOKEN


@pytest.mark.parametrize("status", [401, 403])
def test_a_missing_scope_is_a_scope_error_without_a_refresh(world, status):
    ds, fake, base = world
    fake.reset_counters()
    tokens = _CountingTokens()
    client = PinterestClient(base.api_url, tokens, policy=RetryPolicy(max_retries=2, backoff_base=0.001))
    body = {"code": 3, "message": "Your token does not have sufficient permissions to perform this operation."}
    fake.add_fault("catalogs", "status", status=status, body=body)
    try:
        with pytest.raises(ScopeError) as info:
            Extractor(client).listing(S["catalogs"])
        assert info.value.status == status and info.value.code == 3 and info.value.exit_code == 3
        assert tokens.refreshes == 0 and fake.calls["catalogs"] == 1
        # any other 403 stays an ordinary API error (exit 1)
        fake.add_fault("catalogs", "status", status=403, body={"code": 4182, "message": "no catalog"})
        with pytest.raises(ApiError) as info:
            Extractor(client).listing(S["catalogs"])
        assert not isinstance(info.value, ScopeError) and info.value.exit_code == 1
    finally:
        client.close()


def test_targeting_by_the_hour_places_each_value_s_rows_in_their_hours(world):
    ds, fake, client = world
    fake.reset_counters()
    ex = Extractor(client, settings=AnalyticsSettings(DEFAULT_ANALYTICS_COLUMNS, "HOUR"))
    a = ds.ad_accounts[1]["id"]
    groups = sorted(_mine(ds, "ad_groups", a))[:200]
    start, end = TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1)
    types = ",".join(ex.targeting_types_for(S["ad_group_targeting_analytics"]))
    truth = _fake_answer(fake, f"ad_accounts/{a}/ad_groups/targeting_analytics", {
        **_truth_query(start, end, ad_group_ids=",".join(sorted(groups)), targeting_types=types),
        "granularity": "HOUR"})["data"]
    df = ex.ads_analytics(S["ad_group_targeting_analytics"], a, groups, start, end)
    assert df.schema["date"] == UTC_DATETIME and fake.calls["ad_group_targeting_analytics"] == 1
    want = sorted((r["metrics"]["AD_GROUP_ID"], r["targeting_type"], r["targeting_value"],
                   dt.datetime.fromisoformat(r["metrics"]["DATE"]).replace(tzinfo=dt.timezone.utc)
                   + dt.timedelta(hours=r["metrics"][api.HOUR_FIELD]), r["metrics"].get("TOTAL_IMPRESSION"))
                  for r in truth)
    assert df.select("ad_group_id", "targeting_type", "targeting_value", "date", "total_impression").rows() == want
    assert len({w[3] for w in want}) == 48 and len(want) > 100
