"""pinsync on S3 end to end, against moto's S3 server on 127.0.0.1 (no mocks of s3fs or boto).

Output, state and the rotated-token store all live in one bucket:
``s3://<bucket>/out``, ``s3://<bucket>/state/state.json`` and ``s3://<bucket>/state/tokens.json``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time

import fsspec
import polars as pl
import pyarrow.parquet as pq
import pytest

import pinsync
from pinsync.lock import Lock
from pinsync.state import StateStore
from pinsync.storage import Location
from tests.conftest import REFRESH_AUTH, REFRESH_TOKEN, SHORT, TODAY
from tests.s3_fixtures import assert_same_tables, list_keys, read_tables, s3_client
from tests.reliability_support import without_run_ids

pytest_plugins = ["tests.s3_fixtures"]   # moto_server (one per session) and s3

TINY = {"start_date": (TODAY - dt.timedelta(days=4)).isoformat()}
SOME = ["ad_accounts", "campaigns", "campaign_analytics", "pins", "pin_analytics"]   # one stream of each kind


@pytest.fixture
def s3_config(s3, make_config):
    """Build a config whose output, state and token store are in the test's bucket."""
    bucket, so = s3

    def build(raw: dict | None = None, **overrides):
        data = {"auth": REFRESH_AUTH,
                "output": {"url": f"s3://{bucket}/out", "storage_options": so},
                "state": {"url": f"s3://{bucket}/state/state.json", "storage_options": so}}
        for k, v in (raw or {}).items():
            data[k] = {**data[k], **v} if isinstance(v, dict) and isinstance(data.get(k), dict) else v
        return make_config(data, **overrides)

    return build


@pytest.fixture
def local_config(make_config, tmp_path):
    """The same config on local disk with the static token (its own state: a reference run)."""

    def build(name: str, raw: dict | None = None, **overrides):
        data = {"output": {"url": str(tmp_path / name / "out")},
                "state": {"url": str(tmp_path / name / "state.json")}, **(raw or {})}
        return make_config(data, **overrides)

    return build


def _fs(so: dict):
    """The s3fs instance pinsync's ``Location`` gets for these options (fsspec caches instances)."""
    return fsspec.core.url_to_fs("s3://x", **so)[0]


def _data_keys(so, bucket, prefix="out/") -> dict[str, str]:
    """key -> ETag below ``prefix``. Each file's footer holds the run id that wrote it, so any
    rewrite changes the ETag, even one with the same rows."""
    return list_keys(so, bucket, prefix)


def _bookmarks(config) -> dict:
    return without_run_ids(StateStore(config.state.url, config.state.storage_options).load().as_dict()["bookmarks"])


# ------------------------------------------------------------------------------------------ every stream
def test_every_stream_syncs_to_s3_and_equals_a_local_run(s3, s3_config, local_config, tmp_path):
    bucket, so = s3
    every = {"streams": ["all"]}        # the core streams and the other objects and reports (20 days)
    config = s3_config(every)
    result = pinsync.run(config, today=TODAY)
    assert result.ok and set(result.streams) == set(pinsync.STREAMS)
    assert all(st.files_written > 0 for st in result.streams.values())

    reference = local_config("local", every)
    pinsync.run(reference, today=TODAY)
    got = read_tables(config.output.url, so)
    assert_same_tables(got, read_tables(reference.output.url))
    assert all(df.height > 0 for df in got.values())

    keys = list_keys(so, bucket)
    data = [k for k in keys if k.startswith("out/")]
    assert data and all(k.endswith("/data.parquet") for k in data)          # nothing else in the tables
    assert sorted(k for k in keys if not k.startswith("out/")) == ["state/state.json", "state/tokens.json"]
    assert set(_bookmarks(config)) == set(pinsync.STREAMS)
    assert not (tmp_path / "state").exists() and not (tmp_path / "out").exists()   # nothing went to local disk
    # the partition layout is the same as on disk
    assert {k.split("/", 1)[1] for k in data} == {
        str(p.relative_to(tmp_path / "local" / "out")) for p in (tmp_path / "local" / "out").rglob("*.parquet")}


