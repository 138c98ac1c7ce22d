"""The Python API for ad-hoc analysis: ``pinsync.extract``, ``pinsync.scan``, ``pinsync.run``."""

from __future__ import annotations

import datetime as dt
import inspect
import subprocess
import sys
import types
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import pinsync
from pinsync.config import DEFAULT_ANALYTICS_COLUMNS, DEFAULT_PIN_METRIC_TYPES
from pinsync.read import table_schema
from pinsync.schemas import (ENTITY_COLUMNS, analytics_columns, pin_analytics_columns, pin_lifetime_columns,
                             polars_schema, targeting_analytics_columns, user_account_analytics_columns)
from pinsync.streams import DEFAULT_STREAMS
from pinsync.sink import Sink
from pinsync.storage import Location
from pinsync.sync import StreamStats
from tests.conftest import ID_COLUMNS, REFRESH_AUTH, SHORT, TODAY
from tests.s3_fixtures import list_keys, read_tables

pytest_plugins = ["tests.s3_fixtures"]   # moto_server (one per session) and s3


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


# ------------------------------------------------------------------------------------------ extract
def test_extract_returns_typed_frames_equal_to_what_a_run_writes_and_writes_nothing(make_config, fake, tmp_path):
    config = make_config({"auth": REFRESH_AUTH, "streams": ["all"]})         # every stream, the other ones too
    frames = {name: pinsync.extract(name, config, today=TODAY) for name in pinsync.STREAMS}

    # nothing but the token store (and its lock file) was written: no output folder, no state file
    assert not (tmp_path / "out").exists() and not Path(config.state.url).exists()
    assert _files(tmp_path) <= {"state/tokens.json", "state/tokens.json.lock"}
    assert fake.current_refresh_token in (tmp_path / "state" / "tokens.json").read_text()
    assert fake.refresh_count == 1          # later calls reuse the stored access token

    for name, df in frames.items():
        assert isinstance(df, pl.DataFrame) and df.height > 0, name
        assert df.schema == table_schema(name, config), name      # the declared dtypes
        for col in ID_COLUMNS & set(df.columns):
            assert df.schema[col] == pl.String, (name, col)
        if "date" in df.columns:
            assert df.schema["date"] == pl.Date, name

    assert pinsync.run(config, today=TODAY).ok
    written = read_tables(config.output.url, config=config)
    for name, df in frames.items():
        key = list(pinsync.STREAMS[name].primary_key)
        assert_frame_equal(df.sort(key, nulls_last=True), written[name])


def test_extract_honours_start_date_and_rejects_unknown_streams(make_config):
    config = make_config()
    df = pinsync.extract("campaign_analytics", config, today=TODAY, start_date=TODAY - dt.timedelta(days=3))
    assert df.height and set(df["date"].unique().to_list()) <= {TODAY - dt.timedelta(days=d) for d in (1, 2, 3)}
    with pytest.raises(pinsync.ConfigError, match="unknown stream"):
        pinsync.extract("bords", config)


def test_extract_with_an_s3_config_writes_nothing_but_the_token_store(s3, make_config):
    bucket, so = s3
    config = make_config({"auth": REFRESH_AUTH,
                          "output": {"url": f"s3://{bucket}/out", "storage_options": so},
                          "state": {"url": f"s3://{bucket}/state/state.json", "storage_options": so}})
    df = pinsync.extract("campaigns", config, today=TODAY)
    assert df.height and df.schema["ad_account_id"] == pl.String
    assert sorted(list_keys(so, bucket)) == ["state/tokens.json"]


# ------------------------------------------------------------------------------------------ scan
@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    """An output root on local disk or in a fresh S3 bucket: ``(url, storage_options)``."""
    if request.param == "local":
        return str(tmp_path / "lake"), None
    bucket, so = request.getfixturevalue("s3")
    return f"s3://{bucket}/lake", so


