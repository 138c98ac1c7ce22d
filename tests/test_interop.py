"""Other engines read pinsync's tables: DuckDB and pyarrow.dataset get the rows and types of ``pinsync.scan``.

``ad_account_id`` is stored inside every file as well as in the folder names; ``month``
(analytics tables) is a folder name only, derived from the ``date`` column the files hold.
Engines that infer partition types from folder names guess: DuckDB reads
``ad_account_id=000123`` as BIGINT 123. So each engine is given the partition types
explicitly — the same declaration a Spark or Trino table needs:

* DuckDB: ``read_parquet('<table>/**/*.parquet', hive_partitioning=true,
  hive_types={'ad_account_id': VARCHAR, 'month': VARCHAR}, union_by_name=true)``;
* pyarrow: ``ds.dataset(<table>, format="parquet", partitioning="hive", schema=<table schema>)``
  or ``partitioning=ds.partitioning(pa.schema([...]), flavor="hive")``.

Readers that take the folder names add ``month`` (``YYYY-MM`` of ``date``); the rows are
otherwise those of ``pinsync.scan``. Rows are sorted by ``date`` and the files carry
row-group statistics, so all three engines skip the files of other months when filtering
on ``date``, without the folder name.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import fsspec
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from polars.testing import assert_frame_equal

import pinsync
from pinsync.sink import Sink
from pinsync.storage import Location
from tests.conftest import ID_COLUMNS, SHORT, TODAY
from tests.s3_fixtures import read_tables

pytest_plugins = ["tests.s3_fixtures"]   # moto_server (one per session) and s3

DUCK_TYPES = {"ad_account_id": "VARCHAR", "month": "VARCHAR"}
ARROW_TYPES = {"ad_account_id": pa.large_string(), "month": pa.string()}


def duckdb_read(con, table_url: str, stream: str) -> duckdb.DuckDBPyRelation:
    keys = pinsync.STREAMS[stream].partition_by
    hive_types = ", ".join(f"'{k}': {DUCK_TYPES[k]}" for k in keys)
    options = "hive_partitioning=true, union_by_name=true" + (f", hive_types={{{hive_types}}}" if keys else "")
    return con.sql(f"select * from read_parquet('{table_url}/**/*.parquet', {options})")


def arrow_read(path: str, stream: str, filesystem=None, schema: pa.Schema | None = None) -> pa.Table:
    """With ``schema``: ``partitioning="hive"`` typed by it; else an explicit hive partitioning and
    the union of the files' schemas (files from before a column was added lack it)."""
    if schema is not None:
        return ds.dataset(path, format="parquet", partitioning="hive", schema=schema, filesystem=filesystem).to_table()
    keys = pinsync.STREAMS[stream].partition_by
    part = ds.partitioning(pa.schema([(k, ARROW_TYPES[k]) for k in keys]), flavor="hive") if keys else None
    found = ds.dataset(path, format="parquet", partitioning=part, filesystem=filesystem)
    unified = pa.unify_schemas([f.physical_schema for f in found.get_fragments()])
    return ds.dataset(path, format="parquet", partitioning=part, filesystem=filesystem, schema=unified).to_table()


def _same_rows(other: pl.DataFrame, scanned: pl.DataFrame, stream: str, what: str) -> None:
    key = list(pinsync.STREAMS[stream].primary_key)
    if "month" in other.columns and "month" not in scanned.columns:     # from the folder names
        assert other.schema["month"] == pl.String, (what, stream)
        assert other["month"].to_list() == [f"{d:%Y-%m}" for d in other["date"].to_list()], (what, stream)
        other = other.drop("month")
    assert set(other.columns) == set(scanned.columns), (what, stream)
    try:
        assert_frame_equal(other.select(scanned.columns).sort(key, nulls_last=True),
                           scanned.sort(key, nulls_last=True))
    except AssertionError as e:
        raise AssertionError(f"{what} / {stream}: {e}") from None


def _check_types(duck: duckdb.DuckDBPyRelation, table: pa.Table, stream: str) -> None:
    duck_types = dict(zip(duck.columns, map(str, duck.types)))
    for col in ID_COLUMNS & set(duck_types):
        assert duck_types[col] == "VARCHAR", (stream, col, duck_types[col])
        assert pa.types.is_string(table.schema.field(col).type) or pa.types.is_large_string(
            table.schema.field(col).type), (stream, col)
    if "date" in duck_types:
        assert duck_types["date"] == "DATE" and table.schema.field("date").type == pa.date32(), stream


def _connect(filesystem=None):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if filesystem is not None:
        con.register_filesystem(filesystem)      # s3:// through s3fs: no httpfs extension needed offline
    return con


