"""Bad input gets one precise line and exit 2, with nothing fetched or written; unexpected
payloads never crash a sync, are coerced when that loses nothing, and otherwise fail naming
the stream, the field and the record.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import pinsync
from pinsync.cli import main
from pinsync.fake import FakePinterest, FakeServer
from pinsync.streams import DEFAULT_STREAMS
from tests.conftest import ALL_TABLES_PIN_METRICS, TODAY, data_files, patch_analytics
from tests.reliability_support import read_stream, small_dataset, tables, write_yaml

TOKEN = "pina.bad-input-token-0123456789"
SECRET = "app-secret-bad-input-4242"


@pytest.fixture(scope="module")
def api():
    """The fake and the CLI share TODAY (PINSYNC_TODAY): the control case syncs."""
    fake = FakePinterest(small_dataset(TODAY), access_tokens=(TOKEN,), client_id="777",
                         client_secret=SECRET, refresh_token="pinr.bad-input")
    with FakeServer(fake) as srv:
        yield fake, srv


@dataclass
class Case:
    """What a case changes: the raw config, the YAML text, extra CLI args, files on disk."""

    root: Path
    raw: dict
    args: list[str] = field(default_factory=list)
    text: str | None = None
    unset: list[str] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.root / "state" / "state.json"


def _base(root: Path, url: str) -> dict:
    return {
        "api_url": url,
        "auth": {"access_token": "${BAD_INPUT_TOKEN}"},
        "start_date": (TODAY - dt.timedelta(days=4)).isoformat(),
        "output": {"url": "out"},
        "state": {"url": "state/state.json"},
        "analytics": {"lookback_days": 2},
        "pin_analytics": {"metric_types": list(ALL_TABLES_PIN_METRICS)},
        "max_workers": 2,
    }


def _refresh(c: Case) -> None:
    c.raw["auth"] = {"client_id": "777", "client_secret": SECRET, "refresh_token": "pinr.bad-input"}


def _state_text(text: str | bytes):
    def setup(c: Case):
        c.state.parent.mkdir(parents=True, exist_ok=True)
        (c.state.write_bytes if isinstance(text, bytes) else c.state.write_text)(text)
    return setup


def _token_store_text(text: str):
    def setup(c: Case):
        _refresh(c)
        c.state.parent.mkdir(parents=True, exist_ok=True)
        (c.state.parent / "tokens.json").write_text(text)
    return setup


def _set(path: str, value):
    def setup(c: Case):
        *parents, last = path.split(".")
        node = c.raw
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return setup


def _a_file(c: Case) -> Path:
    f = c.root / "a-regular-file"
    f.write_text("not a folder\n")
    return f


def _output_below_a_file(c: Case):
    c.raw["output"] = {"url": str(_a_file(c) / "out")}


def _state_below_a_file(c: Case):
    c.raw["state"] = {"url": str(_a_file(c) / "state.json")}


def _token_store_below_a_file(c: Case):
    _refresh(c)
    c.raw["auth"]["token_store"] = str(_a_file(c) / "tokens.json")


def _output_flag_below_a_file(c: Case):
    c.args += ["--output", str(_a_file(c) / "elsewhere")]


def _token_store_folder(c: Case):
    _refresh(c)
    (c.state.parent / "tokens.json").mkdir(parents=True)


def _state_is_a_folder(c: Case):
    c.state.mkdir(parents=True)


def _yaml(text: str):
    def setup(c: Case):
        c.text = text
    return setup


def _args(*args: str):
    def setup(c: Case):
        c.args += list(args)
    return setup


def _unset_credential(c: Case):
    c.raw["auth"] = {"access_token": "${PINSYNC_TEST_NEVER_SET_TOKEN}"}


def _unset_secret(c: Case):
    _refresh(c)
    c.raw["auth"]["client_secret"] = "${PINSYNC_TEST_NEVER_SET_SECRET}"


CASES = [
    # (id, setup, words the one line must contain)
    ("malformed-yaml", _yaml("api_url: [unclosed\nstreams: {\n"), ["malformed YAML", "line"]),
    ("tab-indented-yaml", _yaml("output:\n\turl: out\n"), ["malformed YAML"]),
    ("top-level-not-a-mapping", _yaml("- campaigns\n- ads\n"), ["top level must be a mapping"]),
    ("unknown-top-level-key", _set("strems", ["campaigns"]), ["strems", "unknown key", "streams"]),
    ("unknown-nested-key", _set("analytics.granularty", "DAY"), ["analytics.granularty", "unknown key"]),
    ("wrong-type-integer", _set("max_workers", "eight"), ["max_workers", "must be an integer"]),
    ("wrong-type-number", _set("http.timeout_seconds", "soon"), ["http.timeout_seconds", "number"]),
    ("wrong-type-boolean-for-number", _set("http.max_retries", True), ["http.max_retries", "integer"]),
    ("wrong-type-list", _set("ad_account_ids", {"id": 1}), ["ad_account_ids", "must be a list"]),
    ("wrong-type-mapping", _set("output", "somewhere"), ["output", "must be a mapping"]),
    ("out-of-range", _set("analytics.lookback_days", 400), ["analytics.lookback_days", "between"]),
    ("bad-ad-account-id", _set("ad_account_ids", ["12ab"]), ["ad_account_ids", "12ab"]),
    ("impossible-date", _set("start_date", "2026-02-30"), ["start_date", "2026-02-30", "not a real date"]),
    ("badly-formatted-date", _set("start_date", "29/11/2026"), ["start_date", "YYYY-MM-DD"]),
    ("future-date", _set("start_date", "2999-01-01"), ["start_date", "2999-01-01", "future"]),
    ("bad-date-flag", _args("--start-date", "2026-13-01"), ["start_date", "2026-13-01"]),
    ("unknown-stream", _set("streams", ["campaings"]), ["streams", "campaings", "campaigns"]),
    ("unknown-stream-flag", _args("--streams", "campaigns,pinz"), ["streams", "pinz"]),
    ("unknown-column", _set("analytics.columns", ["SPEND_IN_DOLLAR", "SPEND_IN_DOLARS"]),
     ["analytics.columns", "SPEND_IN_DOLARS"]),
    ("unknown-pin-metric", _set("pin_analytics.metric_types", ["IMPRESSIONS"]),
     ["pin_analytics.metric_types", "IMPRESSIONS"]),
    ("bad-granularity", _set("analytics.granularity", "DAILY"), ["analytics.granularity", "DAILY"]),
    ("bad-click-window", _set("analytics.click_window_days", 3), ["analytics.click_window_days", "3"]),
    ("bad-view-window", _set("analytics.view_window_days", "7"), ["analytics.view_window_days"]),
    ("bad-conversion-report-time", _set("analytics.conversion_report_time", "WHENEVER"),
     ["analytics.conversion_report_time", "WHENEVER"]),
    ("bad-shard", _args("--shard", "3/2"), ["shard", "3/2"]),
    ("missing-credential-variable", _unset_credential, ["auth.access_token", "PINSYNC_TEST_NEVER_SET_TOKEN"]),
    ("missing-secret-variable", _unset_secret, ["auth.client_secret", "PINSYNC_TEST_NEVER_SET_SECRET"]),
    ("no-credentials-at-all", _set("auth", {"client_id": "777"}), ["auth", "credentials"]),
    ("missing-config-file", _args("--config", "does-not-exist.yaml"), ["config file not found", "does-not-exist"]),
    ("corrupt-state-file", _state_text('{"version": 1, "bookmarks": {"campaigns": '),
     ["state file", "state.json", "not valid JSON"]),
    ("state-file-of-another-version", _state_text('{"version": 99, "bookmarks": {}}'), ["state file", "version 99"]),
    ("state-file-not-pinsync", _state_text('["a", "list"]'), ["state file", "not a pinsync state file"]),
    ("state-file-malformed-bookmarks", _state_text('{"version": 1, "bookmarks": {"campaigns": [1]}}'),
     ["state file", "campaigns", "malformed"]),
    ("state-file-binary", _state_text(b"\x89PNG\r\n\x1a\n\x00\xff\xfe garbage"), ["state file", "not valid JSON"]),
    ("state-file-bookmark-not-a-date", _state_text(json.dumps({"version": 1, "layout": "month", "bookmarks": {
        "campaign_analytics": {"123": {"last_complete_date": "not-a-date"}}}})),
     ["state file", "bookmarks.campaign_analytics.123.last_complete_date", '"not-a-date" is not a date',
      "--full-refresh"]),
    ("state-file-partitions-a-list",
     _state_text('{"version": 1, "bookmarks": {"pin_analytics": {"*": {"partitions": ["month=2026-11"]}}}}'),
     ["state file", "bookmarks.pin_analytics.*.partitions", "a list is not an object"]),
    ("state-file-streams-text", _state_text('{"version": 1, "bookmarks": {"campaigns": "all of them"}}'),
     ["state file", "bookmarks.campaigns", '"all of them" is not an object']),
    ("state-file-report-token-malformed",
     _state_text('{"version": 1, "bookmarks": {"campaign_analytics": {"1": {"reports": {"1:CAMPAIGN": 7}}}}}'),
     ["state file", "bookmarks.campaign_analytics.1.reports.1:CAMPAIGN", "7 is not text"]),
    ("state-file-layout-wrong-type", _state_text('{"version": 1, "layout": ["month"], "bookmarks": {}}'),
     ["state file", 'layout: a list is not "month"']),
    ("state-file-is-a-folder", _state_is_a_folder, ["state file", "state.json"]),
    ("state-below-a-regular-file", _state_below_a_file, ["state", "a-regular-file"]),
    ("corrupt-token-store", _token_store_text('{"version": 1, "clients": '), ["token store", "tokens.json", "corrupt"]),
    ("token-store-of-another-kind", _token_store_text('{"version": 7, "tokens": []}'),
     ["token store", "not a pinsync token store"]),
    ("token-store-below-a-regular-file", _token_store_below_a_file, ["token store", "a-regular-file"]),
    ("state-of-an-unknown-protocol", _set("state.url", "nosuchproto://bucket/state.json"), ["state", "nosuchproto"]),
    ("token-store-is-a-folder", _token_store_folder, ["token store", "tokens.json"]),
    ("output-below-a-regular-file", _output_below_a_file, ["output", "a-regular-file"]),
    ("output-flag-below-a-regular-file", _output_flag_below_a_file, ["output", "a-regular-file"]),
    ("output-of-an-unknown-protocol", _set("output.url", "nosuchproto://bucket/prefix"),
     ["output", "nosuchproto"]),
]


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (lock files aside: taking the lock is not writing data)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(".lock")}


def _invoke(api, root: Path, setup, monkeypatch):
    fake, srv = api
    monkeypatch.chdir(root)
    monkeypatch.setenv("BAD_INPUT_TOKEN", TOKEN)
    for name in ("PINSYNC_TEST_NEVER_SET_TOKEN", "PINSYNC_TEST_NEVER_SET_SECRET"):
        monkeypatch.delenv(name, raising=False)
    case = Case(root, _base(root, srv.url))
    if setup is not None:
        setup(case)
    cfg = root / "pinsync.yaml"
    if case.text is not None:
        cfg.write_text(case.text)
    else:
        write_yaml(cfg, case.raw)
    before = _snapshot(root)
    calls = sum(fake.calls.values())
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), *case.args])
    return res, before, sum(fake.calls.values()) - calls


def test_the_valid_base_config_syncs(api, tmp_path, monkeypatch):
    """The control: without the case's change, the same config fetches and writes."""
    res, _, fetched = _invoke(api, tmp_path, None, monkeypatch)
    assert res.exit_code == 0, res.output
    assert fetched > 0 and len(tables(tmp_path / "out")) == len(DEFAULT_STREAMS)


