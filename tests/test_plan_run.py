"""``pinsync plan`` against the fake: it says what the next run then does, per rate-limit
category, and it makes no analytics or report request and writes nothing.

The fake's reports are FINISHED at the first poll here, so a run makes exactly the fewest
requests the plan names (every report polled once); the bounds are checked apart.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import pinsync
from pinsync.cli import main
from pinsync.config import config_from_dict
from pinsync.connect import client_for, extractor_for
from pinsync.fake import ROUTE_CATEGORY, Dataset, FakePinterest, FakeServer
from pinsync.streams import STREAMS
from tests.conftest import TODAY, TOKEN

CORE_ADS = ("campaign_analytics", "ad_group_analytics", "ad_analytics")
NO_WAIT = lambda s: None  # noqa: E731


@pytest.fixture(scope="module")
def world():
    ds = Dataset(seed=7, accounts=2, campaigns_per_account=3, ad_groups_per_campaign=2, ads_per_ad_group=2, pins=6,
                 today=TODAY, history_days=450)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    fake.reports.polls_in_progress = 0          # FINISHED at the first poll: the fewest requests
    with FakeServer(fake) as srv:
        yield ds, fake, srv


def _raw(root, url, days_back: int, **extra) -> dict:
    start = (TODAY - dt.timedelta(days=days_back)).isoformat()
    return {"api_url": url, "auth": {"access_token": TOKEN}, "start_date": start,
            "output": {"url": str(root / "out")}, "state": {"url": str(root / "state.json")},
            "analytics": {"lookback_days": 5}, **extra}


def _config(root, url, days_back: int, today=TODAY, **extra):
    return config_from_dict(_raw(root, url, days_back, **extra), env={}, today=today)


def _by_category(calls: Counter) -> dict[str, int]:
    out: Counter = Counter()
    for route, n in calls.items():
        if ROUTE_CATEGORY.get(route):
            out[ROUTE_CATEGORY[route]] += n
    return dict(sorted(out.items()))


def _files(root) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _plan_then_run(fake, config, today=TODAY):
    """The plan (checking it made only listing calls and touched no file), then the run's calls."""
    root = Path(config.state.url).parent
    before = _files(root)
    fake.reset_counters()
    plan = pinsync.plan(config, today=today, sleep=NO_WAIT)
    listed = set(fake.calls)
    assert listed <= {s.name for s in STREAMS.values() if s.kind == "entity"}, listed   # no analytics, no report
    assert "report_download" not in fake.calls
    assert _files(root) == before                                       # no state, no output, no lock
    assert not plan.failures
    fake.reset_counters()
    result = pinsync.run(config, today=today, sleep=NO_WAIT)
    assert result.ok, result.failures
    return plan, Counter(fake.calls)


def _assert_plan_is_the_run(plan, calls: Counter) -> None:
    ran = _by_category(calls)
    assert {k: v for k, v in plan.requests.items() if v} == ran               # per category, exactly
    for cat, n in ran.items():
        assert plan.requests[cat] <= n <= plan.requests_most[cat]
    assert plan.downloads == calls["report_download"] == calls["create_report"]
    assert sum(line.reports for line in plan.lines) == calls["create_report"]
    assert sum(line.listing for line in plan.lines) == sum(n for r, n in calls.items()
                                                           if r in STREAMS and STREAMS[r].kind == "entity")


def test_a_400_day_first_run_is_what_plan_said(world, tmp_path):
    ds, fake, srv = world
    config = _config(tmp_path, srv.url, 400)
    plan, calls = _plan_then_run(fake, config)
    _assert_plan_is_the_run(plan, calls)
    # Σ levels x accounts x ceil(days/186): 311 days older than the synchronous 89
    assert calls["create_report"] == len(CORE_ADS) * len(ds.ad_accounts) * math.ceil((400 - 89) / 186) == 12
    line = next(x for x in plan.lines if x.stream == "campaign_analytics")
    assert [(str(f.start), str(f.end), f.path) for f in line.fetches] == [
        ("2025-10-25", "2026-08-31", "report"), ("2026-09-01", "2026-11-28", "sync")]


def test_a_next_day_run_is_what_plan_said(world, tmp_path):
    ds, fake, srv = world
    assert pinsync.run(_config(tmp_path, srv.url, 400), today=TODAY, sleep=NO_WAIT).ok
    tomorrow = TODAY + dt.timedelta(days=1)
    plan, calls = _plan_then_run(fake, _config(tmp_path, srv.url, 400, today=tomorrow), today=tomorrow)
    _assert_plan_is_the_run(plan, calls)
    assert calls["create_report"] == 0 and plan.downloads == 0
    line = next(x for x in plan.lines if x.stream == "ad_analytics")
    assert [(str(f.start), str(f.end), f.path) for f in line.fetches] == [("2026-11-25", "2026-11-29", "sync")]