# ------------------------------------------------------------------------------------------ incremental
def test_incremental_rerun_writes_nothing_new_and_a_touch_rewrites_one_partition(s3, s3_config, fake, dataset):
    bucket, so = s3
    config = s3_config({**SHORT, "analytics": {"lookback_days": 0}}, streams=SOME)
    pinsync.run(config, today=TODAY)
    first = _data_keys(so, bucket)
    before = read_tables(config.output.url, so, SOME)

    second = pinsync.run(config, today=TODAY)
    after = _data_keys(so, bucket)
    assert set(after) == set(first)
    # only pin analytics days still PROCESSING are fetched again (after the bookmark); their rows
    # are the same, so (checked against the bucket's listing) not one object is written again
    assert {k for k in after if after[k] != first[k]} == set()
    assert second.streams["pin_analytics"].files_unchanged > 0
    assert sum(s.files_written for s in second.streams.values()) == 0
    assert_same_tables(read_tables(config.output.url, so, SOME), before)

    changed = dataset.campaigns[0]
    fake.touch("campaigns", [changed["id"]])
    third = pinsync.run(config, today=TODAY)
    final = _data_keys(so, bucket)
    rewritten = {k for k in final if final[k] != after[k] and not k.startswith("out/pin_analytics/")}
    assert rewritten == {f"out/campaigns/ad_account_id={changed['ad_account_id']}/data.parquet"}
    assert third.streams["campaigns"].files_written == 1
    campaigns = pinsync.scan("campaigns", output=config.output.url, storage_options=so).collect()
    assert campaigns.filter(pl.col("id") == changed["id"])["name"].item().endswith(" v2")
    assert campaigns["id"].n_unique() == campaigns.height == len(dataset.campaigns)

    # the next day goes into its month's file: of the ads analytics, only the files of the
    # accounts with rows that day are written again, and no file is added
    pinsync.run(config, today=TODAY + dt.timedelta(days=1))
    nextday = _data_keys(so, bucket)
    assert set(nextday) == set(final)
    rewritten = {k for k in final if nextday[k] != final[k] and not k.startswith("out/pin_analytics/")}
    new_day = pinsync.scan("campaign_analytics", output=config.output.url, storage_options=so).filter(
        pl.col("date") == TODAY).collect()
    assert new_day.height and rewritten == {f"out/campaign_analytics/ad_account_id={a}/month=2026-11/data.parquet"
                                            for a in new_day["ad_account_id"].unique()}


def test_window_rerun_after_restatement_updates_without_duplicates(s3, s3_config, local_config, fake):
    bucket, so = s3
    streams = ["campaigns", "campaign_analytics"]
    raw = {"analytics": {"lookback_days": 14}, "start_date": (TODAY - dt.timedelta(days=17)).isoformat()}
    config = s3_config(raw, streams=streams)
    pinsync.run(config, today=TODAY)
    before = read_tables(config.output.url, so, streams)

    fake.restate(days=14)
    pinsync.run(config, today=TODAY)
    after = read_tables(config.output.url, so, streams)
    clean = local_config("clean", raw, streams=streams)
    pinsync.run(clean, today=TODAY)
    assert_same_tables(after, read_tables(clean.output.url, None, streams))   # equals a fresh run of the restated API
    for name, df in after.items():
        assert not df.select(pinsync.STREAMS[name].primary_key).is_duplicated().any(), name

    recent = pl.col("date") >= TODAY - dt.timedelta(days=14)
    for name in ("campaign_analytics",):
        assert not before[name].filter(recent).equals(after[name].filter(recent)), name
        assert before[name].filter(~recent).equals(after[name].filter(~recent)), name

    # re-running the same window changes nothing
    pinsync.run(config, today=TODAY)
    assert_same_tables(read_tables(config.output.url, so, streams), after)


