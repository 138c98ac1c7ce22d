"""History from asynchronous reports: spans, create -> poll -> download, typing, resuming."""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pinsync.client import PinterestClient, RetryPolicy
from pinsync.errors import ApiError, Cancelled, PayloadError
from pinsync.extractor import AnalyticsSettings, Extractor
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.fake.analytics import AdsAnalytics, AnalyticsState
from pinsync.ratelimit import RateLimits
from pinsync.frames import read_json_array
from pinsync.reports import ReportPolicy, report_requests, report_spans
from pinsync.schemas import Column
from pinsync.streams import STREAMS
from tests.conftest import TODAY

TOKEN = "pina.reports-client-token-0123456789"
D = dt.date.fromisoformat
COLUMNS = ("SPEND_IN_MICRO_DOLLAR", "SPEND_IN_DOLLAR", "PAID_IMPRESSION", "TOTAL_CLICKTHROUGH", "CTR",
           "TOTAL_CONVERSIONS", "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "CAMPAIGN_ID", "AD_ACCOUNT_ID", "CAMPAIGN_NAME",
           "CAMPAIGN_BUDGET_OPTIMIZATION", "CAMPAIGN_DAILY_SPEND_CAP", "AD_GROUP_ID", "AD_GROUP_BID_MULTIPLIER",
           "AD_GROUP_BUDGET_IN_LOCAL_CURRENCY", "AD_NAME", "PIN_ID", "VIDEO_LENGTH", "ECPC_IN_DOLLAR",
           "TOTAL_WEB_SESSIONS")
ADS = {"campaign_analytics": "campaigns", "ad_group_analytics": "ad_groups", "ad_analytics": "ads"}


class Tokens:
    def token(self) -> str:
        return TOKEN

    def refresh(self, rejected: str) -> None:
        return None


@pytest.fixture(scope="module")
def world():
    ds = Dataset(seed=21, accounts=2, campaigns_per_account=5, ad_groups_per_campaign=3, ads_per_ad_group=3, pins=10,
                 today=TODAY, history_days=600)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        yield ds, fake, srv


@pytest.fixture
def env(world):
    """The module's fake, reset, and an extractor whose report waits are recorded, not slept."""
    ds, fake, srv = world
    fake.reset_counters()
    fake.clear_faults()
    fake.downloads.clear()
    fake.rate_limits = None
    reports = fake.reports
    reports.polls_in_progress, reports.lifetime, reports.link_lifetime = 2, 3600.0, 300.0
    reports._outcomes.clear()
    reports._truncate = 0
    sleeps: list[float] = []
    client = PinterestClient(srv.url, Tokens(), policy=RetryPolicy(max_retries=3, backoff_base=0.001))

    def extractor(granularity="DAY", columns=COLUMNS, **policy):
        return Extractor(client, settings=AnalyticsSettings(columns, granularity),
                         report_policy=ReportPolicy(sleep=sleeps.append, **{"first_wait": 1.0, **policy}))

    yield ds, fake, client, extractor, sleeps
    client.close()


def _account(ds, n=0) -> dict:
    return ds.ad_accounts[n]


def _ids(ds, stream, account) -> list[str]:
    return [e["id"] for e in ds.items(ADS[stream]) if e["ad_account_id"] == account]


def _history(ex, stream, account, start, end, **kw) -> pl.DataFrame:
    spec = STREAMS[stream]
    return ex.finish(spec, pl.concat(list(ex.report_batches(spec, account["id"], start, end,
                                                             currency=account["currency"], today=TODAY, **kw))))


# ------------------------------------------------------------------------------------------ spans