def test_a_start_date_moved_back_200_days_is_what_plan_said(world, tmp_path):
    ds, fake, srv = world
    assert pinsync.run(_config(tmp_path, srv.url, 60), today=TODAY, sleep=NO_WAIT).ok
    plan, calls = _plan_then_run(fake, _config(tmp_path, srv.url, 260))
    _assert_plan_is_the_run(plan, calls)
    assert calls["create_report"] == len(CORE_ADS) * len(ds.ad_accounts)       # 171 days: one report each
    line = next(x for x in plan.lines if x.stream == "ad_group_analytics")
    assert [(str(f.start), str(f.end), f.path) for f in line.fetches] == [
        ("2026-03-14", "2026-08-31", "report"), ("2026-09-01", "2026-09-29", "sync"),
        ("2026-11-24", "2026-11-28", "sync")]


def test_every_stream_is_what_plan_said(world, tmp_path):
    ds, fake, srv = world
    plan, calls = _plan_then_run(fake, _config(tmp_path, srv.url, 200, streams=["all"]))
    _assert_plan_is_the_run(plan, calls)
    assert {x.stream for x in plan.lines} == set(STREAMS) - {"pin_lifetime_metrics"}
    assert calls["create_report"] > len(CORE_ADS) * len(ds.ad_accounts)          # ADVERTISER, PRODUCT_GROUP too


def test_a_run_with_nothing_to_do_plans_no_analytics_request(world, tmp_path):
    ds, fake, srv = world
    raw = dict(streams=["campaigns", "ad_groups", "ads", *CORE_ADS], analytics={"lookback_days": 0})
    assert pinsync.run(_config(tmp_path, srv.url, 30, **raw), today=TODAY, sleep=NO_WAIT).ok
    plan, calls = _plan_then_run(fake, _config(tmp_path, srv.url, 30, **raw))
    assert plan.requests.get("ads_analytics", 0) == 0 == _by_category(calls).get("ads_analytics", 0)
    assert all(not x.fetches for x in plan.lines)
    _assert_plan_is_the_run(plan, calls)


def test_polls_are_bounded_by_the_plan(world, tmp_path):
    ds, fake, srv = world
    config = _config(tmp_path, srv.url, 200)
    plan = pinsync.plan(config, today=TODAY, sleep=NO_WAIT)
    fake.reports.polls_in_progress = 3
    try:
        fake.reset_counters()
        assert pinsync.run(config, today=TODAY, sleep=NO_WAIT).ok
    finally:
        fake.reports.polls_in_progress = 0
    ran = _by_category(fake.calls)
    assert fake.calls["get_report"] == 4 * fake.calls["create_report"]
    assert plan.requests["ads_analytics"] < ran["ads_analytics"] <= plan.requests_most["ads_analytics"]
    assert all(plan.requests[c] == n for c, n in ran.items() if c != "ads_analytics")


def test_a_saved_report_token_is_planned_as_resumed(world, tmp_path):
    ds, fake, srv = world
    config = _config(tmp_path, srv.url, 200)
    first = pinsync.plan(config, today=TODAY, sleep=NO_WAIT)
    line = next(x for x in first.lines if x.stream == "campaign_analytics")
    store = pinsync.state.StateStore(str(tmp_path / "state.json"))
    state = store.load()
    client = client_for(config)
    span = line.fetches[0]
    jobs = extractor_for(client, config, today=TODAY).report_jobs(STREAMS["campaign_analytics"], line.ad_account_id,
                                                                  span.start, span.end, TODAY)
    client.close()
    state.set("campaign_analytics", line.ad_account_id, {"reports": {jobs[0].key: "some-token"}})
    store.save(state)
    again = next(x for x in pinsync.plan(config, today=TODAY, sleep=NO_WAIT).lines
                 if x.stream == "campaign_analytics" and x.ad_account_id == line.ad_account_id)
    assert (again.reports, again.resumed) == (line.reports - 1, 1)
    assert again.requests == line.requests - 1 and again.most > line.most - 1


# ------------------------------------------------------------------ the command

def _yaml(tmp_path, url, days_back=100, **extra):
    path = tmp_path / "pinsync.yaml"
    path.write_text(yaml.safe_dump(_raw(tmp_path, url, days_back, **extra)))
    return str(path)


