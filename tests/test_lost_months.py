"""Month files lost below the look-back window (deleted by hand, removed by a bucket lifecycle
rule, truncated): the state records every month file it holds with its size, each run lists
each unit's folder once, and a lost month is fetched again (through reports when old) or, older
than the API serves, reported and no longer claimed - never a silent exit 0."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import pinsync
from pinsync.cli import main
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.sink import DATA_FILE
from pinsync.storage import Location
from tests.conftest import ALL_TABLES_PIN_METRICS, TODAY, TOKEN, read_table
from tests.reliability_support import write_yaml
from tests.s3_fixtures import assert_same_tables, list_keys, read_tables, s3_client

pytest_plugins = ["tests.s3_fixtures"]

ANALYTICS = ("campaign_analytics", "ad_group_analytics", "ad_analytics", "pin_analytics")
# August 21 - November 28: August from reports (older than the synchronous 89 days), pins from September 1
HISTORY = {"start_date": "2026-08-21", "analytics": {"lookback_days": 5}}
NO_WAIT = lambda s: None  # noqa: E731


def _tables(out: Path) -> dict[str, pl.DataFrame]:
    return {s: read_table(out, s).sort(pl.all()) for s in ANALYTICS}


def _state(root: Path) -> dict:
    return json.loads((root / "state" / "state.json").read_text())


def _month_file(out: Path, stream: str, month: str, account: str | None = None) -> Path:
    folder = out / stream / (f"ad_account_id={account}" if account else "") / f"month={month}"
    return folder / DATA_FILE


def _twin(tmp_path: Path, name: str) -> Path:
    """A copy of the first run's output and state, to run the same next run on."""
    shutil.copytree(tmp_path / "out", tmp_path / name / "out")
    shutil.copytree(tmp_path / "state", tmp_path / name / "state")
    state_file = tmp_path / name / "state" / "state.json"
    doc = json.loads(state_file.read_text())
    doc["output"] = str(tmp_path / name / "out")           # the state vouches for its own output
    state_file.write_text(json.dumps(doc))
    return tmp_path / name


def _config_at(make_config, root: Path, raw: dict):
    return make_config({**raw, "output": {"url": str(root / "out")},
                        "state": {"url": str(root / "state" / "state.json")}})


@pytest.fixture
def synced(make_config, fake, tmp_path):
    """A first run holding August 21 - November 28, and what it wrote."""
    config = make_config(HISTORY)
    assert pinsync.run(config, today=TODAY, sleep=NO_WAIT).ok
    return config, _tables(tmp_path / "out")


def _next_runs(make_config, fake, tmp_path, damage) -> tuple[Counter, Counter, object]:
    """The next run on an untouched copy and on a damaged one: their requests by route, and
    the damaged run's result."""
    control, damaged = _twin(tmp_path, "control"), _twin(tmp_path, "damaged")
    damage(damaged / "out")
    fake.reset_counters()
    assert pinsync.run(_config_at(make_config, control, HISTORY), today=TODAY, sleep=NO_WAIT).ok
    calm = Counter(fake.calls)
    fake.reset_counters()
    result = pinsync.run(_config_at(make_config, damaged, HISTORY), today=TODAY, sleep=NO_WAIT)
    return calm, Counter(fake.calls), result


# ------------------------------------------------------------------------------------------ repaired
@pytest.mark.parametrize("how", ["deleted", "truncated"])
def test_a_month_lost_below_the_window_is_fetched_again_and_only_that_month(synced, make_config, fake, dataset,
                                                                           tmp_path, how):
    config, reference = synced
    account = dataset.ad_accounts[0]["id"]
    assert _state(tmp_path)["bookmarks"]["ad_analytics"][account]["files"]["month=2026-10"] == \
        _month_file(tmp_path / "out", "ad_analytics", "2026-10", account).stat().st_size

    def damage(out: Path) -> None:
        victim = _month_file(out, "ad_analytics", "2026-10", account)
        if how == "deleted":
            victim.unlink()
        else:
            victim.write_bytes(victim.read_bytes()[:-100])

    calm, calls, result = _next_runs(make_config, fake, tmp_path, damage)
    assert result.ok
    # October's days for that account and stream: one more call (250 ads a call, 31 days), nothing else
    assert calls - calm == Counter({"ad_analytics": 1}) and not calm - calls
    assert [w for w in result.warnings if w.startswith(f"ad_analytics (ad account {account}): ")
            and "month=2026-10" in w and ("missing" if how == "deleted" else "not the") in w
            and "2026-10-01..2026-10-31" in w]
    damaged = tmp_path / "damaged"
    for stream, df in _tables(damaged / "out").items():
        assert df.drop("run_id", strict=False).equals(reference[stream].drop("run_id", strict=False)), stream
    size = _month_file(damaged / "out", "ad_analytics", "2026-10", account).stat().st_size
    assert _state(damaged)["bookmarks"]["ad_analytics"][account]["files"]["month=2026-10"] == size
    # and the run after that finds everything in order: nothing more than the control's next run
    fake.reset_counters()
    again = pinsync.run(_config_at(make_config, damaged, HISTORY), today=TODAY, sleep=NO_WAIT)
    assert again.ok and not again.warnings and Counter(fake.calls) == calm


