"""Analytics tables hold one file per (ad account,) month: re-fetched days are merged into it.

* The merge, on the sink, locally and on S3: days fetched again replace exactly their rows,
  the month's other days stay as they were, a day that comes back empty disappears, a month
  left empty has no file, keys stay unique after any sequence of overlapping windows and
  failed writes, and a month is read back with one GET.
* End to end against the fake: a window inside a month, a full run's files (one per
  account and month) and the next day's (only the months whose rows changed), SIGKILL
  in the middle of a month rewrite, and outputs or states of the earlier day layout refused.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

import pinsync
from pinsync.cli import main
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.fake.data import to_ord
from pinsync import sink as sink_module
from pinsync.sink import Sink, content_hash
from pinsync.storage import Location
from tests.conftest import TODAY
from tests.reliability_support import (assert_same_output, build_config, raw_config, read_stream, small_dataset,
                                       write_yaml)
from tests.s3_fixtures import list_keys, s3_client

pytest_plugins = ["tests.s3_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "pina.month-suite-token-0123456789"
BY = ("ad_account_id", "month")
ORDER = ("date", "campaign_id")
IDS = ("c1", "c2", "c3")


def oct_(day: int) -> dt.date:
    return dt.date(2026, 10, 1) + dt.timedelta(days=day - 1)


def _rows(days, version: int = 1, ids=IDS, account: str = "7") -> pl.DataFrame:
    """Campaign metrics for ``days`` (dates), each id's value depending on ``version``."""
    days = list(days)
    return pl.DataFrame({
        "campaign_id": [i for d in days for i in ids],
        "ad_account_id": [account] * (len(days) * len(ids)),
        "date": [d for d in days for _ in ids],
        "spend_in_micro_dollar": [version * 1_000_000 + d.toordinal() % 1000 * 10 + k
                                  for d in days for k in range(len(ids))],
        "ctr": [version / 100 + k / 1000 for _ in days for k in range(len(ids))],
    }, schema={"campaign_id": pl.String, "ad_account_id": pl.String, "date": pl.Date,
               "spend_in_micro_dollar": pl.Int64, "ctr": pl.Float64}).sort(*ORDER)


def _covers(days, account: str = "7") -> list[dict]:
    return [{"ad_account_id": account, "date": d} for d in days]


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


OCTOBER = _days(oct_(1), oct_(31))
NOVEMBER = _days(dt.date(2026, 11, 1), dt.date(2026, 11, 5))
OCT_FILE = "campaign_analytics/ad_account_id=7/month=2026-10/data.parquet"
NOV_FILE = "campaign_analytics/ad_account_id=7/month=2026-11/data.parquet"


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path) -> Location:
    if request.param == "local":
        return Location(str(tmp_path / "lake"))
    bucket, so = request.getfixturevalue("s3")
    return Location(f"s3://{bucket}/lake", so)


def _read(lake: Location, rel: str) -> pl.DataFrame | None:
    data = lake.read(rel)
    return None if data is None else pl.read_parquet(io.BytesIO(data))


def _merge(lake: Location, rows: pl.DataFrame | None, days, account: str = "7", **kw):
    rows = rows if rows is not None else _rows([])
    return Sink(lake, "test").merge_months("campaign_analytics", rows, BY, covers=_covers(days, account),
                                           sort_by=ORDER, **kw)


def _month_files(lake: Location) -> list[str]:
    return [f for f in lake.find("campaign_analytics") if f.endswith("/data.parquet")]


# ------------------------------------------------------------------------------------------ the merge
def test_refetching_days_10_to_25_replaces_them_and_keeps_the_rest_of_the_month(lake, monkeypatch):
    _merge(lake, _rows(OCTOBER + NOVEMBER), OCTOBER + NOVEMBER)
    assert sorted(_month_files(lake)) == [OCT_FILE, NOV_FILE]
    november = lake.read(NOV_FILE)

    reads = []
    real_read = Location.read
    monkeypatch.setattr(Location, "read", lambda loc, rel: reads.append(rel) or real_read(loc, rel))
    refetched = _days(oct_(10), oct_(25))
    result = _merge(lake, _rows(refetched, version=2), refetched)
    monkeypatch.undo()

    assert (result.files_written, result.files_deleted) == (1, 0)
    got = _read(lake, OCT_FILE)
    kept = pl.col("date").is_between(oct_(10), oct_(25)).not_()
    assert_frame_equal(got.filter(kept), _rows(_days(oct_(1), oct_(9)) + _days(oct_(26), oct_(31))))
    assert_frame_equal(got.filter(~kept), _rows(refetched, version=2))
    assert got.equals(got.sort(*ORDER))                                   # sorted by (date, key)
    assert lake.read(NOV_FILE) == november                                # another month: not touched
    if not lake.local:
        assert reads == [OCT_FILE]                                        # the month came back in one GET


