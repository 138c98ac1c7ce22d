"""The report levels beyond the core three: ``keyword_analytics`` (KEYWORD reports only: no
synchronous endpoint) and the targeting tables' history (``*_TARGETING`` reports), checked
against the fake's truth and by counting the calls."""

from __future__ import annotations

import datetime as dt
import logging
import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import pinsync
from pinsync.client import PinterestClient, RetryPolicy
from pinsync.config import config_from_dict
from pinsync.extractor import AnalyticsSettings, Extractor
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.reports import ReportPolicy, report_spans
from pinsync.streams import STREAMS
from tests.conftest import TODAY, TOKEN, data_files, read_table

NO_WAIT = lambda s: None  # noqa: E731
YESTERDAY = TODAY - dt.timedelta(days=1)
# seven types: two targeting reports per span (at most 5 types a report); LOCATION values are
# numbers in Pinterest's answers (metro codes), the others text
TYPES = ["AGE_BUCKET", "GENDER", "COUNTRY", "APPTYPE", "PLACEMENT", "LOCATION", "KEYWORD"]
COLUMNS = ["SPEND_IN_MICRO_DOLLAR", "TOTAL_IMPRESSION", "TOTAL_CLICKTHROUGH", "CTR", "SPEND_IN_DOLLAR",
           "CAMPAIGN_ID", "AD_GROUP_ID", "AD_ID", "AD_ACCOUNT_ID", "CAMPAIGN_NAME", "AD_GROUP_NAME"]
# stream -> (the fake's level, the listing its ids come from, its report level)
TARGETING = {
    "ad_account_targeting_analytics": ("advertiser", "ad_accounts", "ADVERTISER_TARGETING"),
    "campaign_targeting_analytics": ("campaign", "campaigns", "CAMPAIGN_TARGETING"),
    "ad_group_targeting_analytics": ("ad_group", "ad_groups", "AD_GROUP_TARGETING"),
    "ad_targeting_analytics": ("ad", "ads", "PIN_PROMOTION_TARGETING"),
}


@pytest.fixture(scope="module")
def world():
    ds = Dataset(seed=5, accounts=2, campaigns_per_account=3, ad_groups_per_campaign=2, ads_per_ad_group=2, pins=5,
                 today=TODAY, history_days=450)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    fake.reports.polls_in_progress = 1
    with FakeServer(fake) as srv:
        yield ds, fake, srv


def _raw(tmp_path: Path, url: str, streams: list[str], days_back: int, out: str = "out", **extra) -> dict:
    return {"api_url": url, "auth": {"access_token": TOKEN}, "streams": streams,
            "start_date": (TODAY - dt.timedelta(days=days_back)).isoformat(),
            "output": {"url": str(tmp_path / out)}, "state": {"url": str(tmp_path / f"{out}-state.json")},
            "analytics": {"lookback_days": 5, "columns": COLUMNS}, "targeting_analytics": {"targeting_types": TYPES},
            **extra}


def _run(tmp_path: Path, url: str, streams: list[str], days_back: int, out: str = "out"):
    config = config_from_dict(_raw(tmp_path, url, streams, days_back, out), env={}, today=TODAY)
    result = pinsync.run(config, today=TODAY, sleep=NO_WAIT)
    assert result.ok, result.failures
    return result