@pytest.mark.parametrize("start,end,gran,expected", [
    # 400 days: three reports of at most 186 days, back to back
    ("2025-08-01", "2026-09-04", "DAY",
     [("2025-08-01", "2026-02-02"), ("2026-02-03", "2026-08-07"), ("2026-08-08", "2026-09-04")]),
    # cut to 913 days back and to yesterday
    ("2020-01-01", "2026-12-31", "DAY",
     [("2024-05-30", "2024-12-01"), ("2024-12-02", "2025-06-05"), ("2025-06-06", "2025-12-08"),
      ("2025-12-09", "2026-06-12"), ("2026-06-13", "2026-11-28")]),
    ("2026-01-01", "2026-01-01", "DAY", [("2026-01-01", "2026-01-01")]),
    ("2026-01-02", "2026-01-01", "DAY", []),
    # HOUR: 3 days, 7 back
    ("2026-11-01", "2026-11-28", "HOUR",
     [("2026-11-22", "2026-11-24"), ("2026-11-25", "2026-11-27"), ("2026-11-28", "2026-11-28")]),
    # WEEK: from the Monday of the first day's week, whole weeks (26 weeks = 182 days per report)
    ("2025-12-03", "2026-09-30", "WEEK",
     [("2025-12-01", "2026-05-31"), ("2026-06-01", "2026-09-27")]),
    # ...but not from a Monday older than reports serve
    ("2024-05-01", "2024-06-30", "WEEK", [("2024-06-03", "2024-06-30")]),
    # MONTH: whole months, at most 186 days
    ("2025-05-15", "2026-08-31", "MONTH",
     [("2025-05-01", "2025-10-31"), ("2025-11-01", "2026-04-30"), ("2026-05-01", "2026-08-31")]),
    ("2026-01-01", "2026-12-31", "TOTAL", [("2026-01-01", "2026-07-05"), ("2026-07-06", "2026-11-28")]),
])
def test_report_spans(start, end, gran, expected):
    assert report_spans(D(start), D(end), gran, TODAY) == [(D(a), D(b)) for a, b in expected]


def test_report_requests_count_levels_accounts_and_spans():
    start, end = TODAY - dt.timedelta(days=500), TODAY - dt.timedelta(days=101)       # 400 days
    assert report_requests(start, end, "DAY", TODAY) == math.ceil(400 / 186) == 3
    assert report_requests(start, end, "DAY", TODAY, levels=3, accounts=4) == 36
    assert report_requests(TODAY - dt.timedelta(days=2000), TODAY, "DAY", TODAY) == 5     # 913 days reachable


# ------------------------------------------------------------------------------------------ end to end

def test_a_400_day_history_takes_levels_times_ceil_400_over_186_reports(env):
    ds, fake, client, extractor, _ = env
    ex = extractor()
    acc = _account(ds)
    start, end = TODAY - dt.timedelta(days=500), TODAY - dt.timedelta(days=101)
    for stream in ADS:
        df = _history(ex, stream, acc, start, end)
        assert df.height > 0 and df["date"].min() >= start and df["date"].max() <= end
    assert fake.calls["create_report"] == 3 * math.ceil(400 / 186) == 9
    assert fake.calls["report_download"] == 9
    assert client.requests_by_category["ads_analytics"] == 9 + fake.calls["get_report"]


@pytest.mark.parametrize("stream", list(ADS))
@pytest.mark.parametrize("granularity,back", [("DAY", (60, 1)), ("HOUR", (7, 1)), ("WEEK", (84, 1)),
                                              ("MONTH", (85, 1)), ("TOTAL", (60, 1))])
def test_report_frames_equal_synchronous_frames_column_for_column(env, stream, granularity, back):
    """Days both paths serve: the report's frame is the synchronous frame, same columns,
    same dtypes, same values (WEEK/MONTH: the same whole buckets; TOTAL: one window)."""
    ds, fake, client, extractor, _ = env
    ex = extractor(granularity)
    spec = STREAMS[stream]
    start, end = TODAY - dt.timedelta(days=back[0]), TODAY - dt.timedelta(days=back[1])
    compared = 0
    for acc in ds.ad_accounts:
        ids = _ids(ds, stream, acc["id"])
        spans = report_spans(start, end, granularity, TODAY)
        sync_start, sync_end = spans[0][0], spans[-1][1]
        sync = ex.ads_analytics(spec, acc["id"], ids, sync_start, sync_end, currency=acc["currency"])
        history = _history(ex, stream, acc, start, end, ids=ids)
        assert history.schema == sync.schema
        assert_frame_equal(history, sync)
        compared += sync.height
    assert compared > 0


