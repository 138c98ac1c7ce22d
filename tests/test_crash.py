"""Crashes, Ctrl-C and concurrent runs.

* ``pinsync run`` (a real subprocess) is killed with SIGKILL at random moments, seeded,
  and re-run; after every kill the state may lag behind the files but never claims data
  that is not on disk, and the final uninterrupted run leaves exactly a clean run's output.
* In-process, every Nth file write (data files, state saves) "crashes the process", also
  halfway through the temp file, for deterministic coverage of the moments a kill rarely hits.
* SIGINT stops a run promptly with a message (exit 130); a second run on the same state
  fails fast naming the holder; a lock left by a killed run is taken over.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import pinsync
from pinsync.cli import main
from pinsync.fake import FakePinterest, FakeServer
from pinsync.state import StateStore
from pinsync.storage import STAGING, Location, WriteBatch
from tests.conftest import TODAY
from tests.reliability_support import (assert_same_output, assert_state_not_ahead, assert_tables_readable,
                                       bookmarks, build_config, raw_config, small_dataset, tables, write_yaml)

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "pina.crash-suite-static-token-0123456789"
SUBPROCESS_ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                  "COLUMNS": "200", "NO_COLOR": "1", "PINSYNC_TODAY": TODAY.isoformat(),
                  "PINSYNC_REPORT_FIRST_WAIT": "0.02"}   # the fake's reports are ready at once


# ------------------------------------------------------------------ a real `pinsync run`, in a subprocess
class Cli:
    """``python -m pinsync run --config <root>/pinsync.yaml`` against the fake API."""

    def __init__(self, root: Path, url: str, today: dt.date, **extra):
        self.root = root
        raw = raw_config(url, root, today, days=extra.pop("days", 7), max_workers=2, **extra)
        raw["auth"] = {"access_token": TOKEN}
        self.config = write_yaml(root / "pinsync.yaml", raw)
        self.n = 0

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def state(self) -> Path:
        return self.root / "state" / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "state" / "state.json.lock"

    def start(self, *args: str) -> subprocess.Popen:
        self.n += 1
        self.stdout = (self.root / f"run{self.n}.out").open("w")
        self.stderr_path = self.root / f"run{self.n}.err"
        self.stderr = self.stderr_path.open("w")
        return subprocess.Popen([sys.executable, "-m", "pinsync", "run", "--config", str(self.config), *args],
                                cwd=ROOT, env=SUBPROCESS_ENV, stdout=self.stdout, stderr=self.stderr)

    def finish(self, proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
        rc = proc.wait(timeout=timeout)
        self.stdout.close()
        self.stderr.close()
        return rc, self.stderr_path.read_text()

    def run(self, *args: str) -> tuple[int, str]:
        return self.finish(self.start(*args))


def _wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.fixture
def slow(api):
    """The module's fake answers slowly for one test, so a run surely lasts a few seconds."""
    fake = api[1]
    fake.latency = 0.15
    yield
    fake.latency = 0.02


def _lock_holder(lock_file: Path) -> dict:
    try:
        return json.loads(lock_file.read_text() or "{}")
    except (OSError, ValueError):
        return {}


@pytest.fixture(scope="module")
def api():
    """A fake API with some latency, serving today's (real UTC) data to subprocesses."""
    today = TODAY
    fake = FakePinterest(small_dataset(today), access_tokens=(TOKEN,), latency=0.02)
    with FakeServer(fake) as srv:
        yield today, fake, srv


@pytest.fixture(scope="module")
def clean_cli(api, tmp_path_factory):
    """An uninterrupted CLI run: the reference output and how long a run takes."""
    today, fake, srv = api
    cli = Cli(tmp_path_factory.mktemp("clean-cli"), srv.url, today)
    t0 = time.monotonic()
    rc, err = cli.run()
    duration = time.monotonic() - t0
    assert rc == 0, err
    assert len(tables(cli.out)) == len(pinsync.STREAMS)
    return cli, duration


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_at_random_moments_then_rerun_equals_a_clean_run(api, clean_cli, tmp_path, seed):
    today, fake, srv = api
    clean, duration = clean_cli
    cli = Cli(tmp_path, srv.url, today)
    rng = random.Random(seed)
    kills, checked = 0, 0
    for _ in range(30):
        if kills >= 6:
            break
        # a third of the attempts rewrite everything, so kills also land in long write phases
        proc = cli.start(*(["--full-refresh"] if rng.random() < 0.35 else []))
        try:
            proc.wait(timeout=rng.uniform(0.5, duration))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        rc, err = cli.finish(proc)
        assert rc in (0, -signal.SIGKILL), err
        assert "Traceback" not in err
        kills += rc == -signal.SIGKILL
        # the state may lag behind the files, never run ahead of them
        checked += assert_state_not_ahead(cli.state, cli.out, clean.out)
        assert_tables_readable(cli.out)           # between runs too: no temp file in a table folder
    assert kills == 6, f"only {kills} kills landed while the run was still going"
    assert checked, "no bookmark was ever committed between kills"
    rc, err = cli.run()
    assert rc == 0, err
    assert_same_output(cli.out, clean.out)
    assert bookmarks(cli.state) == bookmarks(clean.state)
    assert not [p for p in cli.out.rglob("*") if p.name.endswith(".tmp")], "temp files left in the output"


