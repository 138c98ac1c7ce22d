"""Bounded memory for a unit's rows: hold typed frames until the unit writes, spilling to disk.

A unit (one analytics stream of one ad account, or all pins) may only write its partitions
once every batch has arrived, because a partition (a month) holds rows from every batch.
:class:`FrameBuffer` keeps the batches in memory up to ``limit_bytes``; beyond that it
spills them to uncompressed Arrow IPC files in a private temp folder, so what a unit holds
in memory stays under the limit however many days, ids or pins it covers. When the unit
writes, :meth:`FrameBuffer.chunks` hands the rows back a few whole partitions at a time,
each chunk about a quarter of ``limit_bytes`` (writing a chunk holds a few times its size).

Small units never touch the disk: a buffer that stayed under its limit returns its frames
as one chunk.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import polars as pl


# Writing a chunk (sort, encode each partition) holds a few times its size, so a spilled
# buffer is read back a quarter of its limit at a time: the write stays within the limit.
_CHUNKS_PER_LIMIT = 4


class FrameBuffer:
    """Typed frames of one unit, held in memory up to ``limit_bytes`` and spilled beyond.

    Args:
        partition_by: the table's partition columns; a chunk never splits a partition.
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
        self._files: list[Path] = []
        self._folder: Path | None = None
        self._rows: Counter = Counter()          # partition key -> rows
        self._bytes = 0                          # everything added (for the per-row estimate)
        self.rows = 0
        self.spills = 0

    # -- filling --------------------------------------------------------------------------

    def add(self, df: pl.DataFrame) -> None:
        """Hold ``df`` (spilling what is held when it passes the limit)."""
        if not df.height:
            return
        for row in df.group_by(self.by).len().iter_rows():
            self._rows[row[:-1]] += row[-1]
        size = df.estimated_size()
        self._frames.append(df)
        self._held += size
        self._bytes += size
        self.rows += df.height
        if self._held > self.limit:
            self._spill()

    def _spill(self) -> None:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="pinsync-spill-", dir=self.spill_dir))
        path = self._folder / f"{len(self._files):06d}.arrow"
        _concat(self._frames).write_ipc(path, compression="uncompressed")
        self._files.append(path)
        self._frames, self._held = [], 0
        self.spills += 1

    # -- reading back -----------------------------------------------------------------------

    @property
    def spilled(self) -> bool:
        return bool(self._files)

    def partitions(self) -> list[tuple]:
        """The partition keys held, sorted."""
        return sorted(self._rows)

    def chunks(self, finish: Callable[[pl.DataFrame], pl.DataFrame] = lambda df: df) -> Iterator[pl.DataFrame]:
        """The rows, whole partitions at a time, in the order they were added, each passed
        through ``finish`` (e.g. dedupe and sort). Nothing held: no chunk."""
        if not self.rows:
            return
        if not self._files and self._held <= self.limit // _CHUNKS_PER_LIMIT:
            # hand the frames over (no copy): once ``finish`` has made its own, they are freed
            frames, self._frames, self._held = self._frames, [], 0
            yield finish(_concat(frames))
            return
        per_row = self._bytes / max(1, self.rows)
        group: list[tuple] = []
        group_bytes = 0.0
        for key in self.partitions():
            size = self._rows[key] * per_row
            if group and group_bytes + size > self.limit // _CHUNKS_PER_LIMIT:
                yield finish(self._read(group))
                group, group_bytes = [], 0.0
            group.append(key)
            group_bytes += size
        if group:
            yield finish(self._read(group))

    def _read(self, keys: list[tuple]) -> pl.DataFrame:
        wanted = pl.DataFrame([list(k) for k in keys], schema=self._key_schema(), orient="row")
        sources = [pl.scan_ipc(p) for p in self._files]
        if self._frames:
            sources.append(_concat(self._frames).lazy())
        # a filter per key column first: the streaming engine applies it batch by batch, so
        # only this chunk's rows are ever held (a join alone would read every file whole)
        coarse = [pl.col(k).is_in(wanted[k].drop_nulls().unique().implode()) | (
            pl.col(k).is_null() if wanted[k].null_count() else pl.lit(False)) for k in self.by]
        lf = pl.concat(sources, how="vertical").filter(*coarse)
        exact = lf.join(wanted.lazy(), on=self.by, how="semi", nulls_equal=True, maintain_order="left")
        return exact.collect(engine="streaming")

    def _key_schema(self) -> dict:
        sample = self._frames[0] if self._frames else pl.read_ipc_schema(self._files[0])
        schema = sample.schema if isinstance(sample, pl.DataFrame) else sample
        return {k: schema[k] for k in self.by}

    # -- cleaning up ------------------------------------------------------------------------

    def close(self) -> None:
        self._frames, self._held = [], 0
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._files = []

    def __enter__(self) -> "FrameBuffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """One frame over ``frames`` without copying them (``rechunk=False``)."""
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical", rechunk=False)