def test_report_values_are_the_fake_s_truth(env):
    ds, fake, client, extractor, _ = env
    acc = _account(ds, 1)
    start, end = TODAY - dt.timedelta(days=300), TODAY - dt.timedelta(days=200)
    df = _history(extractor(), "ad_group_analytics", acc, start, end)
    # the fake's truth for days its synchronous endpoints no longer serve
    truth = AdsAnalytics(ds, AnalyticsState()).rows(
        "ad_group", acc["id"], _ids(ds, "ad_group_analytics", acc["id"]), start, end, "DAY",
        ["SPEND_IN_MICRO_DOLLAR", "CTR", "AD_GROUP_BID_MULTIPLIER"], 30, 30, 1, "TIME_OF_AD_ACTION")
    assert df.height == len(truth) > 0
    got = {(r["ad_group_id"], r["date"].isoformat()): (r["spend_in_micro_dollar"], r["ctr"],
                                                      r["ad_group_bid_multiplier"]) for r in df.to_dicts()}
    assert got == {(t["AD_GROUP_ID"], t["DATE"]): (t.get("SPEND_IN_MICRO_DOLLAR"), t.get("CTR"),
                                                   t.get("AD_GROUP_BID_MULTIPLIER")) for t in truth}
    assert df["currency"].unique().to_list() == [acc["currency"]]
    assert df["ad_account_id"].unique().to_list() == [acc["id"]]


def test_keyword_rows_are_keyed_by_keyword_and_date(env):
    ds, fake, client, extractor, _ = env
    start, end = TODAY - dt.timedelta(days=400), TODAY - dt.timedelta(days=1)
    total = 0
    for acc in ds.ad_accounts:
        df = _history(extractor(), "keyword_analytics", acc, start, end)
        assert df.columns[:3] == ["keyword_id", "ad_account_id", "date"]
        assert df.schema["keyword_id"] == pl.String and df.schema["date"] == pl.Date
        assert df.select("keyword_id", "date").is_duplicated().sum() == 0
        groups = {g["id"] for g in ds.ad_groups if g["ad_account_id"] == acc["id"]}
        keywords = {k["id"]: k["parent_id"] for k in ds.keywords if k["parent_id"] in groups}
        assert set(df["keyword_id"]) <= set(keywords)
        assert all(keywords[k] == g for k, g in df.select("keyword_id", "ad_group_id").iter_rows())
        total += df.height
    assert total > 100
    assert fake.calls["create_report"] == 2 * 3           # 400 days: 3 reports per account


def test_only_the_entities_asked_for_are_kept(env):
    ds, fake, client, extractor, _ = env
    acc = _account(ds)
    start, end = TODAY - dt.timedelta(days=200), TODAY - dt.timedelta(days=100)
    every = _history(extractor(), "ad_analytics", acc, start, end)
    some = sorted(set(every["ad_id"]))[::2]
    assert len(some) >= 2
    assert_frame_equal(_history(extractor(), "ad_analytics", acc, start, end, ids=some),
                       every.filter(pl.col("ad_id").is_in(some)))