@pytest.mark.parametrize("setup,words", [pytest.param(s, w, id=i) for i, s, w in CASES])
def test_bad_input_gets_one_line_exit_2_and_nothing_fetched_or_written(api, tmp_path, monkeypatch, setup, words):
    res, before, fetched = _invoke(api, tmp_path, setup, monkeypatch)
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2, res.output
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in res.output and "unexpected error" not in res.output
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
    assert fetched == 0, "nothing may be fetched"
    assert _snapshot(tmp_path) == before, "nothing may be written (and the state never reset)"
    assert not (tmp_path / "out").exists() or not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert TOKEN not in res.output and SECRET not in res.output


def test_a_corrupt_state_is_never_reset_even_by_a_later_run(api, tmp_path, monkeypatch):
    corrupt = '{"version": 1, "bookmarks": {"campaigns": {"1": {"cursor": '
    for _ in range(2):
        res, _, fetched = _invoke(api, tmp_path, _state_text(corrupt), monkeypatch)
        assert res.exit_code == 2 and fetched == 0
        assert (tmp_path / "state" / "state.json").read_text() == corrupt
    # only an explicit --full-refresh replaces it
    res, _, fetched = _invoke(api, tmp_path, _args("--full-refresh"), monkeypatch)
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "state" / "state.json").read_text())["version"] == 1


