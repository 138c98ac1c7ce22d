"""End to end against the fake API: the analytics streams, batched, windowed, idempotent."""

from __future__ import annotations

import datetime as dt
import json
import math

import polars as pl
import pytest

import pinsync
from pinsync.config import config_from_dict
from pinsync.extractor import AnalyticsSettings, Extractor
from pinsync.fake import Dataset, FakePinterest, FakeServer
from tests.conftest import TODAY, TOKEN, active_pins, patch_analytics, read_table

ADS_STREAMS = {"campaign_analytics": ("campaign", "campaigns"), "ad_group_analytics": ("ad_group", "ad_groups"),
               "ad_analytics": ("ad", "ads")}
COLUMNS = ["SPEND_IN_DOLLAR", "SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_CLICKTHROUGH", "CTR",
           "TOTAL_CONVERSIONS", "CAMPAIGN_ID", "AD_ID", "CAMPAIGN_NAME", "AD_NAME"]


@pytest.fixture(scope="module")
def big():
    """3 accounts x 600 ads with 90 days of history, served once for the module."""
    ds = Dataset(seed=5, accounts=3, campaigns_per_account=10, ad_groups_per_campaign=6, ads_per_ad_group=10,
                 pins=150, today=TODAY, history_days=200)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        yield ds, fake, srv


def _config(tmp_path, url, **extra):
    data = {"api_url": url, "auth": {"access_token": TOKEN},
            "start_date": (TODAY - dt.timedelta(days=89)).isoformat(),   # what the synchronous endpoints serve
            "output": {"url": str(tmp_path / "out")}, "state": {"url": str(tmp_path / "state.json")},
            "analytics": {"columns": COLUMNS, "lookback_days": 14}, "max_workers": 4}
    for k, v in extra.items():
        data[k] = {**data.get(k, {}), **v} if isinstance(v, dict) else v
    return config_from_dict(data, env={}, today=TODAY)


def _truth(fake, ds, stream, start, end, columns=COLUMNS):
    level, parent = ADS_STREAMS[stream]
    rows = []
    for acct in ds.ad_accounts:
        ids = [e["id"] for e in getattr(ds, parent) if e["ad_account_id"] == acct["id"]]
        for batch in range(0, len(ids), 250):
            rows += [dict(r, _acct=acct["id"]) for r in fake.analytics_rows(
                level, acct["id"], ids[batch:batch + 250], start, end, granularity="DAY", columns=columns)]
    return rows


def _compare(df: pl.DataFrame, truth: list[dict], stream: str):
    level = ADS_STREAMS[stream][0]
    key = f"{level}_id"
    assert df.height == len(truth), stream
    assert df.select(key, "date").is_duplicated().sum() == 0
    got = {(r[key], r["date"].isoformat()): r for r in df.iter_rows(named=True)}
    for t in truth:
        row = got[(t[f"{level.upper()}_ID"], t["DATE"])]
        for col in ("SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_CONVERSIONS", "SPEND_IN_DOLLAR", "CTR"):
            if col in t:
                assert row[col.lower()] == pytest.approx(t[col]), (stream, col)
            else:
                assert row[col.lower()] is None      # omitted by the API: null, never a made-up zero