def test_a_column_reports_cannot_carry_is_not_asked_for_and_stays_empty(env, caplog):
    ds, fake, client, extractor, _ = env
    acc = _account(ds)
    with caplog.at_level(logging.WARNING):
        df = _history(extractor(columns=("SPEND_IN_MICRO_DOLLAR", "QUIZ_PIN_RESULT_OPEN")), "ad_analytics", acc,
                      TODAY - dt.timedelta(days=150), TODAY - dt.timedelta(days=100))
    assert df.height > 0 and df.schema["quiz_pin_result_open"] == pl.Int64
    assert df["quiz_pin_result_open"].null_count() == df.height
    assert any("QUIZ_PIN_RESULT_OPEN" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------------------------ polling

def test_polls_back_off_from_1_to_30_seconds(env):
    ds, fake, client, extractor, sleeps = env
    fake.reports.polls_in_progress = 7
    df = _history(extractor(), "campaign_analytics", _account(ds), TODAY - dt.timedelta(days=150),
                  TODAY - dt.timedelta(days=120))
    assert df.height > 0
    assert sleeps == [1, 2, 4, 8, 16, 30, 30, 30]
    assert fake.calls["create_report"] == 1 and fake.calls["get_report"] == 8
    assert client.requests_by_category["ads_analytics"] == 9


def test_every_poll_passes_the_ads_analytics_limiter(env):
    ds, fake, client, extractor, sleeps = env
    fake.reports.polls_in_progress = 4
    clock = [0.0]
    waits: list[float] = []

    def wait(seconds):
        waits.append(seconds)
        clock[0] += seconds

    client.rate_limits = RateLimits({"ads_analytics": 3}, window=60.0, clock=lambda: clock[0], sleep=wait)
    try:
        _history(extractor(), "campaign_analytics", _account(ds), TODAY - dt.timedelta(days=150),
                 TODAY - dt.timedelta(days=120))
    finally:
        client.rate_limits = None
    # 1 creation + 5 polls = 6 ads_analytics requests at 3 per minute: the limiter held two back
    assert fake.calls["create_report"] + fake.calls["get_report"] == 6
    assert waits and sum(waits) >= 60


def test_waiting_is_bounded(env):
    ds, fake, client, extractor, sleeps = env
    fake.reports.polls_in_progress = 10 ** 6
    acc = _account(ds)
    with pytest.raises(ApiError) as err:
        _history(extractor(timeout=100), "campaign_analytics", acc, TODAY - dt.timedelta(days=150),
                 TODAY - dt.timedelta(days=120))
    message = str(err.value)
    assert acc["id"] in message and "CAMPAIGN" in message and "2026-07-02..2026-08-01" in message
    assert "not ready after 100 s" in message
    assert 100 <= sum(sleeps) < 100 + 30 and fake.calls["create_report"] == 1


@pytest.mark.parametrize("status", ["EXPIRED", "FAILED", "CANCELLED", "DOES_NOT_EXIST"])
def test_a_report_that_ends_badly_is_created_again(env, status):
    ds, fake, client, extractor, _ = env
    acc = _account(ds)
    start, end = TODAY - dt.timedelta(days=150), TODAY - dt.timedelta(days=120)
    expected = _history(extractor(), "campaign_analytics", acc, start, end)
    fake.reset_counters()
    fake.reports.fail_next(2, status)
    assert_frame_equal(_history(extractor(), "campaign_analytics", acc, start, end), expected)
    assert fake.calls["create_report"] == 3


def test_recreation_is_bounded_and_the_failure_names_account_level_and_span(env):
    ds, fake, client, extractor, _ = env
    fake.reports.lifetime = 0.0            # every report has expired by its first poll
    acc = _account(ds, 1)
    with pytest.raises(ApiError) as err:
        _history(extractor(max_creations=3), "ad_group_analytics", acc, TODAY - dt.timedelta(days=250),
                 TODAY - dt.timedelta(days=200))
    message = str(err.value)
    assert f"ad account {acc['id']}" in message and "level AD_GROUP" in message
    assert "2026-03-24..2026-05-13" in message and "EXPIRED" in message
    assert fake.calls["create_report"] == 3


def test_stopping_a_run_stops_the_wait(env):
    ds, fake, client, extractor, _ = env
    fake.reports.polls_in_progress = 10 ** 6
    ex = Extractor(client, settings=AnalyticsSettings(COLUMNS), report_policy=ReportPolicy(first_wait=30.0))
    client.cancelled.set()
    try:
        with pytest.raises(Cancelled):
            _history(ex, "campaign_analytics", _account(ds), TODAY - dt.timedelta(days=150),
                     TODAY - dt.timedelta(days=120))
    finally:
        client.cancelled.clear()


def test_a_creation_answered_by_a_server_error_is_retried(env):
    ds, fake, client, extractor, _ = env
    fake.add_fault("create_report", "status", status=503)
    df = _history(extractor(), "campaign_analytics", _account(ds), TODAY - dt.timedelta(days=150),
                  TODAY - dt.timedelta(days=120))
    assert df.height > 0 and fake.calls["create_report"] == 2 and len(fake.reports.by_token) >= 1


# ------------------------------------------------------------------------------------------ download

def test_the_download_never_carries_credentials_and_links_stay_out_of_logs(env, caplog):
    ds, fake, client, extractor, _ = env
    fake.add_fault("report_download", "status", status=503)      # one retry: logged
    with caplog.at_level(logging.DEBUG):
        df = _history(extractor(), "ad_analytics", _account(ds), TODAY - dt.timedelta(days=300),
                      TODAY - dt.timedelta(days=10))
    assert df.height > 0
    assert len(fake.downloads) == 2 + 1
    for method, path, query, headers in fake.downloads:
        assert "authorization" not in headers
        assert not any(TOKEN in v or "Bearer" in v for v in headers.values())
        assert "X-Amz-Signature" in query
    signatures = [q["X-Amz-Signature"][0] for _, _, q, _ in fake.downloads]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "server error (HTTP 503)" in logged and "metrics_report.txt?..." in logged
    assert signatures and not any(s in logged for s in signatures)


def test_a_refused_link_is_replaced_by_polling_again_and_errors_show_no_signature(env):
    ds, fake, client, extractor, _ = env
    acc = _account(ds)
    start, end = TODAY - dt.timedelta(days=150), TODAY - dt.timedelta(days=120)
    fake.add_fault("report_download", "status", status=403)
    assert _history(extractor(), "campaign_analytics", acc, start, end).height > 0
    assert fake.calls["report_download"] == 2 and fake.calls["get_report"] == 4     # a fourth poll: a new link
    fake.reports.link_lifetime = 0.0           # every link has expired by the time it is used
    with pytest.raises(ApiError) as err:
        _history(extractor(max_links=2), "campaign_analytics", acc, start, end)
    message = str(err.value)
    assert "download link was refused 2 times" in message and acc["id"] in message and "X-Amz" not in message
    assert not any(q["X-Amz-Signature"][0] in message for _, _, q, _ in fake.downloads)


@pytest.mark.parametrize("cut", ["switch", "transport", "html"])
def test_a_truncated_or_unparsable_file_is_fetched_again(env, cut):
    ds, fake, client, extractor, _ = env
    acc = _account(ds)
    start, end = TODAY - dt.timedelta(days=150), TODAY - dt.timedelta(days=120)
    expected = _history(extractor(), "campaign_analytics", acc, start, end)
    fake.reset_counters()
    if cut == "switch":
        fake.reports.truncate_next()           # a complete response whose JSON is cut
    elif cut == "transport":
        fake.add_fault("report_download", "truncate")
    else:
        fake.add_fault("report_download", "html", status=200)
    assert_frame_equal(_history(extractor(), "campaign_analytics", acc, start, end), expected)
    assert fake.calls["report_download"] == 2 and fake.calls["create_report"] == 1


_KEYED_COLUMNS = [Column("campaign_id", "str"), Column("date", "date"), Column("name", "str"),
                  Column("spend", "int"), Column("ctr", "float")]
_KEYED_SOURCE = {"campaign_id": "CAMPAIGN_ID", "date": "DATE", "name": "CAMPAIGN_NAME",
                 "spend": "SPEND_IN_MICRO_DOLLAR", "ctr": "CTR"}


def _read_report(body: bytes) -> pl.DataFrame:
    return read_json_array(body, _KEYED_COLUMNS, stream="campaign_analytics", source_names=_KEYED_SOURCE,
                           id_field="CAMPAIGN_ID", keyed=True)


@pytest.mark.parametrize("layout", ["compact", "pretty"])
def test_a_report_file_is_read_keyed_by_entity_with_every_value_kept(layout):
    """Each row gets its key as the entity id (over any id of its own); names holding the text
    that separates two entities, quotes, braces or escaped newlines stay as they are; an entity
    with no rows adds none; integers beyond 2**53 keep their digits."""
    body = (b'{"7":[{"DATE":"2026-01-01","CAMPAIGN_NAME":"a],\\"8\\":[b","SPEND_IN_MICRO_DOLLAR":9007199254740993,'
            b'"CTR":0.5},{"DATE":"2026-01-02","CAMPAIGN_NAME":"x},{\\"DATE\\":1}\\n","CAMPAIGN_ID":"99",'
            b'"SPEND_IN_MICRO_DOLLAR":1,"CTR":0}],"8":[],"12":[{"DATE":"2026-01-01","CAMPAIGN_NAME":"\\\\",'
            b'"SPEND_IN_MICRO_DOLLAR":2,"CTR":1.25}]}')
    if layout == "pretty":
        body = body.replace(b'{"7"', b'{\n  "7"').replace(b'],"', b'],\n  "').replace(b"]}", b"]\n}\n")
    expected = pl.DataFrame({
        "campaign_id": ["7", "7", "12"],
        "date": [dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 1)],
        "name": ['a],"8":[b', 'x},{"DATE":1}\n', "\\"],
        "spend": [9007199254740993, 1, 2],
        "ctr": [0.5, 0.0, 1.25]})
    assert_frame_equal(_read_report(body), expected)
    assert _read_report(b"{ }").height == 0