def test_a_month_lost_from_the_reports_range_is_fetched_again_through_one_report(synced, make_config, fake,
                                                                                 dataset, tmp_path):
    config, reference = synced
    account = dataset.ad_accounts[1]["id"]
    fake.reports.polls_in_progress = 0          # FINISHED at the first poll
    calm, calls, result = _next_runs(
        make_config, fake, tmp_path, lambda out: _month_file(out, "campaign_analytics", "2026-08", account).unlink())
    assert result.ok
    # August 21-31 is older than the synchronous endpoints serve: one CAMPAIGN report for that account
    assert calls - calm == Counter({"create_report": 1, "get_report": 1, "report_download": 1}), calls - calm
    assert [w for w in result.warnings if "month=2026-08: missing" in w and "2026-08-21..2026-08-31" in w]
    for stream, df in _tables(tmp_path / "damaged" / "out").items():
        assert df.drop("run_id", strict=False).equals(reference[stream].drop("run_id", strict=False)), stream


def test_plan_says_what_the_repairing_run_then_requests(synced, make_config, fake, dataset, tmp_path):
    account = dataset.ad_accounts[0]["id"]
    root = _twin(tmp_path, "plan")
    _month_file(root / "out", "ad_group_analytics", "2026-08", account).unlink()
    _month_file(root / "out", "pin_analytics", "2026-09").unlink()
    config = _config_at(make_config, root, HISTORY)
    fake.reports.polls_in_progress = 0          # FINISHED at the first poll: the fewest requests
    plan = pinsync.plan(config, today=TODAY, sleep=NO_WAIT)
    line = next(x for x in plan.lines if x.stream == "ad_group_analytics" and x.ad_account_id == account)
    assert [(str(f.start), str(f.end), f.path) for f in line.fetches] == [
        ("2026-08-21", "2026-08-31", "report"), ("2026-11-24", "2026-11-28", "sync")]
    line = next(x for x in plan.lines if x.stream == "pin_analytics")
    assert [(str(f.start), str(f.end), f.path) for f in line.fetches] == [
        ("2026-09-01", "2026-09-30", "sync"), ("2026-11-24", "2026-11-28", "sync")]
    fake.reset_counters()
    result = pinsync.run(config, today=TODAY, sleep=NO_WAIT)
    assert result.ok
    ran = Counter()
    from pinsync.fake import ROUTE_CATEGORY
    for route, n in fake.calls.items():
        if ROUTE_CATEGORY.get(route):
            ran[ROUTE_CATEGORY[route]] += n
    assert {k: v for k, v in plan.requests.items() if v} == dict(ran)
    assert plan.downloads == fake.calls["report_download"] == fake.calls["create_report"] == 1


# ------------------------------------------------------------------------------------------ lost for good
@pytest.fixture
def aged(tmp_path):
    """Pin analytics synced 60 days ago from July 15, and the same world today: July and
    August are now older than the 89 days organic analytics serve."""
    shape = dict(seed=5, accounts=1, campaigns_per_account=1, ad_groups_per_campaign=1, ads_per_ad_group=1,
                 pins=12, history_days=200)
    then = TODAY - dt.timedelta(days=60)
    raw = {"auth": {"access_token": TOKEN}, "start_date": "2026-07-15", "streams": ["pins", "pin_analytics"],
           "output": {"url": str(tmp_path / "out")}, "state": {"url": str(tmp_path / "state" / "state.json")},
           "analytics": {"lookback_days": 5}, "pin_analytics": {"metric_types": list(ALL_TABLES_PIN_METRICS)}}
    with FakeServer(FakePinterest(Dataset(today=then, **shape), access_tokens=(TOKEN,))) as srv:
        path = write_yaml(tmp_path / "pinsync.yaml", {**raw, "api_url": srv.url})
        assert CliRunner().invoke(main, ["--today", then.isoformat(), "run", "--config", str(path)]).exit_code == 0
    assert _state(tmp_path)["bookmarks"]["pin_analytics"]["*"]["held_from"] == "2026-07-15"
    with FakeServer(FakePinterest(Dataset(today=then, **shape).advance(60), access_tokens=(TOKEN,))) as srv:
        yield write_yaml(tmp_path / "pinsync.yaml", {**raw, "api_url": srv.url})


