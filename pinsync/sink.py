"""Tables on disk or S3: hive-partitioned Parquet, one file per partition, written atomically.

Layout: ``{output}/{stream}/[key=value/...]data.parquet``. Entity tables: one file per
table or per ad account. Analytics tables: one file per (ad account,) month,
``ad_account_id=…/month=YYYY-MM/data.parquet``; the month is a folder name only, derived
from each row's ``date`` by :func:`month_of` (``date`` is in the file, so readers prune on
it with the row-group statistics). Each partition is exactly one file with a fixed name,
so re-writing a partition replaces it and a retry can never duplicate rows. The other
partition keys are also stored inside the files (ids stay strings). Nothing but
``data.parquet`` files live inside table folders: a sink used as a context manager (a run)
stages its temp files in its own folder below ``{output}/.pinsync-tmp/``
(:class:`pinsync.storage.Staging`), removed when it closes - or, after a kill, by the next
run that finds it stale - so a table stays readable as a folder at every moment.

Re-fetched analytics days are merged into their month file (:meth:`Sink.merge_months`):
the old file is scanned lazily, the re-fetched days filtered out, the fetched rows added,
and the month written once, sorted by (``date``, key) - or left alone when its content
hash is the one the state vouches for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import polars as pl

from pinsync.buffer import grouped, in_partitions
from pinsync.errors import SinkError
from pinsync.frames import run_index
from pinsync.memory import cpu_slot
from pinsync.schemas import Column
from pinsync.storage import STAGING, Location, explain

DATA_FILE = "data.parquet"
DATE = "date"        # every analytics row's time key (a Date; a Datetime for HOUR)
MONTH = "month"      # the analytics tables' time partition: a folder name, derived from DATE


def month_of(date):
    """The month file a row belongs to: ``YYYY-MM`` of its ``date`` (UTC), for an
    expression or a single date. The one place this is decided: WEEK, MONTH and TOTAL rows
    go in the month of their bucket's (or window's) start, HOUR rows in their hour's."""
    return date.dt.strftime("%Y-%m") if isinstance(date, pl.Expr) else date.strftime("%Y-%m")