def test_an_unreadable_report_shape_is_a_payload_error_and_a_cut_file_is_not_json():
    with pytest.raises(PayloadError, match="keyed by entity id"):
        _read_report(b'[{"DATE": "2026-01-01"}]')
    with pytest.raises(PayloadError, match="list of JSON objects"):
        _read_report(b'{"1": {"DATE": "2026-01-01"}}')
    with pytest.raises(PayloadError, match="list of JSON objects"):
        _read_report(b'{"1": [{"DATE": "2026-01-01"}], "2": null}')
    for rows in (b"[null]", b'[{"DATE": "2026-01-02"}, null]', b"[1]", b'[["2026-01-02"]]'):     # not rows
        with pytest.raises(PayloadError, match="list of JSON objects"):
            _read_report(b'{"1": [{"DATE": "2026-01-01"}], "2": %s}' % rows)
    with pytest.raises(ValueError):             # the download is fetched again
        _read_report(b'{"1": [{"DATE": "2026-01-01"}], "2": [{"DATE": "2026-01-0')


# ------------------------------------------------------------------------------------------ resuming

def test_the_token_is_handed_over_before_the_first_poll_and_a_later_run_polls_it(env):
    ds, fake, client, extractor, _ = env
    acc = _account(ds)
    start, end = TODAY - dt.timedelta(days=150), TODAY - dt.timedelta(days=120)
    saved: dict[str, str] = {}

    class Killed(BaseException):
        pass

    def on_token(key, token):
        assert fake.calls["get_report"] == 0        # before the first poll
        saved[key] = token
        raise Killed                                # the process dies right after saving

    with pytest.raises(Killed):
        _history(extractor(), "campaign_analytics", acc, start, end, on_token=on_token)
    assert fake.calls["create_report"] == 1 and len(saved) == 1
    (key, token), = saved.items()
    assert acc["id"] in key and "CAMPAIGN" in key and "2026-07-02..2026-08-01" in key
    df = _history(extractor(), "campaign_analytics", acc, start, end, tokens=saved,
                  on_token=lambda k, t: pytest.fail("no new report"))
    assert df.height > 0
    assert fake.calls["create_report"] == 1
    assert {q["token"][0] for m, p, q in fake.requests if m == "GET" and p.endswith("/reports")} == {token}