# ------------------------------------------------------------------ unexpected payloads
def _alt(make_config, tmp_path, name, **overrides):
    return make_config({"output": {"url": str(tmp_path / name / "out")},
                        "state": {"url": str(tmp_path / name / "state.json")}}, **overrides)


def test_unknown_fields_never_crash_a_sync_and_are_kept_in_extra(make_config, fake, dataset, tmp_path):
    """A field an entity table has no column for lands, as JSON, in its ``_extra`` column
    (nothing else changes); a metric nobody asked for in an analytics answer is ignored."""
    config = make_config()
    assert pinsync.run(_alt(make_config, tmp_path, "plain"), today=TODAY).ok
    added = {"field_added_in_2027": {"nested": [1, "two", None], "flag": True}, "another_new_scalar": 12.5}
    for kind in ("ad_accounts", "campaigns", "ad_groups", "ads", "pins"):
        for item in dataset.items(kind):
            item.update(added)
    patch_analytics(fake, "/analytics", lambda rows: [r.update(NEW_METRIC_2027=3.25) for r in rows
                                                        if isinstance(r, dict)])
    result = pinsync.run(config, today=TODAY)
    assert result.ok, result.failures
    plain, new = tables(tmp_path / "plain" / "out"), tables(tmp_path / "out")
    assert sorted(plain) == sorted(new) and len(new) == len(DEFAULT_STREAMS)
    assert all("_extra" in new[s].columns for s in ("ad_accounts", "campaigns", "ad_groups", "ads", "pins"))
    for stream in plain:
        assert "field_added_in_2027" not in new[stream].columns and "new_metric_2027" not in new[stream].columns
        if "_extra" in new[stream].columns:
            assert plain[stream]["_extra"].null_count() == plain[stream].height, stream
            assert {json.dumps(added, sort_keys=True, separators=(",", ":"))} == set(new[stream]["_extra"]), stream
            assert new[stream].drop("_extra").equals(plain[stream].drop("_extra")), stream
        else:
            assert new[stream].equals(plain[stream]), stream      # same columns, same values