def test_four_streams_equal_the_fake_in_the_fewest_calls(big, tmp_path):
    ds, fake, srv = big
    fake.reset_counters()
    result = pinsync.run(_config(tmp_path, srv.url), today=TODAY)
    assert result.ok
    start, end = TODAY - dt.timedelta(days=89), TODAY - dt.timedelta(days=1)
    out = tmp_path / "out"
    for stream, (level, parent) in ADS_STREAMS.items():
        _compare(read_table(out, stream), _truth(fake, ds, stream, start, end), stream)
        n_ids = {a["id"]: sum(1 for e in getattr(ds, parent) if e["ad_account_id"] == a["id"]) for a in ds.ad_accounts}
        bound = sum(math.ceil(n / 250) for n in n_ids.values()) * 1   # one 89-day window
        assert fake.calls[stream] <= bound, (stream, fake.calls[stream], bound)
    assert fake.calls["ad_analytics"] == 3 * math.ceil(600 / 250)
    pins = read_table(out, "pin_analytics")
    assert pins.select("pin_id", "app_type", "date").is_duplicated().sum() == 0
    # the first batch doubles as the probe
    assert fake.calls["multi_pin_analytics"] == math.ceil(len(active_pins(fake)) / 100)
    # every ads analytics row carries its context
    row = read_table(out, "ad_analytics").row(0, named=True)
    assert row["granularity"] == "DAY" and row["click_window_days"] == 30 and row["currency"]
    assert row["conversion_report_time"] == "TIME_OF_AD_ACTION"


def test_restatement_is_picked_up_and_no_key_duplicates(big, tmp_path):
    ds, fake, srv = big
    config = _config(tmp_path, srv.url, streams=["campaigns", "campaign_analytics"])
    pinsync.run(config, today=TODAY)
    out = tmp_path / "out"
    before = read_table(out, "campaign_analytics")
    fake.restate(days=14)
    try:
        pinsync.run(config, today=TODAY)
        after = read_table(out, "campaign_analytics")
        start, end = TODAY - dt.timedelta(days=89), TODAY - dt.timedelta(days=1)
        _compare(after, _truth(fake, ds, "campaign_analytics", start, end), "campaign_analytics")
        recent = pl.col("date") >= TODAY - dt.timedelta(days=14)
        assert not before.filter(recent).sort("campaign_id", "date").equals(after.filter(recent).sort("campaign_id", "date"))
        assert before.filter(~recent).sort("campaign_id", "date").equals(after.filter(~recent).sort("campaign_id", "date"))
        # a re-run of the same window changes nothing
        pinsync.run(config, today=TODAY)
        assert read_table(out, "campaign_analytics").sort("campaign_id", "date").equals(after.sort("campaign_id", "date"))
    finally:
        fake.restate(days=0)


def test_refetch_returning_nothing_for_a_day_leaves_it_empty(big, tmp_path):
    ds, fake, srv = big
    config = _config(tmp_path, srv.url, streams=["campaigns", "campaign_analytics"])
    pinsync.run(config, today=TODAY)
    day = TODAY - dt.timedelta(days=3)
    out = tmp_path / "out"
    assert read_table(out, "campaign_analytics").filter(pl.col("date") == day).height > 0
    fake.blank_day(day)
    try:
        pinsync.run(config, today=TODAY)
        assert read_table(out, "campaign_analytics").filter(pl.col("date") == day).height == 0
    finally:
        fake.unblank_day(day) if hasattr(fake, "unblank_day") else None


def test_bookmark_is_last_complete_day_and_next_run_uses_lookback(big, tmp_path):
    ds, fake, srv = big
    config = _config(tmp_path, srv.url, streams=["campaigns", "campaign_analytics"])
    pinsync.run(config, today=TODAY)
    state = pinsync.state.StateStore(config.state.url).load().as_dict()["bookmarks"]["campaign_analytics"]
    assert {v["last_complete_date"] for v in state.values()} == {(TODAY - dt.timedelta(days=1)).isoformat()}
    fake.reset_counters()
    fake.requests.clear()
    pinsync.run(config, today=TODAY + dt.timedelta(days=1))
    starts = {q["start_date"][0] for m, p, q in fake.requests if p.endswith("/campaigns/analytics")}
    assert starts == {(TODAY + dt.timedelta(days=1) - dt.timedelta(days=14)).isoformat()}