def test_a_saved_token_of_an_expired_report_or_other_settings_is_not_used(env):
    ds, fake, client, extractor, _ = env
    acc = _account(ds)
    start, end = TODAY - dt.timedelta(days=150), TODAY - dt.timedelta(days=120)
    saved: dict[str, str] = {}
    _history(extractor(), "campaign_analytics", acc, start, end, on_token=saved.__setitem__)
    fake.reports.expire()
    fake.reset_counters()
    renewed: dict[str, str] = {}
    assert _history(extractor(), "campaign_analytics", acc, start, end, tokens=saved,
                    on_token=renewed.__setitem__).height > 0
    assert fake.calls["create_report"] == 1 and set(renewed) == set(saved) and renewed != saved
    fake.reset_counters()
    other: dict[str, str] = {}
    _history(extractor(columns=("SPEND_IN_MICRO_DOLLAR",)), "campaign_analytics", acc, start, end, tokens=renewed,
             on_token=other.__setitem__)
    assert fake.calls["create_report"] == 1 and not set(other) & set(renewed)


# ------------------------------------------------------------------------------------------ in flight

def test_several_reports_are_in_flight_and_frames_come_in_date_order(env):
    ds, fake, client, extractor, _ = env
    acc = _account(ds)
    spec = STREAMS["campaign_analytics"]
    start, end = TODAY - dt.timedelta(days=600), TODAY - dt.timedelta(days=1)       # 4 spans
    frames = list(extractor(in_flight=3).report_batches(spec, acc["id"], start, end, today=TODAY))
    spans = report_spans(start, end, "DAY", TODAY)
    assert len(frames) == len(spans) == 4
    for df, (a, b) in zip(frames, spans):
        assert df.height == 0 or (df["date"].min() >= a and df["date"].max() <= b)
    calls = [m for m, p, q in fake.requests]
    first_get = calls.index("GET")
    assert calls[:first_get] == ["POST"] * 3                   # three created before any poll
    assert fake.calls["create_report"] == 4
    fake.reset_counters()
    list(extractor(in_flight=1).report_batches(spec, acc["id"], start, end, today=TODAY))
    methods = "".join("P" if m == "POST" else "g" for m, p, q in fake.requests)
    assert methods == "Pggg" * 4                               # one at a time