def test_a_restated_day_changes_only_its_rows(lake):
    _merge(lake, _rows(OCTOBER), OCTOBER)
    before = _read(lake, OCT_FILE)
    refetched = _days(oct_(10), oct_(25))
    again = pl.concat([_rows([d], version=3 if d == oct_(17) else 1) for d in refetched])
    _merge(lake, again, refetched)
    after = _read(lake, OCT_FILE)
    day = pl.col("date") == oct_(17)
    assert_frame_equal(after.filter(~day), before.filter(~day))
    assert_frame_equal(after.filter(day), _rows([oct_(17)], version=3))
    assert not after.filter(day).equals(before.filter(day))


def test_a_day_that_comes_back_empty_disappears_and_a_month_left_empty_has_no_file(lake):
    _merge(lake, _rows(OCTOBER + NOVEMBER), OCTOBER + NOVEMBER)
    refetched = _days(oct_(10), oct_(25))
    _merge(lake, _rows([d for d in refetched if d != oct_(12)]), refetched)
    got = _read(lake, OCT_FILE)
    assert got.filter(pl.col("date") == oct_(12)).height == 0
    assert_frame_equal(got, _rows([d for d in OCTOBER if d != oct_(12)]))

    result = _merge(lake, None, OCTOBER)                  # the whole month fetched again: nothing
    assert (result.files_written, result.files_deleted) == (0, 1)
    assert _month_files(lake) == [NOV_FILE]
    if lake.local:
        assert not Path(lake.path("campaign_analytics/ad_account_id=7/month=2026-10")).exists()


def test_a_month_whose_merged_rows_have_the_vouched_hash_is_not_written_again(lake):
    first = _merge(lake, _rows(OCTOBER), OCTOBER)
    folder = "ad_account_id=7/month=2026-10"
    before = lake.read(OCT_FILE)
    refetched = _days(oct_(20), oct_(31))
    heard = []
    same = _merge(lake, _rows(refetched), refetched, on_disk=first.fingerprints,
                  before_change=lambda dirs, removed: heard.extend(dirs))
    assert (same.files_written, same.files_unchanged, heard) == (0, 1, [])
    assert same.fingerprints == first.fingerprints and lake.read(OCT_FILE) == before
    changed = _merge(lake, _rows(refetched, version=2), refetched, on_disk=first.fingerprints,
                     before_change=lambda dirs, removed: heard.extend(dirs))
    assert (changed.files_written, heard) == (1, [folder])                 # told before the file changed


@pytest.mark.parametrize("group_rows", [1, 150, 32_768])
def test_new_months_are_written_alike_however_many_are_handled_together(tmp_path, monkeypatch, group_rows):
    """Months without a file yet are sorted, hashed and split a group of up to GROUP_ROWS rows
    at a time (one month alone, a few, or the whole chunk): each file holds exactly its
    account's and month's rows, sorted, and its fingerprint is the hash of those rows; a
    month already on disk in the same chunk is merged as before."""
    monkeypatch.setattr(sink_module, "GROUP_ROWS", group_rows)
    lake = Location(str(tmp_path / "lake"))
    span = _days(dt.date(2026, 9, 20), dt.date(2026, 11, 10))
    _merge(lake, _rows(OCTOBER[:5], account="8"), OCTOBER[:5], account="8")     # one month already there
    fetched = pl.concat([_rows(span, version=2, account=a) for a in ("7", "8")]).sample(fraction=1.0, seed=5)
    covers = _covers(span, "7") + _covers(span, "8")
    result = Sink(lake, "test").merge_months("campaign_analytics", fetched, BY, covers=covers, sort_by=ORDER)
    assert (result.files_written, result.rows_written) == (6, fetched.height)
    for account in ("7", "8"):
        for month in ("2026-09", "2026-10", "2026-11"):
            folder = f"ad_account_id={account}/month={month}"
            got = _read(lake, f"campaign_analytics/{folder}/data.parquet")
            want = _rows([d for d in span if d.strftime("%Y-%m") == month], version=2, account=account)
            assert_frame_equal(got, want)                                  # its rows only, sorted by (date, key)
            assert result.fingerprints[folder] == content_hash(want)


