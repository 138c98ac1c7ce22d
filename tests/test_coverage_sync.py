"""Runs of the other objects and reports: ``streams: [all]``, re-runs, restated days, their
history from reports, the user account's split, and a stream Pinterest refuses (a scope the
token lacks, an account without a catalog) failing or warning as the selection says."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

import pinsync
from pinsync.cli import main
from pinsync.config import DEFAULT_TARGETING_TYPES
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.fake.objects import ALL_READ_SCOPES
from pinsync.login import scopes_to_ask
from pinsync.streams import DEFAULT_STREAMS, STREAMS
from tests.conftest import TODAY, TOKEN, data_files, read_table
from tests.s3_fixtures import read_tables

OTHER = [n for n in STREAMS if n not in DEFAULT_STREAMS]
ADS_REPORTS = ["ad_account_analytics", "ad_account_targeting_analytics", "campaign_targeting_analytics",
               "ad_group_targeting_analytics", "ad_targeting_analytics", "product_group_analytics"]


def _state(config) -> dict:
    return json.loads(Path(config.state.url).read_text())["bookmarks"]


# ------------------------------------------------------------------------------------------ all streams
def test_all_runs_every_stream_and_a_rerun_changes_nothing(make_config, fake, tmp_path):
    config = make_config({"streams": ["all"]})
    first = pinsync.run(config, today=TODAY)
    assert first.ok and first.warnings == [] and set(first.streams) == set(STREAMS)
    out = tmp_path / "out"
    for name in OTHER:
        assert first.streams[name].rows_written > 0 and read_table(out, name).height > 0, name
    assert set(_state(config)) == set(STREAMS)
    files = data_files(out)
    before = read_tables(str(out))
    fake.reset_counters()
    again = pinsync.run(config, today=TODAY)
    assert again.ok and sum(s.files_written for s in again.streams.values()) == 0
    assert data_files(out) == files                      # not one file touched
    after = read_tables(str(out))
    assert all(after[n].equals(before[n]) for n in STREAMS)
    # the listings asked again (no "changed since" filter), the analytics only their lookback
    assert fake.calls["keywords"] > 0 and fake.calls["ad_account_targeting_analytics"] == 2


def test_restated_days_are_replaced_in_the_other_reports(make_config, fake, tmp_path):
    config = make_config({"streams": ADS_REPORTS})
    assert pinsync.run(config, today=TODAY).ok
    before = read_tables(str(tmp_path / "out"), streams=ADS_REPORTS)
    fake.restate(days=3)
    try:
        assert pinsync.run(config, today=TODAY).ok
        after = read_tables(str(tmp_path / "out"), streams=ADS_REPORTS)
        fresh = make_config({"streams": ADS_REPORTS, "output": {"url": str(tmp_path / "fresh")},
                             "state": {"url": str(tmp_path / "fresh-state" / "state.json")}})
        assert pinsync.run(fresh, today=TODAY).ok
        clean = read_tables(str(tmp_path / "fresh"), streams=ADS_REPORTS)
    finally:
        fake.restate(days=0)
    restated = pl.col("date") >= TODAY - dt.timedelta(days=3)
    moved = []
    for name in ADS_REPORTS:
        assert after[name].equals(clean[name]), name              # equals a fresh run of the restated API
        if after[name].filter(restated).height:
            assert not after[name].filter(restated).equals(before[name].filter(restated)), name
            moved.append(name)
        assert after[name].filter(~restated).equals(before[name].filter(~restated)), name
    assert set(moved) >= set(ADS_REPORTS) - {"product_group_analytics"}


def test_ad_account_product_group_and_targeting_history_comes_from_reports(make_config, fake, tmp_path, caplog):
    start = TODAY - dt.timedelta(days=150)
    config = make_config({"start_date": start.isoformat(), "streams": [
        "ad_account_analytics", "product_group_analytics", "ad_account_targeting_analytics"]})
    assert pinsync.run(config, today=TODAY).ok
    assert fake.calls["create_report"] > 0
    out = tmp_path / "out"
    old = pl.col("date") < TODAY - dt.timedelta(days=89)
    accounts = read_table(out, "ad_account_analytics")
    assert accounts.filter(old).height > 30                      # days only reports serve
    ds = fake.dataset
    for acct in ds.ad_accounts:
        mine = accounts.filter(pl.col("ad_account_id") == acct["id"]).sort("date")
        truth = fake._ads.rows("advertiser", acct["id"], [acct["id"]], start, TODAY - dt.timedelta(days=1), "DAY",
                               ["TOTAL_IMPRESSION", "PAID_IMPRESSION"], 30, 30, 1, "TIME_OF_AD_ACTION")
        assert mine.select("date", "total_impression", "paid_impression").rows() == [
            (dt.date.fromisoformat(r["DATE"]), r.get("TOTAL_IMPRESSION"), r.get("PAID_IMPRESSION")) for r in truth]
    # each asked reports for the days the synchronous endpoints do not serve
    levels = {r.query.level for r in fake.reports.by_token.values()}
    assert levels == {"ADVERTISER", "PRODUCT_GROUP", "ADVERTISER_TARGETING"}
    assert read_table(out, "product_group_analytics").height > 0
    # targeting history from ADVERTISER_TARGETING reports: from the start date on, nothing clamped
    targeting = read_table(out, "ad_account_targeting_analytics")
    assert targeting.filter(old).height > 30
    for acct in ds.ad_accounts:
        truth = fake.truth_rows("advertiser", acct["id"], [acct["id"]], start, TODAY - dt.timedelta(days=1),
                                ["TOTAL_IMPRESSION"], targeting_types=DEFAULT_TARGETING_TYPES)
        mine = targeting.filter(pl.col("ad_account_id") == acct["id"])
        assert sorted(mine.select("targeting_type", "targeting_value", "date", "total_impression").rows()) == sorted(
            (t["targeting_type"], str(t["targeting_value"]), dt.date.fromisoformat(t["metrics"]["DATE"]),
             t["metrics"].get("TOTAL_IMPRESSION")) for t in truth)
    assert "older than the analytics API serves" not in caplog.text


def test_the_user_account_s_analytics_are_keyed_by_day_and_split_and_pending_days_come_again(make_config, fake):
    config = make_config({"streams": ["user_account_analytics"],
                          "user_account_analytics": {"split_field": "APP_TYPE",
                                                     "metric_types": ["IMPRESSION", "SAVE_RATE"]}})
    assert pinsync.run(config, today=TODAY).ok
    df = pinsync.scan("user_account_analytics", config=config).collect()
    assert df.columns == ["date", "app_type", "data_status", "impression", "save_rate"]
    assert df.select("date", "app_type").is_duplicated().sum() == 0
    assert set(df["app_type"]) == {"MOBILE", "TABLET", "WEB"} and df.height == 3 * 20
    mark = _state(config)["user_account_analytics"]["*"]
    # today - 3 .. yesterday are still PROCESSING: fetched again next run
    assert mark["last_complete_date"] == (TODAY - dt.timedelta(days=3)).isoformat()
    assert set(df.filter(pl.col("date") >= TODAY - dt.timedelta(days=2))["data_status"]) == {"PROCESSING"}
    fake.reset_counters()
    again = pinsync.run(config, today=TODAY)
    assert again.ok and fake.calls["user_account_analytics"] == 1 and again.streams[
        "user_account_analytics"].files_written == 0
    # another split is another table layout: fetched whole again
    other = config.replace(user_account_analytics=config.user_account_analytics.__class__(("IMPRESSION",), "SOURCE"))
    assert pinsync.run(other, today=TODAY).ok
    assert set(pinsync.scan("user_account_analytics", config=other).collect()["source"]) == {"YOUR_PINS", "OTHER_PINS"}


def test_login_asks_for_every_read_scope_when_every_stream_is_selected(make_config):
    assert scopes_to_ask(make_config({"streams": ["all"]})) == tuple(sorted(ALL_READ_SCOPES))
    assert "catalogs:read" not in scopes_to_ask(make_config())          # the default selection


# ------------------------------------------------------------------------------------------ refused streams
def _cli(tmp_path: Path, url: str, *args: str) -> tuple[int, str, dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = tmp_path / "pinsync.yaml"
    cfg.write_text(yaml.safe_dump({
        "api_url": url, "auth": {"access_token": TOKEN}, "start_date": (TODAY - dt.timedelta(days=5)).isoformat(),
        "output": {"url": str(tmp_path / "out")}, "state": {"url": str(tmp_path / "state" / "state.json")}}))
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--json", *args])
    return res.exit_code, res.stderr, json.loads(res.stdout[res.stdout.index("{"):])


@pytest.fixture
def no_catalog_scope(fake):
    fake.set_token_scopes(TOKEN, [s for s in ALL_READ_SCOPES if s not in ("catalogs:read", "user_accounts:read")])
    yield fake
    fake.set_token_scopes(TOKEN, ALL_READ_SCOPES)


def test_a_missing_scope_from_all_is_a_warning_and_the_rest_commits(tmp_path, server, no_catalog_scope):
    code, err, summary = _cli(tmp_path, server.url, "--streams", "all")
    assert code == 0, err
    refused = {"catalogs", "catalog_feeds", "catalog_product_groups", "user_account", "user_account_analytics"}
    assert {w.split(":")[0] for w in summary["warnings"]} == refused and summary["failures"] == []
    assert all("catalogs:read" in w for w in summary["warnings"] if w.startswith("catalog"))
    assert all("user_accounts:read" in w for w in summary["warnings"] if w.startswith("user_account"))
    assert "pinsync login" in err and "catalogs:read" in err
    committed = {p.name for p in (tmp_path / "out").iterdir()}
    assert not committed & refused and {"keywords", "boards", "board_pins", "ad_targeting_analytics"} <= committed
    state = json.loads((tmp_path / "state" / "state.json").read_text())["bookmarks"]
    assert set(state) == set(STREAMS) - refused - {"pin_lifetime_metrics"}     # no lifetime metrics asked for


def test_a_missing_scope_of_a_named_stream_exits_3_naming_the_scope(tmp_path, server, no_catalog_scope):
    code, err, summary = _cli(tmp_path, server.url, "--streams", "campaigns,catalog_feeds")
    assert code == 3, err
    assert summary["exit_code"] == 3 and summary["warnings"] == []
    assert [f.split(":")[0] for f in summary["failures"]] == ["catalog_feeds"]
    assert "catalogs:read" in summary["failures"][0] and "pinsync login" in summary["failures"][0]
    assert (tmp_path / "out" / "campaigns").is_dir() and not (tmp_path / "out" / "catalog_feeds").exists()


def test_a_missing_parent_scope_skips_the_named_child_with_exit_3(tmp_path, server, fake):
    fake.set_token_scopes(TOKEN, ["ads:read", "pins:read"])              # no boards:read
    try:
        code, err, summary = _cli(tmp_path, server.url, "--streams", "board_pins")
    finally:
        fake.set_token_scopes(TOKEN, ALL_READ_SCOPES)
    assert code == 3, err
    assert summary["failures"] == ["board_pins: skipped: boards could not be listed"]
    assert any(w.startswith("boards:") and "boards:read" in w for w in summary["warnings"])


@pytest.fixture
def catalogless(tmp_path_factory):
    ds = Dataset(seed=11, accounts=1, campaigns_per_account=3, ad_groups_per_campaign=2, ads_per_ad_group=2, pins=10,
                 today=TODAY, catalogs=0)
    with FakeServer(FakePinterest(ds, access_tokens=(TOKEN,))) as srv:
        yield srv


def test_an_account_without_a_catalog_warns_from_all_and_fails_a_named_stream_with_exit_1(tmp_path, catalogless):
    code, err, summary = _cli(tmp_path / "all", catalogless.url, "--streams", "all")
    assert code == 0, err
    assert {w.split(":")[0] for w in summary["warnings"]} == {"catalog_feeds", "catalog_product_groups"}
    assert all("existing catalog" in w for w in summary["warnings"])
    assert summary["streams"]["catalogs"]["failed"] == 0 and summary["streams"]["keywords"]["rows_written"] > 0
    code, err, summary = _cli(tmp_path / "named", catalogless.url, "--streams", "catalog_product_groups,campaigns")
    assert code == 1, err
    assert [f.split(":")[0] for f in summary["failures"]] == ["catalog_product_groups"]
    assert "HTTP 403" in summary["failures"][0] and (tmp_path / "named" / "out" / "campaigns").is_dir()


def test_check_probes_the_credentials_with_a_call_the_selected_streams_scopes_allow(make_config, fake):
    from pinsync.check import check

    fake.set_token_scopes(TOKEN, ["user_accounts:read"])
    try:
        checks = {c.name: c for c in check(make_config({"streams": ["user_account", "user_account_analytics"]}))}
    finally:
        fake.set_token_scopes(TOKEN, ALL_READ_SCOPES)
    assert checks["credentials"].ok, checks["credentials"]
    assert fake.calls["user_account"] == 1 and fake.calls["pins"] == 0
