"""The command line: thin over the library, one clear line per error, documented commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pinsync.cli import main
from pinsync.streams import DEFAULT_STREAMS, STREAMS
from tests.conftest import TOKEN

ROOT = Path(__file__).resolve().parents[1]


def _write_config(tmp_path: Path, url: str, **extra) -> Path:
    data = {"api_url": url, "auth": {"access_token": "${TEST_PINTEREST_TOKEN}"},
            "output": {"url": "out"}, "state": {"url": "state/state.json"},
            "streams": ["ad_accounts", "campaigns", "pins"]}
    data.update(extra)
    path = tmp_path / "pinsync.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_run_syncs_prints_summary_and_exits_0(tmp_path, server, monkeypatch):
    monkeypatch.setenv("TEST_PINTEREST_TOKEN", TOKEN)
    cfg = _write_config(tmp_path, server.url)
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    for word in ("stream", "fetched", "written", "kept", "calls", "seconds", "campaigns"):
        assert word in res.output
    assert (tmp_path / "out" / "campaigns").is_dir()      # relative to the config file's folder
    assert TOKEN not in res.output


def test_run_json_summary(tmp_path, server, monkeypatch):
    monkeypatch.setenv("TEST_PINTEREST_TOKEN", TOKEN)
    cfg = _write_config(tmp_path, server.url)
    res = CliRunner(mix_stderr=False).invoke(main, ["run", "--config", str(cfg), "--json", "--streams", "campaigns"]) \
        if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else \
        CliRunner().invoke(main, ["run", "--config", str(cfg), "--json", "--streams", "campaigns"])
    assert res.exit_code == 0
    out = res.stdout if hasattr(res, "stdout") else res.output
    summary = json.loads(out[out.index("{"):])
    assert summary["ok"] and summary["streams"]["campaigns"]["rows_fetched"] > 0
    assert list(summary["streams"]) == ["campaigns"]


@pytest.mark.parametrize("bad,key", [
    ({"streams": ["campaings"]}, "streams"),
    ({"start_date": "2026-13-01"}, "start_date"),
    ({"analytics": {"granularity": "DAILY"}}, "analytics.granularity"),
    ({"unknown_key": 1}, "unknown_key"),
])
def test_bad_config_names_the_key_and_exits_2(tmp_path, server, monkeypatch, bad, key):
    monkeypatch.setenv("TEST_PINTEREST_TOKEN", TOKEN)
    cfg = _write_config(tmp_path, server.url, **bad)
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 2
    assert key in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_missing_credential_variable_exits_2(tmp_path, server, monkeypatch):
    monkeypatch.delenv("TEST_PINTEREST_TOKEN", raising=False)
    res = CliRunner().invoke(main, ["run", "--config", str(_write_config(tmp_path, server.url))])
    assert res.exit_code == 2 and "TEST_PINTEREST_TOKEN" in res.output


def test_flags_override_config(tmp_path, server, monkeypatch):
    monkeypatch.setenv("TEST_PINTEREST_TOKEN", TOKEN)
    cfg = _write_config(tmp_path, server.url)
    other = tmp_path / "elsewhere"
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--streams", "ad_accounts", "--output", str(other)])
    assert res.exit_code == 0, res.output
    assert (other / "ad_accounts" / "data.parquet").is_file() and not (other / "campaigns").exists()


def test_bad_shard_is_usage_error(tmp_path, server, monkeypatch):
    monkeypatch.setenv("TEST_PINTEREST_TOKEN", TOKEN)
    res = CliRunner().invoke(main, ["run", "--config", str(_write_config(tmp_path, server.url)), "--shard", "5/4"])
    assert res.exit_code == 2 and "shard" in res.output


def test_streams_lists_key_cursor_parent_partitioning():
    res = CliRunner().invoke(main, ["streams"], env={"COLUMNS": "400"})
    assert res.exit_code == 0
    for name in ("ad_accounts", "campaigns", "ad_groups", "ads", "pins", "campaign_analytics", "ad_group_analytics",
                 "ad_analytics", "pin_analytics", "updated_time", "created_at", "ad_account_id="):
        assert name in res.output


def test_streams_marks_the_default_selection_and_the_scope_and_rate_limit_of_each():
    res = CliRunner().invoke(main, ["streams"], env={"COLUMNS": "400"})
    assert res.exit_code == 0
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in res.output.splitlines() if line.startswith("│")]
    rows = {c[0].removeprefix("* "): c for c in cells}
    assert set(rows) == set(STREAMS)
    for name, row in rows.items():
        assert row[0].startswith("* ") == (name in DEFAULT_STREAMS), row
        assert (row[-2], row[-1]) == (" ".join(STREAMS[name].scopes), STREAMS[name].category), row
    assert rows["catalog_feeds"][-2:] == ["catalogs:read", "catalogs_read"]
    assert rows["user_account_analytics"][-2:] == ["user_accounts:read", "org_analytics"]
    assert "`streams: [all]`" in res.output


def test_state_show_prints_the_state(tmp_path, server, monkeypatch):
    monkeypatch.setenv("TEST_PINTEREST_TOKEN", TOKEN)
    cfg = _write_config(tmp_path, server.url)
    CliRunner().invoke(main, ["run", "--config", str(cfg), "--streams", "campaigns"])
    res = CliRunner().invoke(main, ["state", "show", "--config", str(cfg), "--json"])
    assert res.exit_code == 0
    assert json.loads(res.output)["bookmarks"]["campaigns"]


def test_corrupt_state_is_an_error_not_a_reset(tmp_path, server, monkeypatch):
    monkeypatch.setenv("TEST_PINTEREST_TOKEN", TOKEN)
    cfg = _write_config(tmp_path, server.url)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text("{not json")
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 2 and "state" in res.output and "Traceback" not in res.output
    assert (tmp_path / "state" / "state.json").read_text() == "{not json"


def test_demo_runs_without_credentials(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("PINTEREST_ACCESS_TOKEN", "PINTEREST_CLIENT_ID", "PINTEREST_CLIENT_SECRET", "PINTEREST_REFRESH_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    res = CliRunner().invoke(main, ["demo"])
    assert res.exit_code == 0, res.output
    for stream in ("ad_accounts", "campaigns", "ad_groups", "ads", "pins", "campaign_analytics", "ad_analytics",
                   "pin_analytics"):
        assert list((tmp_path / "demo-data" / stream).rglob("data.parquet")), stream
    assert "scan_parquet" in res.output


def test_demo_with_every_stream_writes_every_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["demo", "--streams", "all"])
    assert res.exit_code == 0, res.output
    written = {p.name for p in (tmp_path / "demo-data").iterdir() if not p.name.startswith("_")}
    # lifetime metrics only when pin_analytics.metric_types asks for them (not the default)
    assert written == set(STREAMS) - {"pin_lifetime_metrics"}


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name, cmd in main.commands.items():
        assert cmd.help, name
        assert f"pinsync {name}" in readme, name


def test_every_readme_section_a_message_names_exists():
    import re

    readme = (ROOT / "README.md").read_text()
    headings = {h.strip() for h in re.findall(r"^#+ (.+)$", readme, flags=re.M)}
    named = {m for f in (ROOT / "pinsync").rglob("*.py") for m in re.findall(r"README, '([^']+)'", f.read_text())}
    assert named, "messages point at README sections"
    assert named <= headings, named - headings


def test_streams_keeps_every_stream_name_whole_in_an_80_column_terminal():
    res = CliRunner().invoke(main, ["streams"], env={"COLUMNS": "80"})
    assert res.exit_code == 0
    first = [line.split("│")[1].strip().removeprefix("* ") for line in res.output.splitlines() if line.startswith("│")]
    assert set(STREAMS) <= set(first), sorted(set(STREAMS) - set(first))