# ------------------------------------------------------------------------------------------ every table
def test_every_table_reads_the_same_in_duckdb_and_pyarrow(make_config, tmp_path):
    config = make_config({"streams": ["all"]})      # every table; 20 days, so product groups have metrics too
    assert pinsync.run(config, today=TODAY).ok
    out = tmp_path / "out"
    con = _connect()
    for stream, scanned in read_tables(str(out)).items():
        assert scanned.height > 0, stream
        duck = duckdb_read(con, str(out / stream), stream)
        table = arrow_read(str(out / stream), stream)
        _check_types(duck, table, stream)
        _same_rows(duck.pl(), scanned, stream, "duckdb")
        _same_rows(pl.from_arrow(table), scanned, stream, "pyarrow")
        typed = arrow_read(str(out / stream), stream, schema=pl.DataFrame(schema=scanned.schema).to_arrow().schema)
        _same_rows(pl.from_arrow(typed), scanned, stream, "pyarrow partitioning='hive' + schema")
        # the keys are in the files too: reading without hive partitioning gives the same rows
        plain = con.sql(f"select * from read_parquet('{out / stream}/**/*.parquet', hive_partitioning=false, "
                        "union_by_name=true)").pl()
        _same_rows(plain, scanned, stream, "duckdb without hive")
    # non-data files never reach the engines (pyarrow skips _/. names; DuckDB's glob needs *.parquet)
    Location(str(out)).write("campaigns/_tmp.json", b"{}")
    Location(str(out)).write("campaigns/.hidden.parquet.tmp", b"junk")
    _same_rows(pl.from_arrow(arrow_read(str(out / "campaigns"), "campaigns")),
               pinsync.scan("campaigns", output=str(out)).collect(), "campaigns", "pyarrow with junk")


def test_tables_on_s3_read_the_same_in_duckdb_and_pyarrow(s3, make_config):
    bucket, so = s3
    config = make_config({**SHORT, "output": {"url": f"s3://{bucket}/out", "storage_options": so},
                          "state": {"url": f"s3://{bucket}/state/state.json", "storage_options": so}},
                         streams=["campaigns", "campaign_analytics", "pins", "pin_analytics"])
    assert pinsync.run(config, today=TODAY).ok
    fs = fsspec.filesystem("s3", **so)
    con = _connect(fs)
    for stream, scanned in read_tables(config.output.url, so, ["campaigns", "campaign_analytics", "pins",
                                                                  "pin_analytics"]).items():
        duck = duckdb_read(con, f"s3://{bucket}/out/{stream}", stream)
        table = arrow_read(f"{bucket}/out/{stream}", stream, filesystem=fs)
        _check_types(duck, table, stream)
        _same_rows(duck.pl(), scanned, stream, "duckdb on s3")
        _same_rows(pl.from_arrow(table), scanned, stream, "pyarrow on s3")
        # and Polars' own object store reader, with hive partitioning on the folder
        native = pl.scan_parquet(f"s3://{bucket}/out/{stream}/", hive_partitioning=True,
                                 storage_options=pinsync.read.polars_storage_options(so)).collect()
        _same_rows(native, scanned, stream, "polars scan_parquet on s3")


def test_leading_zero_ids_survive_every_reader(tmp_path):
    out = tmp_path / "lake"
    frame = pl.DataFrame({"campaign_id": ["0001", "0002"], "ad_account_id": ["000123", "000123"],
                          "date": [TODAY, TODAY - dt.timedelta(days=1)], "spend_in_dollar": [1.0, 2.0]},
                         schema={"campaign_id": pl.String, "ad_account_id": pl.String, "date": pl.Date,
                                 "spend_in_dollar": pl.Float64})
    Sink(Location(str(out)), "run-1").merge_months("campaign_analytics", frame, ("ad_account_id", "month"))
    scanned = pinsync.scan("campaign_analytics", output=str(out)).collect()
    assert scanned["ad_account_id"].unique().to_list() == ["000123"]
    duck = duckdb_read(_connect(), str(out / "campaign_analytics"), "campaign_analytics")
    assert {r[0] for r in duck.select("ad_account_id").fetchall()} == {"000123"}
    table = arrow_read(str(out / "campaign_analytics"), "campaign_analytics")
    assert set(table.column("ad_account_id").to_pylist()) == {"000123"}
    _same_rows(pl.from_arrow(table), scanned, "campaign_analytics", "pyarrow")
    _same_rows(duck.pl(), scanned, "campaign_analytics", "duckdb")


# ------------------------------------------------------------------------------------------ pruning on date
def _wreck_data_pages(path) -> None:
    """Overwrite a Parquet file's data pages, keeping its footer (schema and row-group
    statistics): a reader that reads the pages fails, one that skips the file by its
    statistics does not notice."""
    data = bytearray(path.read_bytes())
    end = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    data[4:end] = b"\xff" * (end - 4)
    path.write_bytes(bytes(data))


