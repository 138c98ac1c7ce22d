"""The first hour: `init`, readable and repairable state, and exit codes an orchestrator
can act on (0 ok, 1 sync failed, 2 bad usage/config/state, 3 re-authorise, 4 locked),
with a JSON error object on stdout under --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pinsync import errors
from pinsync.cli import main
from pinsync.config import load_config
from pinsync.state import StateStore
from tests.conftest import TOKEN

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, url: str, **extra) -> Path:
    data = {"api_url": url, "auth": {"access_token": TOKEN}, "output": {"url": "out"},
            "state": {"url": "state/state.json"}, "streams": ["ad_accounts", "campaigns", "campaign_analytics"],
            "analytics": {"lookback_days": 2}}
    data.update(extra)
    path = tmp_path / "pinsync.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _json_error(res) -> dict:
    out = res.stdout
    return json.loads(out[out.index("{"):])


# ------------------------------------------------------------------ exit codes
def test_exit_codes_are_the_documented_constants():
    assert (errors.EXIT_OK, errors.EXIT_SYNC_FAILED, errors.EXIT_USAGE, errors.EXIT_CREDENTIALS,
            errors.EXIT_LOCKED, errors.EXIT_INTERRUPTED) == (0, 1, 2, 3, 4, 130)


def test_rejected_token_exits_3_with_json_error(tmp_path, server):
    cfg = _config(tmp_path, server.url, auth={"access_token": "pina.not-a-token-the-fake-issued"})
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"])
    assert res.exit_code == 3, res.output
    body = _json_error(res)
    assert body["exit_code"] == 3 and "rejected the access token" in body["error"]
    assert "pina.not-a-token" not in res.output


def test_a_held_lock_exits_4(tmp_path, server):
    cfg = _config(tmp_path, server.url)
    store = StateStore(str(tmp_path / "state" / "state.json"))
    with store.lock("someone-else"):
        res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"])
    assert res.exit_code == 4, res.output
    assert "someone-else" in _json_error(res)["error"] and _json_error(res)["exit_code"] == 4
    assert not (tmp_path / "out").exists()


def test_bad_config_exits_2_with_json_error(tmp_path, server):
    cfg = _config(tmp_path, server.url, max_workers="many")
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"])
    assert res.exit_code == 2
    assert _json_error(res) == {"error": _json_error(res)["error"], "exit_code": 2}
    assert "max_workers" in _json_error(res)["error"]


def test_partial_failure_exits_1_with_the_summary_and_the_error(tmp_path, server, fake):
    fake.forbid_account(fake.dataset.ad_accounts[0]["id"])
    cfg = _config(tmp_path, server.url)
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"])
    assert res.exit_code == 1
    body = _json_error(res)
    assert body["exit_code"] == 1 and body["ok"] is False and "sync failed" in body["error"]
    assert body["failures"] and body["streams"]["campaigns"]["units"] == 1


# ------------------------------------------------------------------ init
def test_init_writes_the_annotated_example_and_never_overwrites(tmp_path):
    res = CliRunner().invoke(main, ["init", "--path", str(tmp_path)])
    assert res.exit_code == 0, res.output
    written = tmp_path / "pinsync.yaml"
    assert written.read_text() == (ROOT / "pinsync.yaml").read_text()
    assert "# pinsync configuration" in written.read_text()
    load_config(written, env={}, require_credentials=False)          # valid as written
    written.write_text("# mine\n")
    res = CliRunner().invoke(main, ["init", "--path", str(tmp_path)])
    assert res.exit_code == 2 and "already exists" in res.output
    assert written.read_text() == "# mine\n"


def test_a_missing_config_points_at_init(tmp_path):
    res = CliRunner().invoke(main, ["run", "--config", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2 and "pinsync init" in res.output


# ------------------------------------------------------------------ state show / reset
@pytest.fixture
def synced(tmp_path, server, fake):
    cfg = _config(tmp_path, server.url)
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    return cfg, [a["id"] for a in fake.dataset.ad_accounts]


def test_state_show_summarises_without_hashes(synced):
    cfg, accounts = synced
    res = CliRunner().invoke(main, ["state", "show", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    for word in ("campaign_analytics", "campaigns", "ad_accounts", "pending days", "last run", *accounts,
                 "2026-11-28"):
        assert word in res.output, word
    raw = json.loads((cfg.parent / "state" / "state.json").read_text())
    fingerprints = [m["fingerprint"] for m in raw["bookmarks"]["campaigns"].values()]
    assert fingerprints and not any(fp in res.output for fp in fingerprints)
    assert "partitions" not in res.output


def test_state_show_json_is_the_raw_state_and_state_reads_any_file(synced, tmp_path):
    cfg, _ = synced
    state_file = cfg.parent / "state" / "state.json"
    res = CliRunner().invoke(main, ["state", "show", "--state", str(state_file), "--json"])
    assert res.exit_code == 0
    assert json.loads(res.output) == json.loads(state_file.read_text())


def test_state_reset_forgets_one_account_then_the_stream(synced):
    cfg, accounts = synced
    state_file = cfg.parent / "state" / "state.json"
    res = CliRunner().invoke(main, ["state", "reset", "campaign_analytics", "--ad-account", accounts[0],
                                    "--config", str(cfg)])
    assert res.exit_code == 0 and "forgot 1 bookmark" in res.output
    marks = json.loads(state_file.read_text())["bookmarks"]
    assert set(marks["campaign_analytics"]) == set(accounts[1:]) and set(marks["campaigns"]) == set(accounts)
    res = CliRunner().invoke(main, ["state", "reset", "campaign_analytics", "--config", str(cfg)])
    assert res.exit_code == 0
    marks = json.loads(state_file.read_text())["bookmarks"]
    assert "campaign_analytics" not in marks and set(marks["campaigns"]) == set(accounts)


def test_state_reset_refetches_from_start_date(synced, fake):
    cfg, accounts = synced
    CliRunner().invoke(main, ["state", "reset", "campaign_analytics", "--config", str(cfg)])
    fake.reset_counters()
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--streams", "campaigns,campaign_analytics",
                                    "--json"])
    assert res.exit_code == 0
    # a reset stream starts again at start_date (30 days: one window per account), not the 2-day lookback
    assert json.loads(res.stdout)["streams"]["campaign_analytics"]["rows_written"] > 0
    got = {k: v for k, v in fake.calls.items() if k == "campaign_analytics"}
    assert got == {"campaign_analytics": len(accounts)}


def test_state_reset_waits_for_no_one_and_exits_4_when_locked(synced):
    cfg, _ = synced
    with StateStore(str(cfg.parent / "state" / "state.json")).lock("a-running-sync"):
        res = CliRunner().invoke(main, ["state", "reset", "campaigns", "--config", str(cfg)])
    assert res.exit_code == 4 and "a-running-sync" in res.output


def test_state_reset_of_an_unknown_stream_exits_2(synced):
    cfg, _ = synced
    res = CliRunner().invoke(main, ["state", "reset", "campains", "--config", str(cfg)])
    assert res.exit_code == 2 and "unknown stream" in res.output
