"""Batched local writes: durable before they replace anything, two flushes per batch."""

from __future__ import annotations

import os

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
