"""Batched local writes: durable before they replace anything, two flushes per batch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pinsync.storage as storage
from pinsync.storage import Location


def _files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_batch_replaces_nothing_until_it_commits_and_then_everything(tmp_path):
    loc = Location(str(tmp_path))
    loc.write("t/a=1/data.parquet", b"old")
    with loc.batch() as b:
        for i in range(1, 4):
            loc.write(f"t/a={i}/data.parquet", f"new{i}".encode(), batch=b)
        assert (tmp_path / "t/a=1/data.parquet").read_bytes() == b"old"
        assert not (tmp_path / "t/a=2/data.parquet").exists()
    assert _files(tmp_path) == {f"t/a={i}/data.parquet": f"new{i}".encode() for i in range(1, 4)}


def test_a_failing_batch_replaces_nothing_and_leaves_no_temp_file(tmp_path):
    loc = Location(str(tmp_path))
    loc.write("t/a=1/data.parquet", b"old")
    with pytest.raises(RuntimeError):
        with loc.batch() as b:
            loc.write("t/a=1/data.parquet", b"new", batch=b)
            loc.write("t/a=2/data.parquet", b"new", batch=b)
            raise RuntimeError("the unit failed")
    assert _files(tmp_path) == {"t/a=1/data.parquet": b"old"}


def test_a_batch_flushes_the_filesystem_twice_not_each_file(tmp_path, monkeypatch):
    if storage._SYNCFS is None:
        pytest.skip("this platform has no syncfs; the per-file fallback is tested below")
    calls = []
    real = storage._SYNCFS
    monkeypatch.setattr(storage, "_SYNCFS", lambda fd: calls.append(fd) or real(fd))
    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd) or real_fsync(fd))
    loc = Location(str(tmp_path))
    with loc.batch() as b:
        for i in range(50):
            loc.write(f"t/d={i}/data.parquet", b"x", batch=b)
    assert len(calls) == 2          # data before the renames, the renames before returning
    assert fsyncs == []
    assert len(_files(tmp_path)) == 50


def test_without_syncfs_every_file_and_folder_is_fsynced_before_and_after_the_renames(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "_SYNCFS", None)
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("rename") or real_replace(a, b))
    loc = Location(str(tmp_path))
    with loc.batch() as b:
        for i in range(5):
            loc.write(f"t/d={i}/data.parquet", b"x", batch=b)
    assert events == ["fsync"] * 5 + ["rename"] * 5 + ["fsync"] * 5     # 5 files, then their 5 folders
    assert len(_files(tmp_path)) == 5


def test_a_group_commit_shares_runs_and_never_returns_before_a_run_that_began_after_the_call():
    import threading
    import time

    from pinsync.storage import GroupCommit

    runs, calls, lock = [], [], threading.Lock()

    def slow_flush():
        start = time.monotonic()
        time.sleep(0.03)
        with lock:
            runs.append((start, time.monotonic()))

    commit = GroupCommit(slow_flush)

    def call():
        t0 = time.monotonic()
        commit()
        with lock:
            calls.append((t0, time.monotonic()))

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
        time.sleep(0.004)
    for t in threads:
        t.join()
    assert len(calls) == 12 and len(runs) < 12          # calls made during a run share the next one
    for t0, t1 in calls:                                # each was covered by a run that began after it
        assert any(t0 <= start and end <= t1 for start, end in runs), (t0, t1, runs)


def test_a_failed_group_commit_raises_for_its_callers_and_the_next_call_runs_again():
    from pinsync.storage import GroupCommit

    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk full")

    commit = GroupCommit(flaky)
    with pytest.raises(OSError, match="disk full"):
        commit()
    commit()
    assert len(attempts) == 2


def test_units_committing_at_once_share_state_writes_and_the_file_holds_every_bookmark(tmp_path, monkeypatch):
    import json
    import threading
    import time

    from pinsync.state import State, StateStore

    writes = []
    real = Location.write

    def slow_write(loc, rel, data, **kw):
        writes.append(rel)
        time.sleep(0.02)
        return real(loc, rel, data, **kw)
    monkeypatch.setattr(Location, "write", slow_write)
    store, state = StateStore(str(tmp_path / "state.json")), State()

    def commit(i):
        state.set("campaigns", str(i), {"rows": i})
        store.save(state)

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= len(writes) < 20
    saved = json.loads((tmp_path / "state.json").read_text())["bookmarks"]["campaigns"]
    assert saved == {str(i): {"rows": i} for i in range(20)}


def test_staging_folders_are_swept_only_when_their_run_is_gone(tmp_path):
    """Temp files of data files live in a run's staging folder at the output root; another run
    sharing the output removes that folder only once its run's lock is free (or, without a lock
    file, once it is old) - never a live run's temp files."""
    import subprocess
    import sys

    from pinsync.storage import STAGING, STALE_TEMP_AGE

    loc = Location(str(tmp_path))
    live = loc.staging("run-live")
    loc.write("campaigns/data.parquet", b"x", stage=live)
    assert [p.name for p in (tmp_path / "campaigns").iterdir()] == ["data.parquet"]   # no temp beside it
    pending = Path(live.temp("data.parquet"))
    pending.write_bytes(b"half")
    # a run killed with its folder behind: the lock file stays, the kernel released its flock
    subprocess.run([sys.executable, "-c", "import sys; from pinsync.storage import Location; "
                    "s = Location(sys.argv[1]).staging('run-dead'); open(s.temp('data.parquet'), 'wb').close()",
                    str(tmp_path)], check=True)
    orphan = tmp_path / STAGING / "run-orphan"          # no lock file at all: swept by age only
    orphan.mkdir()
    young = tmp_path / STAGING / "run-young"
    young.mkdir()
    old = os.stat(orphan).st_mtime - STALE_TEMP_AGE - 60
    os.utime(orphan, (old, old))
    other = loc.staging("run-other")
    assert sorted(p.name for p in (tmp_path / STAGING).iterdir()) == [
        "run-live", "run-live.lock", "run-other", "run-other.lock", "run-young"]
    assert pending.read_bytes() == b"half"
    other.close()
    live.close()
    assert sorted(p.name for p in (tmp_path / STAGING).iterdir()) == ["run-young"]