def test_engines_skip_other_months_when_filtering_on_date(make_config, tmp_path):
    config = make_config({"start_date": (TODAY - dt.timedelta(days=40)).isoformat()},
                         streams=["campaigns", "campaign_analytics", "pins", "pin_analytics"])
    assert pinsync.run(config, today=TODAY).ok
    out = tmp_path / "out"
    first = dt.date(2026, 11, 1)
    con = _connect()
    for stream in ("campaign_analytics", "pin_analytics"):
        folder = str(out / stream)
        want = pinsync.scan(stream, output=str(out)).filter(pl.col("date") >= first).collect()
        october = sorted((out / stream).rglob("month=2026-10/data.parquet"))
        assert want.height and october
        for f in october:
            _wreck_data_pages(f)
        with pytest.raises(Exception):        # the October files cannot be read any more...
            pl.scan_parquet(folder + "/**/*.parquet").collect()
        with pytest.raises(Exception):
            con.sql(f"select sum(epoch(date)) from read_parquet('{folder}/**/*.parquet')").fetchall()
        with pytest.raises(Exception):
            ds.dataset(folder, format="parquet").to_table()
        # ... yet every engine answers a filter on date, from the files' statistics alone
        _same_rows(pinsync.scan(stream, output=str(out)).filter(pl.col("date") >= first).collect(), want, stream,
                   "pinsync.scan")
        _same_rows(pl.scan_parquet(folder + "/", hive_partitioning=True).filter(pl.col("date") >= first).collect(),
                   want, stream, "polars")
        _same_rows(duckdb_read(con, folder, stream).filter("date >= DATE '2026-11-01'").pl(), want, stream, "duckdb")
        _same_rows(pl.from_arrow(ds.dataset(folder, format="parquet").to_table(filter=ds.field("date") >= first)),
                   want, stream, "pyarrow")


# ------------------------------------------------------------------------------------------ schema evolution
COLUMNS = ["SPEND_IN_DOLLAR", "PAID_IMPRESSION", "CAMPAIGN_ID", "CAMPAIGN_NAME"]
ADDED = "TOTAL_CLICKTHROUGH"


@pytest.mark.parametrize("how", ["full refresh of one account", "a later day"])
def test_adding_an_analytics_column_keeps_the_table_readable(how, make_config, dataset, tmp_path):
    streams = ["campaigns", "campaign_analytics"]
    first = make_config({**SHORT, "analytics": {"columns": COLUMNS}}, streams=streams)
    assert pinsync.run(first, today=TODAY).ok
    out = tmp_path / "out"
    before = pinsync.scan("campaign_analytics", config=first).collect()
    assert ADDED.lower() not in before.columns

    if how == "a later day":     # only the new day is fetched: every older file lacks the column
        second = make_config({"start_date": TODAY.isoformat(), "analytics": {"columns": COLUMNS + [ADDED]}},
                             streams=streams)
        assert pinsync.run(second, today=TODAY + dt.timedelta(days=1)).ok
        new_rows = pl.col("date") == TODAY
    else:                        # the columns changed: one account is re-fetched in full, the other is not
        acct = dataset.ad_accounts[0]["id"]
        second = make_config({**SHORT, "analytics": {"columns": COLUMNS + [ADDED]}, "ad_account_ids": [acct]},
                             streams=streams)
        assert pinsync.run(second, today=TODAY).ok
        new_rows = pl.col("ad_account_id") == acct

    scanned = pinsync.scan("campaign_analytics", config=second).collect()
    added = ADDED.lower()
    assert scanned.schema[added] == pl.Int64
    old, new = scanned.filter(~new_rows), scanned.filter(new_rows)
    assert old.height and new.height
    assert old[added].null_count() == old.height                        # older files: null, not an error
    assert new[added].null_count() < new.height
    # the rows written before the change are still there, unchanged
    key = ["campaign_id", "date"]
    assert_frame_equal(old.select(before.columns).sort(key), before.filter(~new_rows).sort(key))
    # without a config the table's columns are the union of its files'
    unioned = pinsync.scan("campaign_analytics", output=str(out)).collect()
    _same_rows(unioned, scanned, "campaign_analytics", "scan without config")
    # DuckDB (union_by_name) and pyarrow (unified schema) agree
    duck = duckdb_read(_connect(), str(out / "campaign_analytics"), "campaign_analytics")
    _same_rows(duck.pl(), scanned, "campaign_analytics", "duckdb union_by_name")
    table = arrow_read(str(out / "campaign_analytics"), "campaign_analytics")
    _same_rows(pl.from_arrow(table), scanned, "campaign_analytics", "pyarrow unified schema")