# ------------------------------------------------------------------------------------------ token store
def test_rotated_refresh_token_is_kept_in_the_s3_token_store_and_used_next_run(s3, s3_config, fake, tmp_path):
    bucket, so = s3
    config = s3_config(streams=["ad_accounts"])
    assert config.auth.token_store == f"s3://{bucket}/state/tokens.json"
    assert pinsync.run(config, today=TODAY).ok
    assert fake.refresh_count == 1
    client = s3_client(so)
    store = client.get_object(Bucket=bucket, Key="state/tokens.json")["Body"].read().decode()
    assert fake.current_refresh_token in store and REFRESH_TOKEN not in store
    state = client.get_object(Bucket=bucket, Key="state/state.json")["Body"].read().decode()
    assert fake.current_refresh_token not in state
    assert sorted(list_keys(so, bucket, "state/")) == ["state/state.json", "state/tokens.json"]   # locks released
    assert not (tmp_path / "state").exists()

    rotated = fake.current_refresh_token
    fake.expire_access_tokens()            # the next run must refresh, with the rotated token (the initial one is dead)
    assert pinsync.run(s3_config(streams=["ad_accounts"]), today=TODAY).ok
    assert fake.refresh_count == 2 and fake.current_refresh_token != rotated
    store = client.get_object(Bucket=bucket, Key="state/tokens.json")["Body"].read().decode()
    assert fake.current_refresh_token in store and rotated not in store


# ------------------------------------------------------------------------------------------ crashes
class Crash(BaseException):
    """A simulated kill: a BaseException, so nothing in pinsync catches it."""


def _crash_after(monkeypatch, n: int) -> dict:
    """Make every ``Location.write`` after the first ``n`` counted ones raise :class:`Crash`.

    State saves are not counted (units committing at once share one, so how many a run makes
    varies), but once the crash has happened they fail like every other write. The token
    store is exempt: a crash between Pinterest's answer and saving the rotated refresh token
    loses that token whatever the sink does, and no re-run can repair it (the fake, like
    Pinterest, revokes the old one). Lock heartbeats are exempt too (a lost one is harmless).
    """
    real = Location.write
    seen = {"writes": 0, "crashed": False}
    guard = threading.Lock()

    def write(self, rel, data, **kw):
        if not (rel.endswith("tokens.json") or rel.endswith(".lock")):
            with guard:
                if seen["crashed"]:
                    raise Crash(f"killed before {rel}")
                if not rel.endswith("state.json"):
                    seen["writes"] += 1
                    if seen["writes"] > n:
                        seen["crashed"] = True
                        raise Crash(f"killed at write {seen['writes']} ({rel})")
        return real(self, rel, data, **kw)

    monkeypatch.setattr(Location, "write", write)
    return seen


def _count_writes(monkeypatch, config) -> int:
    seen = _crash_after(monkeypatch, 10**9)
    pinsync.run(config, today=TODAY)
    monkeypatch.undo()
    return seen["writes"]


