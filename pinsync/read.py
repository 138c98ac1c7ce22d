"""Reading tables back: :func:`scan` returns a LazyFrame with the declared dtypes.

Partition keys are stored inside every file, so tables are read from the files alone
(ids stay strings, ``date`` stays a Date) and only ``data.parquet`` files are read, so
temp or state files can never break a read. Files written before a column was added read
as null in it.
"""

from __future__ import annotations

import polars as pl

from pinsync.errors import SinkError
from pinsync.schemas import ENTITY_COLUMNS, analytics_columns, pin_analytics_columns, polars_schema
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
    from ``config`` when given, else the union of the files' schemas (newest columns last).
    """
    if stream in ENTITY_COLUMNS:
        return polars_schema(ENTITY_COLUMNS[stream])
    spec = STREAMS[stream]
    if config is not None:
        if spec.kind == "pin_analytics":
            return polars_schema(pin_analytics_columns(tuple(config.pin_analytics.metric_types)))
        return polars_schema(analytics_columns(spec.level, tuple(config.analytics.columns),
                                               config.analytics.granularity))
    merged: dict[str, pl.DataType] = {}
    for f in files or []:
        with location.fs.open(location.path(f), "rb") as fh:
            for name, dtype in pl.read_parquet_schema(fh).items():
                merged.setdefault(name, dtype)
    return pl.Schema(merged)


def scan(stream: str, output: str = "data", storage_options: dict | None = None, *, config=None) -> pl.LazyFrame:
    """Read a pinsync table lazily, with its declared dtypes.

    Args:
        stream: the table (a stream name, see ``pinsync streams``).
        output: the output root (``output.url``): a local folder or e.g. ``s3://bucket/prefix``.
        storage_options: fsspec-style options (as in ``output.storage_options``); they are
            translated for Polars' object store.
        config: a loaded :class:`pinsync.config.Config`; when given, ``output`` and
            ``storage_options`` default to it and analytics columns come from it.

    Returns:
        A ``pl.LazyFrame``; an empty table (no files yet) gives an empty frame with the schema.

    Example:
        >>> pinsync.scan("ad_analytics", output="s3://lake/pinterest",
        ...              storage_options={"endpoint_url": "http://127.0.0.1:9000"}).collect()
    """
    if stream not in STREAMS:
        raise SinkError(f"unknown table {stream!r}; see `pinsync streams`")
    if config is not None:
        output, storage_options = config.output.url, (storage_options or config.output.storage_options)
    location = Location(output, storage_options)
    files = [f for f in location.find(stream) if f.rsplit("/", 1)[-1] == DATA_FILE]
    schema = table_schema(stream, config, files if config is None and stream not in ENTITY_COLUMNS else None,
                          location)
    if not files:
        return pl.LazyFrame(schema=schema)
    if location.local:
        paths = [location.path(f) for f in files]
        options = None
    else:
        proto = location.fs.protocol if isinstance(location.fs.protocol, str) else location.fs.protocol[0]
        paths = [f"{'s3' if proto in ('s3', 's3a') else proto}://{location.path(f)}" for f in files]
        options = polars_storage_options(storage_options)
    return pl.scan_parquet(paths, schema=schema, missing_columns="insert", extra_columns="ignore",
                           hive_partitioning=False, storage_options=options,
                           cast_options=pl.ScanCastOptions(integer_cast="upcast"))
