"""End to end against the fake API: the five entity tables, incremental, exactly once."""

from __future__ import annotations

import datetime as dt
import json
import re
import stat

import polars as pl

import pinsync
from pinsync.schemas import ENTITY_COLUMNS, UTC_DATETIME
from tests.conftest import REFRESH_AUTH, REFRESH_TOKEN, TODAY, TOKEN, active_pins, data_files, read_table

ENTITIES = ("ad_accounts", "campaigns", "ad_groups", "ads", "pins")
SEED_FIELDS = {  # the seed's field tables (shared/seeds): every one must be a column
    "ad_accounts": "id name country currency owner permissions created_time updated_time",
    "campaigns": "id ad_account_id name status objective_type type start_time end_time daily_spend_cap "
                 "lifetime_spend_cap is_campaign_budget_optimization is_flexible_daily_budgets "
                 "is_automated_campaign is_performance_plus tracking_urls bid_options order_line_id "
                 "summary_status created_time updated_time",
    "ad_groups": "id name ad_account_id campaign_id status budget_in_micro_currency bid_in_micro_currency "
                 "bid_strategy_type bid_multiplier budget_type billable_event start_time end_time placement_group "
                 "pacing_delivery_type targeting_spec targeting_template_ids optimization_goal_metadata "
                 "lifetime_frequency_cap tracking_urls auto_targeting_enabled is_creative_optimization "
                 "conversion_learning_mode_type promotion_id promotion_application_level feed_profile_id "
                 "summary_status type created_time updated_time",
    "ads": "id name ad_account_id campaign_id ad_group_id pin_id status creative_type destination_url "
           "android_deep_link ios_deep_link click_tracking_url view_tracking_url disclosure_type disclosure_url "
           "lead_form_id grid_click_type customizable_cta_type is_pin_deleted is_removable review_status "
           "rejected_reasons rejection_labels tracking_urls collection_items_destination_url_template "
           "carousel_destination_urls carousel_android_deep_links carousel_ios_deep_links quiz_pin_data "
           "summary_status type created_time updated_time",
    "pins": "id title description link alt_text board_id board_section_id board_owner creative_type "
            "dominant_color media parent_pin_id pin_metrics has_been_promoted is_owner is_standard created_at",
}


def _run(config, **kw):
    return pinsync.run(config, today=TODAY, **kw)


def test_every_entity_of_every_status_lands_exactly_once_typed(make_config, dataset, tmp_path):
    config = make_config(streams=list(ENTITIES))
    result = _run(config)
    assert result.ok
    out = tmp_path / "out"
    truth = {"ad_accounts": dataset.ad_accounts, "campaigns": dataset.campaigns, "ad_groups": dataset.ad_groups,
             "ads": dataset.ads, "pins": dataset.pins}
    for stream in ENTITIES:
        df = read_table(out, stream)
        assert sorted(df["id"].to_list()) == sorted(r["id"] for r in truth[stream]), stream
        assert df["id"].n_unique() == df.height
        assert set(SEED_FIELDS[stream].split()) <= set(df.columns)
        for col in ENTITY_COLUMNS[stream]:
            assert df.schema[col.name] == col.dtype, (stream, col.name)
        assert all(re.fullmatch(r"[a-z0-9_]+", c) for c in df.columns)
    statuses = set(read_table(out, "campaigns")["status"].to_list()) | set(read_table(out, "ads")["status"].to_list())
    assert {"ARCHIVED", "DRAFT"} <= statuses            # the API hides these unless asked
    assert read_table(out, "campaigns").schema["created_time"] == UTC_DATETIME


def test_layout_partitions_and_keys_inside_files(make_config, dataset, tmp_path):
    _run(make_config(streams=list(ENTITIES)))
    out = tmp_path / "out"
    accounts = sorted(a["id"] for a in dataset.ad_accounts)
    for stream in ("campaigns", "ad_groups", "ads"):
        assert sorted(p.name for p in (out / stream).iterdir()) == [f"ad_account_id={a}" for a in accounts]
        for a in accounts:
            inside = pl.read_parquet(out / stream / f"ad_account_id={a}" / "data.parquet")
            assert inside["ad_account_id"].unique().to_list() == [a]
    assert (out / "ad_accounts" / "data.parquet").is_file() and (out / "pins" / "data.parquet").is_file()
    # only data files inside table folders
    assert all(p.name == "data.parquet" for s in ENTITIES for p in (out / s).rglob("*") if p.is_file())
    # readable by polars with hive partitioning, ids still strings
    lf = pl.scan_parquet(f"{out}/campaigns/", hive_partitioning=True)
    assert lf.collect_schema()["ad_account_id"] == pl.String


def test_second_run_rewrites_only_changed_accounts_and_third_writes_nothing(make_config, fake, dataset, tmp_path):
    config = make_config(streams=list(ENTITIES))
    _run(config)
    out = tmp_path / "out"
    before = data_files(out)
    changed = dataset.campaigns[0]
    fake.touch("campaigns", [changed["id"]])
    second = _run(config)
    after = data_files(out)
    rewritten = {f for f in after if f.endswith(".parquet") and after[f] != before.get(f)}
    assert rewritten == {f"campaigns/ad_account_id={changed['ad_account_id']}/data.parquet"}
    df = read_table(out, "campaigns")
    assert df.filter(pl.col("id") == changed["id"])["name"].item().endswith(" v2")
    assert df["id"].n_unique() == df.height == len(dataset.campaigns)
    assert second.streams["campaigns"].files_written == 1
    third = _run(config)
    assert sum(s.files_written for s in third.streams.values()) == 0
    assert {f: m for f, m in data_files(out).items() if f.endswith(".parquet")} == \
        {f: m for f, m in after.items() if f.endswith(".parquet")}


