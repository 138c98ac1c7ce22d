"""Helpers shared by the reliability suites (faults, crashes, bad input, secrets).

Not a test module: it holds the dataset and config builders, the output comparison
("every table equal to a fault-free run's, no duplicate key") and the invariant
"the state never points past data on disk".
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import polars as pl
import yaml
from polars.testing import assert_frame_equal

from pinsync.config import config_from_dict
from pinsync.fake import Dataset
from pinsync.ratelimit import RateLimits
from pinsync.sink import DATA_FILE, fingerprint
from pinsync.streams import DEFAULT_STREAMS, STREAMS
from tests.conftest import ALL_TABLES_PIN_METRICS

ENTITY_STREAMS = ("ad_accounts", "campaigns", "ad_groups", "ads", "pins")
ACCOUNT_ENTITIES = ("campaigns", "ad_groups", "ads")
ADS_ANALYTICS = ("campaign_analytics", "ad_group_analytics", "ad_analytics")


def small_dataset(today: dt.date, **kw) -> Dataset:
    """Three ad accounts, 32 ads per account and 30 pins (two pages at page_size 25)."""
    args = dict(seed=3, accounts=3, campaigns_per_account=4, ad_groups_per_campaign=2, ads_per_ad_group=4,
                pins=30, today=today, history_days=90)
    args.update(kw)
    return Dataset(**args)


def raw_config(url: str, root: Path, today: dt.date, *, days: int = 7, **extra) -> dict:
    """A raw config mapping (as YAML would give it) for the fake API at ``url``."""
    data = {
        "api_url": url,
        "auth": {"access_token": "pina.reliability-static-token-0123456789"},
        "start_date": (today - dt.timedelta(days=days)).isoformat(),
        "output": {"url": str(root / "out")},
        "state": {"url": str(root / "state" / "state.json")},
        "analytics": {"lookback_days": 3},
        "pin_analytics": {"metric_types": list(ALL_TABLES_PIN_METRICS)},
        "http": {"max_retries": 3, "retry_budget": 60, "timeout_seconds": 5, "max_retry_wait_seconds": 60},
        "max_workers": 4,
        "streams": ["all"],          # every stream: the core ones and the other objects and reports
    }
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    return data


def build_config(data: dict, today: dt.date, base: Path | None = None):
    return config_from_dict(data, base_dir=base, env={}, today=today)


def write_yaml(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ------------------------------------------------------------------ reading outputs
def data_files(out: Path, stream: str) -> list[Path]:
    return sorted((out / stream).rglob(DATA_FILE)) if (out / stream).is_dir() else []


def _key(stream: str, df: pl.DataFrame) -> tuple[str, ...]:
    """A table's key (the user account's analytics: with the split field's column, if any)."""
    key = STREAMS[stream].primary_key
    split = [c for c in df.columns if c in ("app_type", "owned_content", "source", "pin_format")]
    return key + tuple(split) if STREAMS[stream].kind == "user_analytics" else key


def read_stream(out: Path, stream: str) -> pl.DataFrame | None:
    """Every ``data.parquet`` of a table, concatenated and sorted by the primary key."""
    files = data_files(out, stream)
    if not files:
        return None
    df = pl.concat([pl.read_parquet(f) for f in files], how="vertical")
    return df.sort(list(_key(stream, df)))


def tables(out: Path) -> dict[str, pl.DataFrame]:
    """``{stream: frame sorted by key}`` for every table with at least one file."""
    found = {}
    for stream in STREAMS:
        df = read_stream(out, stream)
        if df is not None:
            found[stream] = df
    return found


def table_files(out: Path) -> set[str]:
    """Every file (hidden ones included) below the table folders, relative to ``out``."""
    names = set()
    for stream in STREAMS:
        if (out / stream).is_dir():
            names |= {str(p.relative_to(out)) for p in (out / stream).rglob("*") if p.is_file()}
    return names


def frames_equal(got: pl.DataFrame, want: pl.DataFrame | None, *, label: str) -> None:
    assert want is not None, f"{label}: not in the reference output"
    try:
        assert_frame_equal(got, want, check_exact=True)
    except AssertionError as e:
        raise AssertionError(f"{label}: {e}") from None