def test_a_month_older_than_the_api_serves_is_named_fails_the_run_and_is_no_longer_claimed(aged, tmp_path):
    out = tmp_path / "out"
    _month_file(out, "pin_analytics", "2026-07").unlink()
    kept = read_table(out, "pin_analytics")
    got = CliRunner().invoke(main, ["run", "--config", str(aged)])
    assert got.exit_code == 1, got.output
    line = next(x for x in got.output.splitlines() if "month=2026-07" in x)
    mark = _state(tmp_path)["bookmarks"]["pin_analytics"]["*"]
    assert mark["held_from"] == "2026-08-01" and mark["last_complete_date"] >= "2026-11-26"   # days still pending
    for words in ("pin_analytics", "month=2026-07: missing", "2026-07-15..2026-07-31", "older than the API serves",
                  "backup", "no longer claims", f"2026-08-01..{mark['last_complete_date']}"):
        assert words in line, (words, line)
    assert "month=2026-07" not in mark["files"] and "month=2026-08" in mark["files"]
    # the rest was committed: August (beyond reach, but on disk) untouched, the new days fetched
    now = read_table(out, "pin_analytics")
    assert now.filter(pl.col("date") < dt.date(2026, 9, 1)).equals(
        kept.filter((pl.col("date") >= dt.date(2026, 8, 1)) & (pl.col("date") < dt.date(2026, 9, 1))))
    assert now["date"].max() == dt.date(2026, 11, 28)
    again = CliRunner().invoke(main, ["run", "--config", str(aged)])       # the state is honest again: exit 0
    assert again.exit_code == 0, again.output


def test_plan_warns_of_a_month_lost_for_good(aged, tmp_path):
    _month_file(tmp_path / "out", "pin_analytics", "2026-08").unlink()
    got = CliRunner().invoke(main, ["plan", "--config", str(aged)])
    assert got.exit_code == 0, got.output
    assert "month=2026-08" in got.output and "older than the API serves" in got.output


# ------------------------------------------------------------------------------------------ older states
def test_a_state_without_files_records_them_on_the_next_run_and_then_finds_a_lost_month(synced, make_config, fake,
                                                                                        dataset, tmp_path):
    config, reference = synced
    state_file = tmp_path / "state" / "state.json"
    doc = _state(tmp_path)
    for entries in doc["bookmarks"].values():
        for mark in entries.values():
            mark.pop("files", None)
    state_file.write_text(json.dumps(doc))
    account = dataset.ad_accounts[0]["id"]
    _month_file(tmp_path / "out", "campaign_analytics", "2026-09", account).write_bytes(b"PAR1 not really")
    result = pinsync.run(config, today=TODAY, sleep=NO_WAIT)        # works as before, and records the files
    assert result.ok
    assert [w for w in result.warnings if "month=2026-09: unreadable" in w]       # seen before it is recorded
    files = _state(tmp_path)["bookmarks"]["campaign_analytics"][account]["files"]
    assert sorted(files) == ["month=2026-08", "month=2026-09", "month=2026-10", "month=2026-11"]
    for stream, df in _tables(tmp_path / "out").items():
        assert df.drop("run_id", strict=False).equals(reference[stream].drop("run_id", strict=False)), stream
    _month_file(tmp_path / "out", "campaign_analytics", "2026-10", account).unlink()
    result = pinsync.run(config, today=TODAY, sleep=NO_WAIT)
    assert [w for w in result.warnings if "month=2026-10: missing" in w]
    assert _tables(tmp_path / "out")["campaign_analytics"].drop("run_id", strict=False).equals(
        reference["campaign_analytics"].drop("run_id", strict=False))