@pytest.mark.parametrize("at", ["early", "middle", "last"])
def test_crash_mid_run_leaves_readable_tables_an_honest_state_and_the_next_run_repairs(
        at, s3, s3_config, local_config, monkeypatch):
    bucket, so = s3
    clean = local_config("clean", TINY)
    total = _count_writes(monkeypatch, clean)          # probe + data files of a clean run
    want = read_tables(clean.output.url)
    n = {"early": 3, "middle": total // 2, "last": total - 1}[at]

    config = s3_config(TINY)
    seen = _crash_after(monkeypatch, n)
    with pytest.raises(Crash):
        pinsync.run(config, today=TODAY)
    monkeypatch.undo()
    assert seen["crashed"]

    # readable, no duplicate keys, no stray objects, no lock left behind by a run that unwound
    got = read_tables(config.output.url, so)
    for name, df in got.items():
        assert not df.select(pinsync.STREAMS[name].primary_key).is_duplicated().any(), name
    keys = list_keys(so, bucket)
    assert all(k.endswith("/data.parquet") for k in keys if k.startswith("out/"))
    assert not [k for k in keys if k.endswith(".lock")]

    # the state claims nothing that is not in the tables
    marks = _bookmarks(config) if "state/state.json" in keys else {}
    for name, by_key in marks.items():
        spec = pinsync.STREAMS[name]
        for key, mark in by_key.items():
            mine, theirs = got[name], want[name]
            if key != "*" and "ad_account_id" in mine.columns:
                mine = mine.filter(pl.col("ad_account_id") == key)
                theirs = theirs.filter(pl.col("ad_account_id") == key)
            if spec.kind not in ("entity", "pin_lifetime"):      # not a current-state table
                last = dt.date.fromisoformat(mark["last_complete_date"])
                mine, theirs = mine.filter(pl.col("date") <= last), theirs.filter(pl.col("date") <= last)
            assert mine.equals(theirs), (name, key)

    # the next run repairs everything: the tables and the state equal a clean run's
    assert pinsync.run(config, today=TODAY).ok
    assert_same_tables(read_tables(config.output.url, so), want)
    assert _bookmarks(config) == _bookmarks(clean)


# ------------------------------------------------------------------------------------------ one PUT per file
def test_every_data_file_is_one_put_of_the_whole_object(s3, s3_config, monkeypatch):
    bucket, so = s3
    fs = _fs(so)
    puts, opened, s3_calls = [], [], []
    real_pipe, real_open, real_call = fs.pipe_file, fs.open, fs._call_s3

    def pipe_file(path, data, *args, **kwargs):
        puts.append((path, bytes(data), kwargs.get("mode", "overwrite")))
        return real_pipe(path, data, *args, **kwargs)

    def open_(path, mode="rb", *args, **kwargs):
        opened.append((path, mode))
        return real_open(path, mode, *args, **kwargs)

    async def call_s3(method, *args, **kwargs):
        s3_calls.append((method, kwargs.get("Key")))
        return await real_call(method, *args, **kwargs)

    monkeypatch.setattr(fs, "pipe_file", pipe_file)
    monkeypatch.setattr(fs, "open", open_)
    monkeypatch.setattr(fs, "_call_s3", call_s3)
    result = pinsync.run(s3_config(SHORT, streams=SOME), today=TODAY)

    data_puts = [(p, d) for p, d, _ in puts if p.endswith("/data.parquet")]
    assert len(data_puts) == sum(s.files_written for s in result.streams.values()) > 0
    assert len({p for p, _ in data_puts}) == len(data_puts)             # each file sent once
    keys = list_keys(so, bucket, "out/")
    client = s3_client(so)
    for path, body in data_puts:
        key = path.split("/", 1)[1]
        assert key in keys
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == len(body)                       # the object is exactly the bytes sent
        assert pq.read_metadata(io.BytesIO(body)).num_rows > 0          # a complete Parquet file
    assert not [p for p, m in opened if set(m) & set("wa")]              # never a streamed write
    methods = {m for m, _ in s3_calls}
    assert "put_object" in methods
    assert not methods & {"create_multipart_upload", "upload_part", "complete_multipart_upload"}
    put_keys = {k for m, k in s3_calls if m == "put_object" and k.startswith("out/")}
    assert {k for k in put_keys if not k.startswith("out/_pinsync/.probe-")} == set(keys)


def test_a_streamed_write_that_fails_leaves_a_partial_object_on_this_server(s3):
    """Control for the next test: the failure it guards against is real on this S3 server."""
    bucket, so = s3
    fs = _fs(so)
    with pytest.raises(RuntimeError):
        with fs.open(f"{bucket}/control/data.parquet", "wb") as f:
            f.write(b"PAR1 half a file")
            raise RuntimeError("killed while writing")
    assert s3_client(so).get_object(Bucket=bucket, Key="control/data.parquet")["Body"].read() == b"PAR1 half a file"


def test_a_unit_failing_after_its_history_report_puts_none_of_its_months(s3, s3_config, fake):
    """A unit writes each month as soon as its rows are all in (the history's months right
    after their report), yet on S3 too it PUTs nothing until it has fetched everything: its
    synchronous calls failing after the report leaves no month of it, and no bookmark but the
    report tokens."""
    bucket, so = s3
    history = {"start_date": (TODAY - dt.timedelta(days=110)).isoformat()}   # a report, then a synchronous window
    config = s3_config(history, streams=["campaigns", "campaign_analytics"])
    fake.add_fault("campaign_analytics", "status", status=400, times=10**6)   # every synchronous call refused
    with pytest.raises(pinsync.SyncFailed) as info:
        pinsync.run(config, today=TODAY)
    assert all("campaign_analytics" in f for f in info.value.result.failures)
    assert fake.calls["report_download"] == len(fake.dataset.ad_accounts)     # the history was fetched
    assert not list_keys(so, bucket, "out/campaign_analytics/")
    marks = _bookmarks(config).get("campaign_analytics", {})
    assert all(set(mark) == {"reports"} for mark in marks.values())        # only the reports' tokens
    fake.clear_faults()
    assert pinsync.run(config, today=TODAY).ok
    months = {k.split("/")[3] for k in list_keys(so, bucket, "out/campaign_analytics/")}
    assert f"month={(TODAY - dt.timedelta(days=110)):%Y-%m}" in months


@pytest.mark.parametrize("where", ["encode", "put"])
def test_a_write_failing_before_its_put_leaves_no_partial_object(where, s3, s3_config, monkeypatch):
    bucket, so = s3
    config = s3_config(SHORT, streams=["campaigns", "campaign_analytics"])
    target = "out/campaign_analytics/"
    fs = _fs(so)

    def sabotage():
        if where == "encode":        # the Parquet encoder dies while encoding a month file
            real = pl.DataFrame.write_parquet

            def dying(self, file, *args, **kwargs):
                if "date" in self.columns:
                    raise OSError("encoder killed")
                return real(self, file, *args, **kwargs)

            monkeypatch.setattr(pl.DataFrame, "write_parquet", dying)
        else:                        # the connection drops before S3 has the object
            real = fs._call_s3

            async def call_s3(method, *args, **kwargs):
                if method == "put_object" and kwargs.get("Key", "").startswith(target):
                    raise ConnectionResetError("connection reset by peer")
                return await real(method, *args, **kwargs)

            monkeypatch.setattr(fs, "_call_s3", call_s3)

    failed = pinsync.PinsyncError       # one clear error either way (SinkError), never a traceback

    # first run: the table's first file fails -> its key does not exist at all
    sabotage()
    with pytest.raises(failed):
        pinsync.run(config, today=TODAY)
    monkeypatch.undo()
    assert not list_keys(so, bucket, target)
    assert "campaign_analytics" not in (_bookmarks(config) if list_keys(so, bucket, "state/state.json") else {})

    # after a good run, a failing replace leaves every existing object as it was
    assert pinsync.run(config, today=TODAY).ok
    good = list_keys(so, bucket, target)
    before = read_tables(config.output.url, so, ["campaign_analytics"])
    sabotage()
    with pytest.raises(failed):
        pinsync.run(config, today=TODAY, full_refresh=True)
    monkeypatch.undo()
    assert list_keys(so, bucket, target) == good
    assert_same_tables(read_tables(config.output.url, so, ["campaign_analytics"]), before)


# ------------------------------------------------------------------------------------------ run lock
def test_a_held_lock_on_s3_makes_a_second_run_fail_fast_naming_the_holder(s3, s3_config):
    bucket, so = s3
    config = s3_config(streams=["ad_accounts"])
    store = StateStore(config.state.url, config.state.storage_options)
    with store.lock("run-holding-the-lock"):
        lock_object = json.loads(s3_client(so).get_object(Bucket=bucket, Key="state/state.json.lock")["Body"].read())
        assert lock_object["owner"] == "run-holding-the-lock" and lock_object["heartbeat"]
        t0 = time.monotonic()
        with pytest.raises(pinsync.LockError) as err:
            pinsync.run(config, today=TODAY)
        assert time.monotonic() - t0 < 5
        assert "run-holding-the-lock" in str(err.value) and "state.json.lock" in str(err.value)
        assert not list_keys(so, bucket, "out/")                       # the second run wrote nothing
    assert not list_keys(so, bucket, "state/state.json.lock")          # released on exit
    assert pinsync.run(config, today=TODAY).ok


def test_a_lock_left_by_another_host_with_a_fresh_heartbeat_blocks(s3, s3_config):
    bucket, so = s3
    config = s3_config(streams=["ad_accounts"])
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    holder = {"owner": "20261129T070000Z-abcdef", "pid": 4242, "host": "job-7f9c", "since": now, "heartbeat": now}
    s3_client(so).put_object(Bucket=bucket, Key="state/state.json.lock", Body=json.dumps(holder).encode())
    with pytest.raises(pinsync.LockError) as err:
        pinsync.run(config, today=TODAY)
    assert "20261129T070000Z-abcdef" in str(err.value) and "job-7f9c" in str(err.value)
    # the holder's lock is left alone
    body = s3_client(so).get_object(Bucket=bucket, Key="state/state.json.lock")["Body"].read()
    assert json.loads(body) == holder


def _stale_after_one_second(monkeypatch):
    """Locks go stale after 1 s (instead of 5 minutes) on the store's clock; S3 times have
    whole seconds, so a lock written now is stale 2.1 s later."""
    import pinsync.lock

    monkeypatch.setattr(pinsync.lock, "STALE_AFTER", 1.0)


def test_a_contender_whose_clock_runs_ahead_does_not_take_a_live_lock(s3, monkeypatch):
    """Staleness is measured on the store's clock: a second host 10 minutes ahead (or a
    holder whose clock runs behind) sees a live lock as live."""
    import pinsync.lock

    bucket, so = s3
    where = Location(f"s3://{bucket}/state", so)
    with Lock(where, "state.json.lock", owner="live-run"):
        class Ahead(dt.datetime):
            @classmethod
            def now(cls, tz=None):
                return dt.datetime.now(tz) + dt.timedelta(minutes=10)

        skewed = type("datetime_module", (), {"datetime": Ahead, "timezone": dt.timezone, "timedelta": dt.timedelta})
        monkeypatch.setattr(pinsync.lock, "dt", skewed)                 # this host's clock: 10 minutes ahead
        with pytest.raises(pinsync.LockError, match="live-run"):
            with Lock(where, "state.json.lock", owner="skewed-host"):
                pass
        monkeypatch.undo()
        assert json.loads(where.read("state.json.lock"))["owner"] == "live-run"
    assert not where.exists("state.json.lock")


def test_a_stale_lock_is_taken_over(s3, s3_config, monkeypatch):
    bucket, so = s3
    config = s3_config(streams=["ad_accounts"])
    _stale_after_one_second(monkeypatch)
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)).isoformat(timespec="seconds")
    holder = {"owner": "dead-run", "pid": 1, "host": "gone", "since": old, "heartbeat": old}
    s3_client(so).put_object(Bucket=bucket, Key="state/state.json.lock", Body=json.dumps(holder).encode())
    time.sleep(2.1)

    lock = StateStore(config.state.url, so).lock("rescuer")
    with lock:
        assert lock.took_over == holder
        body = json.loads(s3_client(so).get_object(Bucket=bucket, Key="state/state.json.lock")["Body"].read())
        assert body["owner"] == "rescuer"
    s3_client(so).put_object(Bucket=bucket, Key="state/state.json.lock", Body=json.dumps(holder).encode())
    time.sleep(2.1)
    assert pinsync.run(config, today=TODAY).ok                          # a run takes it over too
    assert not list_keys(so, bucket, "state/state.json.lock")