def assert_no_duplicate_keys(found: dict[str, pl.DataFrame]) -> None:
    for stream, df in found.items():
        key = list(_key(stream, df))
        dupes = df.filter(df.select(key).is_duplicated())
        assert dupes.height == 0, f"{stream}: duplicate keys\n{dupes.select(key)}"


def assert_same_output(out: Path, ref: Path | dict, *, streams=None) -> None:
    """The tables below ``out`` equal the reference ones, row for row and value for value."""
    got = tables(out)
    want = ref if isinstance(ref, dict) else tables(ref)
    if streams is not None:
        got = {s: d for s, d in got.items() if s in streams}
        want = {s: d for s, d in want.items() if s in streams}
    assert_no_duplicate_keys(got)
    assert sorted(got) == sorted(want), f"tables differ: {sorted(got)} != {sorted(want)}"
    for stream in want:
        frames_equal(got[stream], want[stream], label=stream)
    if not isinstance(ref, dict):
        only = {f for f in table_files(out) ^ table_files(ref)}
        if streams is not None:
            only = {f for f in only if f.split("/", 1)[0] in streams}
        assert not only, f"files differ from the reference output: {sorted(only)[:10]}"


def assert_tables_readable(out: Path) -> int:
    """Every table folder below ``out`` reads as a whole, as users read it between runs - Polars
    (the folder, and a ``**/*.parquet`` glob), pyarrow and DuckDB with hive partitioning - and
    holds no temp file. Returns how many tables were read."""
    import duckdb
    import pyarrow as pa
    import pyarrow.dataset as ds

    read = 0
    for stream in STREAMS:
        folder = out / stream
        if not folder.is_dir() or not any(folder.rglob(DATA_FILE)):
            continue
        temps = [str(p.relative_to(out)) for p in folder.rglob("*") if p.name.endswith(".tmp")]
        assert not temps, f"temp files inside a table folder: {temps}"
        rows = pl.scan_parquet(str(folder) + "/", hive_partitioning=True).collect().height
        assert pl.scan_parquet(f"{folder}/**/*.parquet", hive_partitioning=True).collect().height == rows, stream
        keys = STREAMS[stream].partition_by
        types = {"ad_account_id": pa.large_string(), "month": pa.string()}     # as the files hold them
        part = ds.partitioning(pa.schema([(k, types[k]) for k in keys]), flavor="hive") if keys else None
        found = ds.dataset(str(folder), format="parquet", partitioning=part)
        unified = pa.unify_schemas([f.physical_schema for f in found.get_fragments()], promote_options="permissive")
        assert ds.dataset(str(folder), format="parquet", partitioning=part,
                          schema=unified).to_table().num_rows == rows, stream
        types = ", ".join(f"'{k}': VARCHAR" for k in keys)
        options = "hive_partitioning=true, union_by_name=true" + (f", hive_types={{{types}}}" if keys else "")
        with duckdb.connect() as con:
            got = con.sql(f"select count(*) from read_parquet('{folder}/**/*.parquet', {options})").fetchall()[0][0]
        assert got == rows, stream
        read += 1
    return read


def without_run_ids(marks: dict) -> dict:
    """Bookmarks without the id of the run that wrote each (it differs per run)."""
    return {stream: {key: {k: v for k, v in mark.items() if k != "last_run"} for key, mark in keys.items()}
            for stream, keys in marks.items()}


def bookmarks(state_path: Path) -> dict:
    if not state_path.exists():
        return {}
    return without_run_ids(json.loads(state_path.read_text())["bookmarks"])


def partition_frame(out: Path, stream: str, rel: str) -> pl.DataFrame | None:
    f = out / stream / rel / DATA_FILE if rel else out / stream / DATA_FILE
    return pl.read_parquet(f) if f.is_file() else None


