"""Tables on disk or S3: hive-partitioned Parquet, one file per partition, written atomically.

Layout: ``{output}/{stream}/[key=value/...]data.parquet``. Each partition is exactly one
file with a fixed name, so re-writing a partition replaces it and a retry can never
duplicate rows. Partition key columns are also stored inside the files (ids stay
strings). Nothing but ``data.parquet`` files live inside table folders: temp files are
hidden (leading ``.``) and removed on failure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import polars as pl

from pinsync.errors import SinkError
from pinsync.memory import cpu_slot
from pinsync.schemas import Column
from pinsync.storage import Location

DATA_FILE = "data.parquet"


def _value(v) -> str:
    if isinstance(v, dt.datetime):       # HOUR analytics: one partition per hour
        return v.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    return quote(str(v), safe="")


def partition_dir(keys: dict) -> str:
    """``ad_account_id=1/date=2026-11-01`` for ``{"ad_account_id": "1", "date": date(2026, 11, 1)}``."""
    return "/".join(f"{k}={_value(v)}" for k, v in keys.items())


def fingerprint(df: pl.DataFrame, key: Sequence[str] = ()) -> str:
    """A content hash of a frame, stable across processes and Polars versions.

    Rows are ordered by ``key`` (default: the first column) first, so the order the API
    listed them in does not matter.
    """
    if df.height == 0:
        return "empty"
    ordered = df.sort(list(key) or df.columns[0])
    digest = hashlib.sha256()
    for start in range(0, ordered.height, _FINGERPRINT_ROWS):   # a slice at a time: bounded memory
        digest.update(ordered.slice(start, _FINGERPRINT_ROWS).write_ndjson().encode())
    return digest.hexdigest()[:32]


_FINGERPRINT_ROWS = 2000

# Partition fingerprints use Polars' row hash, which is stable within one Polars version
# only: fingerprints recorded under another version (or another table schema) are ignored.
_ROW_SEEDS = (0x5EED1, 0x5EED2)


def fingerprint_scheme(columns: Sequence[Column]) -> str:
    """What partition fingerprints depend on besides the rows: the hash implementation and
    the table's columns. Fingerprints recorded under another scheme are not comparable."""
    spec = ",".join(f"{c.name}:{c.dtype}" for c in columns)
    return f"polars-{pl.__version__}/" + hashlib.sha256(spec.encode()).hexdigest()[:12]


def partition_fingerprints(df: pl.DataFrame, by: Sequence[str]) -> dict[str, str]:
    """A content hash of each partition of ``df`` (keyed by :func:`partition_dir`), without
    encoding anything (see :func:`_partition_hashes`); row order does not matter."""
    parts = _partition_hashes(df, by)
    return dict(zip(parts["_dir"], parts["_fp"]))