def test_the_lock_is_created_with_a_conditional_put_and_only_one_of_many_wins(s3, monkeypatch):
    bucket, so = s3
    fs = _fs(so)
    calls = []
    real = fs.pipe_file

    def pipe_file(path, data, *args, **kwargs):
        if ".clock-" not in path:       # not the probe that reads the store's clock
            calls.append((path, kwargs.get("mode", "overwrite")))
        return real(path, data, *args, **kwargs)

    monkeypatch.setattr(fs, "pipe_file", pipe_file)
    where = Location(f"s3://{bucket}/state", so)
    with Lock(where, "state.json.lock", owner="first"):
        assert calls == [(f"{bucket}/state/state.json.lock", "create")]
        with pytest.raises(pinsync.LockError, match="first"):
            with Lock(where, "state.json.lock", owner="second"):
                pass
        assert calls[-1] == (f"{bucket}/state/state.json.lock", "create")
    assert not where.exists("state.json.lock")

    # many runs at once: the server's If-None-Match lets exactly one in
    barrier, winners, losers = threading.Barrier(8), [], []

    def contend(i):
        barrier.wait()
        try:
            lock = Lock(where, "race.lock", owner=f"run-{i}")
            lock.__enter__()
            winners.append(lock)
        except pinsync.LockError:
            losers.append(i)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(winners) == 1 and len(losers) == 7
    winners[0].release()