def _reports(fake) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(level, start, end, targeting types) of every report created since the counters were reset."""
    return sorted((r.query.level, r.query.start.isoformat(), r.query.end.isoformat(), r.query.targeting_types)
                  for r in fake.reports.by_token.values())


def _day(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def _ids(ds, listing: str, account: str) -> list[str]:
    if listing == "ad_accounts":
        return [account]
    return [e["id"] for e in ds.items(listing) if e["ad_account_id"] == account]


# ------------------------------------------------------------------------------------------ backfills

def test_a_400_day_backfill_of_keyword_analytics_comes_from_keyword_reports_and_equals_the_truth(world, tmp_path):
    ds, fake, srv = world
    fake.reset_counters()
    fake.reports.by_token.clear()
    _run(tmp_path, srv.url, ["keyword_analytics"], 400)
    # every day from reports, the recent ones too (no synchronous endpoint): 400 days -> 3 spans
    reports = _reports(fake)
    assert len(reports) == fake.calls["create_report"] == len(ds.ad_accounts) * math.ceil(400 / 186) == 6
    assert {r[0] for r in reports} == {"KEYWORD"} and {r[3] for r in reports} == {()}
    assert sorted({(r[1], r[2]) for r in reports}) == [(_day(400), _day(215)), (_day(214), _day(29)),
                                                       (_day(28), _day(1))]
    assert not any(fake.calls[r] for r in ("campaign_analytics", "ad_group_analytics", "ad_analytics", "keywords"))
    got = read_table(tmp_path / "out", "keyword_analytics")
    assert got.schema["keyword_id"] == pl.String and got.schema["date"] == pl.Date
    assert got.schema["total_impression"] == pl.Int64 and got.schema["ctr"] == pl.Float64
    assert "ad_id" not in got.columns and "ad_group_id" in got.columns         # the columns valid for keywords
    assert got.select("keyword_id", "date").is_duplicated().sum() == 0
    keywords = [k["id"] for k in ds.keywords]
    for acct in ds.ad_accounts:
        truth = fake.truth_rows("keyword", acct["id"], keywords, _day(400), YESTERDAY,
                                ["TOTAL_IMPRESSION", "CTR", "AD_GROUP_ID"])
        mine = got.filter(pl.col("ad_account_id") == acct["id"])
        assert len(truth) > 100 and sorted(mine.select("keyword_id", "date", "total_impression", "ctr",
                                                       "ad_group_id").rows()) == sorted(
            (t["KEYWORD_ID"], dt.date.fromisoformat(t["DATE"]), t.get("TOTAL_IMPRESSION"), t.get("CTR"),
             t["AD_GROUP_ID"]) for t in truth)
        # partitioned like the other ads analytics: one file per account and month
        months = {f"month={m}" for m in mine["date"].dt.strftime("%Y-%m").unique()}
        folder = tmp_path / "out" / "keyword_analytics" / f"ad_account_id={acct['id']}"
        assert {p.parent.name for p in folder.rglob("data.parquet")} == months
    mark = pinsync.state.StateStore(str(tmp_path / "out-state.json")).load().get("keyword_analytics",
                                                                                  ds.ad_accounts[0]["id"])
    assert mark["held_from"] == _day(400) and mark["last_complete_date"] == _day(1) and "reports" not in mark


@pytest.mark.parametrize("stream", list(TARGETING))
def test_a_400_day_backfill_of_a_targeting_stream_equals_the_truth(world, tmp_path, stream):
    ds, fake, srv = world
    level, listing, report_level = TARGETING[stream]
    fake.reset_counters()
    fake.reports.by_token.clear()
    _run(tmp_path, srv.url, [stream], 400)
    # 311 days older than the synchronous window -> 2 spans, 7 types -> 2 reports each
    reports = _reports(fake)
    assert len(reports) == fake.calls["create_report"] == len(ds.ad_accounts) * 2 * math.ceil(len(TYPES) / 5) == 8
    assert {r[:3] for r in reports} == {(report_level, _day(400), _day(215)), (report_level, _day(214), _day(90))}
    assert {r[3] for r in reports} == {tuple(TYPES[:5]), tuple(TYPES[5:])}
    # the synchronous calls only for the recent 89 days: one window (every id in one batch)
    assert fake.calls[stream] == len(ds.ad_accounts)
    got = read_table(tmp_path / "out", stream)
    id_col = STREAMS[stream].primary_key[0]
    assert got.schema["targeting_value"] == pl.String and got.schema["date"] == pl.Date
    assert got.select(*STREAMS[stream].primary_key).is_duplicated().sum() == 0
    for acct in ds.ad_accounts:
        truth = fake.truth_rows(level, acct["id"], _ids(ds, listing, acct["id"]), _day(400), YESTERDAY,
                                ["TOTAL_IMPRESSION", "CTR", "SPEND_IN_DOLLAR"], targeting_types=TYPES)
        mine = got.filter(pl.col("ad_account_id") == acct["id"])
        want = sorted((acct["id"] if level == "advertiser" else t["metrics"][f"{level.upper()}_ID"],
                       t["targeting_type"], str(t["targeting_value"]), dt.date.fromisoformat(t["metrics"]["DATE"]),
                       t["metrics"].get("TOTAL_IMPRESSION"), t["metrics"].get("CTR"),
                       t["metrics"].get("SPEND_IN_DOLLAR")) for t in truth)
        assert sorted(mine.select(id_col, "targeting_type", "targeting_value", "date", "total_impression", "ctr",
                                  "spend_in_dollar").rows()) == want
        assert min(w[3] for w in want) < TODAY - dt.timedelta(days=89)        # history beyond the sync window
    assert set(got["targeting_type"]) >= {"AGE_BUCKET", "LOCATION", "COUNTRY"}
    assert got.filter(pl.col("targeting_type") == "LOCATION")["targeting_value"].str.contains(r"^\d+$").all()


# ------------------------------------------------------------------------------------------ start date, re-runs

def test_moving_the_start_date_back_fetches_only_the_missing_days_and_a_rerun_touches_nothing(world, tmp_path):
    ds, fake, srv = world
    streams = ["keyword_analytics", "ad_group_targeting_analytics"]
    _run(tmp_path, srv.url, streams, 60)
    fake.reset_counters()
    fake.reports.by_token.clear()
    _run(tmp_path, srv.url, streams, 260)
    per_account = [
        # keywords: the 200 missing days (two spans), and the 5-day lookback window
        ("KEYWORD", _day(260), _day(75), ()), ("KEYWORD", _day(74), _day(61), ()), ("KEYWORD", _day(5), _day(1), ()),
        # targeting: the missing days older than 89 in one span (two type groups); the rest synchronous
        ("AD_GROUP_TARGETING", _day(260), _day(90), tuple(TYPES[:5])),
        ("AD_GROUP_TARGETING", _day(260), _day(90), tuple(TYPES[5:])),
    ]
    assert _reports(fake) == sorted(per_account * len(ds.ad_accounts))
    starts = sorted({q["start_date"][0] for m, p, q in fake.requests if p.endswith("/ad_groups/targeting_analytics")})
    assert starts == [_day(89), _day(5)]
    clean = tmp_path / "clean"
    clean.mkdir()
    _run(clean, srv.url, streams, 260)
    for stream in streams:
        key = list(STREAMS[stream].primary_key)
        assert_frame_equal(read_table(tmp_path / "out", stream).sort(key), read_table(clean / "out", stream).sort(key))
    # the same day again: the lookback window is fetched (a keyword report, synchronous targeting
    # calls) and found unchanged: not one file written
    files = data_files(tmp_path / "out")
    fake.reset_counters()
    fake.reports.by_token.clear()
    again = _run(tmp_path, srv.url, streams, 260)
    assert all(again.streams[s].files_written == 0 for s in streams)
    assert data_files(tmp_path / "out") == files
    assert _reports(fake) == [("KEYWORD", _day(5), _day(1), ())] * len(ds.ad_accounts)


# ------------------------------------------------------------------------------------------ one truth, two paths

@pytest.fixture
def extractor(world):
    ds, fake, srv = world
    fake.reset_counters()
    fake.reports.by_token.clear()
    client = PinterestClient(srv.url, _Tokens(), policy=RetryPolicy(max_retries=3, backoff_base=0.001))
    post = client.post_json

    def recorded(path, body, **kw):
        BODIES.append(body)
        return post(path, body, **kw)
    client.post_json = recorded
    BODIES.clear()

    def build(granularity="DAY", columns=COLUMNS, types=TYPES):
        return Extractor(client, settings=AnalyticsSettings(tuple(columns), granularity), today=TODAY,
                         targeting_types=tuple(types), report_policy=ReportPolicy(sleep=NO_WAIT))
    yield build
    client.close()


BODIES: list[dict] = []       # the report creations' bodies (the extractor fixture's client)


class _Tokens:
    def token(self) -> str:
        return TOKEN

    def refresh(self, rejected: str) -> None:
        return None


def _both(ex, stream, ds, acct, start, end):
    """The synchronous frame and the report frame of the same days and entities."""
    spec = STREAMS[stream]
    ids = _ids(ds, TARGETING[stream][1], acct["id"]) if spec.id_param else None
    spans = report_spans(start, end, ex.settings.granularity, TODAY)
    sync = ex.ads_analytics(spec, acct["id"], ids, spans[0][0], spans[-1][1], currency=acct["currency"])
    history = ex.finish(spec, pl.concat(list(ex.report_batches(spec, acct["id"], start, end, ids=ids,
                                                               currency=acct["currency"], today=TODAY))))
    return sync, history


@pytest.mark.parametrize("stream", list(TARGETING))
@pytest.mark.parametrize("granularity,back", [("DAY", (40, 1)), ("HOUR", (7, 5)), ("WEEK", (60, 1)),
                                              ("TOTAL", (30, 10))])
def test_targeting_report_rows_equal_synchronous_rows_column_for_column(world, extractor, stream, granularity, back):
    ds, fake, srv = world
    ex = extractor(granularity)
    compared = 0
    for acct in ds.ad_accounts:
        sync, history = _both(ex, stream, ds, acct, TODAY - dt.timedelta(days=back[0]),
                              TODAY - dt.timedelta(days=back[1]))
        assert history.schema == sync.schema
        assert_frame_equal(history, sync)
        compared += sync.height
    assert compared > 0
    # one report per span and group of at most 5 types, each type on its own, nothing but *_TARGETING
    assert {r[0] for r in _reports(fake)} == {TARGETING[stream][2]}
    assert {r[3] for r in _reports(fake)} == {tuple(TYPES[:5]), tuple(TYPES[5:])}
    assert BODIES and all(b["combine_targeting_types"] is False for b in BODIES)


def test_reach_and_frequency_are_not_asked_of_targeting_reports_and_stay_empty_there(world, extractor, caplog):
    ds, fake, srv = world
    ex = extractor(columns=COLUMNS + ["TOTAL_IMPRESSION_USER", "TOTAL_IMPRESSION_FREQUENCY"])
    acct = ds.ad_accounts[0]
    with caplog.at_level(logging.WARNING):
        sync, history = _both(ex, "campaign_targeting_analytics", ds, acct, TODAY - dt.timedelta(days=30),
                              TODAY - dt.timedelta(days=2))
    assert history.height == sync.height > 0
    assert sync["total_impression_user"].null_count() < sync.height         # the synchronous days carry them
    assert history["total_impression_user"].null_count() == history.height
    assert history["total_impression_frequency"].null_count() == history.height
    assert_frame_equal(history.drop("total_impression_user", "total_impression_frequency"),
                       sync.drop("total_impression_user", "total_impression_frequency"))
    said = [r.getMessage() for r in caplog.records if "TOTAL_IMPRESSION_USER" in r.getMessage()]
    assert len(said) == 1 and "TOTAL_IMPRESSION_FREQUENCY" in said[0]


def test_targeting_types_reports_do_not_know_are_left_out_with_a_warning(world, extractor, caplog):
    ds, fake, srv = world
    ex = extractor(types=["GENDER", "CREATIVE_TYPE"])          # CREATIVE_TYPE: campaigns' synchronous endpoint only
    acct = ds.ad_accounts[0]
    with caplog.at_level(logging.WARNING):
        sync, history = _both(ex, "campaign_targeting_analytics", ds, acct, TODAY - dt.timedelta(days=20),
                              TODAY - dt.timedelta(days=2))
    assert set(sync["targeting_type"]) == {"GENDER", "CREATIVE_TYPE"}
    assert {r[3] for r in _reports(fake)} == {("GENDER",)}
    assert_frame_equal(history, sync.filter(pl.col("targeting_type") == "GENDER"))
    assert any("CREATIVE_TYPE" in r.getMessage() and "no rows" in r.getMessage() for r in caplog.records)


def test_the_keyword_table_holds_only_the_columns_reports_know():
    from pinsync.schemas import analytics_columns

    names = [c.name for c in analytics_columns("keyword", ("SPEND_IN_DOLLAR", "QUIZ_PIN_RESULT_OPEN", "AD_ID",
                                                           "AD_GROUP_ID"), "DAY")]
    assert names[:5] == ["keyword_id", "ad_account_id", "date", "spend_in_dollar", "ad_group_id"]
    assert "quiz_pin_result_open" not in names and "ad_id" not in names


def test_extract_fetches_a_report_only_stream_from_reports(world, tmp_path):
    ds, fake, srv = world
    fake.reset_counters()
    config = config_from_dict(_raw(tmp_path, srv.url, ["keyword_analytics"], 20), env={}, today=TODAY)
    df = pinsync.extract("keyword_analytics", config, today=TODAY)
    assert fake.calls["create_report"] == len(ds.ad_accounts)
    keywords = [k["id"] for k in ds.keywords]
    truth = [t for acct in ds.ad_accounts for t in fake.truth_rows("keyword", acct["id"], keywords, _day(20),
                                                                    YESTERDAY, ["TOTAL_IMPRESSION"])]
    assert len(truth) > 0 and sorted(df.select("keyword_id", "date", "total_impression").rows()) == sorted(
        (t["KEYWORD_ID"], dt.date.fromisoformat(t["DATE"]), t.get("TOTAL_IMPRESSION")) for t in truth)