def test_an_output_folder_named_like_a_glob_pattern_is_merged_and_read_too(tmp_path):
    lake = Location(str(tmp_path / "lake [2026] *"))
    _merge(lake, _rows(OCTOBER), OCTOBER)
    _merge(lake, _rows([oct_(3)], version=2), [oct_(3)])
    want = _rows(OCTOBER).filter(pl.col("date") != oct_(3)).vstack(_rows([oct_(3)], version=2)).sort(*ORDER)
    assert_frame_equal(_read(lake, OCT_FILE), want)
    got = pinsync.scan("campaign_analytics", output=lake.url).collect()
    assert_frame_equal(got.select(want.columns).sort(*ORDER), want)


class _Crash(BaseException):
    pass


@pytest.mark.parametrize("seed", [3, 4])
def test_keys_stay_unique_after_any_sequence_of_overlapping_windows_and_failed_writes(lake, monkeypatch, seed):
    """Random windows over three months, some days empty, some writes failing half-way; the
    table always equals a model kept by day, and each month file is the old or the new one."""
    rng = random.Random(seed)
    span = _days(dt.date(2026, 9, 20), dt.date(2026, 11, 10))
    model: dict[dt.date, pl.DataFrame] = {}

    def expected() -> pl.DataFrame:
        return pl.concat([model[d] for d in sorted(model)]) if model else _rows([])

    def table() -> pl.DataFrame:
        files = _month_files(lake)
        return pl.concat([_read(lake, f) for f in sorted(files)]).sort(*ORDER) if files else _rows([])

    real_write = Location.write
    for step in range(10):
        a = rng.randrange(len(span))
        window = span[a:a + rng.randint(1, 40)]
        fetched = {d: _rows([d], version=step + 1, ids=IDS[:rng.randint(1, 3)]) for d in window
                   if rng.random() > 0.15}
        rows = pl.concat(list(fetched.values())) if fetched else None
        if rng.random() < 0.4:                          # this attempt dies after some writes
            before = {f: _read(lake, f) for f in _month_files(lake)}
            left = [rng.randint(0, 2)]

            def dying(loc, rel, data, **kw):
                if left[0] == 0:
                    raise _Crash()
                left[0] -= 1
                return real_write(loc, rel, data, **kw)
            monkeypatch.setattr(Location, "write", dying)
            with pytest.raises(_Crash):
                _merge(lake, rows, window)
                raise _Crash()                          # fewer writes than allowed: nothing to kill
            monkeypatch.setattr(Location, "write", real_write)
            for f in _month_files(lake):                # each month: the old file or a whole new one
                got = _read(lake, f)
                month = pl.col("date").dt.strftime("%Y-%m") == f.split("month=")[1][:7]
                new = model | fetched
                new_rows = pl.concat([new[d] for d in sorted(new) if d not in window or d in fetched] or [_rows([])])
                assert (f in before and got.equals(before[f])) or got.equals(new_rows.filter(month)), f
        _merge(lake, rows, window)                       # the next run fetches the window again
        for d in window:
            model.pop(d, None)
        model.update(fetched)
        got = table()
        assert_frame_equal(got, expected())
        assert got.select("campaign_id", "date").is_duplicated().sum() == 0
        months = {f"{d:%Y-%m}" for d in model}
        assert {f.split("month=")[1][:7] for f in _month_files(lake)} == months


# ------------------------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def api():
    ds = small_dataset(TODAY)
    fake = FakePinterest(ds, access_tokens=(TOKEN,), latency=0.01)
    with FakeServer(fake) as srv:
        yield ds, fake, srv