def test_two_runs_taking_over_one_stale_lock_cannot_both_win(s3, monkeypatch):
    """``second`` has read the stale lock when ``first`` takes it over: ``second`` must not
    then replace (or delete) ``first``'s fresh lock."""
    bucket, so = s3
    _stale_after_one_second(monkeypatch)
    where = Location(f"s3://{bucket}/state", so)
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)).isoformat(timespec="seconds")
    where.write("state.json.lock", json.dumps({"owner": "dead-run", "heartbeat": old, "since": old}).encode())
    time.sleep(2.1)
    first = Lock(where, "state.json.lock", owner="first")
    second = Lock(where, "state.json.lock", owner="second")
    real_read = Location.read
    interleaved = []

    def read(self, rel):
        data = real_read(self, rel)
        if rel == "state.json.lock" and not interleaved:
            interleaved.append(True)
            first.__enter__()               # first takes the stale lock over while second decides
        return data

    monkeypatch.setattr(Location, "read", read)
    with pytest.raises(pinsync.LockError, match="first"):
        second.__enter__()
    monkeypatch.undo()
    assert interleaved and first.took_over["owner"] == "dead-run"
    assert json.loads(where.read("state.json.lock"))["owner"] == "first"
    first.release()
    assert not where.exists("state.json.lock")


