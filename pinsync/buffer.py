"""Bounded memory for a unit's rows: hold typed frames until their partitions can be written.

A partition (a month) may only be written once every batch that can hold its rows has
arrived. :class:`FrameBuffer` keeps the batches in memory up to ``limit_bytes``; beyond that
it spills them to uncompressed Arrow IPC files in a private temp folder, one file per
partition, so what a unit holds in memory stays under the limit however many days, ids or
pins it covers. A partition known to be complete leaves the buffer at once
(:meth:`FrameBuffer.take`: a long history's months are written report by report); when the
unit ends, :meth:`FrameBuffer.chunks` hands the rest back one partition at a time, read
from its own files only.

A unit that never passed its limit never touches the disk: its frames come back as one
chunk, which :meth:`pinsync.sink.Sink.merge_months` filters a month at a time as it merges
(no copy of the chunk is made), so writing holds the chunk plus one month's work.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import polars as pl

from pinsync.errors import SinkError


class FrameBuffer:
    """Typed frames of one unit, held in memory up to ``limit_bytes`` and spilled beyond.

    Args:
        partition_by: the partition columns; a chunk never splits a partition.
        limit_bytes: memory (Polars' estimate) held before spilling.
        spill_dir: where the private temp folder is made (default: the system temp folder).

    Use as a context manager (or call :meth:`close`): the spill files are removed on exit.
    """

    def __init__(self, partition_by: Sequence[str], limit_bytes: int, spill_dir: str | None = None):
        self.by = list(partition_by)
        self.limit = max(1, int(limit_bytes))
        self.spill_dir = spill_dir
        self._frames: list[pl.DataFrame] = []
        self._held = 0
        self._files: dict[tuple, list[Path]] = {}     # partition key -> its spill files, oldest first
        self._folder: Path | None = None
        self._rows: Counter = Counter()          # partition key -> rows
        self._written = 0                        # spill files written (names them)
        self.rows = 0
        self.spills = 0

    # -- filling --------------------------------------------------------------------------

    def add(self, df: pl.DataFrame, *, spill: bool = True) -> None:
        """Hold ``df``, spilling what is held when it passes the limit (``spill=False``: not
        yet - the caller first :meth:`take`-s what is complete, then calls :meth:`fit`)."""
        if not df.height:
            return
        for row in df.group_by(self.by).len().iter_rows():
            self._rows[row[:-1]] += row[-1]
        self._frames.append(df)
        self._held += df.estimated_size()
        self.rows += df.height
        if spill:
            self.fit()

    def fit(self) -> None:
        """Spill what is held if it is past the limit."""
        if self._held > self.limit:
            self._spill()

    def _spill(self) -> None:
        """Write what is held to disk, a file per partition, and let it go."""
        if not self._frames:
            return
        try:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="pinsync-spill-", dir=self.spill_dir))
            held, self._frames, self._held = _concat(self._frames), [], 0
            for key, part in held.partition_by(self.by, as_dict=True, maintain_order=True).items():
                path = self._folder / f"{self._written:06d}.arrow"
                self._written += 1
                part.write_ipc(path, compression="uncompressed")
                self._files.setdefault(key, []).append(path)
        except OSError as e:   # $TMPDIR full or not writable: the unit cannot hold its rows
            where = self._folder or self.spill_dir or tempfile.gettempdir()
            raise SinkError(f"cannot spill fetched rows to the temp folder {where} ($TMPDIR): "
                            f"{e.strerror or e}; free space there, point TMPDIR at a larger disk, or raise "
                            "buffer_mb") from None
        self.spills += 1

    # -- reading back -----------------------------------------------------------------------

    @property
    def spilled(self) -> bool:
        return bool(self._files)

    def partitions(self) -> list[tuple]:
        """The partition keys held, sorted."""
        return sorted(self._rows)

    def chunks(self, finish: Callable[[pl.DataFrame], pl.DataFrame] = lambda df: df) -> Iterator[pl.DataFrame]:
        """The rows, in the order they were added, each chunk passed through ``finish``
        (e.g. dedupe): everything at once when nothing was spilled, else a partition at a
        time. Nothing held: no chunk."""
        if not self.rows:
            return
        if not self._files:
            # hand the frames over (no copy): once ``finish`` has made its own, they are freed
            frames, self._frames, self._held = self._frames, [], 0
            yield finish(_concat(frames))
            return
        self._spill()          # the rest too: then each partition is read from its own files
        for key in self.partitions():
            yield finish(_concat([pl.read_ipc(p) for p in self._files[key]]))

    def take(self, keys: Iterable[tuple], finish: Callable[[pl.DataFrame], pl.DataFrame] = lambda df: df,
             limit_rows: int = 1) -> Iterator[pl.DataFrame]:
        """The rows of the partitions ``keys`` (those held), in key order, in chunks of whole
        partitions of up to ``limit_rows`` rows (a larger partition alone; by default one
        partition per chunk), each passed through ``finish``; they leave the buffer. Rows held
        in memory are copied out a chunk at a time, the other partitions' rows kept."""
        keys = sorted(k for k in set(keys) if k in self._rows)
        if not keys:
            return
        held = _concat(self._frames) if self._frames else None
        if held is not None:
            rest = held.filter(~in_partitions(self.by, keys))
            self._frames, self._held = ([rest], rest.estimated_size()) if rest.height else ([], 0)
            del rest
        sizes = {key: self._rows[key] for key in keys}
        for group in grouped(keys, sizes.get, limit_rows):
            files = [p for key in group for p in self._files.pop(key, [])]
            for key in group:
                self.rows -= self._rows.pop(key)
            parts = [pl.read_ipc(p) for p in files]      # older rows first: the last answer wins
            for p in files:
                p.unlink(missing_ok=True)
            if held is not None:
                part = held.filter(in_partitions(self.by, group))
                if part.height:
                    parts.append(part)
            yield finish(_concat(parts))

    # -- cleaning up ------------------------------------------------------------------------

    def close(self) -> None:
        self._frames, self._held = [], 0
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._files = {}

    def __enter__(self) -> "FrameBuffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def grouped(items: Iterable, size: Callable[[object], int], limit: int) -> Iterator[list]:
    """``items`` in order, in runs whose ``size`` adds up to at most ``limit`` (an item larger
    than ``limit`` alone)."""
    run, total = [], 0
    for item in items:
        n = size(item)
        if run and total + n > limit:
            yield run
            run, total = [], 0
        run.append(item)
        total += n
    if run:
        yield run


def in_partitions(by: Sequence[str], keys: Iterable[Sequence]) -> pl.Expr:
    """Whether a row is of one of the partitions ``keys`` (values of ``by``, in order)."""
    return pl.any_horizontal([pl.all_horizontal([pl.col(c) == v for c, v in zip(by, key)]) for key in keys])


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """One frame over ``frames`` without copying them (``rechunk=False``); an integer column
    widened to Float64 in some frame (see :mod:`pinsync.frames`) is Float64 in all."""
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed", rechunk=False)