def test_sigint_stops_promptly_with_a_message_and_a_rerun_completes(api, clean_cli, tmp_path, slow):
    today, fake, srv = api
    clean, _ = clean_cli
    cli = Cli(tmp_path, srv.url, today)
    before = sum(fake.calls.values())
    proc = cli.start()
    _wait_for(lambda: sum(fake.calls.values()) >= before + 6, what="the run to be under way")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rc, err = cli.finish(proc, timeout=30)
    assert time.monotonic() - t0 < 5, "Ctrl-C must stop the run promptly"
    assert rc == 130, err
    assert "interrupted" in err and "re-run" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert_state_not_ahead(cli.state, cli.out, clean.out)
    fake.latency = 0.02
    rc, err = cli.run()
    assert rc == 0, err
    assert_same_output(cli.out, clean.out)
    assert bookmarks(cli.state) == bookmarks(clean.state)


@pytest.mark.parametrize("seed", [3])
def test_sigterm_at_random_moments_stops_cleanly_and_a_rerun_equals_a_clean_run(api, clean_cli, tmp_path, seed):
    """What Kubernetes, Airflow and systemd send: handled like Ctrl-C (exit 143, nothing
    partial committed, the lock released at once so the next run starts right away)."""
    today, fake, srv = api
    clean, duration = clean_cli
    cli = Cli(tmp_path, srv.url, today)
    rng = random.Random(seed)
    terms = 0
    for _ in range(12):
        if terms >= 4:
            break
        proc = cli.start(*(["--full-refresh"] if rng.random() < 0.35 else []))
        # from the moment the run holds its lock (before that, Python itself is still starting)
        _wait_for(lambda: _lock_holder(cli.lock_file).get("pid") == proc.pid or proc.poll() is not None,
                  what="the run to start")
        try:
            proc.wait(timeout=rng.uniform(0.0, duration * 0.8))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
        rc, err = cli.finish(proc, timeout=30)
        # a SIGTERM during the interpreter's own shutdown, after the summary, ends it with the
        # default action: the run had finished and committed everything
        assert rc in (0, 143) or (rc == -signal.SIGTERM and "total" in err), err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        if rc == 143:
            terms += 1
            assert "terminated: stopped" in err and "re-run" in err
        assert_state_not_ahead(cli.state, cli.out, clean.out)
        assert_tables_readable(cli.out)
        assert not list((cli.out / STAGING).glob("*/*")), "a stopped run left its temp files"
    assert terms >= 3, f"only {terms} SIGTERMs landed while the run was still going"
    rc, err = cli.run()
    assert rc == 0, err
    assert_same_output(cli.out, clean.out)
    assert bookmarks(cli.state) == bookmarks(clean.state)


# ------------------------------------------------------------------ history: reports
HISTORY = dict(days=120, streams=["campaigns", "ad_groups", "ads", "campaign_analytics", "ad_group_analytics",
                                  "ad_analytics"])


@pytest.fixture(scope="module")
def history_api(tmp_path_factory):
    """A fake API with 150 days of history (the 31 oldest of 120 come from reports), and a
    clean CLI history run: the reference output."""
    fake = FakePinterest(small_dataset(TODAY, history_days=150), access_tokens=(TOKEN,), latency=0.02)
    with FakeServer(fake) as srv:
        clean = Cli(tmp_path_factory.mktemp("clean-history"), srv.url, TODAY, **HISTORY)
        t0 = time.monotonic()
        rc, err = clean.run()
        assert rc == 0, err
        reports = fake.calls["create_report"]
        assert reports == 3 * len(fake.dataset.ad_accounts)
        yield fake, srv, clean, time.monotonic() - t0, reports


