"""Full history: days older than the synchronous endpoints serve come from asynchronous
reports into the same tables; a start date moved back fetches exactly the missing days;
a run stopped while a report is pending polls that report again instead of creating one."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time

import polars as pl
import pytest

import pinsync
from pinsync.config import config_from_dict
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.reports import ReportRunner
from tests.conftest import TODAY, TOKEN, read_table

ADS = ("campaign_analytics", "ad_group_analytics", "ad_analytics")
ID = {"campaign_analytics": "campaign_id", "ad_group_analytics": "ad_group_id", "ad_analytics": "ad_id"}
NO_WAIT = lambda s: None  # noqa: E731


@pytest.fixture(scope="module")
def world():
    ds = Dataset(seed=5, accounts=2, campaigns_per_account=3, ad_groups_per_campaign=2, ads_per_ad_group=2, pins=5,
                 today=TODAY, history_days=450)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    fake.reports.polls_in_progress = 1
    with FakeServer(fake) as srv:
        yield ds, fake, srv


def _raw(tmp_path, url, start_days_back: int, out="out") -> dict:
    return {"api_url": url, "auth": {"access_token": TOKEN}, "streams": ["campaigns", "ad_groups", "ads", *ADS],
            "start_date": (TODAY - dt.timedelta(days=start_days_back)).isoformat(),
            "output": {"url": str(tmp_path / out)}, "state": {"url": str(tmp_path / f"{out}-state.json")},
            "analytics": {"lookback_days": 5}}


def _config(tmp_path, url, start_days_back: int, out="out"):
    return config_from_dict(_raw(tmp_path, url, start_days_back, out), env={}, today=TODAY)


def test_a_400_day_backfill_equals_the_truth_with_the_fewest_reports(world, tmp_path):
    ds, fake, srv = world
    fake.reset_counters()
    result = pinsync.run(_config(tmp_path, srv.url, 400), today=TODAY, sleep=NO_WAIT)
    assert result.ok, result.failures
    # 400 days: 311 of them older than the synchronous window (89 days) -> ceil(311 / 186) = 2 spans
    reports = len(ADS) * len(ds.ad_accounts) * math.ceil((400 - 89) / 186)
    assert fake.calls["create_report"] == reports == 12
    assert fake.calls["campaign_analytics"] == len(ds.ad_accounts)          # the recent 89 days, one window
    oldest = TODAY - dt.timedelta(days=400)
    for stream in ADS:
        got = read_table(tmp_path / "out", stream)
        assert got["date"].min() >= oldest and got["date"].max() == TODAY - dt.timedelta(days=1)
        assert got.select(ID[stream], "date").is_duplicated().sum() == 0
        assert got.filter(pl.col("date") < TODAY - dt.timedelta(days=89)).height > 0   # history landed
    state = pinsync.state.StateStore(str(tmp_path / "out-state.json")).load()
    mark = state.get("campaign_analytics", ds.ad_accounts[0]["id"])
    assert mark["held_from"] == oldest.isoformat() and "reports" not in mark


def test_moving_the_start_date_back_fetches_exactly_the_missing_days(world, tmp_path):
    ds, fake, srv = world
    assert pinsync.run(_config(tmp_path, srv.url, 60), today=TODAY, sleep=NO_WAIT).ok
    fake.reset_counters()
    assert pinsync.run(_config(tmp_path, srv.url, 260), today=TODAY, sleep=NO_WAIT).ok
    # the 200 missing days: 29 synchronous (89..61 back) in one window, 171 older in one report;
    # plus the usual 5-day lookback window
    assert fake.calls["create_report"] == len(ADS) * len(ds.ad_accounts)
    assert fake.calls["campaign_analytics"] == 2 * len(ds.ad_accounts)
    starts = sorted({q["start_date"][0] for m, p, q in fake.requests if p.endswith("/campaigns/analytics")})
    assert starts == [(TODAY - dt.timedelta(days=89)).isoformat(), (TODAY - dt.timedelta(days=5)).isoformat()]
    clean = tmp_path / "clean"
    clean.mkdir()
    assert pinsync.run(_config(clean, srv.url, 260), today=TODAY, sleep=NO_WAIT).ok
    for stream in ADS:
        got = read_table(tmp_path / "out", stream).drop("month").sort(ID[stream], "date")
        want = read_table(clean / "out", stream).drop("month").sort(ID[stream], "date")
        assert got.equals(want), stream


def test_a_run_stopped_while_a_report_is_pending_polls_it_again(world, tmp_path, monkeypatch):
    ds, fake, srv = world
    real_step = ReportRunner._step
    stopped = []

    def step(self, path, job, tag, on_token, now):
        out = real_step(self, path, job, tag, on_token, now)
        if not stopped:                       # the first poll: the run dies while waiting
            stopped.append(job.key)
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(ReportRunner, "_step", step)
    config = _config(tmp_path, srv.url, 200)
    fake.reset_counters()
    with pytest.raises(KeyboardInterrupt):
        pinsync.run(config, today=TODAY, sleep=NO_WAIT)
    # in a process that lives on (a CLI run ends here), the stopped run's units wind down first
    deadline = time.monotonic() + 30
    while any(t.name.startswith("pinsync-") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    saved = pinsync.state.StateStore(str(tmp_path / "out-state.json")).load().as_dict()["bookmarks"]
    tokens = {k: v for s in saved.values() for mark in s.values() for k, v in (mark.get("reports") or {}).items()}
    assert stopped[0] in tokens                     # saved before the first poll
    monkeypatch.setattr(ReportRunner, "_step", real_step)
    assert pinsync.run(config, today=TODAY, sleep=NO_WAIT).ok
    # each unit's one report was created once across both runs: the second run polled the saved ones
    assert fake.calls["create_report"] == len(ADS) * len(ds.ad_accounts)
    assert fake.calls["get_report"] > len(ADS) * len(ds.ad_accounts)
    clean = tmp_path / "clean"
    clean.mkdir()
    assert pinsync.run(_config(clean, srv.url, 200), today=TODAY, sleep=NO_WAIT).ok
    for stream in ADS:
        assert read_table(tmp_path / "out", stream).sort(ID[stream], "date").equals(
            read_table(clean / "out", stream).sort(ID[stream], "date")), stream


def test_a_start_date_older_than_914_days_is_a_config_error():
    with pytest.raises(pinsync.ConfigError, match="earliest allowed"):
        config_from_dict({"auth": {"access_token": "x"}, "start_date": "2024-05-01"}, env={}, today=TODAY)


def test_an_output_moved_away_from_the_state_stops_with_exit_2_until_a_full_refresh(world, tmp_path):
    ds, fake, srv = world
    config = _config(tmp_path, srv.url, 30)
    assert pinsync.run(config, today=TODAY, sleep=NO_WAIT).ok
    moved = config_from_dict({**_raw(tmp_path, srv.url, 30), "output": {"url": str(tmp_path / "elsewhere")}},
                             env={}, today=TODAY)
    with pytest.raises(pinsync.ConfigError, match="--full-refresh") as err:
        pinsync.run(moved, today=TODAY, sleep=NO_WAIT)
    assert err.value.exit_code == 2 and str(tmp_path / "out") in str(err.value)
    assert not (tmp_path / "elsewhere").exists() or not list((tmp_path / "elsewhere").rglob("*.parquet"))
    assert pinsync.run(moved, today=TODAY, full_refresh=True, sleep=NO_WAIT).ok
    for stream in ADS:
        assert read_table(tmp_path / "elsewhere", stream)["date"].min() == TODAY - dt.timedelta(days=30)
    assert pinsync.run(moved, today=TODAY, sleep=NO_WAIT).ok              # the state now vouches for it