def test_note_and_product_tags_of_real_pins_are_columns(make_config, dataset, tmp_path):
    """Real pins carry ``note`` and ``product_tags`` though the spec's Pin lacks them."""
    tagged, noted = dataset.pins[0], dataset.pins[1]
    tagged["product_tags"] = [{"pin_id": "300000000000000123"}]
    noted["note"] = "buy more linen"
    assert pinsync.run(make_config(streams=["pins"]), today=TODAY).ok
    pins = {r["id"]: r for r in read_stream(tmp_path / "out", "pins").iter_rows(named=True)}
    assert json.loads(pins[tagged["id"]]["product_tags"]) == [{"pin_id": "300000000000000123"}]
    assert pins[noted["id"]]["note"] == "buy more linen"
    assert all(r["_extra"] is None for r in pins.values())


def test_wrong_types_are_coerced_when_nothing_is_lost(make_config, dataset, tmp_path):
    c = dataset.campaigns
    c[0]["daily_spend_cap"] = "12000000"             # a numeric string in an integer field
    c[1]["lifetime_spend_cap"] = 5000000.0           # a whole float
    c[2]["is_automated_campaign"] = "true"           # a boolean as a string
    c[3]["order_line_id"] = 987654321                # an id as a number
    c[4]["created_time"] = str(c[4]["created_time"])  # epoch seconds as a string
    ids = [x["id"] for x in c[:5]]
    result = pinsync.run(make_config(streams=["campaigns"]), today=TODAY)
    assert result.ok, result.failures
    df = read_stream(tmp_path / "out", "campaigns")
    row = {r["id"]: r for r in df.filter(pl.col("id").is_in(ids)).iter_rows(named=True)}
    assert row[ids[0]]["daily_spend_cap"] == 12_000_000
    assert row[ids[1]]["lifetime_spend_cap"] == 5_000_000
    assert row[ids[2]]["is_automated_campaign"] is True
    assert row[ids[3]]["order_line_id"] == "987654321"
    assert row[ids[4]]["created_time"] == dt.datetime.fromtimestamp(int(c[4]["created_time"]), dt.timezone.utc)
    assert df.schema["daily_spend_cap"] == pl.Int64 and df.schema["order_line_id"] == pl.String