# ------------------------------------------------------------------------------------------ any fsspec URL
def test_output_state_and_token_store_work_on_another_fsspec_store(make_config, local_config, fake):
    """Not only S3: ``memory://`` (no conditional PUT, no Polars object store) works end to end."""
    import uuid

    root = f"memory://pinsync-{uuid.uuid4().hex[:8]}"
    mem = fsspec.filesystem("memory")
    try:
        config = make_config({**SHORT, "auth": REFRESH_AUTH, "output": {"url": f"{root}/out"},
                              "state": {"url": f"{root}/state/state.json"}},
                             streams=["campaigns", "campaign_analytics", "pins"])
        assert config.auth.token_store == f"{root}/state/tokens.json"
        assert pinsync.run(config, today=TODAY).ok
        assert fake.current_refresh_token in mem.cat_file(f"{root}/state/tokens.json").decode()
        assert not [p for p in mem.find(root) if p.endswith(".lock")]
        reference = local_config("local", SHORT, streams=["campaigns", "campaign_analytics", "pins"])
        pinsync.run(reference, today=TODAY)
        streams = ["campaigns", "campaign_analytics", "pins"]
        assert_same_tables(read_tables(config.output.url, None, streams),
                           read_tables(reference.output.url, None, streams))
        with StateStore(config.state.url).lock("holder"):
            with pytest.raises(pinsync.LockError, match="holder"):
                pinsync.run(config, today=TODAY)
    finally:
        mem.rm(root, recursive=True)


def test_a_data_file_lost_behind_pinsyncs_back_is_rewritten_by_the_next_run_in_the_same_process(s3, s3_config):
    """The next run must ask S3, not a listing s3fs cached while the tables were scanned."""
    bucket, so = s3
    config = s3_config(streams=["campaigns"])
    pinsync.run(config, today=TODAY)
    keys = list_keys(so, bucket, "out/campaigns/")
    pinsync.scan("campaigns", config=config).collect()           # fills s3fs's listing cache
    lost = sorted(keys)[0]
    s3_client(so).delete_object(Bucket=bucket, Key=lost)
    result = pinsync.run(config, today=TODAY)
    assert result.streams["campaigns"].files_written == 1
    assert sorted(list_keys(so, bucket, "out/campaigns/")) == sorted(keys)