def test_the_reports_in_flight_are_created_and_polled_together_and_no_more_than_needed(env):
    """With a request pool, the creations of a call's reports go out together, and so do the
    polls of the reports that are due (each held at the fake until all four have arrived):
    one wait covers them all, and each report is polled as often as it takes, no more."""
    ds, fake, client, extractor, sleeps = env
    acc = _account(ds)
    spec = STREAMS["campaign_analytics"]
    start, end = TODAY - dt.timedelta(days=600), TODAY - dt.timedelta(days=1)       # 4 spans
    rounds = {"POST": threading.Barrier(4, timeout=20), "GET": threading.Barrier(4, timeout=20)}
    serve = fake.serve

    def together(method, path, query=None, *a, **kw):
        if path.rstrip("/").endswith("/reports"):
            rounds[method].wait()           # broken (an error) unless all four are in flight at once
        return serve(method, path, query, *a, **kw)
    fake.serve = together
    with ThreadPoolExecutor(4) as pool:
        ex = Extractor(client, settings=AnalyticsSettings(COLUMNS), pool=pool,
                       report_policy=ReportPolicy(sleep=sleeps.append, first_wait=1.0))
        try:
            frames = list(ex.report_batches(spec, acc["id"], start, end, today=TODAY))
        finally:
            fake.serve = serve
    spans = report_spans(start, end, "DAY", TODAY)
    assert len(frames) == len(spans) == 4
    for df, (a, b) in zip(frames, spans):           # still handed over in date order
        assert df.height == 0 or (df["date"].min() >= a and df["date"].max() <= b)
    polls = fake.reports.polls_in_progress + 1
    assert fake.calls["create_report"] == 4 and fake.calls["get_report"] == 4 * polls
    assert fake.calls["report_download"] == 4
    assert sleeps == [1, 2, 4]                      # IN_PROGRESS twice: waits of 1, 2 and 4 s