@pytest.mark.parametrize("value", [1.5, "lots", [1, 2]])
def test_a_lossy_entity_value_fails_naming_stream_field_and_record(make_config, dataset, tmp_path, value):
    bad = dataset.campaigns[1]
    bad["daily_spend_cap"] = value
    acct = bad["ad_account_id"]
    other = next(a["id"] for a in dataset.ad_accounts if a["id"] != acct)
    result = pinsync.run(make_config(streams=["campaigns", "campaign_analytics"]), today=TODAY,
                         raise_on_failure=False)
    failures = [f for f in result.failures if f.startswith("campaigns ")]
    assert len(failures) == 1, result.failures
    assert "daily_spend_cap" in failures[0] and bad["id"] in failures[0] and f"ad account {acct}" in failures[0]
    assert any(f.startswith("campaign_analytics") and acct in f for f in result.failures)
    state = pinsync.state.StateStore(str(tmp_path / "state" / "state.json")).load().as_dict()["bookmarks"]
    assert acct not in state["campaigns"] and other in state["campaigns"]
    assert set(read_stream(tmp_path / "out", "campaigns")["ad_account_id"].unique()) == {other}


def test_a_fraction_in_an_integer_analytics_column_widens_it_and_the_sync_goes_on(make_config, fake, dataset,
                                                                                   tmp_path, caplog):
    """The API types no analytics metric, and the numbers matter more than the dtype: a
    fraction in an Int64 column makes that column Float64 (values as sent, a warning naming
    it) instead of failing the stream on every run. Re-runs stay idempotent: the same answers
    rewrite nothing; once the fraction is gone, the partitions fetched again are rewritten
    once (Int64 again) and the table still reads as Float64."""
    config = make_config(streams=["campaigns", "campaign_analytics"])
    day = (TODAY - dt.timedelta(days=2)).isoformat()            # inside the 5-day lookback
    acct = dataset.ad_accounts[0]["id"]
    ids = [c["id"] for c in dataset.campaigns if c["ad_account_id"] == acct]
    truth = fake.analytics_rows("campaign", acct, ids, day, day, columns=["PAID_IMPRESSION"])
    victim = next(r for r in truth if "PAID_IMPRESSION" in r)
    sent = {"fraction": True}

    def fractional(rows):
        for r in rows:
            if sent["fraction"] and (r["CAMPAIGN_ID"], r["DATE"]) == (victim["CAMPAIGN_ID"], day):
                r["PAID_IMPRESSION"] += 0.5
    patch_analytics(fake, "/campaigns/analytics", fractional)
    out = tmp_path / "out"

    def victim_value():
        df = pinsync.scan("campaign_analytics", config=config).collect()
        assert df.schema["paid_impression"] == pl.Float64 and df.schema["spend_in_dollar"] == pl.Float64
        key = (pl.col("campaign_id") == victim["CAMPAIGN_ID"]) & (pl.col("date") == dt.date.fromisoformat(day))
        return df.filter(key)["paid_impression"].to_list()

    assert pinsync.run(config, today=TODAY).ok
    assert "campaign_analytics: column 'paid_impression' holds fractional values" in caplog.text
    assert victim_value() == [victim["PAID_IMPRESSION"] + 0.5]
    files = sorted((out / "campaign_analytics").rglob("*.parquet"))
    other = [f for f in files if f"ad_account_id={acct}" not in str(f)]
    assert other and all(pl.read_parquet_schema(f)["paid_impression"] == pl.Int64 for f in other)  # no fraction
    assert all(pl.read_parquet_schema(f)["paid_impression"] == pl.Float64 for f in files if f not in other)
    again = pinsync.run(config, today=TODAY)
    assert again.streams["campaign_analytics"].files_written == 0    # the same answers: nothing rewritten
    assert again.streams["campaign_analytics"].files_unchanged > 0
    sent["fraction"] = False
    before = data_files(out)
    third = pinsync.run(config, today=TODAY)
    changed = {f for f, t in data_files(out).items() if before.get(f) != t}
    assert third.streams["campaign_analytics"].files_written == len(changed) > 0
    assert all(f"ad_account_id={acct}" in f and f.split("month=")[1][:7] >= (TODAY - dt.timedelta(days=5)).strftime("%Y-%m")
               for f in changed)
    assert victim_value() == [victim["PAID_IMPRESSION"]]