def _rows_up_to(root: Path, prefix: str, stream: str, last: dt.date) -> pl.DataFrame | None:
    """The rows of the month files below ``root/prefix`` dated up to ``last``, sorted by key."""
    base = root / prefix if prefix else root
    files = sorted(base.glob(f"month=*/{DATA_FILE}")) if base.is_dir() else []
    if not files:
        return None
    df = pl.concat([pl.read_parquet(f) for f in files], how="vertical")
    return df.filter(pl.col("date").cast(pl.Date) <= last).sort(list(_key(stream, df)))


def assert_state_not_ahead(state_path: Path, out: Path, ref_out: Path) -> int:
    """Every bookmark of the state file is backed by data on disk equal to the clean run's.

    * entity bookmarks: the table (or the account's partition) holds exactly the rows the
      bookmark counts, with the bookmark's content fingerprint, equal to the clean output;
    * analytics bookmarks: every row the clean run has for a date up to
      ``last_complete_date`` is in the month files, with the same values, and every month
      file it records (``files``) is on disk with the size recorded (``null``: being replaced).

    Returns how many bookmarks were checked.
    """
    checked = 0
    for stream, entries in bookmarks(state_path).items():
        spec = STREAMS[stream]
        for key, mark in entries.items():
            checked += 1
            if spec.kind in ("entity", "pin_lifetime"):      # current-state tables
                rel = f"ad_account_id={key}" if spec.partition_by else ""
                got = partition_frame(out, stream, rel)
                want = partition_frame(ref_out, stream, rel)
                if mark.get("rows", 0) == 0:
                    assert want is None or want.height == 0, (stream, key, "clean run has rows")
                    continue
                assert got is not None, f"state claims {mark['rows']} {stream} rows for {key}; no file on disk"
                assert got.height == mark["rows"], (stream, key, got.height, mark["rows"])
                assert fingerprint(got, spec.primary_key) == mark["fingerprint"], (stream, key)
                frames_equal(got, want, label=f"{stream}/{rel}")
            elif "last_complete_date" not in mark:      # only report tokens saved: it claims no data
                assert set(mark) <= {"reports", "last_run"}, (stream, key, mark)
            else:
                last = dt.date.fromisoformat(mark["last_complete_date"])
                prefix = f"ad_account_id={key}" if "ad_account_id" in spec.partition_by else ""
                want = _rows_up_to(ref_out / stream, prefix, stream, last)
                assert want is not None or spec.kind == "pin_analytics" or stream not in DEFAULT_STREAMS, (
                    stream, key, "clean run has no rows")
                if want is None or not want.height:
                    continue
                got = _rows_up_to(out / stream, prefix, stream, last)
                assert got is not None, f"state says {stream}/{key} is complete up to {last}; no month file on disk"
                frames_equal(got, want, label=f"{stream}/{prefix} up to {last}")
            for leaf, size in (mark.get("files") or {}).items():     # every month file it records is there
                path = out / stream / (f"ad_account_id={key}" if key != "*" else "") / leaf / DATA_FILE
                assert path.is_file(), f"state records {path}; not on disk"
                assert size is None or path.stat().st_size == size, (str(path), path.stat().st_size, size)
    return checked


# ------------------------------------------------------------------ waiting without waiting
class SleepRecorder:
    """An injected ``sleep`` that records every wait and advances a virtual clock instead.

    The run's rate limiters read :meth:`clock` (real time plus everything "slept"), so a
    limiter held back by a 429 sees the wait as done, as it would after a real sleep.
    """

    def __init__(self):
        self.calls: list[float] = []
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.calls.append(seconds)
            self._offset += max(0.0, seconds)

    def clock(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def drive_rate_limiters(self, monkeypatch) -> None:
        """Rate limiters built with this recorder as their ``sleep`` read :meth:`clock`, so a
        wait that returns at once never turns a limiter's hold-back into a busy loop."""
        original = RateLimits.__init__
        recorder = self

        def init(limits, per_minute, **kw):
            if kw.get("sleep") is recorder:
                kw["clock"] = recorder.clock
            original(limits, per_minute, **kw)

        monkeypatch.setattr(RateLimits, "__init__", init)