def with_month(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with the ``month`` its rows are filed under (a column only while in memory)."""
    return df.with_columns(month_of(pl.col(DATE)).alias(MONTH))


def _value(v) -> str:
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    return quote(str(v), safe="")


def partition_dir(keys: dict) -> str:
    """``ad_account_id=1/month=2026-11`` for ``{"ad_account_id": "1", "month": "2026-11"}``.
    A missing value never becomes a folder (the extractor refuses such rows first)."""
    missing = [k for k, v in keys.items() if v is None]
    if missing:
        raise SinkError(f"no value for the partition key {missing[0]!r} (a bug in pinsync: please report it)")
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
_FOOTER_READ = 64 * 1024     # the tail read to find a file's footer (Polars' own footers are a few KiB)

# Month fingerprints use Polars' row hash, which is stable within one Polars version
# only: fingerprints recorded under another version (or another table schema) are ignored.
_ROW_SEEDS = (0x5EED1, 0x5EED2)


def fingerprint_scheme(columns: Sequence[Column], settings: str = "") -> str:
    """What month fingerprints depend on besides the rows: the layout, the hash
    implementation, and what the rows mean - the table's columns and the settings they were
    fetched with (granularity, attribution windows, metric types...). Fingerprints recorded
    under another scheme are not comparable."""
    spec = ",".join(f"{c.name}:{c.dtype}" for c in columns) + "|" + settings
    return f"month/polars-{pl.__version__}/" + hashlib.sha256(spec.encode()).hexdigest()[:12]


FINGERPRINT = "pinsync.fingerprint"   # a month file's footer: "<scheme>/<content hash>" of its rows


def other_meaning(recorded: str | None, scheme: str) -> bool:
    """Whether a file's footer fingerprint (``month/polars-<version>/<meaning>/<hash>``) was
    made for other columns or settings than ``scheme`` (the hash implementation aside).
    Unknown (no fingerprint, no scheme): no."""
    theirs, ours = (recorded or "").split("/")[2:3], scheme.split("/")[2:3]
    return bool(theirs and ours) and theirs != ours


def content_hash(df: pl.DataFrame) -> str:
    """A content hash of a month's rows, without encoding anything: its row count and the
    sums of two 64-bit row hashes (summed as 32-bit halves, so nothing overflows). Row order
    does not matter, and rows are unique by key, so two different months collide with a
    chance of about 2**-128."""
    return content_hashes(df, [df.height])[0] if df.height else _digest(0, [0] * 2 * len(_ROW_SEEDS))


def content_hashes(df: pl.DataFrame, lengths: Sequence[int]) -> list[str]:
    """:func:`content_hash` of each run of consecutive rows of ``df``, ``lengths`` rows each
    (none empty), in order: the months of a frame sorted by month, hashed in one pass."""
    group = run_index(lengths).alias(_GROUP)
    hashes = pl.DataFrame([group, *(df.hash_rows(seed=seed).alias(str(seed)) for seed in _ROW_SEEDS)])  # no copy
    sums = hashes.group_by(_GROUP, maintain_order=True).agg((pl.exclude(_GROUP) // 2**32).sum().name.suffix("_hi"),
                                                            (pl.exclude(_GROUP) % 2**32).sum().name.suffix("_lo"))
    return [_digest(n, row[1:]) for n, row in zip(lengths, sums.iter_rows(), strict=True)]


def _digest(height: int, sums: Sequence[int]) -> str:
    return hashlib.blake2b(repr([height, *sums]).encode(), digest_size=16).hexdigest()


_GROUP = "__group"

# New months handled together: up to this many rows (at least one month) are filtered, sorted
# and hashed as one frame, so that small months do not each pay Polars' per-call cost (the
# agency-sized benchmark's 2,689 months average 400 rows); a group holds about as much as one
# large month (a few MB), and a larger month is still handled alone.
GROUP_ROWS = 8_192


@dataclass
class WriteResult:
    """What one write did."""

    files_written: int = 0
    files_deleted: int = 0
    rows_written: int = 0
    paths: list[str] = field(default_factory=list)
    files_unchanged: int = 0
    fingerprints: dict[str, str] = field(default_factory=dict)   # month folder -> content hash
    sizes: dict[str, int] = field(default_factory=dict)          # month folder -> bytes of the file written

    def wrote(self, rel: str, rows: int, folder: str | None = None, size: int = 0) -> None:
        """One file written: ``rows`` rows at ``rel`` (a month's ``folder``: with its size)."""
        self.files_written += 1
        self.rows_written += rows
        self.paths.append(rel)
        if folder is not None:
            self.sizes[folder] = size

    def add(self, other: "WriteResult") -> None:
        self.files_written += other.files_written
        self.files_deleted += other.files_deleted
        self.rows_written += other.rows_written
        self.paths += other.paths
        self.files_unchanged += other.files_unchanged
        self.fingerprints.update(other.fingerprints)
        self.sizes.update(other.sizes)


class Sink:
    """Writes tables below one output location.

    Args:
        location: the output root (``output.url``).
        run_id: recorded in each file's Parquet metadata (provenance).
    """

    def __init__(self, location: Location, run_id: str):
        self.location = location
        self.run_id = run_id
        self.stage = None

    def __enter__(self) -> "Sink":
        try:
            self.stage = self.location.staging(self.run_id)
        except OSError as e:
            raise SinkError(f"cannot write to {self.location.path(STAGING)}: {e}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.stage is not None:
            self.stage.close()
            self.stage = None

    def _encode(self, rel: str, df: pl.DataFrame, metadata: dict[str, str] | None = None) -> bytes:
        """``df`` as Parquet bytes (the caller holds a :func:`cpu_slot`)."""
        buf = io.BytesIO()
        try:
            df.write_parquet(buf, compression="zstd", statistics=True,
                             metadata={"pinsync.run_id": self.run_id, **(metadata or {})})
        except Exception as e:
            raise SinkError(f"cannot write {self.location.path(rel)}: {type(e).__name__}: {e}") from None
        return buf.getvalue()

    def _write(self, rel: str, data: bytes, batch=None) -> None:
        try:
            self.location.write(rel, data, batch=batch, stage=self.stage)
        except Exception as e:
            raise SinkError(f"cannot write {self.location.path(rel)}: {type(e).__name__}: {e}") from None

    def write_table(self, stream: str, df: pl.DataFrame) -> WriteResult:
        """Replace an unpartitioned table with ``df``."""
        rel = f"{stream}/{DATA_FILE}"
        with cpu_slot():
            data = self._encode(rel, df)
        self._write(rel, data)
        return WriteResult(1, 0, df.height, [rel])

    def replace_partitions(self, stream: str, df: pl.DataFrame, partition_by: Sequence[str], *,
                           covers: Iterable[dict] = (), sort_by: Sequence[str] = ()) -> WriteResult:
        """Replace each partition of ``df`` whole (entity tables: one file per ad account);
        delete the ``covers`` partitions that got no rows. The files are written as one
        batch (see :meth:`pinsync.storage.Location.batch`)."""
        result = WriteResult()
        by = list(partition_by)
        written = set()
        with self.location.batch() as batch:
            for keys, part in df.partition_by(by, as_dict=True, maintain_order=True).items() if df.height else ():
                d = partition_dir(dict(zip(by, keys)))
                rel = f"{stream}/{d}/{DATA_FILE}"
                with cpu_slot():
                    data = self._encode(rel, part.sort(list(sort_by)) if sort_by else part)
                self._write(rel, data, batch)
                written.add(d)
                result.wrote(rel, part.height)
        for keys in covers:
            d = partition_dir(keys)
            if d not in written and self.location.exists(f"{stream}/{d}/{DATA_FILE}"):
                self.location.delete(f"{stream}/{d}", recursive=True)
                result.files_deleted += 1
        return result

    def merge_months(
        self,
        stream: str,
        df: pl.DataFrame | Iterable[pl.DataFrame],
        partition_by: Sequence[str],
        *,
        covers: Iterable[dict] = (),
        sort_by: Sequence[str] = (DATE,),
        on_disk: Mapping[str, str] | None = None,
        before_change: Callable[[list[str], bool], None] | None = None,
        rewrite: bool = False,
        scheme: str = "",
        replace_unreadable: bool | Collection[str] = False,
    ) -> WriteResult:
        """Merge fetched analytics rows into their month files.

        For each month touched, the new file holds the old file's rows whose ``date`` was
        not fetched again, plus the fetched rows, sorted by ``sort_by``; a month left with
        no rows has no file.

        Args:
            stream: the table.
            df: the fetched rows, unique by key; or an iterable of frames (e.g. from a
                spilled buffer), each holding whole months: a month must not be split
                across two frames. A ``month`` column is added when absent.
            partition_by: the table's partition keys, ``month`` last (e.g.
                ``("ad_account_id", "month")``).
            covers: what the fetch covered, one mapping per ``date`` bucket with the other
                partition keys (``{"ad_account_id": "1", "date": date(2026, 11, 3)}``): the
                old rows of those dates are replaced, even by nothing (a day that came back
                empty disappears).
            sort_by: row order inside each file (``date`` first, so readers prune on it).
            on_disk: the :func:`content_hash` of month files already written (from the
                state), by folder. A month whose merged rows have that hash, and whose file
                exists, is left alone instead of being rewritten. Every month's hash is
                returned in the result (``fingerprints``), and the size of every file
                written (``sizes``).
            before_change: called with the month folders about to be replaced by different
                rows (``False``), or deleted (``True``), before any is: the caller must stop
                vouching for their old hashes and sizes (e.g. save the state without them)
                so that a crash half-way can never leave a changed file behind a matching
                hash.
            rewrite: write every month, even those ``on_disk`` shows unchanged (a full
                refresh); ``before_change`` still hears only of changed ones.
            scheme: the :func:`fingerprint_scheme` of the rows. Each file's footer records
                it with the rows' hash, and a month is only left alone when the file's
                footer reads and records exactly that: a file rewritten by another
                configuration sharing the output, truncated or corrupt is written again. An
                old file of other columns or settings adds its columns only if some of its
                rows are kept.
            replace_unreadable: the fetch covers every day the unit holds in these month
                folders (True: in every month): an old file there that is unreadable is
                replaced by the fetched rows, or deleted when none came (elsewhere, that is an
                error).

        Memory: one month is held at a time (the old file is scanned lazily and filtered
        as it is read), or a group of new months of up to :data:`GROUP_ROWS` rows. Files
        are written as one batch (see :meth:`pinsync.storage.Location.batch`): if anything
        fails, no month of this call is replaced or deleted.
        """
        by = list(partition_by)
        if by[-1:] != [MONTH]:
            raise SinkError(f"{stream}: month files need 'month' as the last partition key (a bug in pinsync)")
        by_month: dict[tuple, list] = {}                 # a month's partition keys -> the dates fetched
        for c in covers:
            by_month.setdefault((*(c[k] for k in by[:-1]), month_of(c[DATE])), []).append(c[DATE])
        fetched = {partition_dir(dict(zip(by, keys))): days for keys, days in by_month.items()}
        on_disk = dict(on_disk or {})
        result, done, gone = WriteResult(), set(), []
        merge = dict(stream=stream, sort_by=list(sort_by), on_disk=on_disk, before_change=before_change,
                     rewrite=rewrite, result=result, gone=gone, scheme=scheme)

        def previous(folder: str) -> tuple[pl.LazyFrame | None, str | None, bool]:
            return self._previous(f"{stream}/{folder}/{DATA_FILE}",
                                  replace_unreadable is True or folder in (replace_unreadable or ()))
        with self.location.batch() as batch:
            for chunk in [df] if isinstance(df, pl.DataFrame) else df:
                if not chunk.height:
                    continue
                if MONTH not in chunk.columns:
                    chunk = with_month(chunk)
                months = chunk.group_by(by, maintain_order=True).agg(pl.col(DATE).unique(), pl.len())
                new = []                                 # months no readable file holds yet: (keys, folder, height)
                for *keys, dates, height in months.iter_rows():
                    d = partition_dir(dict(zip(by, keys)))
                    if d in done:
                        raise SinkError(f"{stream}: month {d} was split across two chunks (a bug in pinsync)")
                    done.add(d)
                    days = fetched.pop(d, []) + dates
                    found = previous(d)
                    if found[0] is None:
                        new.append((keys, d, height))
                        continue
                    # the month's rows, filtered as the merge runs: no copy of them is made first
                    self._merge_month(folder=d, rows=chunk.lazy().filter(in_partitions(by, [keys])).drop(MONTH),
                                      days=days, date_type=chunk.schema[DATE], batch=batch, previous=found,
                                      **merge)
                self._write_new(stream, chunk, by, new, sort_by=list(sort_by), batch=batch, result=result,
                                before_change=before_change, scheme=scheme)
            for d, days in fetched.items():              # months whose fetched days all came back empty
                self._merge_month(folder=d, rows=None, days=days, date_type=None, batch=batch, previous=previous(d),
                                  **merge)
        for rel in gone:
            self.location.delete(rel, recursive=True)
            result.files_deleted += 1
        return result

    def _write_new(self, stream: str, chunk: pl.DataFrame, by: list[str], months: list[tuple[list, str, int]], *,
                   sort_by: list[str], batch, result: WriteResult, before_change, scheme: str) -> None:
        """Write the ``months`` of ``chunk`` that no readable file holds yet (``(keys, folder,
        height)`` each). Small months are handled together, :data:`GROUP_ROWS` rows at a time:
        one filter, sort and hash for the group instead of one per month (an agency's
        accounts have hundreds of months of a few hundred rows), then each is encoded from its
        slice of the sorted group."""
        order = list(dict.fromkeys([*by, *sort_by]))
        for group in grouped(months, lambda m: m[2], GROUP_ROWS):
            with cpu_slot():
                rows = (chunk if sum(n for _, _, n in group) == chunk.height      # the whole chunk: no copy
                        else chunk.filter(in_partitions(by, [keys for keys, _, _ in group])))
                rows = rows.sort(order)
                lengths = rows.group_by(by, maintain_order=True).len()
                rows = rows.drop(MONTH)
                counts = lengths["len"].to_list()
                hashes = content_hashes(rows, counts)
            folders = [partition_dir(dict(zip(by, keys))) for *keys, _ in lengths.iter_rows()]   # in sorted order
            if before_change:
                before_change(folders, False)
            offset = 0
            for folder, n, fp in zip(folders, counts, hashes):
                rel = f"{stream}/{folder}/{DATA_FILE}"
                with cpu_slot():
                    data = self._encode(rel, rows.slice(offset, n), {FINGERPRINT: f"{scheme}/{fp}"})
                offset += n
                self._write(rel, data, batch)
                result.fingerprints[folder] = fp
                result.wrote(rel, n, folder, len(data))
            del rows

    def _merge_month(self, *, stream: str, folder: str, rows: pl.LazyFrame | None, days: list, date_type,
                     sort_by: list[str], on_disk: dict[str, str], before_change, rewrite: bool, result: WriteResult,
                     gone: list[str], batch, scheme: str,
                     previous: tuple[pl.LazyFrame | None, str | None, bool]) -> None:
        """Merge one month: the old file's rows outside ``days``, plus ``rows`` (the fetched
        ones, dated within ``days``); write it unless it is the vouched one. ``previous``:
        what :meth:`_previous` found (read before the CPU slot: S3 GETs)."""
        rel = f"{stream}/{folder}/{DATA_FILE}"
        old, recorded, broken = previous
        parts = [rows] if rows is not None else []
        if old is not None:
            replaced = pl.Series(DATE, days, dtype=date_type).unique()
            parts.append(old.filter(~pl.col(DATE).is_in(replaced.implode())))
        if not parts:
            if broken:              # an unreadable file whose days all came back empty
                if before_change:
                    before_change([folder], True)
                gone.append(f"{stream}/{folder}")
            return
        data = fp = None
        with cpu_slot():      # sort, hash and encode one month at a time per CPU
            try:
                if old is not None and other_meaning(recorded, scheme):
                    # written with other columns or settings: its columns go with its last rows
                    kept = parts[-1].collect()
                    parts[-1:] = [kept.lazy()] if kept.height else []
                merged = (pl.concat(parts, how="diagonal_relaxed").sort(sort_by).collect() if parts
                          else pl.DataFrame())
            except pl.exceptions.PolarsError as e:
                raise SinkError(f"cannot merge the fetched days into {self.location.path(rel)} "
                                f"({type(e).__name__}: {e}); if the table was written with other settings, run "
                                "with --full-refresh into a new location") from None
            height = merged.height
            if height:
                fp = content_hash(merged)
                same = old is not None and on_disk.get(folder) == fp and recorded == f"{scheme}/{fp}"
                if rewrite or not same:
                    data = self._encode(rel, merged, {FINGERPRINT: f"{scheme}/{fp}"})
            del merged
        if not height:
            if old is not None or broken:
                if before_change:
                    before_change([folder], True)
                gone.append(f"{stream}/{folder}")
            return
        result.fingerprints[folder] = fp
        if data is None:
            result.files_unchanged += 1
            return
        if before_change and not same:
            before_change([folder], False)
        self._write(rel, data, batch)
        result.wrote(rel, height, folder, len(data))

    def _previous(self, rel: str, replace_unreadable: bool) -> tuple[pl.LazyFrame | None, str | None, bool]:
        """The month file to merge the fetched rows into (None: none, or an unreadable one to
        replace), the fingerprint its footer records, and whether it is an unreadable one."""
        try:
            meta = self.footer(rel)
        except SinkError as e:
            if replace_unreadable:
                return None, None, True
            raise SinkError(f"{e}: run with --full-refresh to fetch its days again") from None
        if meta is None:
            return None, None, False
        return self._scan(rel), meta.get(FINGERPRINT), False

    def footer(self, rel: str) -> dict[str, str] | None:
        """The key-value metadata of the Parquet file ``rel``, read from its footer alone (on an
        object store: one ranged read of its last 64 KiB); None if there is no file.

        Raises:
            SinkError: the file is not a whole Parquet file (truncated, or corrupt).
        """
        try:
            tail = self.location.tail(rel, _FOOTER_READ)
            if tail is not None and len(tail) >= 12 and tail[-4:] == b"PAR1":
                size = int.from_bytes(tail[-8:-4], "little") + 8
                if size > len(tail) and len(tail) == _FOOTER_READ:      # a footer longer than the read
                    tail = self.location.tail(rel, size)
        except Exception as e:
            raise SinkError(f"cannot read {self.location.path(rel)}: {type(e).__name__}: {e}") from None
        if tail is None:
            return None
        try:
            if len(tail) < 12 or tail[-4:] != b"PAR1" or size > len(tail):
                raise ValueError("no Parquet footer")
            return pl.read_parquet_metadata(io.BytesIO(b"PAR1" + tail[-size:]))
        except Exception:
            raise SinkError(f"{self.location.path(rel)} is unreadable (truncated or corrupt)") from None

    def _scan(self, rel: str) -> pl.LazyFrame | None:
        """The file at ``rel``, scanned lazily (on an object store: fetched with one GET), or
        None if there is none."""
        try:
            if self.location.local:
                path = self.location.path(rel)
                return (pl.scan_parquet(path, glob=False, hive_partitioning=False) if self.location.exists(rel)
                        else None)
            data = self.location.read(rel)
        except Exception as e:
            raise SinkError(f"cannot read {self.location.path(rel)}: {type(e).__name__}: {e}") from None
        return None if data is None else pl.scan_parquet(io.BytesIO(data), hive_partitioning=False)

    def month_files(self, stream: str, prefix: str = "") -> dict[str, int]:
        """The month files of a table, or of one ad account's part of it (``prefix``:
        ``ad_account_id=1``), with their sizes in bytes: ``{"month=2026-11": 48213}``. One
        listing (locally: one walk of the folder; on an object store: one listing of the
        prefix, paged by the store), never a read of a file."""
        base = f"{stream}/{prefix}".rstrip("/")
        try:
            found = self.location.sizes(base)
        except Exception as e:
            raise SinkError(f"cannot list {self.location.path(base)}: {explain(e, self.location.url)[0]}") from None
        out = {}
        for rel, size in found.items():
            leaf, _, name = rel.partition("/")
            if name == DATA_FILE and leaf.startswith(MONTH + "="):
                out[leaf] = size
        return out

    def day_layout(self, stream: str) -> str | None:
        """A folder of ``stream`` in the earlier one-file-per-day layout (``date=`` folders),
        if there is one: the table's top folder and its first ad account folder are looked at
        (one or two listings)."""
        names = self.location.listdir(stream)
        below = next((n for n in names if n.startswith("ad_account_id=")), None)
        if below:
            names = [f"{below}/{n}" for n in self.location.listdir(f"{stream}/{below}")]
        return next((f"{stream}/{n}" for n in names if n.rpartition("/")[2].startswith(f"{DATE}=")), None)

    def remove_stale_temps(self, stream: str, prefix: dict | None = None) -> int:
        """Remove temp files a killed run left below a table (or one account's partitions),
        so that even partitions this run does not rewrite stay readable as a folder. Only
        the unit that owns that part of the table may call this."""
        return self.location.remove_stale_temps(stream + ("/" + partition_dir(prefix) if prefix else ""))

    @staticmethod
    def file_of(stream: str, keys: dict | None = None) -> str:
        """The data file of a table (or of one of its partitions)."""
        return f"{stream}/{partition_dir(keys)}/{DATA_FILE}" if keys else f"{stream}/{DATA_FILE}"