def test_state_records_bookmarks_per_stream_and_account(make_config, dataset, tmp_path):
    config = make_config(streams=["campaigns", "pins"])
    _run(config)
    state = pinsync.state.StateStore(config.state.url).load().as_dict()
    assert state["version"] == 1
    for acct in dataset.ad_accounts:
        newest = max(c["updated_time"] for c in dataset.campaigns if c["ad_account_id"] == acct["id"])
        cursor = state["bookmarks"]["campaigns"][acct["id"]]["cursor"]
        assert dt.datetime.fromisoformat(cursor) == dt.datetime.fromtimestamp(newest, dt.timezone.utc)
    assert state["bookmarks"]["pins"]["*"]["cursor"]


def test_full_refresh_rewrites_everything(make_config, tmp_path):
    config = make_config(streams=["campaigns"])
    _run(config)
    again = _run(config, full_refresh=True)
    assert again.streams["campaigns"].files_written == 2


def test_refresh_token_rotation_survives_to_the_next_run(make_config, fake, tmp_path):
    auth = REFRESH_AUTH
    _run(make_config({"auth": auth}, streams=["ad_accounts"]))
    assert fake.refresh_count == 1
    store = tmp_path / "state" / "tokens.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert fake.current_refresh_token in store.read_text()
    assert REFRESH_TOKEN not in store.read_text()
    assert fake.current_refresh_token not in (tmp_path / "state" / "state.json").read_text()
    fake.expire_access_tokens()            # force the next run to refresh with the rotated token
    result = _run(make_config({"auth": auth}, streams=["ad_accounts"]))
    assert result.ok and fake.refresh_count == 2


def test_access_token_expiring_mid_run_is_refreshed(make_config, fake):
    config = make_config({"auth": REFRESH_AUTH}, streams=["campaigns"])
    fake.add_fault("campaigns", "status", status=401, times=1)
    assert _run(config).ok


def test_pins_carry_their_90_day_and_lifetime_pin_metrics(make_config, fake, dataset, tmp_path):
    """GET /pins answers pin_metrics only when asked (pin_metrics=true): pinsync asks."""
    _run(make_config(streams=["pins"]))
    pins = read_table(tmp_path / "out", "pins")
    assert pins["pin_metrics"].null_count() == 0
    query = {"pin_metrics": ["true"], "page_size": ["250"], "include_protected_pins": ["true"]}
    truth = fake.handle("GET", "/v5/pins", query, {"Authorization": f"Bearer {TOKEN}"})[2]
    expected = {p["id"]: p["pin_metrics"] for p in json.loads(truth)["items"]}
    got = {r["id"]: json.loads(r["pin_metrics"]) for r in pins.iter_rows(named=True)}
    assert got == expected and len(got) == len(dataset.pins)
    assert any(m["90d"]["impression"] for m in got.values())


def _protected(dataset) -> set[str]:
    from pinsync.fake.data import is_protected
    return {p["id"] for p in dataset.pins if is_protected(p)}


def test_protected_pins_are_listed_with_the_secret_scope(make_config, fake, dataset, tmp_path, caplog):
    """A static token: its scopes are not known, so protected pins are asked for; it may read them."""
    assert _protected(dataset)
    assert _run(make_config(streams=["pins", "pin_analytics"])).ok
    assert set(read_table(tmp_path / "out", "pins")["id"]) == {p["id"] for p in dataset.pins}
    asked = {i for m, p, q in fake.requests if p == "/v5/pins/analytics" for i in q["pin_ids"][0].split(",")}
    assert asked == set(active_pins(fake))             # protected or not, every pin with activity
    assert all(q.get("include_protected_pins") == ["true"] for m, p, q in fake.requests if p == "/v5/pins")
    assert "protected pins" not in caplog.text


def test_without_the_secret_scope_a_static_token_lists_the_other_pins_and_says_so_once(make_config, fake, dataset,
                                                                                       tmp_path, caplog):
    fake.scope_text = "ads:read,boards:read,pins:read"
    result = _run(make_config(streams=["pins", "pin_analytics"]))
    assert result.ok, result.failures
    assert set(read_table(tmp_path / "out", "pins")["id"]) == {p["id"] for p in dataset.pins} - _protected(dataset)
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "protected pins" in r.getMessage()]
    assert len(warnings) == 1 and "pins:read_secret" in warnings[0].getMessage()


def config_auth() -> dict:
    return {"access_token": None, "client_id": "1234567", "client_secret": "app-secret-xyz",
            "refresh_token": "pinr.initial-refresh-token"}


def test_a_refreshed_token_without_the_secret_scope_does_not_ask_for_protected_pins(make_config, fake, dataset,
                                                                                    tmp_path, caplog):
    """The token response says the scopes: no request is refused for a scope the token lacks."""
    fake.scope_text = "ads:read,boards:read,pins:read"
    config = make_config({"auth": config_auth()}, streams=["pins"])
    assert _run(config).ok
    pins = [q for m, p, q in fake.requests if p == "/v5/pins"]
    assert pins and not any("include_protected_pins" in q for q in pins)
    assert set(read_table(tmp_path / "out", "pins")["id"]) == {p["id"] for p in dataset.pins} - _protected(dataset)
    assert "pins:read_secret" in caplog.text
    # the user authorises the app with the scope: the new refresh token's access tokens have it
    fake.scope_text, fake.current_refresh_token = "ads:read,boards:read,pins:read,pins:read_secret", "pinr.again"
    assert _run(make_config({"auth": {**config_auth(), "refresh_token": "pinr.again"}}, streams=["pins"])).ok
    assert set(read_table(tmp_path / "out", "pins")["id"]) == {p["id"] for p in dataset.pins}