def _saved_tokens(state: Path) -> dict:
    try:
        marks = json.loads(state.read_text())["bookmarks"]
    except (OSError, ValueError, KeyError):
        return {}
    return {k: v for s in marks.values() for m in s.values() for k, v in (m.get("reports") or {}).items()}


def test_sigkill_while_polling_then_a_rerun_creates_no_second_report_and_equals_a_clean_run(history_api, tmp_path):
    fake, srv, clean, _, reports = history_api
    cli = Cli(tmp_path, srv.url, TODAY, **HISTORY)
    fake.reports.polls_in_progress = 10**6          # the reports never finish while the first run waits
    try:
        fake.reset_counters()
        proc = cli.start()
        # the units running at once (2) each wait on their pending report
        _wait_for(lambda: len(_saved_tokens(cli.state)) >= 2 and fake.calls["get_report"] >= 4,
                  timeout=60, what="reports created, saved and polled")
        proc.send_signal(signal.SIGKILL)
        rc, _ = cli.finish(proc)
        assert rc == -signal.SIGKILL
        saved = _saved_tokens(cli.state)
        assert set(saved.values()) <= set(fake.reports.by_token) and fake.calls["create_report"] == len(saved)
        assert_state_not_ahead(cli.state, cli.out, clean.out)
    finally:
        fake.reports.polls_in_progress = 2
    rc, err = cli.run()
    assert rc == 0, err
    assert fake.calls["create_report"] == reports            # the re-run polled the saved reports, created the rest
    assert_same_output(cli.out, clean.out)
    assert bookmarks(cli.state) == bookmarks(clean.state)
    assert not _saved_tokens(cli.state)                       # done: no token left behind


@pytest.mark.parametrize("seed", [4])
def test_sigkill_at_random_moments_of_a_history_run_then_rerun_equals_a_clean_run(history_api, tmp_path, seed):
    fake, srv, clean, duration, _ = history_api
    cli = Cli(tmp_path, srv.url, TODAY, **HISTORY)
    rng = random.Random(seed)
    kills = 0
    for _ in range(12):
        if kills >= 4:
            break
        proc = cli.start(*(["--full-refresh"] if rng.random() < 0.3 else []))
        try:
            proc.wait(timeout=rng.uniform(0.5, duration))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        rc, err = cli.finish(proc)
        assert rc in (0, -signal.SIGKILL), err
        assert "Traceback" not in err
        kills += rc == -signal.SIGKILL
        assert_state_not_ahead(cli.state, cli.out, clean.out)
    assert kills >= 3, f"only {kills} kills landed while the run was still going"
    rc, err = cli.run()
    assert rc == 0, err
    assert_same_output(cli.out, clean.out)
    assert bookmarks(cli.state) == bookmarks(clean.state)


# ------------------------------------------------------------------ concurrent runs
def test_a_second_run_fails_fast_naming_the_run_that_holds_the_lock(api, tmp_path, slow):
    today, fake, srv = api
    cli = Cli(tmp_path, srv.url, today)
    first = cli.start()
    try:
        _wait_for(lambda: _lock_holder(cli.lock_file).get("pid") == first.pid, what="the first run's lock")
        holder = _lock_holder(cli.lock_file)
        t0 = time.monotonic()
        res = CliRunner().invoke(main, ["run", "--config", str(cli.config)])
        elapsed = time.monotonic() - t0
        assert first.poll() is None, "the first run must still be going for this test to mean anything"
    finally:
        rc, err = cli.finish(first)
    assert res.exit_code == 4, res.output
    assert elapsed < 5
    assert f"locked by run {holder['owner']}" in res.output and f"since {holder['since']}" in res.output
    assert "Traceback" not in res.output
    assert rc == 0, err                       # the first run was not disturbed


