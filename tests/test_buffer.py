"""Bounded memory: a unit's rows spill to disk past the buffer, and the tables stay the same."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import pinsync
from pinsync.buffer import FrameBuffer
from pinsync.streams import STREAMS
from tests.conftest import TODAY

D0 = dt.date(2026, 9, 1)


def _batch(ids: range, days: int, value: int = 1) -> pl.DataFrame:
    return pl.DataFrame({
        "ad_id": [str(i) for i in ids for _ in range(days)],
        "ad_account_id": ["7"] * (len(ids) * days),
        "date": [D0 + dt.timedelta(days=d) for _ in ids for d in range(days)],
        "spend": [float(value)] * (len(ids) * days),
    })


def test_a_small_unit_stays_in_memory_and_comes_back_as_one_chunk(tmp_path):
    with FrameBuffer(["ad_account_id", "date"], 10 * 2**20, spill_dir=str(tmp_path)) as buf:
        buf.add(_batch(range(0, 5), 10))
        buf.add(_batch(range(5, 10), 10))
        assert not buf.spilled and not list(tmp_path.iterdir())
        chunks = list(buf.chunks())
    assert len(chunks) == 1 and chunks[0].height == 100


def test_a_unit_that_stays_under_its_limit_never_touches_the_disk(tmp_path):
    """Spilling writes and reads every row once more: a unit within its share of buffer_mb
    comes back from memory as one chunk however close to the limit it got."""
    batches = [_batch(range(i * 50, i * 50 + 50), 30, value=i) for i in range(4)]
    limit = int(sum(b.estimated_size() for b in batches) * 1.1)
    with FrameBuffer(["ad_account_id", "date"], limit, spill_dir=str(tmp_path)) as buf:
        for b in batches:
            buf.add(b)
        chunks = list(buf.chunks())
        assert not buf.spilled and not list(tmp_path.iterdir())
    assert len(chunks) == 1
    assert_frame_equal(chunks[0], pl.concat(batches))


def test_past_its_limit_the_buffer_spills_and_gives_back_every_row_in_partition_chunks(tmp_path):
    batches = [_batch(range(i * 50, i * 50 + 50), 30, value=i) for i in range(8)]
    limit = batches[0].estimated_size() * 2         # a few batches fit, the unit does not
    with FrameBuffer(["ad_account_id", "date"], limit, spill_dir=str(tmp_path)) as buf:
        for b in batches:
            buf.add(b)
        assert buf.spilled and buf.spills >= 3
        spill_folders = list(tmp_path.iterdir())
        assert len(spill_folders) == 1 and list(spill_folders[0].glob("*.arrow"))
        chunks = list(buf.chunks())
        assert len(chunks) > 1
        rows_per_day = dict(pl.concat(batches).group_by("date").len().iter_rows())
        assert len(rows_per_day) == 30 and set(rows_per_day.values()) == {400}     # 8 batches x 50 ads a day
        for c in chunks:               # each chunk is within the limit and holds whole days (partitions)
            assert c.estimated_size() <= limit
            assert dict(c.group_by("date").len().iter_rows()) == {d: 400 for d in c["date"].unique()}
        got = pl.concat(chunks).sort("ad_id", "date")
    assert_frame_equal(got, pl.concat(batches).sort("ad_id", "date"))
    assert not list(tmp_path.iterdir())             # the spill folder is gone after close


def test_rows_keep_the_order_they_were_added_in_so_the_last_answer_wins(tmp_path):
    first = _batch(range(0, 20), 5, value=1)
    again = _batch(range(0, 20), 5, value=2)        # the same keys answered twice
    with FrameBuffer(["date"], first.estimated_size() // 2, spill_dir=str(tmp_path)) as buf:
        buf.add(first)
        buf.add(again)
        assert buf.spilled
        out = pl.concat(buf.chunks(lambda df: df.unique(["ad_id", "date"], keep="last", maintain_order=True)))
    assert out.height == 100 and out["spend"].unique().to_list() == [2.0]


@pytest.mark.parametrize("spill", [False, True])
def test_taken_partitions_come_in_chunks_of_whole_partitions_up_to_a_row_limit(tmp_path, spill):
    """take(limit_rows): the finished partitions leave in chunks of whole partitions of at most
    that many rows (rows spilled first, then those in memory: the last answer still wins);
    the partitions not taken stay for later."""
    first, again = _batch(range(0, 20), 6, value=1), _batch(range(0, 20), 6, value=2)    # 20 rows a day each
    with FrameBuffer(["date"], first.estimated_size() // 2 if spill else 2**30, spill_dir=str(tmp_path)) as buf:
        buf.add(first)
        buf.add(again)
        assert buf.spilled == spill
        taken = [D0 + dt.timedelta(days=d) for d in range(5)]
        chunks = list(buf.take([(d,) for d in taken], limit_rows=100))
        rest = pl.concat(list(buf.chunks()))
    assert [c.height for c in chunks] == [80, 80, 40]              # two whole days (40 rows each) at most
    both = pl.concat([first, again])
    for c in chunks:
        for (day,), part in c.partition_by("date", as_dict=True, maintain_order=True).items():
            assert_frame_equal(part, both.filter(pl.col("date") == day))   # in the order added
    assert sorted(pl.concat(chunks)["date"].unique()) == taken
    assert_frame_equal(rest.sort("ad_id", "spend"), both.filter(pl.col("date") == D0 + dt.timedelta(days=5))
                       .sort("ad_id", "spend"))


def test_the_spill_folder_is_removed_when_the_unit_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with FrameBuffer(["date"], 1, spill_dir=str(tmp_path)) as buf:
            buf.add(_batch(range(3), 3))
            assert buf.spilled
            raise RuntimeError("the unit failed")
    assert not list(tmp_path.iterdir())


def _tables(root: Path) -> dict[str, pl.DataFrame]:
    out = {}
    for table in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        files = sorted(table.rglob("data.parquet"))
        out[table.name] = {str(f.relative_to(table)): pl.read_parquet(f, hive_partitioning=False) for f in files}
    return out


def test_a_sync_whose_units_all_spill_writes_the_same_tables(make_config, tmp_path, monkeypatch):
    """The whole sync with every unit spilling equals the in-memory sync, file for file. The
    ads units ask for their ids two at a time, so a month waits for several batches (and
    spills) before it is complete."""
    spill = tmp_path / "spill"
    spill.mkdir()
    for name in ("campaign_analytics", "ad_group_analytics", "ad_analytics"):
        monkeypatch.setitem(STREAMS, name, dataclasses.replace(STREAMS[name], batch_size=2))
    big = make_config(output={"url": str(tmp_path / "big")}, state={"url": str(tmp_path / "s1" / "state.json")})
    tiny = make_config(output={"url": str(tmp_path / "tiny")}, state={"url": str(tmp_path / "s2" / "state.json")},
                       buffer_mb=8)
    pinsync.run(big, today=TODAY)

    spills = []
    real_init, real_spill = FrameBuffer.__init__, FrameBuffer._spill

    def tiny_init(self, partition_by, limit_bytes, spill_dir=None):
        assert limit_bytes == 2**20   # buffer_mb (8) shared by the 8 units running at once (max_workers 8)
        real_init(self, partition_by, 2048, str(spill))          # a few rows: every unit spills

    def counting_spill(self):
        spills.append(self.rows)
        return real_spill(self)
    monkeypatch.setattr(FrameBuffer, "__init__", tiny_init)
    monkeypatch.setattr(FrameBuffer, "_spill", counting_spill)
    pinsync.run(tiny, today=TODAY)
    assert len(spills) >= 7, "some analytics unit (2 accounts x 3 streams + pins) did not spill"
    assert not list(spill.iterdir())                 # every spill folder was removed
    a, b = _tables(tmp_path / "big"), _tables(tmp_path / "tiny")
    assert {"campaign_analytics", "ad_analytics", "pin_analytics"} <= a.keys() and a.keys() == b.keys()
    for table in a:
        assert a[table].keys() == b[table].keys() and a[table]
        for f in a[table]:
            assert_frame_equal(a[table][f].drop("run_id", strict=False), b[table][f].drop("run_id", strict=False))


def test_batches_are_fetched_a_bounded_number_ahead_of_the_consumer():
    """Answers that arrive while a unit is busy wait in memory: never more than ``ahead``."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from pinsync.extractor import Extractor

    started, consumed = [], []
    lock = threading.Lock()

    def task(i):
        with lock:
            started.append(i)
        return i

    with ThreadPoolExecutor(8) as pool:
        ex = Extractor(None, pool=pool, ahead=3)
        out = []
        for i in ex._imap(task, [(i,) for i in range(20)]):
            time.sleep(0.01)                      # a slow consumer: the pool could run far ahead
            with lock:
                assert len(started) - len(consumed) <= 4, (started, consumed)
                consumed.append(i)
            out.append(i)
    assert out == list(range(20))                 # in request order