def test_plan_json_shape(world, tmp_path):
    ds, fake, srv = world
    res = CliRunner().invoke(main, ["plan", "--config", _yaml(tmp_path, srv.url), "--json",
                                    "--streams", "campaigns,campaign_analytics"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {"today", "start_date", "requests", "requests_most", "total", "total_most", "downloads",
                         "units", "failures", "warnings"}
    assert data["today"] == TODAY.isoformat() and data["start_date"] == "2026-08-21"
    unit = next(u for u in data["units"] if u["stream"] == "campaign_analytics")
    assert unit["fetches"] == [{"start": "2026-08-21", "end": "2026-08-31", "path": "report", "days": 11},
                               {"start": "2026-09-01", "end": "2026-11-28", "path": "sync", "days": 89}]
    assert unit["report_creations"] == 1 and unit["downloads"] == 1 and unit["sync_calls"] == 1
    assert data["total"] == sum(data["requests"].values())
    assert set(data["requests"]) == {"ads_analytics", "ads_read"}
    assert not (tmp_path / "out").exists() and not (tmp_path / "state.json").exists()


def test_plan_table_names_days_paths_and_totals(world, tmp_path):
    ds, fake, srv = world
    res = CliRunner().invoke(main, ["plan", "--config", _yaml(tmp_path, srv.url), "--start-date", "2026-01-01",
                                    "--streams", "campaigns,campaign_analytics"])
    assert res.exit_code == 0, res.output
    assert "2026-01-01..2026-08-31 report (243 d)" in res.stdout and "2026-09-01..2026-11-28 sync (89 d)" in res.stdout
    assert "ads_analytics" in res.stdout and "total" in res.stdout and "report downloads" in res.stdout


@pytest.mark.parametrize("args", [["--start-date", "2020-01-01"], ["--streams", "nope"], ["--shard", "5/2"],
                                  ["--config", "missing.yaml"]])
def test_plan_config_errors_exit_2(world, tmp_path, args):
    ds, fake, srv = world
    res = CliRunner().invoke(main, ["plan", "--config", _yaml(tmp_path, srv.url), *args])
    assert res.exit_code == 2, res.output
    assert "error:" in res.output and "Traceback" not in res.output


def test_the_library_refuses_a_start_date_older_than_914_days(world, tmp_path):
    ds, fake, srv = world
    with pytest.raises(pinsync.ConfigError, match="earliest allowed day is 2024-05-30"):
        pinsync.plan(_config(tmp_path, srv.url, 30), today=TODAY, start_date=dt.date(2024, 1, 1))


# ------------------------------------------------------------------ state show: the days held

def test_state_show_names_the_days_each_stream_and_account_holds(world, tmp_path):
    ds, fake, srv = world
    path = _yaml(tmp_path, srv.url, 60)
    assert CliRunner().invoke(main, ["run", "--config", path]).exit_code == 0
    assert CliRunner().invoke(main, ["run", "--config", path, "--start-date", "2026-03-14"]).exit_code == 0
    res = CliRunner().invoke(main, ["state", "show", "--config", path])
    assert res.exit_code == 0, res.output
    assert "days held" in res.output
    for acct in (a["id"] for a in ds.ad_accounts):
        line = next(x for x in res.output.splitlines() if "campaign_analytics" in x and acct in x)
        assert "2026-03-14..2026-11-28" in line
    pins = next(x for x in res.output.splitlines() if "pin_analytics" in x)
    assert "2026-09-01..2026-11-2" in pins            # organic analytics: 89 days back, up to the last complete day
    raw = json.loads(CliRunner().invoke(main, ["state", "show", "--config", path, "--json"]).stdout)
    marks = raw["bookmarks"]["ad_analytics"]
    assert {m["held_from"] for m in marks.values()} == {"2026-03-14"}
    assert {m["last_complete_date"] for m in marks.values()} == {"2026-11-28"}
    assert raw["bookmarks"]["pin_analytics"]["*"]["held_from"] == "2026-09-01"


def test_organic_analytics_fetch_exactly_the_missing_days_of_a_start_date_moved_back(world, tmp_path):
    ds, fake, srv = world
    streams = ["pins", "pin_analytics", "user_account_analytics"]
    assert pinsync.run(_config(tmp_path, srv.url, 30, streams=streams), today=TODAY, sleep=NO_WAIT).ok
    plan, calls = _plan_then_run(fake, _config(tmp_path, srv.url, 80, streams=streams))
    _assert_plan_is_the_run(plan, calls)
    for route in ("multi_pin_analytics", "user_account_analytics"):
        suffix = "/pins/analytics" if route == "multi_pin_analytics" else "/user_account/analytics"
        windows = sorted({(q["start_date"][0], q["end_date"][0]) for m, p, q in fake.requests if p.endswith(suffix)})
        assert windows[0] == ("2026-09-10", "2026-10-29"), (route, windows)      # the 50 missing days
        assert all(start >= "2026-11-2" for start, _ in windows[1:]), (route, windows)   # then the lookback window
    state = json.loads((tmp_path / "state.json").read_text())["bookmarks"]
    assert state["pin_analytics"]["*"]["held_from"] == state["user_account_analytics"]["*"]["held_from"] == "2026-09-10"