def test_a_run_while_another_holds_the_lock_fetches_and_writes_nothing(tmp_path):
    fake = FakePinterest(small_dataset(TODAY), access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        raw = raw_config(srv.url, tmp_path, TODAY)
        raw["auth"] = {"access_token": TOKEN}
        cfg = write_yaml(tmp_path / "pinsync.yaml", raw)
        store = StateStore(str(tmp_path / "state" / "state.json"))
        t0 = time.monotonic()
        with store.lock("other-run-20261129T0800Z"):
            res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert time.monotonic() - t0 < 5
    assert res.exit_code == 4, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "other-run-20261129T0800Z" in lines[0] and "since 20" in lines[0], res.output
    assert sum(fake.calls.values()) == 0
    assert not (tmp_path / "out").exists() and not (tmp_path / "state" / "state.json").exists()


def test_a_lock_left_by_a_killed_run_is_taken_over(api, clean_cli, tmp_path, slow):
    today, fake, srv = api
    clean, _ = clean_cli
    cli = Cli(tmp_path, srv.url, today)
    proc = cli.start()
    _wait_for(lambda: _lock_holder(cli.lock_file).get("pid") == proc.pid, what="the run's lock")
    proc.send_signal(signal.SIGKILL)
    cli.finish(proc)
    assert _lock_holder(cli.lock_file).get("pid") == proc.pid        # the file still names the dead run
    fake.latency = 0.02
    res = CliRunner().invoke(main, ["run", "--config", str(cli.config)])
    assert res.exit_code == 0, res.output
    assert_same_output(cli.out, clean.out)


def test_a_lock_file_without_a_live_holder_is_stale_and_taken_over(tmp_path):
    fake = FakePinterest(small_dataset(TODAY), access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        config = build_config({**raw_config(srv.url, tmp_path, TODAY), "auth": {"access_token": TOKEN}}, TODAY)
        lock = tmp_path / "state" / "state.json.lock"
        lock.parent.mkdir(parents=True)
        lock.write_text(json.dumps({"owner": "ghost-run", "pid": 2 ** 22 + 7, "host": "elsewhere",
                                    "since": "2026-11-28T01:00:00+00:00"}))
        assert pinsync.run(config, today=TODAY).ok
    assert _lock_holder(lock)["owner"] != "ghost-run"


def test_runs_with_separate_states_sharing_an_output_never_sweep_each_others_temp_files(write_points, tmp_path,
                                                                                         monkeypatch):
    """Run A has written its campaigns temp files and not yet renamed them when run B (another
    state, the same output) starts and finishes: B's sweep must leave A's temp files alone, and
    both runs end with the clean output."""
    ref = write_points[0]
    fake = FakePinterest(small_dataset(TODAY), access_tokens=(TOKEN,))
    held, go, outcome = threading.Event(), threading.Event(), {}
    commit = WriteBatch.commit

    def held_commit(batch):
        if any("/campaigns/" in path for _, path in batch.pending) and not held.is_set():
            held.set()                               # A's temp files are on disk: wait for B
            assert go.wait(60)
        return commit(batch)
    monkeypatch.setattr(WriteBatch, "commit", held_commit)
    with FakeServer(fake) as srv:
        raw = {**raw_config(srv.url, tmp_path, TODAY, days=5), "auth": {"access_token": TOKEN}}
        a = build_config(raw, TODAY)
        b = build_config({**raw, "state": {"url": str(tmp_path / "state-b" / "state.json")}}, TODAY)

        def run_a():
            try:
                outcome["a"] = pinsync.run(a, today=TODAY)
            except BaseException as e:     # noqa: BLE001 - reported below
                outcome["a"] = e
            finally:
                held.set()
        thread = threading.Thread(target=run_a)
        thread.start()
        assert held.wait(60)
        try:
            assert pinsync.run(b, today=TODAY).ok
        finally:
            go.set()
            thread.join(60)
    assert not isinstance(outcome["a"], BaseException), outcome["a"]
    assert outcome["a"].ok
    assert_same_output(tmp_path / "out", ref / "out")
    assert bookmarks(tmp_path / "state" / "state.json") == bookmarks(tmp_path / "state-b" / "state.json")
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")], "temp files left behind"


# ------------------------------------------------------------------ crashes at every kind of write, in-process
class Crash(BaseException):
    """The process died (nothing may catch this)."""


class CrashAt:
    """Patches Location.write/delete: the ``target``-th matching write crashes the "process"
    (optionally after writing half its temp file), and every write or delete after it too."""

    def __init__(self, monkeypatch, target: int, *, only=lambda rel: True, halfway: bool = False):
        self.target, self.only, self.halfway = target, only, halfway
        self.count, self.crashed, self.paths = 0, False, []
        self._lock = threading.Lock()
        write, delete = Location.write, Location.delete
        this = self

        def crashing_write(loc, rel, data, **kw):
            with this._lock:
                if this.crashed:
                    raise Crash()
                if this.only(rel):
                    this.count += 1
                    this.paths.append(rel)
                    if this.count == this.target:
                        this.crashed = True
                        if this.halfway and loc.local:       # where the writer makes its temp file
                            path = Path(loc.path(rel))
                            path.parent.mkdir(parents=True, exist_ok=True)
                            stage = kw.get("stage")
                            tmp = (Path(stage.temp(path.name)) if stage
                                   else path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp")
                            tmp.write_bytes(data[: len(data) // 2])
                        raise Crash()
            return write(loc, rel, data, **kw)

        def crashing_delete(loc, rel, **kw):
            if this.crashed:
                raise Crash()
            return delete(loc, rel, **kw)

        monkeypatch.setattr(Location, "write", crashing_write)
        monkeypatch.setattr(Location, "delete", crashing_delete)


def _is_state(rel: str) -> bool:
    return rel.endswith("state.json")


def _is_data(rel: str) -> bool:
    return rel.endswith("data.parquet")


@pytest.fixture(scope="module")
def write_points(tmp_path_factory):
    """A clean in-process run (the reference) and how many data writes and state saves it makes."""
    root = tmp_path_factory.mktemp("write-points")
    fake = FakePinterest(small_dataset(TODAY), access_tokens=(TOKEN,))
    mp = pytest.MonkeyPatch()
    counter = CrashAt(mp, target=-1)
    try:
        with FakeServer(fake) as srv:
            config = build_config({**raw_config(srv.url, root, TODAY, days=5), "auth": {"access_token": TOKEN}},
                                  TODAY)
            assert pinsync.run(config, today=TODAY).ok
    finally:
        mp.undo()
    data = sum(map(_is_data, counter.paths))
    saves = sum(map(_is_state, counter.paths))
    assert data > 15 and saves > 5
    return root, data, saves


def _crash_points(data: int, saves: int, seed: int) -> list[tuple[str, int, bool]]:
    """Where to crash: state saves and data writes (first, last and a seeded sample), each
    either before the write started or halfway through its temp file."""
    rng = random.Random(seed)
    # units committing at once share a save (a group commit), so a run may save a little less
    # often than the reference did: aim at the first half of its saves
    last = max(3, saves // 2)
    points = [("state", k, rng.random() < 0.5) for k in sorted({1, last, *rng.sample(range(2, last), min(4, last - 2))})]
    points += [("data", n, rng.random() < 0.5) for n in sorted({1, data, *rng.sample(range(2, data), 4)})]
    points.append(("any", 1, False))                                     # the output probe
    rng.shuffle(points)
    return points


@pytest.mark.parametrize("seed", [1, 2])
def test_crash_during_file_writes_and_state_saves_then_rerun_equals_a_clean_run(write_points, tmp_path,
                                                                                 monkeypatch, seed):
    """A chain of runs, each dying at a chosen write; the state is checked after every death
    and the final uninterrupted run must leave exactly the clean output."""
    ref, data, saves = write_points
    fake = FakePinterest(small_dataset(TODAY), access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        config = build_config({**raw_config(srv.url, tmp_path, TODAY, days=5), "auth": {"access_token": TOKEN}},
                              TODAY)
        state, out = tmp_path / "state" / "state.json", tmp_path / "out"
        for i, (what, target, halfway) in enumerate(_crash_points(data, saves, seed)):
            only = {"state": _is_state, "data": _is_data, "any": lambda rel: True}[what]
            with monkeypatch.context() as mp:
                crash = CrashAt(mp, target, only=only, halfway=halfway)
                with pytest.raises(Crash):
                    # after the first death, --full-refresh: every write of a first run happens again
                    pinsync.run(config, today=TODAY, full_refresh=i > 0)
            assert crash.crashed, (what, target)
            assert_state_not_ahead(state, out, ref / "out")
        # the next run starts in a fresh "process" and repairs everything
        assert pinsync.run(config, today=TODAY).ok
    assert_same_output(out, ref / "out")
    assert bookmarks(state) == bookmarks(ref / "state" / "state.json")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")], "temp files left in the output"


def test_a_fatal_error_leaves_no_unit_running_after_the_run_returns(tmp_path, monkeypatch):
    """A run that stops (here: the ad_accounts table cannot be written) must not return, and
    release its lock, while another unit is still fetching and writing in the background."""
    fake = FakePinterest(small_dataset(TODAY), access_tokens=(TOKEN,), latency=0.05)
    original = pinsync.sink.Sink.write_table

    def failing_write_table(sink, stream, df):
        if stream == "ad_accounts":
            raise pinsync.SinkError("cannot write ad_accounts/data.parquet: disk full")
        return original(sink, stream, df)

    monkeypatch.setattr(pinsync.sink.Sink, "write_table", failing_write_table)
    with FakeServer(fake) as srv:
        config = build_config({**raw_config(srv.url, tmp_path, TODAY), "auth": {"access_token": TOKEN}}, TODAY)
        with pytest.raises(pinsync.SinkError):
            pinsync.run(config, today=TODAY)
        calls = sum(fake.calls.values())
        files = sorted(str(p) for p in tmp_path.rglob("*"))
        state = (tmp_path / "state" / "state.json").read_bytes() if (tmp_path / "state" / "state.json").exists() else b""
        time.sleep(0.6)
        assert sum(fake.calls.values()) == calls, "requests were still made after run() had returned"
    assert sorted(str(p) for p in tmp_path.rglob("*")) == files, "files were written after run() had returned"
    assert ((tmp_path / "state" / "state.json").read_bytes()
            if (tmp_path / "state" / "state.json").exists() else b"") == state


@pytest.mark.parametrize("stream", ["ad_accounts", "campaigns", "campaign_analytics", "pins", "pin_analytics"])
def test_a_crash_in_the_middle_of_a_full_refresh_leaves_every_table_readable(write_points, tmp_path, monkeypatch,
                                                                             stream):
    """A --full-refresh rewrites partitions the next incremental run will not touch (unchanged
    entities, days before the look-back): its temp files never sit inside a table folder, so
    reading the table folder (``pl.scan_parquet("out/campaigns/")``) works right after the
    crash, and the run's staging folder is gone."""
    ref = write_points[0]
    fake = FakePinterest(small_dataset(TODAY), access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        config = build_config({**raw_config(srv.url, tmp_path, TODAY, days=5), "auth": {"access_token": TOKEN}},
                              TODAY)
        assert pinsync.run(config, today=TODAY).ok
        with monkeypatch.context() as mp:
            crash = CrashAt(mp, 1, only=lambda rel: rel.startswith(f"{stream}/"), halfway=True)
            with pytest.raises(Crash):
                pinsync.run(config, today=TODAY, full_refresh=True)
        assert crash.crashed
        assert assert_tables_readable(tmp_path / "out") == len(pinsync.STREAMS)
        assert not (tmp_path / "out" / STAGING).exists(), "the run's staging folder was left behind"
        assert pinsync.run(config, today=TODAY).ok
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")], "temp files left behind"
    assert_same_output(tmp_path / "out", ref / "out")


# a `pinsync run` that dies by SIGKILL at its first rename of a data file into place: every
# temp file of that batch is written and durable, none renamed (deterministic, unlike a timer)
KILL_AT_RENAME = """
import os, signal, sys
real = os.replace
def replace(src, dst, *a, **kw):
    if dst.endswith("data.parquet") and os.environ.get("KILL_AT_RENAME") in dst:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *a, **kw)
os.replace = replace
from pinsync.cli import main
main(sys.argv[1:], prog_name="pinsync")
"""


@pytest.mark.parametrize("table", ["campaigns/", "ad_analytics/", "pins/"])
def test_a_run_killed_between_writing_and_renaming_leaves_every_table_readable(api, clean_cli, tmp_path, table):
    """SIGKILL (the OOM killer, a preempted node) with temp files written: the lake stays
    readable by Polars, pyarrow and DuckDB before any other run, and the next run sweeps the
    dead run's staging folder and ends equal to a clean run."""
    today, fake, srv = api
    clean, _ = clean_cli
    cli = Cli(tmp_path, srv.url, today)
    assert cli.run()[0] == 0
    cli.n += 1
    proc = subprocess.Popen([sys.executable, "-c", KILL_AT_RENAME, "run", "--config", str(cli.config),
                             "--full-refresh"], cwd=ROOT, env={**SUBPROCESS_ENV, "KILL_AT_RENAME": table},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    left = [p for p in (cli.out / STAGING).rglob("*") if p.name.endswith(".tmp")]
    assert left, "the kill did not land between the writes and the renames"
    assert assert_tables_readable(cli.out) == len(pinsync.STREAMS)
    assert_state_not_ahead(cli.state, cli.out, clean.out)
    rc, err = cli.run()
    assert rc == 0, err
    assert not (cli.out / STAGING).exists(), "the dead run's staging folder was not swept"
    assert_same_output(cli.out, clean.out)
