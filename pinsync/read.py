"""Reading tables back: :func:`scan` returns a LazyFrame with the declared dtypes.

Partition keys are stored inside every file, so tables are read from the files alone
(ids stay strings, ``date`` stays a Date) and only ``data.parquet`` files are read, so
temp or state files can never break a read. Files written before a column was added read
as null in it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import polars as pl

from pinsync import api
from pinsync.config import DEFAULT_ANALYTICS_COLUMNS, DEFAULT_PIN_METRIC_TYPES, DEFAULT_USER_METRIC_TYPES
from pinsync.errors import SinkError
from pinsync.schemas import (ENTITY_COLUMNS, analytics_columns, pin_analytics_columns, pin_lifetime_columns,
                             polars_schema, targeting_analytics_columns, user_account_analytics_columns)
from pinsync.sink import DATA_FILE
from pinsync.storage import Location
from pinsync.streams import STREAMS


def polars_storage_options(storage_options: dict | None) -> dict | None:
    """Translate fsspec/s3fs options (``endpoint_url``, ``key``, ``secret``...) for Polars' object store."""
    if not storage_options:
        return None
    so = dict(storage_options)
    out: dict[str, str] = {}
    client_kwargs = so.pop("client_kwargs", {}) or {}
    endpoint = so.pop("endpoint_url", None) or client_kwargs.get("endpoint_url")
    if endpoint:
        out["aws_endpoint_url"] = endpoint
        if endpoint.startswith("http://"):
            out["aws_allow_http"] = "true"
    for src, dst in (("key", "aws_access_key_id"), ("secret", "aws_secret_access_key"), ("token", "aws_session_token")):
        if so.get(src):
            out[dst] = so.pop(src)
    region = client_kwargs.get("region_name") or so.pop("region_name", None)
    out["aws_region"] = region or out.get("aws_region", "us-east-1")
    out.update({k: str(v) for k, v in so.items() if k.startswith("aws_")})
    return out


def table_schema(stream: str, config=None, files: list[str] | None = None,
                 location: Location | None = None) -> pl.Schema:
    """The declared schema of a table.

    Entity tables have a fixed schema. Analytics tables depend on the configured columns:
    from ``config`` when given, else the union of the files' schemas (newest columns last),
    else (no files yet) the columns of the default configuration. An analytics ``Int64``
    column that some file holds as ``Float64`` (widened: a run met fractions in it) is
    ``Float64``.
    """
    if stream in ENTITY_COLUMNS:
        return polars_schema(ENTITY_COLUMNS[stream])
    spec = STREAMS[stream]
    footers = _footers(location, files) if files else []
    if config is None and not files:
        # nothing to learn from: an empty table still has its (default) columns and dtypes
        if spec.kind == "pin_analytics":
            return polars_schema(pin_analytics_columns(DEFAULT_PIN_METRIC_TYPES))
        if spec.kind == "pin_lifetime":
            return polars_schema(pin_lifetime_columns(api.PIN_LIFETIME_METRIC_TYPES))
        if spec.kind == "user_analytics":
            return polars_schema(user_account_analytics_columns(DEFAULT_USER_METRIC_TYPES, "NO_SPLIT"))
        return polars_schema(_ads_columns(spec)(spec.level, DEFAULT_ANALYTICS_COLUMNS, "DAY"))
    if config is not None:
        if spec.kind == "pin_analytics":
            declared = polars_schema(pin_analytics_columns(tuple(config.pin_analytics.metric_types)))
        elif spec.kind == "pin_lifetime":
            declared = polars_schema(pin_lifetime_columns(tuple(config.pin_analytics.metric_types)))
        elif spec.kind == "user_analytics":
            u = config.user_account_analytics
            declared = polars_schema(user_account_analytics_columns(tuple(u.metric_types), u.split_field))
        else:
            declared = polars_schema(_ads_columns(spec)(spec.level, tuple(config.analytics.columns),
                                                        config.analytics.granularity))
    else:
        merged: dict[str, pl.DataType] = {}
        for schema in footers:
            for name, dtype in schema.items():
                merged.setdefault(name, dtype)
        declared = pl.Schema(merged)
    widened = {name for schema in footers for name, dtype in schema.items() if dtype == pl.Float64}
    return pl.Schema({name: pl.Float64 if dtype == pl.Int64 and name in widened else dtype
                      for name, dtype in declared.items()})


def _ads_columns(spec):
    """How an ads analytics table's columns are made (targeting tables add the type and value)."""
    return targeting_analytics_columns if spec.targeting_types else analytics_columns


def _footers(location: Location, files: list[str]) -> list[pl.Schema]:
    """The schemas of ``files``, in order: one round trip per file on an object store, so
    the footers are read concurrently."""
    def footer(f: str) -> pl.Schema:
        with location.fs.open(location.path(f), "rb") as fh:
            return pl.read_parquet_schema(fh)
    with ThreadPoolExecutor(max(1, min(16, len(files)))) as pool:
        return list(pool.map(footer, files))


def scan(stream: str, output: str = "data", storage_options: dict | None = None, *, config=None) -> pl.LazyFrame:
    """Read a pinsync table lazily, with its declared dtypes.

    Args:
        stream: the table (a stream name, see ``pinsync streams``).
        output: the output root (``output.url``): a local folder or e.g. ``s3://bucket/prefix``.
        storage_options: fsspec-style options (as in ``output.storage_options``); for
            ``s3://`` they are translated for Polars' object store, other fsspec stores
            (``memory://``...) are read through fsspec.
        config: a loaded :class:`pinsync.config.Config`; when given, ``output`` (unless
            passed) and ``storage_options`` default to it and analytics columns come from it.

    Returns:
        A ``pl.LazyFrame``; an empty table (no files yet) gives an empty frame with the schema
        (without ``config``, an analytics table's default columns).

    Example:
        >>> pinsync.scan("ad_analytics", output="s3://lake/pinterest",
        ...              storage_options={"endpoint_url": "http://127.0.0.1:9000"}).collect()
    """
    if stream not in STREAMS:
        raise SinkError(f"unknown table {stream!r}; see `pinsync streams`")
    if config is not None and output == "data":      # an explicit output wins over the config's
        output, storage_options = config.output.url, (storage_options or config.output.storage_options)
    location = Location(output, storage_options)
    files = [f for f in location.find(stream) if f.rsplit("/", 1)[-1] == DATA_FILE]
    schema = table_schema(stream, config, files, location)
    if not files:
        return pl.LazyFrame(schema=schema)
    proto = location.fs.protocol if isinstance(location.fs.protocol, str) else location.fs.protocol[0]
    if location.local:
        paths = [location.path(f) for f in files]
        options = None
    elif proto in ("s3", "s3a"):
        paths = [f"s3://{location.path(f)}" for f in files]
        options = polars_storage_options(storage_options)
    else:
        # a store Polars cannot reach with these (fsspec-style) options, e.g. memory:// or an
        # fsspec-only protocol: read the files through fsspec instead
        with ThreadPoolExecutor(max(1, min(16, len(files)))) as pool:
            paths = list(pool.map(lambda f: location.fs.cat_file(location.path(f)), files))
        options = None
    return pl.scan_parquet(paths, schema=schema, missing_columns="insert", extra_columns="ignore", glob=False,
                           hive_partitioning=False, storage_options=options,
                           cast_options=pl.ScanCastOptions(integer_cast=["upcast", "allow-float"]))