def _config(root: Path, url: str, **extra):
    raw = raw_config(url, root, TODAY, **extra)
    raw["auth"] = {"access_token": TOKEN}
    return build_config(raw, TODAY)


def _writers(out: Path, stream: str) -> dict[str, str]:
    return {str(p.relative_to(out / stream)): pl.read_parquet_metadata(p)["pinsync.run_id"]
            for p in (out / stream).rglob("data.parquet")}


STREAMS = ["campaigns", "campaign_analytics", "pins", "pin_analytics"]


def test_a_window_inside_a_month_keeps_the_other_days_of_it_as_they_were(api, tmp_path):
    ds, fake, srv = api
    config = _config(tmp_path, srv.url, days=(TODAY - oct_(1)).days, streams=STREAMS,
                     analytics={"lookback_days": 16})
    assert pinsync.run(config, today=TODAY).ok
    out = tmp_path / "out"
    first = {s: read_stream(out, s) for s in ("campaign_analytics", "pin_analytics")}
    november = {s: {f: w for f, w in _writers(out, s).items() if "month=2026-11" in f} for s in first}
    for day in (oct_(5), oct_(17), oct_(28)):          # the API restates three October days...
        fake.analytics_state.versions[to_ord(day)] = 1
    try:
        # ... and a run on October 26 fetches its 16-day look-back: October 10-25 only
        assert pinsync.run(config, today=oct_(26)).ok
        for stream, before in first.items():
            after = read_stream(out, stream)
            assert after.height == before.height
            outside = ~pl.col("date").is_between(oct_(10), oct_(25))
            assert_frame_equal(after.filter(outside), before.filter(outside))      # Oct 5 and 28 as they were
            restated = pl.col("date") == oct_(17)
            assert_frame_equal(after.filter(~restated), before.filter(~restated))
            assert not after.filter(restated).equals(before.filter(restated))
            assert {f: w for f, w in _writers(out, stream).items() if "month=2026-11" in f} == november[stream]
        # the restated day holds the API's new values
        acct = ds.ad_accounts[0]["id"]
        ids = [c["id"] for c in ds.campaigns if c["ad_account_id"] == acct]
        truth = {r["CAMPAIGN_ID"]: r.get("SPEND_IN_DOLLAR") for r in fake.analytics_rows(
            "campaign", acct, ids, oct_(17), oct_(17), columns=["SPEND_IN_DOLLAR", "CAMPAIGN_ID"])}
        got = read_stream(out, "campaign_analytics").filter((pl.col("date") == oct_(17))
                                                             & (pl.col("ad_account_id") == acct))
        assert truth and dict(zip(got["campaign_id"], got["spend_in_dollar"])) == pytest.approx(truth)
    finally:
        fake.analytics_state.versions.clear()


