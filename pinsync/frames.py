"""JSON payloads -> typed Polars frames, following the schema registry.

The fast path hands whole payloads to Polars (``pl.read_json`` with the declared
schema). When a payload does not fit the declared types, the slow path coerces value by
value where that loses nothing (``"12"`` -> 12, ``3.0`` -> 3, ``1700000000`` ->
datetime) and otherwise raises :class:`PayloadError` naming the stream, the field and
the record. Unknown fields are ignored; missing fields are null.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from pinsync.errors import PayloadError
from pinsync.schemas import Column, polars_schema

_INT_RE = re.compile(r"^-?\d+$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class _Lossy(ValueError):
    pass


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _parse_iso(v: str) -> dt.datetime:
    d = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    return d.replace(tzinfo=dt.timezone.utc) if d.tzinfo is None else d.astimezone(dt.timezone.utc)


def _from_epoch(v: int | float) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=v)


def _coerce(kind: str, v: Any) -> Any:
    """One value to ``kind``, or raise ``_Lossy`` if that would lose information."""
    if v is None:
        return None
    if kind in ("id", "str"):
        if isinstance(v, str):
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
    elif kind == "int":
        if _is_num(v) and float(v).is_integer():
            return int(v)
        if isinstance(v, str) and _INT_RE.match(v.strip()):
            return int(v)
    elif kind == "float":
        if _is_num(v):
            return float(v)
        if isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                pass
    elif kind == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        if v in (0, 1) and not isinstance(v, float):
            return bool(v)
    elif kind in ("epoch", "iso", "hour"):
        if _is_num(v):
            return _from_epoch(v)
        if isinstance(v, str):
            if _INT_RE.match(v.strip()):
                return _from_epoch(int(v))
            try:
                return _parse_iso(v)
            except ValueError:
                pass
    elif kind == "date":
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v[:10])
            except ValueError:
                pass
    elif kind == "list":
        if isinstance(v, list) and all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
            return [str(x) for x in v]
    elif kind == "json":
        return json.dumps(v, sort_keys=True, separators=(",", ":"))
    raise _Lossy(f"cannot be read as {kind} without loss (got {_preview(v)})")


def _preview(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _series(col: Column, values: list, *, stream: str, ids: Sequence[Any]) -> pl.Series:
    """A typed Series for ``col`` from raw JSON values (fast attempt, then value by value)."""
    kind = col.kind
    if kind == "json":
        return pl.Series(col.name, [_coerce("json", v) for v in values], pl.String)
    if kind == "struct":
        bad = next((i for i, v in enumerate(values) if v is not None and not isinstance(v, dict)), None)
        if bad is None:
            clean = [None if v is None else {f: _coerce_field(col, f, v.get(f), stream, ids, i)
                                             for f in col.fields} for i, v in enumerate(values)]
            return pl.Series(col.name, clean, col.dtype)
        raise _error(stream, col.name, ids[bad], f"must be an object (got {_preview(values[bad])})")
    if kind in ("epoch", "iso", "hour", "date"):
        if kind == "epoch" and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
            s = pl.Series(col.name, values, pl.Int64)
            return (s * 1_000_000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        if kind == "date" and all(v is None or isinstance(v, str) for v in values):
            parsed = pl.Series(col.name, values, pl.String).str.to_date("%Y-%m-%d", strict=False)
            if parsed.null_count() == sum(v is None for v in values):
                return parsed
    elif not (kind in ("int", "float") and any(isinstance(v, bool) for v in values)):
        try:
            return pl.Series(col.name, values, col.dtype, strict=True)
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            pass
    out = []
    for i, v in enumerate(values):
        try:
            out.append(_coerce(kind, v))
        except _Lossy as e:
            raise _error(stream, col.name, ids[i], str(e)) from None
    return pl.Series(col.name, out, col.dtype)


def _coerce_field(col: Column, field: str, v: Any, stream: str, ids: Sequence[Any], i: int) -> Any:
    try:
        return _coerce("str", v)
    except _Lossy as e:
        raise _error(stream, f"{col.name}.{field}", ids[i], str(e)) from None


def _error(stream: str, field: str, record_id: Any, detail: str) -> PayloadError:
    return PayloadError(f"{stream}: field '{field}' of record {record_id!r} {detail}")


def records_to_frame(
    records: Sequence[dict],
    columns: Sequence[Column],
    *,
    stream: str,
    source_names: dict[str, str] | None = None,
    id_field: str = "id",
) -> pl.DataFrame:
    """Type a list of JSON objects into a frame with exactly ``columns``.

    Args:
        records: decoded JSON objects.
        columns: the table's columns (from :mod:`pinsync.schemas`).
        stream: the stream name, for error messages.
        source_names: column name -> key in the records, where they differ.
        id_field: the record key that identifies a record in error messages.
    """
    if records and not all(isinstance(r, dict) for r in records):
        raise PayloadError(f"{stream}: expected a list of JSON objects")
    names = source_names or {}
    ids = [r.get(id_field) for r in records]
    data = [_series(c, [r.get(names.get(c.name, c.name)) for r in records], stream=stream, ids=ids)
            for c in columns]
    return pl.DataFrame(data, schema=polars_schema(tuple(columns)))


def read_json_array(
    body: bytes,
    columns: Sequence[Column],
    *,
    stream: str,
    source_names: dict[str, str],
    id_field: str,
) -> pl.DataFrame:
    """Type a flat JSON array (the ads analytics response) with Polars' JSON reader.

    Integer columns are read as floats and checked to be whole, so a fractional value
    can never be truncated silently; dates are parsed after reading. Anything Polars
    cannot read with the declared types goes through :func:`records_to_frame`, which
    coerces losslessly or names the bad field.
    """
    wanted = [c for c in columns if c.name in source_names]
    read_schema = {}
    for c in wanted:
        if c.kind == "int":
            read_schema[source_names[c.name]] = pl.Float64
        elif c.kind in ("date", "hour", "iso", "epoch", "json", "struct"):
            read_schema[source_names[c.name]] = pl.String
        else:
            read_schema[source_names[c.name]] = c.dtype
    try:
        raw = pl.read_json(io.BytesIO(body), schema=read_schema) if body.strip() != b"[]" else None
    except pl.exceptions.PolarsError:
        raw = "slow"
    if isinstance(raw, pl.DataFrame):
        exprs = []
        ok = True
        for c in wanted:
            src = pl.col(source_names[c.name])
            if c.kind == "int":
                frac = raw.select(((src.round(0) != src) & src.is_not_null()).any()).item()
                if frac:
                    ok = False
                    break
                exprs.append(src.cast(pl.Int64).alias(c.name))
            elif c.kind == "date":
                exprs.append(src.str.to_date("%Y-%m-%d", strict=False).alias(c.name))
            elif c.kind == "hour":
                exprs.append(src.str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us", time_zone="UTC",
                                                 strict=False).alias(c.name))
            else:
                exprs.append(src.alias(c.name))
        if ok:
            df = raw.select(exprs)
            time_cols = [c.name for c in wanted if c.kind in ("date", "hour")]
            if not time_cols or df.select(pl.col(time_cols).null_count().sum()).item() == raw.select(
                    pl.col([source_names[t] for t in time_cols]).null_count().sum()).item():
                missing = [pl.lit(None, c.dtype).alias(c.name) for c in columns if c.name not in source_names]
                return df.with_columns(missing).select([c.name for c in columns])
    elif raw is None:
        return pl.DataFrame(schema=polars_schema(tuple(columns)))
    try:
        records = json.loads(body)
    except ValueError as e:
        raise PayloadError(f"{stream}: response is not valid JSON ({e})") from None
    if not isinstance(records, list):
        raise PayloadError(f"{stream}: expected a JSON array, got {type(records).__name__}")
    return records_to_frame(records, columns, stream=stream, source_names=source_names, id_field=id_field)


def concat(frames: Iterable[pl.DataFrame], columns: Sequence[Column]) -> pl.DataFrame:
    """Concatenate typed frames (an empty iterable gives an empty typed frame)."""
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=polars_schema(tuple(columns)))
    return pl.concat(frames, how="vertical")