def _partition_hashes(df: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """One row per partition of ``df``: its key columns, ``_dir`` and ``_fp``. A partition's
    fingerprint digests its row count and the sums of two 64-bit row hashes (summed as
    32-bit halves, so nothing overflows): row order does not matter, and rows are unique
    by key, so two different partitions collide with a chance of about 2**-128."""
    by = list(by)
    sums = []
    for i, seed in enumerate(_ROW_SEEDS):
        h = pl.struct(df.columns).hash(seed)
        sums += [(h // 2**32).sum().alias(f"_hi{i}"), (h % 2**32).sum().alias(f"_lo{i}")]
    parts = df.group_by(by, maintain_order=True).agg(pl.len().alias("_n"), *sums)
    dirs = [partition_dir(keys) for keys in parts.select(by).iter_rows(named=True)]
    fps = [hashlib.blake2b(repr(row).encode(), digest_size=16).hexdigest()
           for row in parts.select(pl.exclude(by)).iter_rows()]
    return parts.select(by).with_columns(_dir=pl.Series(dirs, dtype=pl.String), _fp=pl.Series(fps, dtype=pl.String))


@dataclass
class WriteResult:
    """What one write did."""

    files_written: int = 0
    files_deleted: int = 0
    rows_written: int = 0
    paths: list[str] = field(default_factory=list)
    files_unchanged: int = 0
    fingerprints: dict[str, str] = field(default_factory=dict)   # partition dir -> content hash

    def add(self, other: "WriteResult") -> None:
        self.files_written += other.files_written
        self.files_deleted += other.files_deleted
        self.rows_written += other.rows_written
        self.paths += other.paths
        self.files_unchanged += other.files_unchanged
        self.fingerprints.update(other.fingerprints)


class Sink:
    """Writes tables below one output location.

    Args:
        location: the output root (``output.url``).
        run_id: recorded in each file's Parquet metadata (provenance).
    """

    def __init__(self, location: Location, run_id: str):
        self.location = location
        self.run_id = run_id

    def _put(self, rel: str, df: pl.DataFrame) -> None:
        buf = io.BytesIO()
        try:
            df.write_parquet(buf, compression="zstd", statistics=True, metadata={"pinsync.run_id": self.run_id})
        except Exception as e:
            raise SinkError(f"cannot write {self.location.path(rel)}: {type(e).__name__}: {e}") from None
        self._write(rel, buf.getvalue())

    def _write(self, rel: str, data: bytes, batch=None) -> None:
        try:
            self.location.write(rel, data, batch=batch)
        except Exception as e:
            raise SinkError(f"cannot write {self.location.path(rel)}: {type(e).__name__}: {e}") from None

    def write_table(self, stream: str, df: pl.DataFrame) -> WriteResult:
        """Replace an unpartitioned table with ``df``."""
        rel = f"{stream}/{DATA_FILE}"
        self._put(rel, df)
        return WriteResult(1, 0, df.height, [rel])

    def replace_partitions(
        self,
        stream: str,
        df: pl.DataFrame | Iterable[pl.DataFrame],
        partition_by: Sequence[str],
        *,
        covers: Iterable[dict] = (),
        sort_by: Sequence[str] = (),
        on_disk: Mapping[str, str] | None = None,
        before_change: Callable[[list[str]], None] | None = None,
        rewrite: bool = False,
    ) -> WriteResult:
        """Write each partition of ``df``; delete covered partitions that got no rows.

        Args:
            stream: the table.
            df: the rows; partition columns stay in the files. Or an iterable of frames
                (e.g. from a spilled buffer), each holding whole partitions: a partition
                must not be split across two frames.
            partition_by: hive partition columns, outermost first.
            covers: partition keys the fetch covered (e.g. every date of a window): those
                absent from ``df`` are deleted, so a re-fetch that returned nothing for a
                day leaves that day empty.
            sort_by: row order inside each file.
            on_disk: the :func:`partition_fingerprints` of files already written (from the
                state). A partition whose rows have the same fingerprint, and whose file
                exists, is left alone instead of being rewritten. Every written partition's
                fingerprint is returned in the result (``fingerprints``).
            before_change: called with the partition folders about to be replaced by
                different rows, or deleted, before any is: the caller must stop vouching
                for their old fingerprints (e.g. save the state without them) so that a
                crash half-way can never leave a changed file behind a matching fingerprint.
            rewrite: write every partition, even those ``on_disk`` shows unchanged (a
                full refresh); ``before_change`` still hears only of changed ones.

        Files are written as one batch (see :meth:`pinsync.storage.Location.batch`): if
        anything fails, no partition of this call is replaced or deleted.
        """
        result = WriteResult()
        written: set[str] = set()
        chunks = [df] if isinstance(df, pl.DataFrame) else df
        by = list(partition_by)
        covers = list(covers)
        on_disk = dict(on_disk or {})
        with self.location.batch() as batch:
            for chunk in chunks:
                if not chunk.height:
                    continue
                parts = _partition_hashes(chunk, by)
                fps = dict(zip(parts["_dir"], parts["_fp"]))
                same = self._present(stream, [d for d, fp in fps.items() if on_disk.get(d) == fp])
                result.fingerprints.update(fps)
                if before_change and len(same) < len(fps):
                    before_change(sorted(set(fps) - same))
                if not rewrite:
                    result.files_unchanged += len(same)
                    written |= same
                    if len(same) == len(fps):
                        continue
                    if same:
                        changed = parts.filter(~pl.col("_dir").is_in(list(same))).select(by)
                        chunk = chunk.join(changed, on=by, how="semi", nulls_equal=True)
                for keys, data in self._encode_partitions(chunk, by, sort_by):
                    d = partition_dir(keys)
                    if d in written:
                        raise SinkError(f"{stream}: partition {d} was split across two files (a bug in pinsync)")
                    rel = f"{stream}/{d}/{DATA_FILE}"
                    self._write(rel, data, batch)
                    written.add(d)
                    result.files_written += 1
                    result.paths.append(rel)
                result.rows_written += chunk.height
        by_parent: dict[str, set[str]] = {}
        for keys in covers:
            d = partition_dir(keys)
            if d not in written:
                parent, _, leaf = d.rpartition("/")
                by_parent.setdefault(parent, set()).add(leaf)
        for parent, leaves in by_parent.items():   # one listing per parent, not one probe per day
            base = f"{stream}/{parent}" if parent else stream
            gone = sorted(leaves.intersection(self.location.listdir(base)))
            if gone and before_change:
                before_change([f"{parent}/{leaf}" if parent else leaf for leaf in gone])
            for leaf in gone:
                self.location.delete(f"{base}/{leaf}", recursive=True)
                result.files_deleted += 1
        return result

    def _present(self, stream: str, dirs: list[str]) -> set[str]:
        """Those of the partition folders ``dirs`` that hold a data file: a probe per
        folder locally, one recursive listing per parent folder on object stores."""
        if not dirs:
            return set()
        if self.location.local:
            return {d for d in dirs if self.location.exists(f"{stream}/{d}/{DATA_FILE}")}
        found = set()
        for parent in {d.rpartition("/")[0] for d in dirs}:
            base = f"{stream}/{parent}" if parent else stream
            found.update(rel[len(stream) + 1:].rpartition("/")[0] for rel in self.location.find(base)
                         if rel.endswith("/" + DATA_FILE))
        return found.intersection(dirs)

    def _encode_partitions(self, df: pl.DataFrame, by: list[str], sort_by: Sequence[str]) -> list[tuple[dict, bytes]]:
        """Each partition of ``df`` as Parquet bytes, sorted by ``sort_by``: one call into
        Polars' partitioned writer (about half the cost of a ``write_parquet`` per partition)."""
        outputs: list[tuple[int, dict, io.BytesIO]] = []

        def target(args) -> io.BytesIO:
            buf = io.BytesIO()
            outputs.append((args.index_in_partition, args.partition_keys.row(0, named=True), buf))
            return buf
        try:
            with cpu_slot():
                df.lazy().sort([*by, *sort_by], maintain_order=True).sink_parquet(
                    pl.PartitionBy(self.location.root or ".", key=by, include_key=True, file_path_provider=target,
                                   approximate_bytes_per_file=None),
                    compression="zstd", statistics=True, metadata={"pinsync.run_id": self.run_id})
        except Exception as e:
            raise SinkError(f"cannot encode Parquet for {self.location.path('')}: {type(e).__name__}: {e}") from None
        if any(index for index, _, _ in outputs):
            raise SinkError("a partition was split across two Parquet files (a bug in pinsync)")
        return [(keys, buf.getvalue()) for _, keys, buf in outputs]

    def existing_partitions(self, stream: str, prefix: dict | None = None) -> list[str]:
        """Partition folder names directly below ``stream/prefix`` (e.g. the dates of an account)."""
        rel = stream + ("/" + partition_dir(prefix) if prefix else "")
        return [n for n in self.location.listdir(rel) if "=" in n]

    def remove_stale_temps(self, stream: str, prefix: dict | None = None) -> int:
        """Remove temp files a killed run left below a table (or one account's partitions),
        so that even partitions this run does not rewrite stay readable as a folder. Only
        the unit that owns that part of the table may call this."""
        return self.location.remove_stale_temps(stream + ("/" + partition_dir(prefix) if prefix else ""))

    def has_file(self, stream: str, keys: dict | None = None) -> bool:
        rel = f"{stream}/{partition_dir(keys)}/{DATA_FILE}" if keys else f"{stream}/{DATA_FILE}"
        return self.location.exists(rel)
