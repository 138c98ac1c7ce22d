"""What the command line shows: plain ISO-timestamped log lines off a terminal, what a run
does at -v and each request at -vv, a summary table that fits 80 columns, and no warning
with the default configuration."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import yaml
from click.testing import CliRunner
from rich.console import Console

from pinsync import cli
from pinsync.cli import main
from pinsync.sync import StreamStats, SyncResult
from tests.conftest import TOKEN, read_table

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


def test_v_tells_what_the_run_does_units_windows_retries_and_waits(tmp_path, server, fake):
    fake.add_fault("campaigns", "status", status=503)
    cfg = _config(tmp_path, server.url, streams=["ad_accounts", "campaigns", "campaign_analytics"],
                  http={"max_retries": 2, "rate_limit_window_seconds": 2.5}, rate_limits={"ads_analytics": 1})
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "-v"])
    assert res.exit_code == 0, res.output
    logs = [line for line in res.stderr.splitlines() if line[:2] == "20"]
    assert logs and all(LINE.match(line) for line in logs), "\n".join(l for l in logs if not LINE.match(l))
    text = "\n".join(logs)
    out = tmp_path / "out"
    for account in (a["id"] for a in fake.dataset.ad_accounts):
        # the first run fetches start_date (30 days back) to yesterday, synchronously
        assert (f"INFO pinsync.sync: campaign_analytics (ad account {account}): started: "
                f"days 2026-10-30..2026-11-28 (sync)") in text
        rows = read_table(out, "campaign_analytics").filter(pl.col("ad_account_id") == account).height
        files = len(list((out / "campaign_analytics" / f"ad_account_id={account}").rglob("*.parquet")))
        assert rows and files == 2     # October and November
        assert re.search(rf"INFO pinsync\.sync: campaign_analytics \(ad account {account}\): done in \d+\.\d\ds: "
                         rf"{rows:,} rows written, 2 files written, 0 kept unchanged$", text, re.M), text
        campaigns = sum(1 for c in fake.dataset.campaigns if c["ad_account_id"] == account)
        assert f"campaigns (ad account {account}): started: listing" in text
        assert re.search(rf"campaigns \(ad account {account}\): done in \d+\.\d\ds: {campaigns} rows written, "
                         r"1 files written", text)
    assert "INFO pinsync.sync: ad_accounts: started: listing" in text
    # the retry, with its reason and wait; the wait on the rate limit, with its category and duration
    assert re.search(r"INFO pinsync\.client: GET /ad_accounts/\d+/campaigns: server error \(HTTP 503\); "
                     r"retry 1/2 in \d+\.\d\ds$", text, re.M), text
    assert re.search(r"INFO pinsync\.ratelimit: rate limit ads_analytics \(1 requests per 2.5s\): "
                     r"waiting \d\.\ds$", text, re.M), text


# ------------------------------------------------------------------ progress
def _progress(*events):
    from pinsync.sync import Event

    view = cli.RunProgress(Console(file=open("/dev/null", "w"), width=120), disable=True)
    for kind, stream, rows in events:
        view.on_event(Event(kind, stream, rows=rows))
    return view


def test_progress_counts_units_done_of_those_planned_with_rows_and_pages():
    events = [("planned", "campaign_analytics", 0)] * 10 + [("start", "campaign_analytics", 0)]
    events += [("rows", "campaign_analytics", 400), ("rows", "campaign_analytics", 834)]
    events += [("done", "campaign_analytics", 1234)] * 3
    view = _progress(*events)
    assert view.text("campaign_analytics") == "3/10 units  1,234 rows  2 pages"
    task = view.progress.tasks[0]
    assert (task.completed, task.total) == (3, 10)
    view = _progress(*events, ("failed", "campaign_analytics", 0), ("planned", "campaign_analytics", 0))
    assert view.text("campaign_analytics") == "4/11 units, 1 failed  1,234 rows  2 pages"


def test_progress_bars_leave_no_ghost_lines_behind_the_summary(tmp_path, server, monkeypatch):
    screen = io.StringIO()
    console = Console(file=screen, width=100, force_terminal=True)
    monkeypatch.setattr(cli, "_console", lambda stderr: console)
    monkeypatch.setattr(cli, "err_console", console)
    cfg = _config(tmp_path, server.url, streams=["ad_accounts", "campaigns", "campaign_analytics"])
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    raw = screen.getvalue()
    last_bars = raw[raw.rindex("units"):raw.index("pinsync run")]
    assert "1/1 units" in raw[:raw.index("pinsync run")]       # the bars showed real progress ...
    assert last_bars.count("\x1b[2K") >= 3                    # ... and their 3 lines were erased before the summary
    assert "units" not in raw[raw.index("pinsync run"):]