def test_a_lossy_value_exits_1_on_the_command_line_with_the_details(api, tmp_path, monkeypatch):
    fake, srv = api
    bad = fake.dataset.campaigns[0]
    saved = bad["daily_spend_cap"]
    bad["daily_spend_cap"] = 2.75
    try:
        res, _, _ = _invoke(api, tmp_path, _args("--streams", "campaigns"), monkeypatch)
    finally:
        bad["daily_spend_cap"] = saved
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert "daily_spend_cap" in res.stderr and bad["id"] in res.stderr and "2.75" in res.stderr


def test_missing_optional_fields_are_null(make_config, dataset, tmp_path):
    gone = ("order_line_id", "tracking_urls", "end_time", "daily_spend_cap", "bid_options", "summary_status")
    victim = dataset.campaigns[2]
    for f in gone:
        victim.pop(f, None)
    pin = dataset.pins[0]
    for f in ("alt_text", "board_section_id", "dominant_color", "board_owner"):
        pin.pop(f, None)
    result = pinsync.run(make_config(streams=["campaigns", "pins"]), today=TODAY)
    assert result.ok, result.failures
    row = read_stream(tmp_path / "out", "campaigns").filter(pl.col("id") == victim["id"]).row(0, named=True)
    assert all(row[f] is None for f in gone)
    assert row["name"] == victim["name"] and row["status"] == victim["status"]
    prow = read_stream(tmp_path / "out", "pins").filter(pl.col("id") == pin["id"]).row(0, named=True)
    assert prow["alt_text"] is None and prow["board_owner"] is None and prow["dominant_color"] is None


def test_a_fraction_in_a_pin_count_widens_it_and_the_sync_goes_on(make_config, fake, tmp_path, caplog):
    victim = {}

    def fractional(payload):
        if len(payload) < 2:       # the one-pin capability probe: its answer is not kept
            return
        for pin_id, groups in payload.items():
            days = groups.get("all", {}).get("daily_metrics") or []
            if days and "IMPRESSION" in days[0].get("metrics", {}) and not victim:
                days[0]["metrics"]["IMPRESSION"] += 0.25
                victim.update(id=pin_id, date=days[0]["date"], value=days[0]["metrics"]["IMPRESSION"])

    patch_analytics(fake, "/pins/analytics", fractional)
    config = make_config(streams=["pins", "pin_analytics"])
    assert pinsync.run(config, today=TODAY).ok
    assert victim and "pin_analytics: column 'impression' holds fractional values" in caplog.text
    df = pinsync.scan("pin_analytics", config=config).collect()
    assert df.schema["impression"] == pl.Float64 and df.schema["pin_click"] == pl.Int64
    mine = df.filter((pl.col("pin_id") == victim["id"]) & (pl.col("date") == dt.date.fromisoformat(victim["date"])))
    assert mine["impression"].to_list() == [victim["value"]]