def _frame(schema: pl.Schema, rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def _write_leading_zero_tables(url: str, so: dict | None) -> dict[str, pl.DataFrame]:
    """A campaigns and a campaign_analytics table whose ids start with zeros, written by the sink."""
    sink = Sink(Location(url, so), run_id="test-run")
    campaigns = _frame(pl.Schema(table_schema("campaigns")), [
        {"id": "0000001", "ad_account_id": "000123", "name": "a", "status": "ACTIVE"},
        {"id": "0000002", "ad_account_id": "000123", "name": "b", "status": "PAUSED"},
        {"id": "0000003", "ad_account_id": "0456", "name": "c", "status": "ARCHIVED"},
    ])
    schema = polars_schema(analytics_columns("campaign", DEFAULT_ANALYTICS_COLUMNS, "DAY"))
    analytics = _frame(schema, [
        {"campaign_id": c, "ad_account_id": a, "date": TODAY - dt.timedelta(days=d), "spend_in_dollar": 1.5 * d,
         "paid_impression": 10 * d, "granularity": "DAY", "currency": "USD"}
        for c, a in (("0000001", "000123"), ("0000003", "0456")) for d in (1, 2)
    ])
    sink.replace_partitions("campaigns", campaigns, ("ad_account_id",), sort_by=("id",))
    sink.merge_months("campaign_analytics", analytics, ("ad_account_id", "month"), sort_by=("date", "campaign_id"))
    return {"campaigns": campaigns, "campaign_analytics": analytics}


def test_scan_reads_declared_dtypes_and_keeps_leading_zeros(lake):
    url, so = lake
    written = _write_leading_zero_tables(url, so)
    for name, want in written.items():
        lf = pinsync.scan(name, output=url, storage_options=so)
        assert isinstance(lf, pl.LazyFrame)
        schema = lf.collect_schema()
        assert schema["ad_account_id"] == pl.String                     # not re-inferred from the path
        assert schema == want.schema
        got = lf.collect()
        assert sorted(got["ad_account_id"].unique().to_list()) == ["000123", "0456"]
        key = list(pinsync.STREAMS[name].primary_key)
        assert_frame_equal(got.sort(key), want.sort(key))
    assert pinsync.scan("campaign_analytics", output=url, storage_options=so).collect_schema()["date"] == pl.Date
    # filters push down to the typed columns
    one = pinsync.scan("campaign_analytics", output=url, storage_options=so).filter(
        (pl.col("ad_account_id") == "000123") & (pl.col("date") == TODAY - dt.timedelta(days=1))).collect()
    assert one["campaign_id"].to_list() == ["0000001"]


def test_scan_ignores_files_that_are_not_data(lake):
    url, so = lake
    _write_leading_zero_tables(url, so)
    before = {n: pinsync.scan(n, output=url, storage_options=so).collect() for n in ("campaigns", "campaign_analytics")}
    loc = Location(url, so)
    day = (TODAY - dt.timedelta(days=1)).isoformat()
    for rel in ("campaigns/_tmp.json", "campaigns/.hidden.parquet.tmp", "campaigns/ad_account_id=000123/_SUCCESS",
                "campaigns/ad_account_id=000123/.data.parquet.0a1b2c.tmp", "campaign_analytics/_tmp.json",
                "campaign_analytics/.hidden.parquet.tmp", "campaign_analytics/_pinsync/manifest.json",
                f"campaign_analytics/ad_account_id=0456/month={day[:7]}/.data.parquet.3d4e5f.tmp",
                "campaign_analytics/notes.txt"):
        loc.write(rel, b"not a parquet file")
    for name, want in before.items():
        assert_frame_equal(pinsync.scan(name, output=url, storage_options=so).collect(), want)


def test_scan_of_an_empty_table_is_an_empty_typed_frame(lake):
    url, so = lake
    Location(url, so).write("campaign_analytics/_tmp.json", b"{}")       # a folder holding no data file
    for name, spec in pinsync.STREAMS.items():
        df = pinsync.scan(name, output=url, storage_options=so).collect()
        assert df.height == 0, name
        if name in ENTITY_COLUMNS:
            assert df.schema == polars_schema(ENTITY_COLUMNS[name]), name
        elif spec.kind == "pin_analytics":
            assert df.schema == polars_schema(pin_analytics_columns(DEFAULT_PIN_METRIC_TYPES))
        elif spec.kind == "pin_lifetime":
            assert df.schema == polars_schema(pin_lifetime_columns(("TOTAL_COMMENTS", "TOTAL_REACTIONS")))
        elif spec.kind == "user_analytics":
            assert df.schema == polars_schema(user_account_analytics_columns(
                ("IMPRESSION", "SAVE", "PIN_CLICK", "OUTBOUND_CLICK", "ENGAGEMENT"), "NO_SPLIT"))
        elif spec.targeting_types:
            assert df.schema == polars_schema(targeting_analytics_columns(spec.level, DEFAULT_ANALYTICS_COLUMNS,
                                                                          "DAY")), name
        else:   # no config: the default configuration's columns
            assert df.schema == polars_schema(analytics_columns(spec.level, DEFAULT_ANALYTICS_COLUMNS, "DAY")), name
        if "date" in df.columns:
            assert df.schema["date"] == pl.Date


def test_scan_with_a_config_uses_its_output_options_and_columns(s3, make_config):
    bucket, so = s3
    config = make_config({**SHORT, "output": {"url": f"s3://{bucket}/out", "storage_options": so},
                          "state": {"url": f"s3://{bucket}/state/state.json", "storage_options": so},
                          "analytics": {"columns": ["SPEND_IN_DOLLAR", "CAMPAIGN_ID"]}},
                         streams=["campaigns", "campaign_analytics"])
    empty = pinsync.scan("campaign_analytics", config=config).collect()
    assert empty.height == 0 and empty.schema == table_schema("campaign_analytics", config)
    pinsync.run(config, today=TODAY)
    via_config = pinsync.scan("campaign_analytics", config=config).collect()
    via_url = pinsync.scan("campaign_analytics", output=f"s3://{bucket}/out", storage_options=so).collect()
    assert via_config.height > 0
    assert_frame_equal(via_config.sort("campaign_id", "date"), via_url.sort("campaign_id", "date"),
                       check_column_order=False)


def test_scan_rejects_unknown_tables(tmp_path):
    with pytest.raises(pinsync.SinkError, match="unknown table"):
        pinsync.scan("bords", output=str(tmp_path))


# ------------------------------------------------------------------------------------------ run
def test_run_returns_a_sync_result_with_per_stream_stats(make_config, tmp_path):
    config = make_config(SHORT)
    events: list[pinsync.Event] = []
    result = pinsync.run(config, today=TODAY, on_event=events.append)
    assert isinstance(result, pinsync.SyncResult)
    assert result.ok and result.failures == [] and result.run_id and result.seconds > 0
    assert set(result.streams) == set(DEFAULT_STREAMS)          # the default selection
    assert result.requests == sum(result.requests_by_category.values()) > 0
    tables = read_tables(config.output.url)
    out = tmp_path / "out"
    for name, st in result.streams.items():
        assert isinstance(st, StreamStats) and st.stream == name
        assert st.failed == 0 and st.units >= 1 and st.requests > 0, name
        assert st.rows_written == tables[name].height == st.rows_fetched, name
        assert st.files_written == len(list((out / name).rglob("data.parquet"))) > 0, name
    assert {e.stream for e in events if e.kind == "start"} == set(DEFAULT_STREAMS)
    assert sum(e.rows for e in events if e.kind == "rows") == sum(s.rows_fetched for s in result.streams.values())

    again = pinsync.run(config, today=TODAY)
    assert again.ok and again.run_id != result.run_id
    assert all(again.streams[n].files_written == 0 for n in DEFAULT_STREAMS if n in ENTITY_COLUMNS)


def test_run_reports_failed_parts_in_the_result_or_raises_sync_failed(make_config, fake, dataset):
    config = make_config(SHORT, streams=["campaigns"])
    bad = dataset.ad_accounts[0]["id"]
    fake.forbid_account(bad)
    result = pinsync.run(config, today=TODAY, raise_on_failure=False)
    assert not result.ok and result.streams["campaigns"].failed == 1
    assert any(bad in f for f in result.failures)
    assert result.streams["campaigns"].files_written == 1                 # the other account was synced
    with pytest.raises(pinsync.SyncFailed) as err:
        pinsync.run(config, today=TODAY)
    assert isinstance(err.value.result, pinsync.SyncResult) and not err.value.result.ok


# ------------------------------------------------------------------------------------------ the public surface
def test_all_lists_exactly_the_public_names_and_each_is_documented():
    public = {n for n, v in vars(pinsync).items()
              if not n.startswith("_") and not isinstance(v, types.ModuleType) and n != "annotations"}
    assert set(pinsync.__all__) == public
    assert len(pinsync.__all__) == len(set(pinsync.__all__))
    for name in pinsync.__all__:
        obj = getattr(pinsync, name)
        if name == "STREAMS":
            continue
        assert inspect.getdoc(obj), f"pinsync.{name} has no docstring"
    # (config_from_dict documents its own arguments and points to load_config for the shared ones)
    for fn in (pinsync.run, pinsync.extract, pinsync.scan, pinsync.load_config):
        doc = inspect.getdoc(fn)
        assert "Args:" in doc, fn.__name__
        documented = set(doc.split("Args:", 1)[1].split())
        # run(sleep=...) is a test hook for the rate limiter's clock, not documented (yet)
        params = [p for p in inspect.signature(fn).parameters if (fn.__name__, p) != ("run", "sleep")]
        missing = [p for p in params if not any(w.startswith(p) or w.startswith(f"{p},") for w in documented)]
        assert not missing, f"{fn.__name__}: undocumented parameters {missing}"
    assert inspect.getdoc(pinsync.run).count("Returns") and inspect.getdoc(pinsync.scan).count("Returns")


def test_pinsync_extract_stays_the_function_after_the_modules_are_imported():
    """Importing every module (as a run does) must not rebind the public names."""
    code = ("import pinsync, pinsync.connect, pinsync.extractor, pinsync.sync, pinsync.extract_api; "
            "assert pinsync.extract is pinsync.extract_api.extract, pinsync.extract; "
            "assert pinsync.scan is pinsync.read.scan and pinsync.run is pinsync.sync.run")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_readme_shows_the_python_api():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for call in ("pinsync.run(", "pinsync.extract(", "pinsync.scan("):
        assert call in readme, call
