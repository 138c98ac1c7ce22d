"""What the command line shows: plain ISO-timestamped log lines off a terminal, what a run
does at -v and each request at -vv, a summary table that fits 80 columns, and no warning
with the default configuration."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner
from rich.console import Console

from pinsync import cli
from pinsync.cli import main
from pinsync.sync import StreamStats, SyncResult
from tests.conftest import TOKEN

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARNING|ERROR) pinsync\.[a-z_.]+: .+$")


def _config(tmp_path: Path, url: str, **extra) -> Path:
    data = {"api_url": url, "auth": {"access_token": TOKEN}, "output": {"url": "out"},
            "state": {"url": "state/state.json"}, "analytics": {"lookback_days": 2}}
    data.update(extra)
    path = tmp_path / "pinsync.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_default_configuration_runs_without_a_warning(tmp_path, server):
    res = CliRunner().invoke(main, ["run", "--config", str(_config(tmp_path, server.url))])
    assert res.exit_code == 0, res.output
    assert "WARNING" not in res.stderr and "warning" not in res.stderr.lower(), res.stderr


def test_a_chosen_column_the_level_cannot_serve_is_warned_about_once(tmp_path, server):
    cfg = _config(tmp_path, server.url, streams=["campaigns", "campaign_analytics"],
                  analytics={"lookback_days": 2, "columns": ["SPEND_IN_DOLLAR", "AD_GROUP_BUDGET_TYPE"]})
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "AD_GROUP_BUDGET_TYPE" in warnings[0] and "campaign level" in warnings[0]


def test_logs_off_a_terminal_are_plain_iso_lines_with_requests_at_vv(tmp_path, server, fake):
    fake.add_fault("campaigns", "status", status=503)
    cfg = _config(tmp_path, server.url, streams=["ad_accounts", "campaigns"], http={"max_retries": 2})
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "-vv"])
    assert res.exit_code == 0, res.output
    logs = [line for line in res.stderr.splitlines() if line[:2] == "20"]
    assert logs and all(LINE.match(line) for line in logs), "\n".join(l for l in logs if not LINE.match(l))
    assert any(re.search(r"DEBUG pinsync\.client: GET /ad_accounts -> 200 in \d+ ms$", line) for line in logs)
    assert any(re.search(r"GET /ad_accounts/\d+/campaigns -> 503 in \d+ ms$", line) for line in logs)
    assert any("INFO pinsync.client: GET /ad_accounts/" in line and "retry 1/2" in line for line in logs)
    assert TOKEN not in res.output


def test_v_logs_no_request_lines(tmp_path, server):
    res = CliRunner().invoke(main, ["run", "--config", str(_config(tmp_path, server.url, streams=["ad_accounts"])),
                                    "-v"])
    assert res.exit_code == 0
    assert " DEBUG " not in res.stderr and "-> 200" not in res.stderr


def test_summary_fits_80_columns_with_the_longest_names_and_big_numbers(monkeypatch):
    longest = "campaign_targeting_analytics"
    stats = {name: StreamStats(name, rows_fetched=12_345_678, rows_written=12_345_678, files_written=1_234,
                               files_unchanged=1_234, requests=12_345, seconds=1_234.5)
             for name in ("campaigns", longest)}
    result = SyncResult("20261129T080000Z-abcdef", stats, requests_by_category={"ads_read": 246_912})
    console = Console(width=80, record=True, file=open("/dev/null", "w"))
    monkeypatch.setattr(cli, "err_console", console)
    cli._summary(result)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert longest in text and "12,345,678" in text and "…" not in text