# ------------------------------------------------------------------ SIGTERM releases the S3 lock
def test_sigterm_releases_the_s3_lock_at_once(s3, fake, server, tmp_path):
    """An orchestrator's SIGTERM stops the run like Ctrl-C: exit 143 and no lock object
    left behind (a stale one would block the next run for 5 minutes)."""
    import os
    import signal
    import subprocess
    import sys

    import yaml

    from tests.conftest import TOKEN

    bucket, so = s3
    fake.latency = 0.1
    cfg = tmp_path / "pinsync.yaml"
    cfg.write_text(yaml.safe_dump({
        "api_url": server.url, "auth": {"access_token": TOKEN}, "start_date": str(TODAY - dt.timedelta(days=5)),
        "output": {"url": f"s3://{bucket}/out", "storage_options": so},
        "state": {"url": f"s3://{bucket}/state/state.json", "storage_options": so}, "max_workers": 2}))
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root, "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "pinsync", "run", "--config", str(cfg)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while "state/state.json.lock" not in list_keys(so, bucket, "state/") or sum(fake.calls.values()) < 4:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "terminated: stopped" in err and "Traceback" not in err
    assert "state/state.json.lock" not in list_keys(so, bucket, "state/")


def test_s3_503s_on_the_token_store_after_a_refresh_keep_the_chain_in_a_rescue_file(s3, s3_config, fake, tmp_path,
                                                                                      monkeypatch):
    bucket, so = s3
    config = s3_config(streams=["ad_accounts"])
    fs = _fs(so)
    real = fs.pipe_file

    def pipe_file(path, data, *args, **kwargs):
        if path.endswith("state/tokens.json"):
            raise OSError("S3 answered 503 Service Unavailable (SlowDown)")
        return real(path, data, *args, **kwargs)

    monkeypatch.setattr(fs, "pipe_file", pipe_file)
    with pytest.raises(pinsync.AuthError) as err:
        pinsync.run(config, today=TODAY, sleep=lambda s: None)
    assert err.value.exit_code == 3 and "503" in str(err.value) and "rescue file" in str(err.value)
    assert fake.current_refresh_token not in str(err.value)
    monkeypatch.setattr(fs, "pipe_file", real)                       # S3 is back
    assert pinsync.run(config, today=TODAY).ok
    stored = json.loads(s3_client(so).get_object(Bucket=bucket, Key="state/tokens.json")["Body"].read())
    assert stored["clients"][REFRESH_AUTH["client_id"]]["refresh_token"] == fake.current_refresh_token
    assert fake.refresh_count == 1 and not list((tmp_path / "rescue").glob("*.json"))


def test_truncated_files_on_s3_are_found_by_their_footers_and_repaired(s3, s3_config, monkeypatch):
    """An entity file and a month file cut short on S3: the next run reads only their tails
    (a ranged GET each, never the whole entity file), writes both again and says so."""
    bucket, so = s3
    config = s3_config({"analytics": {"lookback_days": 3}}, streams=["campaigns", "campaign_analytics"])
    pinsync.run(config, today=TODAY)
    before = read_tables(f"s3://{bucket}/out", so, ["campaigns", "campaign_analytics"])
    client = s3_client(so)
    keys = sorted(list_keys(so, bucket, "out/campaigns/")) + sorted(list_keys(so, bucket, "out/campaign_analytics/"))
    entity = keys[0]
    month = next(k for k in keys if "month=2026-11" in k)
    for key in (entity, month):
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        client.put_object(Bucket=bucket, Key=key, Body=body[: len(body) // 2])
    whole_reads = []
    read = Location.read

    def recording_read(loc, rel):
        whole_reads.append(rel)
        return read(loc, rel)
    monkeypatch.setattr(Location, "read", recording_read)
    result = pinsync.run(config, today=TODAY)
    assert result.ok
    assert not [r for r in whole_reads if r.startswith("campaigns/")], whole_reads
    assert [w for w in result.warnings if entity.split("/", 1)[1] in w and "writing it again" in w]
    assert [w for w in result.warnings if month.split("/", 1)[1] in w and "fetching the whole history again" in w]
    assert_same_tables(read_tables(f"s3://{bucket}/out", so, ["campaigns", "campaign_analytics"]), before)