def test_a_full_run_writes_a_file_per_account_and_month_and_the_next_day_only_changed_months(tmp_path):
    shape = dict(seed=23, accounts=3, campaigns_per_account=4, ad_groups_per_campaign=2, ads_per_ad_group=4,
                 pins=30, history_days=90)
    analytics = ("campaign_analytics", "ad_group_analytics", "ad_analytics", "pin_analytics")
    out = tmp_path / "out"
    fake = FakePinterest(Dataset(today=TODAY, **shape), access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        config = _config(tmp_path, srv.url, days=45, analytics={"lookback_days": 30})
        full = pinsync.run(config, today=TODAY)
    for stream in analytics:
        table = read_stream(out, stream)
        accounts = table["ad_account_id"] if "ad_account_id" in table.columns else pl.Series([""] * table.height)
        pairs = {(a, f"{d:%Y-%m}") for a, d in zip(accounts, table["date"])}
        assert len(pairs) >= 2 * (len(set(accounts)))                     # two months of every account
        assert full.streams[stream].files_written == len(_writers(out, stream)) == len(pairs), stream
    before = {s: _writers(out, s) for s in analytics}

    nextday = FakePinterest(Dataset(today=TODAY, **shape).advance(1), access_tokens=(TOKEN,))
    with FakeServer(nextday) as srv:
        config = _config(tmp_path, srv.url, days=45, analytics={"lookback_days": 30})
        second = pinsync.run(config, today=TODAY + dt.timedelta(days=1))       # fetches Oct 31 - Nov 29
    for stream in analytics:
        after = _writers(out, stream)
        assert after.keys() == before[stream].keys()
        rewritten = {f for f in after if after[f] == second.run_id}
        # November holds the new day; October 31 did not change, so October is left alone
        assert rewritten and all("month=2026-11" in f for f in rewritten), stream
        st = second.streams[stream]
        units = len({f.split("/")[0] for f in after}) if stream != "pin_analytics" else 1
        assert st.files_written == len(rewritten) <= units
        assert st.files_written + st.files_unchanged <= 2 * units
        assert st.files_unchanged == len(after) - len(rewritten)        # both months were fetched again


# ------------------------------------------------------------------------------------------ SIGKILL
CHILD = r'''
import os, sys, time
from pinsync import storage
point, marker, config = sys.argv[1:4]

def is_month(rel):
    return "/month=" in rel and rel.endswith("data.parquet")

def pause():
    open(marker, "w").close()
    time.sleep(600)

write, commit = storage.Location.write, storage.WriteBatch.commit
if point == "before the new file is written":      # the state has stopped vouching for the month
    def patched(self, rel, data, **kw):
        if is_month(rel):
            pause()
        return write(self, rel, data, **kw)
    storage.Location.write = patched
elif point == "before the rename":                 # the new file is durable under its temp name
    def patched_commit(self):
        if any(is_month(p) for _, p in self.pending):
            pause()
        return commit(self)
    storage.WriteBatch.commit = patched_commit
else:                                              # the new file is in place, the bookmark is not
    def patched_commit(self):
        months = any(is_month(p) for _, p in self.pending)
        commit(self)
        if months:
            pause()
    def patched(self, rel, data, **kw):
        write(self, rel, data, **kw)
        if is_month(rel) and not self.local:
            pause()
    storage.WriteBatch.commit = patched_commit
    storage.Location.write = patched
from pinsync.cli import main
main(["run", "--config", config])
'''

POINTS = ["before the new file is written", "before the rename", "after the new file landed"]


def _month_frames(location: Location) -> dict[str, pl.DataFrame]:
    out = {}
    for stream in ("campaign_analytics", "ad_group_analytics", "ad_analytics", "pin_analytics"):
        for rel in location.find(stream):
            if rel.endswith("/data.parquet"):
                out[rel] = pl.read_parquet(io.BytesIO(location.read(rel)))
    return out


@pytest.fixture(scope="module")
def references(api, tmp_path_factory):
    """Clean runs of the API's data as it is (A) and with its last days restated (B)."""
    ds, fake, srv = api
    found = {}
    for name, days in (("A", 0), ("B", 2)):
        root = tmp_path_factory.mktemp(f"month-reference-{name}")
        fake.restate(days=days)
        try:
            assert pinsync.run(_config(root, srv.url, days=40), today=TODAY).ok
        finally:
            fake.analytics_state.versions.clear()
        found[name] = root / "out"
    return found


@pytest.mark.parametrize("where,point", [("local", p) for p in POINTS] + [("s3", POINTS[0]), ("s3", POINTS[2])])
def test_sigkill_during_a_month_rewrite_leaves_the_old_or_the_new_file_and_a_state_that_matches(
        api, references, tmp_path, request, where, point):
    ds, fake, srv = api
    raw = raw_config(srv.url, tmp_path, TODAY, days=40, max_workers=2)
    raw["auth"] = {"access_token": TOKEN}
    if where == "s3":
        bucket, so = request.getfixturevalue("s3")
        raw["output"] = {"url": f"s3://{bucket}/out", "storage_options": so}
        raw["state"] = {"url": f"s3://{bucket}/state/state.json", "storage_options": so}
    config = build_config(raw, TODAY)
    output = Location(config.output.url, config.output.storage_options)
    assert pinsync.run(config, today=TODAY).ok                       # A on disk, vouched by the state
    before = _month_frames(output)

    fake.restate(days=2)                                             # the API now says B
    try:
        script, marker = tmp_path / "child.py", tmp_path / "paused"
        script.write_text(CHILD)
        yaml_path = write_yaml(tmp_path / "pinsync.yaml", raw)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PINSYNC_TODAY": TODAY.isoformat()}
        proc = subprocess.Popen([sys.executable, str(script), point, str(marker), str(yaml_path)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the run never reached a month rewrite"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    finally:
        fake.analytics_state.versions.clear()                        # the API says A again

    new = _month_frames(Location(str(references["B"])))
    for rel, got in _month_frames(output).items():                   # every month file: old or new, whole
        assert (rel in before and got.equals(before[rel])) or got.equals(new[rel]), rel
    if where == "s3":      # the dead run's lock would turn stale in 5 minutes: don't wait for it here
        s3_client(so).delete_object(Bucket=bucket, Key="state/state.json.lock")
    # the state vouches for no month it was about to change: the next run writes A back
    assert pinsync.run(config, today=TODAY).ok
    if where == "local":
        assert_same_output(tmp_path / "out", references["A"])
    else:
        got, want = _month_frames(output), _month_frames(Location(str(references["A"])))
        assert got.keys() == want.keys() and all(got[r].equals(want[r]) for r in want)
        assert not [k for k in list_keys(so, bucket, "out/") if ".tmp" in k]


# ------------------------------------------------------------------------------------------ the day layout
def _cli(tmp_path: Path, url: str, *args: str):
    raw = raw_config(url, tmp_path, TODAY)
    raw["auth"] = {"access_token": TOKEN}
    raw["output"] = {"url": "out"}
    raw["state"] = {"url": "state/state.json"}
    cfg = write_yaml(tmp_path / "pinsync.yaml", raw)
    return CliRunner().invoke(main, ["run", "--config", str(cfg), *args])


DAY_LAYOUT_STATE = {"version": 1, "updated_at": "2026-11-28T08:00:00+00:00", "bookmarks": {
    "campaigns": {"549755885175": {"cursor": "2026-11-27T17:00:00+00:00", "rows": 4, "fingerprint": "ab"}},
    "campaign_analytics": {"549755885175": {"last_complete_date": "2026-11-27", "settings": "s",
                                            "partition_scheme": "polars-2.1.0/0a1b2c3d4e5f",
                                            "partitions": {"date=2026-11-27": "0123456789abcdef"}}}}}


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_a_state_of_the_day_layout_stops_the_run_with_exit_2_until_a_full_refresh(api, tmp_path):
    ds, fake, srv = api
    state = tmp_path / "state" / "state.json"
    state.parent.mkdir()
    state.write_text(json.dumps(DAY_LAYOUT_STATE))
    calls = sum(fake.calls.values())
    res = _cli(tmp_path, srv.url)
    assert res.exit_code == 2
    line = _one_line(res.output)
    assert "state.json" in line and "one-file-per-day" in line and "--full-refresh into a new location" in line
    assert sum(fake.calls.values()) == calls and not (tmp_path / "out" / "campaign_analytics").exists()
    assert json.loads(state.read_text()) == DAY_LAYOUT_STATE                   # not reset behind the user's back

    res = _cli(tmp_path, srv.url, "--full-refresh")
    assert res.exit_code == 0, res.output
    saved = json.loads(state.read_text())
    assert saved["layout"] == "month" and "date=2026-11-27" not in state.read_text()
    assert _cli(tmp_path, srv.url).exit_code == 0


@pytest.mark.parametrize("folder", ["campaign_analytics/ad_account_id=549755885175/date=2026-11-27",
                                    "pin_analytics/date=2026-11-27"])
def test_an_output_of_the_day_layout_stops_the_run_with_exit_2_even_with_a_full_refresh(api, tmp_path, folder):
    ds, fake, srv = api
    old = tmp_path / "out" / folder / "data.parquet"
    old.parent.mkdir(parents=True)
    pl.DataFrame({"date": [TODAY]}).write_parquet(old)
    calls = sum(fake.calls.values())
    for args in ((), ("--full-refresh",)):
        res = _cli(tmp_path, srv.url, *args)
        assert res.exit_code == 2, res.output
        line = _one_line(res.output)
        assert folder in line and "one-file-per-day" in line and "--full-refresh into a new location" in line
    assert sum(fake.calls.values()) == calls
    assert not (tmp_path / "state" / "state.json").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("_")) == [folder.split("/")[0]]