# ------------------------------------------------------------------------------------------ one listing
def test_each_unit_lists_its_folder_once_and_reads_no_file_below_the_window(synced, make_config, monkeypatch,
                                                                            tmp_path):
    config, _ = synced
    listed, probed, footers = [], [], []
    sizes, exists, tail = Location.sizes, Location.exists, Location.tail
    monkeypatch.setattr(Location, "sizes", lambda loc, rel="": listed.append(rel) or sizes(loc, rel))
    monkeypatch.setattr(Location, "exists", lambda loc, rel: probed.append(rel) or exists(loc, rel))
    monkeypatch.setattr(Location, "tail", lambda loc, rel, n: footers.append(rel) or tail(loc, rel, n))
    assert pinsync.run(config, today=TODAY, sleep=NO_WAIT).ok
    units = [rel for rel in listed if rel.split("/")[0] in ANALYTICS]
    assert sorted(units) == sorted(set(units)) and len(units) == 3 * 2 + 1     # 3 streams x 2 accounts, pins
    below = [rel for rel in probed + footers if "month=" in rel and "month=2026-11" not in rel]
    assert not below, below           # only the window's month files (merged) are probed or read


def test_s3_a_deleted_month_is_fetched_again_with_one_listing_per_unit(faulty_s3, make_config, fake, dataset):
    bucket, so, proxy = faulty_s3
    config = make_config({**HISTORY, "streams": ["campaigns", "campaign_analytics"],
                          "output": {"url": f"s3://{bucket}/out", "storage_options": so},
                          "state": {"url": f"s3://{bucket}/state/state.json", "storage_options": so}})
    assert pinsync.run(config, today=TODAY, sleep=NO_WAIT).ok
    before = read_tables(f"s3://{bucket}/out", so, ["campaign_analytics"])
    account = dataset.ad_accounts[0]["id"]
    victim = f"out/campaign_analytics/ad_account_id={account}/month=2026-09/{DATA_FILE}"
    assert victim in list_keys(so, bucket, "out/")
    s3_client(so).delete_object(Bucket=bucket, Key=victim)
    proxy.urls.clear()
    fake.reset_counters()
    result = pinsync.run(config, today=TODAY, sleep=NO_WAIT)
    requests = list(proxy.urls)
    assert result.ok and [w for w in result.warnings if "month=2026-09: missing" in w]
    assert fake.calls["campaign_analytics"] == 3       # each account's last days, and that account's September
    # one listing of each unit's folder (recursive: no delimiter), and no read of a month file below
    # the window but the lost one's (its footer: not found, before it is written again)
    listings = Counter(q["prefix"] for q in proxy.listings() if not q.get("delimiter"))
    assert listings == Counter({f"out/campaign_analytics/ad_account_id={a['id']}/": 1
                                for a in dataset.ad_accounts}), listings
    gets = [p for m, p in requests if m == "GET" and "month" in p]
    assert gets and all("month%3D2026-11" in p or "month%3D2026-09" in p for p in gets), gets
    assert victim in list_keys(so, bucket, "out/")
    assert_same_tables(read_tables(f"s3://{bucket}/out", so, ["campaign_analytics"]), before)


class Crash(BaseException):
    """The process dies here (not an error pinsync may catch)."""


@pytest.mark.parametrize("how", ["deleted", "truncated"])
def test_a_run_killed_while_repairing_a_month_leaves_it_to_the_next_run(synced, make_config, dataset, monkeypatch,
                                                                        tmp_path, how):
    """Before the repaired file is written its size in the state becomes unknown (null), never
    forgotten: the next run still finds the month lost and repairs it."""
    config, reference = synced
    account = dataset.ad_accounts[0]["id"]
    victim = _month_file(tmp_path / "out", "ad_group_analytics", "2026-09", account)
    if how == "deleted":
        victim.unlink()
    else:
        victim.write_bytes(victim.read_bytes()[:-10])
    write = Location.write

    def dying_write(loc, rel, data, **kw):
        if rel.endswith(f"ad_account_id={account}/month=2026-09/{DATA_FILE}"):
            raise Crash()
        return write(loc, rel, data, **kw)
    monkeypatch.setattr(Location, "write", dying_write)
    with pytest.raises(Crash):
        pinsync.run(config, today=TODAY, sleep=NO_WAIT)
    monkeypatch.setattr(Location, "write", write)
    assert _state(tmp_path)["bookmarks"]["ad_group_analytics"][account]["files"]["month=2026-09"] is None
    result = pinsync.run(config, today=TODAY, sleep=NO_WAIT)
    assert result.ok and [w for w in result.warnings if "month=2026-09: " in w and "2026-09-01..2026-09-30" in w]
    assert _state(tmp_path)["bookmarks"]["ad_group_analytics"][account]["files"]["month=2026-09"] == \
        victim.stat().st_size
    for stream, df in _tables(tmp_path / "out").items():
        assert df.drop("run_id", strict=False).equals(reference[stream].drop("run_id", strict=False)), stream