def test_columns_invalid_for_a_level_are_not_sent(big, tmp_path, caplog):
    ds, fake, srv = big
    fake.requests.clear()
    pinsync.run(_config(tmp_path, srv.url, streams=["campaigns", "campaign_analytics"]), today=TODAY)
    sent = [q["columns"][0] for m, p, q in fake.requests if p.endswith("/campaigns/analytics")]
    assert sent and all("AD_ID" not in c.split(",") and "AD_NAME" not in c.split(",") for c in sent)
    assert "not valid at the campaign level" not in caplog.text   # the defaults' id columns drop out silently
    df = read_table(tmp_path / "out", "campaign_analytics")
    assert "ad_id" not in df.columns and "campaign_name" in df.columns


@pytest.mark.parametrize("granularity", ["WEEK", "MONTH", "HOUR", "TOTAL"])
def test_other_granularities_match_the_fake_and_stay_unique(granularity, tmp_path):
    ds = Dataset(seed=3, accounts=1, campaigns_per_account=5, ad_groups_per_campaign=1, ads_per_ad_group=1, pins=5,
                 today=TODAY, history_days=150)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    columns = [c for c in COLUMNS if c not in ("AD_ID", "AD_NAME")]
    acct, ids = ds.ad_accounts[0]["id"], [c["id"] for c in ds.campaigns]

    def truth_of_last_run():
        windows = sorted({(q["start_date"][0], q["end_date"][0]) for m, p, q in fake.requests
                          if p.endswith("/campaigns/analytics")})
        rows = [r for a, b in windows for r in fake.analytics_rows(
            "campaign", acct, ids, dt.date.fromisoformat(a), dt.date.fromisoformat(b), granularity=granularity,
            columns=columns)]
        return windows, rows

    with FakeServer(fake) as srv:
        config = _config(tmp_path, srv.url, streams=["campaigns", "campaign_analytics"],
                         analytics={"columns": COLUMNS, "lookback_days": 14, "granularity": granularity})
        assert pinsync.run(config, today=TODAY).ok
        windows, truth = truth_of_last_run()
        first = read_table(tmp_path / "out", "campaign_analytics").sort("campaign_id", "date")
        fake.requests.clear()
        assert pinsync.run(config, today=TODAY).ok
        windows2, truth2 = truth_of_last_run()
        second = read_table(tmp_path / "out", "campaign_analytics").sort("campaign_id", "date")
    assert first.height == len(truth) and first.select("campaign_id", "date").is_duplicated().sum() == 0
    assert first["spend_in_micro_dollar"].sum() == sum(t.get("SPEND_IN_MICRO_DOLLAR", 0) for t in truth)
    assert first["granularity"].unique().to_list() == [granularity]
    assert second.select("campaign_id", "date").is_duplicated().sum() == 0
    if granularity == "HOUR":
        assert all((dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days < 3 for a, b in windows)
        assert first.schema["date"] == pl.Datetime("us", "UTC")
        assert (TODAY - first["date"].min().date()).days < 8
    if granularity == "TOTAL":
        # one row per entity for each run's window, keyed by the window's start
        (a, b), = windows2
        latest = second.filter(pl.col("start_date") == dt.date.fromisoformat(a))
        assert latest.height == len(truth2) and set(latest["end_date"].to_list()) == {dt.date.fromisoformat(b)}
        assert set(latest["date"].to_list()) == {dt.date.fromisoformat(a)}        # partitioned by the start
    else:
        assert second.equals(first)            # a re-run of the same data changes nothing
    if granularity == "WEEK":
        assert all(d.weekday() == 0 for d in first["date"].to_list()) and len(windows) == 1
    if granularity == "MONTH":
        assert all(d.day == 1 for d in first["date"].to_list())


def test_pin_analytics_falls_back_to_one_call_per_pin_and_splits_by_app_type(tmp_path):
    ds = Dataset(seed=4, accounts=1, campaigns_per_account=1, ad_groups_per_campaign=1, ads_per_ad_group=1, pins=12,
                 today=TODAY, history_days=150)
    fake = FakePinterest(ds, access_tokens=(TOKEN,), multi_pin_analytics=False)
    with FakeServer(fake) as srv:
        config = _config(tmp_path, srv.url, streams=["pins", "pin_analytics"],
                         pin_analytics={"split_by_app_type": True})
        assert pinsync.run(config, today=TODAY).ok
        df = read_table(tmp_path / "out", "pin_analytics")
        start, end = TODAY - dt.timedelta(days=89), TODAY - dt.timedelta(days=1)
        live = [p for p in ds.pins if p["created_at"][:10] <= end.isoformat()]
        assert fake.calls["multi_pin_analytics"] == 1                   # the first batch, answered 403
        assert fake.calls["pin_analytics"] == 2 * len(active_pins(fake))  # NO_SPLIT + APP_TYPE per pin with activity
        assert set(df["app_type"].unique().to_list()) <= {"TOTAL", "MOBILE", "TABLET", "WEB"}
        assert "TOTAL" in df["app_type"].to_list() and len(df["app_type"].unique()) > 1
        assert df.select("pin_id", "app_type", "date").is_duplicated().sum() == 0
        one = live[0]["id"]
        payload = fake.pin_analytics_payload(one, start, end, ["IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE",
                                                                "SAVE_RATE"])
        ready = [d for d in payload["all"]["daily_metrics"] if not d["data_status"].startswith("BEFORE_")]
        mine = df.filter((pl.col("pin_id") == one) & (pl.col("app_type") == "TOTAL")).sort("date")
        assert mine.height == len(ready)
        assert mine["impression"].to_list() == [d["metrics"].get("IMPRESSION") for d in ready]
        # days not READY yet are fetched again next run
        state = pinsync.state.StateStore(config.state.url).load().as_dict()["bookmarks"]["pin_analytics"]["*"]
        pending = [d["date"] for d in ready if d["data_status"] != "READY"]
        assert state["last_complete_date"] < min(pending)


def test_a_failed_listing_skips_only_its_own_analytics(fake, make_config, tmp_path):
    """Units form a graph: ad groups that cannot be listed fail ad_group_analytics (said so),
    while campaigns, ads and their analytics still sync and commit."""
    config = make_config()
    fake.add_fault("ad_groups", "status", times=10**6, status=403)
    result = pinsync.run(config, today=TODAY, raise_on_failure=False)
    failed = sorted({f.split(" ")[0] for f in result.failures})
    assert failed == ["ad_group_analytics", "ad_groups"], result.failures
    assert all("could not be listed" in f for f in result.failures if f.startswith("ad_group_analytics"))
    streams = json.loads((tmp_path / "state" / "state.json").read_text())["bookmarks"]
    accounts = {a["id"] for a in fake.dataset.ad_accounts}
    for stream in ("campaigns", "ads", "campaign_analytics", "ad_analytics"):
        assert set(streams[stream]) == accounts, stream             # committed for every account
    assert "ad_groups" not in streams and "ad_group_analytics" not in streams
    for stream in ("campaign_analytics", "ad_analytics"):
        assert {p.name.split("=")[1] for p in (tmp_path / "out" / stream).iterdir()} == accounts
    assert not (tmp_path / "out" / "ad_group_analytics").exists()
    assert not (tmp_path / "out" / "ad_groups").exists()


@pytest.fixture(scope="module")
def many_pins():
    """Three pages of pins (250 a page)."""
    ds = Dataset(seed=6, accounts=1, campaigns_per_account=1, ad_groups_per_campaign=1, ads_per_ad_group=1, pins=600,
                 today=TODAY, history_days=150)
    fake = FakePinterest(ds, access_tokens=(TOKEN,), latency=0.02)
    with FakeServer(fake) as srv:
        yield ds, fake, srv


def test_pin_analytics_of_several_pages_of_pins_in_the_fewest_calls(many_pins, tmp_path):
    ds, fake, srv = many_pins
    fake.reset_counters()
    config = _config(tmp_path, srv.url, streams=["pins", "pin_analytics"])
    assert pinsync.run(config, today=TODAY).ok
    end = TODAY - dt.timedelta(days=1)
    live = sorted(p["id"] for p in ds.pins if p["created_at"][:10] <= end.isoformat())
    assert fake.calls["pins"] == 3
    assert fake.calls["multi_pin_analytics"] == math.ceil(len(active_pins(fake)) / 100)
    got = read_table(tmp_path / "out", "pin_analytics")
    metrics = ["IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE", "SAVE_RATE"]     # the default metric types
    days = {pin: fake.pin_analytics_payload(pin, TODAY - dt.timedelta(days=89), end, metrics)["all"]["daily_metrics"]
            for pin in live}
    truth = [(pin, dt.date.fromisoformat(d["date"]), d["data_status"], *[d["metrics"].get(m) for m in metrics])
             for pin in live for d in days[pin] if not d["data_status"].startswith("BEFORE_")
             and any(d["metrics"].get(m) is not None for m in metrics)]     # a day with no value has no row
    assert len(truth) > len(live)
    assert set(got["app_type"].to_list()) == {"TOTAL"}
    columns = ["pin_id", "date", "data_status", *[m.lower() for m in metrics]]
    assert sorted(got.select(columns).rows()) == sorted(truth)


def test_a_pins_listing_failing_half_way_skips_pin_analytics_and_commits_nothing_of_it(many_pins, tmp_path):
    ds, fake, srv = many_pins
    fake.add_fault("pins", "status", times=10**6, status=403, after=2)     # the third page is refused
    try:
        config = _config(tmp_path, srv.url, streams=["pins", "pin_analytics", "campaigns"])
        result = pinsync.run(config, today=TODAY, raise_on_failure=False)
    finally:
        fake.clear_faults()
    assert sorted(f.split(" ")[0].rstrip(":") for f in result.failures) == ["pin_analytics", "pins"], result.failures
    assert any("could not be listed" in f for f in result.failures if f.startswith("pin_analytics"))
    bookmarks = json.loads((tmp_path / "state.json").read_text())["bookmarks"]
    assert "pins" not in bookmarks and "pin_analytics" not in bookmarks and "campaigns" in bookmarks
    assert not (tmp_path / "out" / "pin_analytics").exists() and not (tmp_path / "out" / "pins").exists()


@pytest.mark.parametrize("n_ids,every_column,calls", [
    (250, False, 1), (251, False, 2), (500, False, 2), (501, False, 3),    # 250 ids a call, no fewer, no more
    (250, True, 2), (501, True, 3),     # all 175 columns: 250 ids would make a 9.3 KB request line
])
def test_ids_are_batched_in_the_fewest_calls_whose_request_lines_fit_in_8_kb(n_ids, every_column, calls, tmp_path):
    ds = Dataset(seed=8, accounts=1, campaigns_per_account=n_ids, ad_groups_per_campaign=1, ads_per_ad_group=1,
                 pins=1, today=TODAY, history_days=120)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    columns = list(pinsync.api.ANALYTICS_COLUMNS) if every_column else COLUMNS
    with FakeServer(fake) as srv:
        config = _config(tmp_path, srv.url, streams=["campaigns", "campaign_analytics"],
                         start_date=(TODAY - dt.timedelta(days=3)).isoformat(),
                         analytics={"columns": columns, "lookback_days": 14})
        assert pinsync.run(config, today=TODAY).ok
    assert fake.calls["request_line_too_long"] == 0
    assert fake.calls["campaign_analytics"] == calls
    asked = [i for m, p, q in fake.requests if p.endswith("/campaigns/analytics")
             for i in q["campaign_ids"][0].split(",")]
    assert sorted(asked) == sorted(c["id"] for c in ds.campaigns)       # every campaign once


def _ads_tables(out) -> dict[str, pl.DataFrame]:
    return {s: read_table(out, s).sort(f"{level}_id", "date") for s, (level, _) in ADS_STREAMS.items()}


def test_duplicate_rows_in_an_answer_are_written_once_the_last_one_kept(make_config, fake, tmp_path):
    clean = make_config(output={"url": str(tmp_path / "clean")}, state={"url": str(tmp_path / "clean.json")})
    assert pinsync.run(clean, today=TODAY).ok
    fake.add_fault("*", "duplicate_rows", times=10**6)        # every ads analytics row: a stale copy, then itself
    assert pinsync.run(make_config(), today=TODAY).ok
    got, want = _ads_tables(tmp_path / "out"), _ads_tables(tmp_path / "clean")
    for stream, (level, _) in ADS_STREAMS.items():
        assert want[stream].height > 0 and got[stream].select(f"{level}_id", "date").is_duplicated().sum() == 0
        assert got[stream].equals(want[stream]), stream


@pytest.mark.parametrize("stream, rows, named", [
    ("campaigns", {"id": ["1", None], "name": ["Spring", "Summer sale"]}, '{"name": "Summer sale"}'),
    ("ad_analytics", {"ad_id": ["5", None], "date": [dt.date(2026, 11, 1), dt.date(2026, 11, 2)]},
     '{"date": "2026-11-02"}'),
])
def test_a_row_without_its_key_is_refused_naming_what_the_record_holds(stream, rows, named):
    """Before duplicates are dropped: a row missing a key value cannot be told apart from
    the others, so it is one PayloadError naming the stream, the field and what the record
    does hold (its other key values, its name), never a row silently merged or kept."""
    from pinsync.errors import PayloadError
    from pinsync.streams import STREAMS
    field = next(k for k, v in rows.items() if None in v)
    message = (f"{stream}: field '{field}' of a record is missing (null), so the record cannot be kept apart from "
               f"others (the record: {named})")
    with pytest.raises(PayloadError) as info:
        Extractor.dedupe(STREAMS[stream], pl.DataFrame(rows))
    assert str(info.value) == message


@pytest.mark.parametrize("largest", [2**63 - 1, 2**62 + 3])      # the latter: an answer Polars reads alone
def test_micro_amounts_above_2_53_are_written_exactly(make_config, fake, tmp_path, largest):
    """Checkout values in KRW, COP or CLP micro-units pass 2**53: no float may carry them."""
    def huge(rows):
        for n, r in enumerate(rows):
            r["TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR"] = largest if n == 0 else 2**53 + 1
    patch_analytics(fake, "/campaigns/analytics", huge)
    config = make_config(streams=["campaigns", "campaign_analytics"],
                         analytics={"columns": ["PAID_IMPRESSION", "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR"]})
    assert pinsync.run(config, today=TODAY).ok
    df = pinsync.scan("campaign_analytics", config=config).collect()
    assert df.schema["total_checkout_value_in_micro_dollar"] == pl.Int64
    values = df["total_checkout_value_in_micro_dollar"]
    assert values.n_unique() == 2 and values.min() == 2**53 + 1 and values.max() == largest
    assert (values == largest).sum() == len(fake.dataset.ad_accounts)    # the first row of each answer


def _hour_config(make_config):
    return make_config(streams=["campaigns", "campaign_analytics"], analytics={"granularity": "HOUR"})


def test_hour_rows_given_as_plain_dates_fail_the_stream_instead_of_merging_hours(make_config, fake, tmp_path):
    """The spec's DATE is a date: an HOUR answer without a way to tell its hours apart
    must not collapse 24 rows into one."""
    patch_analytics(fake, "/campaigns/analytics", lambda rows: [r.pop("HOUR") for r in rows])
    result = pinsync.run(_hour_config(make_config), today=TODAY, raise_on_failure=False)
    failures = [f for f in result.failures if f.startswith("campaign_analytics")]
    assert len(failures) == len(fake.dataset.ad_accounts) == len(result.failures), result.failures
    assert all("granularity HOUR" in f and "no HOUR is given" in f for f in failures)
    assert not (tmp_path / "out" / "campaign_analytics").exists()
    assert "campaign_analytics" not in json.loads((tmp_path / "state" / "state.json").read_text())["bookmarks"]


def test_hour_given_inside_date_gives_the_same_table(make_config, fake, tmp_path):
    plain = make_config(streams=["campaigns", "campaign_analytics"], analytics={"granularity": "HOUR"},
                        output={"url": str(tmp_path / "plain")}, state={"url": str(tmp_path / "plain.json")})
    assert pinsync.run(plain, today=TODAY).ok

    def inside(rows):
        for r in rows:
            r["DATE"] = f"{r['DATE']}T{r.pop('HOUR'):02d}:00:00"
    patch_analytics(fake, "/campaigns/analytics", inside)
    assert pinsync.run(_hour_config(make_config), today=TODAY).ok
    got, want = read_table(tmp_path / "out", "campaign_analytics"), read_table(tmp_path / "plain", "campaign_analytics")
    assert want["date"].dt.hour().n_unique() == 24
    assert got.sort("campaign_id", "date").equals(want.sort("campaign_id", "date"))


def test_entities_created_after_the_last_day_fetched_are_not_asked_for(make_config, fake, dataset, tmp_path):
    """A campaign created today has no complete day yet; one created in yesterday's last
    second has (midnight UTC is the line)."""
    midnight = int(dt.datetime.combine(TODAY, dt.time(), tzinfo=dt.timezone.utc).timestamp())
    today, last_second = dataset.campaigns[0], dataset.campaigns[1]
    today["created_time"], last_second["created_time"] = midnight, midnight - 1
    assert pinsync.run(make_config(streams=["campaigns", "campaign_analytics"]), today=TODAY).ok
    asked = {i for m, p, q in fake.requests if p.endswith("/campaigns/analytics")
             for i in q["campaign_ids"][0].split(",")}
    assert last_second["id"] in asked and today["id"] not in asked
    assert asked == {c["id"] for c in dataset.campaigns} - {today["id"]}


@pytest.mark.parametrize("granularity", ["DAY", "HOUR"])
def test_the_last_day_coming_back_empty_is_removed_and_no_other(make_config, fake, tmp_path, granularity):
    config = make_config(streams=["campaigns", "campaign_analytics"], analytics={"granularity": granularity})
    assert pinsync.run(config, today=TODAY).ok
    yesterday = TODAY - dt.timedelta(days=1)
    day_of = pl.col("date").cast(pl.Date) if granularity == "HOUR" else pl.col("date")
    before = read_table(tmp_path / "out", "campaign_analytics").sort("campaign_id", "date")
    assert before.filter(day_of == yesterday).height > 0 and before.filter(day_of < yesterday).height > 0
    fake.blank_day(yesterday)
    assert pinsync.run(config, today=TODAY).ok
    after = read_table(tmp_path / "out", "campaign_analytics").sort("campaign_id", "date")
    assert after.equals(before.filter(day_of != yesterday))
    assert not list((tmp_path / "out" / "campaign_analytics").glob(f"*/date={yesterday.isoformat()}*"))


def test_a_request_line_of_exactly_8_kb_is_sent_and_one_byte_more_is_split():
    """The limit is inclusive: 64 bytes an id makes 128 ids exactly 8192 bytes."""
    class Client:
        def __init__(self):
            self.batches = []

        def request_line_length(self, path, params):
            return 64 * len(params["campaign_ids"].split(","))

        def get_bytes(self, path, params, **kw):
            self.batches.append(len(params["campaign_ids"].split(",")))
            return b"[]"
    client = Client()
    ex = Extractor(client, settings=AnalyticsSettings(columns=("PAID_IMPRESSION",)))
    ids = [str(10**16 + i) for i in range(250)]
    day = TODAY - dt.timedelta(days=1)
    assert list(ex.ads_analytics_batches(pinsync.STREAMS["campaign_analytics"], "1", ids, day, day))
    assert client.batches == [128, 122]
