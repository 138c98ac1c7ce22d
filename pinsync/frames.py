"""JSON payloads -> typed Polars frames, following the schema registry.

The fast path hands payloads to Polars (``pl.read_json`` with the declared schema; a big
array about 64 KiB of rows at a time, so the parse tree Polars builds stays small however
big the answer). When a payload does not fit the declared types, the slow path coerces value by
value where that loses nothing (``"12"`` -> 12, ``3.0`` -> 3, ``1700000000`` ->
datetime) and otherwise raises :class:`PayloadError` naming the stream, the field and
the record. Fields the table has no column for are kept, as JSON text, in an ``extra``
column where the table has one (entity tables: ``_extra``); missing fields are null.

Text that is not valid Unicode - a lone UTF-16 surrogate such as ``"\\ud800"``, what a name
cut in the middle of an emoji becomes - is repaired in free-text fields (``str``, ``list``
and ``struct`` columns): each lone surrogate becomes U+FFFD, with one warning per field of
a page naming the record. In an id it is a :class:`PayloadError`, as are ``NaN``,
``Infinity`` and numbers too large for a float, wherever a number is expected.

Analytics metrics are the exception to failing: the API declares no types for them, so an
``int`` metric that carries a fraction is *widened* - the whole column of that frame becomes
``Float64`` with the values intact - rather than failing the stream on every run (the
extractor warns, naming the column).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

import polars as pl

from pinsync import api
from pinsync.errors import PayloadError
from pinsync.schemas import UTC_DATETIME, Column, polars_schema

log = logging.getLogger("pinsync.frames")

_INT_RE = re.compile(r"^-?\d+$")
_SURROGATE = re.compile("[\ud800-\udfff]")         # a lone one: json.loads keeps it, UTF-8 cannot hold it

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Unix seconds of 0001-01-01 and 9999-12-31T23:59:59 (what a datetime can hold)
_EPOCH_MIN, _EPOCH_MAX = -62135596800, 253402300799


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
    try:
        return _coerce_value(kind, v)
    except OverflowError:   # e.g. a number too large for a float, or a time past the year 9999
        raise _Lossy(f"is out of range for {kind} (got {preview(v)})") from None


def _coerce_value(kind: str, v: Any) -> Any:
    if v is None:
        return None
    if kind in ("id", "str"):
        if isinstance(v, str):
            if kind == "id" and not _is_text(v):
                raise _Lossy("is not valid Unicode text (it holds a lone UTF-16 surrogate)")
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
    elif kind == "int":
        n = None
        if _is_num(v) and float(v).is_integer():
            n = int(v)
        elif isinstance(v, str) and _INT_RE.match(v.strip()):
            n = int(v)
        if n is not None:
            if _INT64_MIN <= n <= _INT64_MAX:
                return n
            raise _Lossy(f"is out of the 64-bit integer range (got {preview(v)})")
    elif kind == "float":
        f = None
        if _is_num(v):
            f = float(v)
        elif isinstance(v, str):
            try:
                f = float(v)
            except ValueError:
                pass
        if f is not None:
            if math.isfinite(f):
                return f
            raise _Lossy(f"is not a finite number (got {preview(v)})")
    elif kind == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        if v in (0, 1) and not isinstance(v, float):
            return bool(v)
    elif kind == "epoch_ms":
        if isinstance(v, str) and _INT_RE.match(v.strip()):
            v = int(v)
        if _is_num(v):
            return _EPOCH + dt.timedelta(milliseconds=v)
    elif kind in ("epoch", "iso"):
        if _is_num(v):
            return _from_epoch(v)
        if isinstance(v, str) and _INT_RE.match(v.strip()):
            return _from_epoch(int(v))
        if isinstance(v, str):
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
    raise _Lossy(f"cannot be read as {kind} without loss (got {preview(v)})")


def _surrogate_escape(body: bytes) -> bool:
    """Whether a JSON body may hold a surrogate's escape (``\\ud800``): Polars' reader would
    read a lone one as "\\0", so such a body goes through json.loads. Most bodies hold no
    backslash at all (one byte search); a false alarm only costs time."""
    return b"\\" in body and _SURROGATE_ESCAPE.search(body) is not None


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _is_text(v: str) -> bool:
    """Whether ``v`` can be written as UTF-8 (holds no lone surrogate)."""
    return v.isascii() or not _SURROGATE.search(v)


def _repair(v: Any) -> tuple[Any, bool]:
    """Free text (a string, or the strings of a list) with each lone surrogate replaced by
    U+FFFD; and whether one was."""
    if isinstance(v, str):
        return (v, False) if _is_text(v) else (_SURROGATE.sub("\ufffd", v), True)
    if isinstance(v, list) and not all(_is_text(x) for x in v if isinstance(x, str)):
        return [_repair(x)[0] for x in v], True
    return v, False


def preview(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# The JSON value types each kind reads without any conversion: a column whose values are
# all of these (or null) is typed in one vectorised step; any other goes value by value.
_PLAIN_TYPES: dict[str, frozenset[type]] = {
    "id": frozenset({str}), "str": frozenset({str}), "int": frozenset({int}),
    "float": frozenset({int, float}), "bool": frozenset({bool}), "epoch": frozenset({int}),
    "epoch_ms": frozenset({int}),
    "iso": frozenset({str}), "date": frozenset({str}), "list": frozenset({list}),
}
# ISO timestamps read without Python: seconds (with up to 6 decimals), UTC or no zone
_PLAIN_ISO = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)?$"


def _plain_series(col: Column, values: list) -> pl.Series | None:
    """``values`` typed in one step when every value already has the kind's JSON type, or
    None when that cannot be done exactly (the caller then goes value by value)."""
    kind = col.kind
    types = set(map(type, values))
    types.discard(type(None))
    if not types <= _PLAIN_TYPES[kind]:
        return None
    try:
        if kind == "list":
            items = list(itertools.chain.from_iterable(v for v in values if v))
            if not set(map(type, items)) <= {str} or not all(map(_is_text, items)):
                return None
            # a JSON array of the lists, decoded by Polars: exact, as every item is a string
            whole = pl.Series([json.dumps(values)]).str.json_decode(pl.List(col.dtype))
            return whole.explode().alias(col.name) if values else pl.Series(col.name, [], col.dtype)
        if kind in ("epoch", "epoch_ms"):
            s = pl.Series(col.name, values, pl.Int64, strict=True)
            scale = 1000 if kind == "epoch_ms" else 1
            if s.null_count() < len(s) and not (_EPOCH_MIN * scale <= s.min() and s.max() <= _EPOCH_MAX * scale):
                return None
            return (s * (1_000_000 // scale)).cast(UTC_DATETIME)
        if kind == "iso":
            s = pl.Series(col.name, values, pl.String)
            if not s.str.contains(_PLAIN_ISO).all():
                return None
            return s.str.replace(r"(Z|\+00:00)$", "").str.to_datetime(
                "%Y-%m-%dT%H:%M:%S%.f", time_unit="us", time_zone="UTC", strict=True)
        if kind == "date":
            parsed = pl.Series(col.name, values, pl.String).str.to_date("%Y-%m-%d", strict=False)
            return parsed if parsed.null_count() == values.count(None) else None
        s = pl.Series(col.name, values, col.dtype, strict=True)
        if kind == "float" and not s.is_finite().fill_null(True).all():
            return None
        return s
    except (TypeError, OverflowError, UnicodeEncodeError, pl.exceptions.PolarsError):
        return None


def _series(col: Column, values: list, *, stream: str, ids: Sequence[Any], widen: bool = False) -> pl.Series:
    """A typed Series for ``col`` from raw JSON values (one vectorised step when the values
    already have the right JSON types, else value by value). With ``widen``, an ``int``
    column holding a fraction comes back as Float64 (see :func:`_widened`)."""
    kind = col.kind
    if kind == "json":
        return pl.Series(col.name, [_coerce("json", v) for v in values], pl.String)
    repaired: dict[str, Any] = {}      # field -> the first record whose text was repaired
    if kind == "struct":
        bad = next((i for i, v in enumerate(values) if v is not None and not isinstance(v, dict)), None)
        if bad is not None:
            raise field_error(stream, col.name, ids[bad], f"must be an object (got {preview(values[bad])})")
        clean = []
        for i, v in enumerate(values):
            if v is not None:
                v = {f: _coerce_field(col, f, v.get(f), stream, ids, i) for f in col.fields}
                for f, text in v.items():
                    v[f], fixed = _repair(text)
                    if fixed:
                        repaired.setdefault(f"{col.name}.{f}", ids[i])
            clean.append(v)
        _warn_repaired(stream, repaired)
        return pl.Series(col.name, clean, col.dtype)
    if kind in _PLAIN_TYPES:
        plain = _plain_series(col, values)
        if plain is not None:
            return plain
    out = []
    for i, v in enumerate(values):
        if kind in ("str", "list"):
            v, fixed = _repair(v)
            if fixed:
                repaired.setdefault(col.name, ids[i])
        try:
            out.append(_coerce(kind, v))
        except _Lossy as e:
            wide = _widened(col, values) if widen else None
            if wide is not None:
                return wide
            raise field_error(stream, col.name, ids[i], str(e)) from None
    _warn_repaired(stream, repaired)
    return pl.Series(col.name, out, col.dtype)


def _warn_repaired(stream: str, repaired: dict[str, Any]) -> None:
    for name, record_id in repaired.items():
        log.warning("%s: field '%s' of record %r holds text that is not valid Unicode (a lone UTF-16 surrogate, "
                    "e.g. a name cut in the middle of an emoji); it is written with U+FFFD in its place", stream,
                    name, record_id)


def _widened(col: Column, values: list) -> pl.Series | None:
    """An ``int`` column's values as Float64 when they are all numbers and some are
    fractions; None otherwise (a whole number out of range, a boolean, text: an error)."""
    if col.kind != "int":
        return None
    try:
        floats = [_coerce("float", v) for v in values]
    except _Lossy:
        return None
    if all(f is None or f.is_integer() for f in floats):
        return None
    return pl.Series(col.name, floats, pl.Float64)


def _coerce_field(col: Column, field: str, v: Any, stream: str, ids: Sequence[Any], i: int) -> Any:
    try:
        return _coerce("str", v)
    except _Lossy as e:
        raise field_error(stream, f"{col.name}.{field}", ids[i], str(e)) from None


def field_error(stream: str, field: str, record_id: Any, detail: str) -> PayloadError:
    return PayloadError(f"{stream}: field '{field}' of record {record_id!r} {detail}")


def records_to_frame(
    records: Sequence[dict],
    columns: Sequence[Column],
    *,
    stream: str,
    source_names: dict[str, str] | None = None,
    id_field: str = "id",
    widen: bool = False,
) -> pl.DataFrame:
    """Type a list of JSON objects into a frame with exactly ``columns``.

    Args:
        records: decoded JSON objects.
        columns: the table's columns (from :mod:`pinsync.schemas`).
        stream: the stream name, for error messages.
        source_names: column name -> key in the records, where they differ.
        id_field: the record key that identifies a record in error messages.
        widen: an ``int`` column holding fractions becomes Float64 instead of an error
            (analytics metrics, which the API does not type).
    """
    if records and not all(isinstance(r, dict) for r in records):
        raise PayloadError(f"{stream}: expected a list of JSON objects")
    names = source_names or {}
    ids = [r.get(id_field) for r in records]
    known = {names.get(c.name, c.name) for c in columns}
    data = [_extra_series(c.name, records, known) if c.kind == "extra" else
            _series(c, [r.get(names.get(c.name, c.name)) for r in records], stream=stream, ids=ids, widen=widen)
            for c in columns]
    schema = polars_schema(tuple(columns))
    return pl.DataFrame(data, schema={n: (pl.Float64 if s.dtype == pl.Float64 else t)
                                      for (n, t), s in zip(schema.items(), data)})


def _extra_series(name: str, records: Sequence[dict], known: set[str]) -> pl.Series:
    """Each record's fields that no column holds, as JSON text (null when there are none)."""
    values = []
    for r in records:
        extra = {k: v for k, v in r.items() if k not in known}
        values.append(json.dumps(extra, sort_keys=True, separators=(",", ":")) if extra else None)
    return pl.Series(name, values, pl.String)


def read_json_array(
    body: bytes | BinaryIO,
    columns: Sequence[Column],
    *,
    stream: str,
    source_names: dict[str, str],
    id_field: str,
    keyed: bool = False,
) -> pl.DataFrame:
    """Type a flat JSON array (the ads analytics response) with Polars' JSON reader.

    ``keyed``: ``body`` is a report file instead, ``{"<id>": [row, ...], ...}`` (its bytes, or
    a binary file positioned at its start: it is read a block at a time); each row gets its
    key as ``id_field`` (over any value of its own), and it is read without decoding rows
    into Python objects (:func:`_read_keyed`). Then a body that is not JSON raises
    ``ValueError`` (a download to fetch again) rather than :class:`PayloadError`.

    Integer columns are read as the numbers' own digits and parsed as Int64, so no
    integer passes through a float (micro-currency totals in KRW, COP or CLP pass 2**53);
    an integer column that holds a fraction comes back as Float64 (see the module
    docstring). Dates are parsed after reading; an ``hour`` column (HOUR granularity) is
    placed from ``DATE`` and the ``HOUR`` member (:func:`_place_hours`). Anything Polars
    cannot read with the declared types goes through :func:`records_to_frame`, which
    coerces losslessly or names the bad field.
    """
    hour = next((c for c in columns if c.kind == "hour"), None)
    if hour is None:
        return _read_array(body, columns, stream, source_names, id_field, keyed)
    # read DATE as text and the hour member beside it, then place each row in its hour
    as_text = [Column(c.name, "str") if c is hour else c for c in columns] + [Column(_HOUR, "str")]
    df = _read_array(body, as_text, stream, {**source_names, _HOUR: api.HOUR_FIELD}, id_field, keyed)
    key = next((n for n, src in source_names.items() if src == id_field), columns[0].name)
    return _place_hours(df, hour.name, key, stream).select([c.name for c in columns])


_HOUR = "__hour"


def _read_array(body: bytes | BinaryIO, columns: Sequence[Column], stream: str, source_names: dict[str, str],
                id_field: str, keyed: bool = False) -> pl.DataFrame:
    wanted = [c for c in columns if c.name in source_names]
    if keyed:
        source = io.BytesIO(body) if isinstance(body, (bytes, bytearray)) else body
        try:
            df = _read_keyed(source, wanted, source_names, id_field)
        except pl.exceptions.PolarsError:
            df = None
        if df is not None:
            missing = [pl.lit(None, c.dtype).alias(c.name) for c in columns if c.name not in source_names]
            return df.with_columns(missing).select([c.name for c in columns])
        source.seek(0)
        records = flatten_report(json.load(source), id_field, stream)     # not JSON: a ValueError (fetched again)
        return records_to_frame(records, columns, stream=stream, source_names=source_names, id_field=id_field,
                                widen=True)
    read_schema = _read_schema(wanted, source_names)
    try:
        if _surrogate_escape(body):
            raw = "slow"
        else:
            raw = _read_rows(body, read_schema) if body.strip() != b"[]" else None
    except pl.exceptions.PolarsError:
        raw = "slow"
    if isinstance(raw, pl.DataFrame):
        df = _typed(raw, wanted, source_names)
        if df is not None:
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
    return records_to_frame(records, columns, stream=stream, source_names=source_names, id_field=id_field,
                            widen=True)


_READ_BYTES = 64 * 1024      # Polars reads big JSON arrays this much at a time (see _read_rows)

# Between two objects of an array: "}", ",", "{" and a '"' that opens a string (a key), which
# is what a '"' followed by anything but ",", "}", "]", ":" or whitespace is (a closing one
# cannot be). So the "}" and "{" lie outside any string: the end of one object and the start
# of the next, at the same depth.
_ROW_SEP = re.compile(rb'\}[ \t\n\r]*,[ \t\n\r]*\{(?="[^,}\]: \t\n\r])')


def _read_rows(body: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``pl.read_json(body, schema=schema)`` of a JSON array of flat objects, read about
    ``_READ_BYTES`` at a time (:func:`_read_parts`)."""
    lo, hi = _strip(body, 0, len(body))
    if body[lo:lo + 1] == b"[" and body[hi - 1:hi] == b"]":
        return _read_parts(body, schema, lo + 1, hi - 1, b"[", b"]")
    return pl.read_json(io.BytesIO(body), schema=schema)


def _read_parts(body: bytes, schema: dict[str, pl.DataType], start: int, end: int, head: bytes,
                tail: bytes) -> pl.DataFrame:
    """``pl.read_json(body, schema=schema)``, where ``body[start:end]`` are the rows of the
    one array the body holds and ``head``, ``tail`` what comes before and after them, read
    about ``_READ_BYTES`` of rows at a time: each part is ``head`` + the rows up to a row
    separator (``_ROW_SEP``) + ``tail``. Polars parses a whole document into a tree before
    reading it, a few times the text's size: in parts that tree stays small (an 18 MB answer
    peaks at 38 MB instead of 103 MB, in two thirds of the CPU). A separator inside a row (a
    nested array of objects) leaves a part whose brackets do not balance, which Polars
    rejects: then the body is read whole."""
    if end - start > 2 * _READ_BYTES:
        parts = []
        try:
            while start < end:
                cut = _ROW_SEP.search(body, start + _READ_BYTES, end)
                stop = cut.start() + 1 if cut else end
                parts.append(pl.read_json(io.BytesIO(head + body[start:stop] + tail), schema=schema))
                start = cut.end() - 1 if cut else end
            return pl.concat(parts, rechunk=True)
        except pl.exceptions.PolarsError:
            pass
    return pl.read_json(io.BytesIO(body), schema=schema)


_FIRST_KEY = re.compile(rb'^\{\s*"(\d+)"\s*:\s*\[')
_NEXT_KEY = re.compile(rb'\]\s*,\s*"(\d+)"\s*:\s*\[')
_EMPTY_OBJECT = re.compile(rb"\{\s*\}\s*")
KEYED_CHUNK_BYTES = 2**21       # a report file is read and typed this much at a time


class _OtherShape(Exception):
    """A report file :func:`_keyed_members` cannot split (the value-by-value path judges it)."""


def _keyed_members(source: BinaryIO, block: int = KEYED_CHUNK_BYTES) -> Iterator[tuple[bytes, bytes]]:
    """``(key, rows)`` for each member of a report file ``{"<id>": [row, ...], ...}``: the id's
    digits and the text of its rows array, read from ``source`` a block at a time (so only a
    block and the member being read are held). Members are split at the text
    ``],"<digits>":[``, which cannot occur inside a string (where every quote is escaped)
    nor inside a row of scalars. Raises :class:`_OtherShape` for any other shape."""
    buf = source.read(block).lstrip()
    while len(buf) < 64 and (data := source.read(block)):     # the first key whole (long whitespace aside)
        buf = (buf + data).lstrip()
    first = _FIRST_KEY.match(buf)
    if first is None:
        if _EMPTY_OBJECT.fullmatch(buf) and not source.read(1):
            return
        raise _OtherShape
    key, start, scan = first.group(1), first.end() - 1, first.end()
    while True:
        for m in _NEXT_KEY.finditer(buf, scan):
            yield key, buf[start:m.start() + 1]
            key, start, scan = m.group(1), m.end() - 1, m.end()
        data = source.read(block)
        if not data:
            break
        # a separator cut by the block's end starts at the last "]" (a separator holds only its first)
        cut = buf.rfind(b"]", scan)
        scan = (cut if cut >= 0 else len(buf)) - start
        buf, start = buf[start:] + data, 0
    tail = buf[start:].rstrip()
    rows = tail[:-1].rstrip()
    if tail[-1:] != b"}" or rows[-1:] != b"]":
        raise _OtherShape
    yield key, rows


def _read_keyed(source: BinaryIO, wanted: list[Column], source_names: dict[str, str],
                id_field: str) -> pl.DataFrame | None:
    """A report file ``{"<id>": [row, ...], ...}`` typed as :func:`_read_array` types a flat
    array, without decoding it into Python objects and a few MB at a time (the file is read a
    block at a time, :func:`_keyed_members`): each entity's rows are read by Polars' JSON
    reader as the flat array they are, with the columns' schema, and get the entity's key as
    ``id_field``. None when the file has another shape or a value the value-by-value path
    must judge."""
    read_schema = _read_schema(wanted, source_names)
    parts: list[pl.DataFrame] = []
    members: list[tuple[bytes, pl.DataFrame]] = []

    def typed_members() -> pl.DataFrame:
        keys = [key.decode() for key, _ in members]
        raw = pl.concat([rows for _, rows in members], how="vertical")
        if id_field in read_schema:     # the entity's key, over any id of the row's own
            key = pl.Series(id_field, keys, pl.String).gather(run_index([rows.height for _, rows in members]))
            raw = raw.with_columns(key.cast(read_schema[id_field]))
        members.clear()
        return _typed(raw, wanted, source_names)

    size = 0
    try:
        for key, text in _keyed_members(source):
            if not text[1:-1].strip():          # an entity without rows
                continue
            if _surrogate_escape(text):
                return None
            members.append((key, pl.read_json(io.BytesIO(text), schema=read_schema)))
            size += len(text)
            if size >= KEYED_CHUNK_BYTES:
                size = 0
                parts.append(typed_members())
                if parts[-1] is None:
                    return None
    except _OtherShape:
        return None
    if members:
        parts.append(typed_members())
        if parts[-1] is None:
            return None
    if not parts:
        return pl.DataFrame(schema=polars_schema(tuple(wanted)))
    return pl.concat(parts, how="vertical_relaxed")


def run_index(lengths: Sequence[int]) -> pl.Series:
    """``0`` repeated ``lengths[0]`` times, then ``1`` ``lengths[1]`` times, and so on: which
    run each row of consecutive runs belongs to."""
    return pl.select(pl.int_range(len(lengths), dtype=pl.UInt32)
                     .repeat_by(pl.Series(lengths, dtype=pl.UInt32)).explode()).to_series()


def flatten_report(data: object, id_key: str, stream: str) -> list[dict]:
    """A decoded report file (``{"<id>": [row, ...]}``) as the synchronous endpoints' rows,
    each carrying its entity id under ``id_key`` (ids stay strings)."""
    if not isinstance(data, dict):
        raise PayloadError(f"{stream}: a report file must be a JSON object keyed by entity id")
    rows = []
    for key, items in data.items():
        if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
            raise PayloadError(f"{stream}: report rows of {key!r} must be a list of JSON objects")
        rows.extend({**r, id_key: key} for r in items)
    return rows


def _read_schema(wanted: Sequence[Column], names: dict[str, str]) -> dict[str, pl.DataType]:
    """What Polars' JSON reader is asked to read each field as (:func:`_typed` does the rest)."""
    return {names[c.name]: pl.String if c.kind in ("int", "date", "iso", "epoch", "json", "struct") else c.dtype
            for c in wanted}


def _typed(raw: pl.DataFrame, wanted: list[Column], names: dict[str, str]) -> pl.DataFrame | None:
    """``raw`` (as read with :func:`_read_array`'s schema) typed, or None when only the
    value-by-value path can say what it holds (a value that is not what its column
    declares, and not a fraction in an integer column)."""
    floats = [names[c.name] for c in wanted if c.kind == "float"]
    if floats and raw.select(pl.any_horizontal((~pl.col(floats).is_finite()).any())).item():
        return None         # an infinity (1e999): the value-by-value path names it
    ints = [c for c in wanted if c.kind == "int"]
    exact = {c.name: pl.col(names[c.name]).str.to_integer(strict=False) for c in ints}
    widened = set()
    if ints:
        inexact = raw.select([(pl.col(names[c.name]).is_not_null() & exact[c.name].is_null()).any().alias(c.name)
                              for c in ints]).row(0, named=True)
        for c in ints:
            if inexact[c.name]:
                src = pl.col(names[c.name])
                f = src.cast(pl.Float64, strict=False)
                unread, fraction = raw.select((src.is_not_null() & f.is_null()).any().alias("unread"),
                                              (f != f.round(0)).any().alias("fraction")).row(0)
                if unread or not fraction:
                    return None
                widened.add(c.name)
    exprs = []
    for c in wanted:
        src = pl.col(names[c.name])
        if c.kind == "int":
            exprs.append((src.cast(pl.Float64, strict=False) if c.name in widened else exact[c.name]).alias(c.name))
        elif c.kind == "date":
            exprs.append(src.str.to_date("%Y-%m-%d", strict=False).alias(c.name))
        else:
            exprs.append(src.alias(c.name))
    df = raw.select(exprs)
    dates = [c.name for c in wanted if c.kind == "date"]
    if dates and df.select(pl.col(dates).null_count().sum()).item() != raw.select(
            pl.col([names[d] for d in dates]).null_count().sum()).item():
        return None
    return df


def _place_hours(df: pl.DataFrame, name: str, key: str, stream: str, within: Sequence[str] = ()) -> pl.DataFrame:
    """Each row's hour start (UTC) in column ``name``, from its ``DATE`` text and ``HOUR``.

    The spec types ``DATE`` as a date and says nothing of where an HOUR answer puts the
    hour, so either is read: an ``HOUR`` member (0-23, beside a date), or a time on the
    hour in ``DATE`` (``T``/space separated, optionally ``Z``). A row with neither, or
    rows of one entity that differ yet land in the same hour, cannot be told apart: that
    raises :class:`PayloadError` naming the stream, rather than merging hours into one row.
    """
    text = pl.col(name)
    rest = text.str.slice(10)
    clock = rest.str.replace(r"^[T ]", "").str.replace(r"(Z|\+00:00)$", "")
    parts = df.select(
        pl.col(key).alias("_key"), text.alias("_date"), pl.col(_HOUR).alias("_given"),
        text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias("_day"),
        rest.str.len_chars().fill_null(0).alias("_rest"),
        clock.str.to_time("%H:%M:%S", strict=False).alias("_time"),
        pl.col(_HOUR).str.strip_chars().str.to_integer(strict=False).alias("_h"))
    h, t = pl.col("_h"), pl.col("_time")
    hour = pl.when(pl.col("_given").is_not_null()).then(h).otherwise(t.dt.hour().cast(pl.Int64))
    readable = (pl.col("_day").is_not_null() & ((pl.col("_rest") == 0) | t.is_not_null())
                & (t.is_null() | ((t.dt.minute() == 0) & (t.dt.second() == 0)))
                & (pl.col("_given").is_null() | h.is_between(0, 23))
                & ~(h.is_not_null() & t.is_not_null() & (t != dt.time()) & (t.dt.hour() != h)))
    parts = parts.with_columns(_hour=hour, _ok=(readable & hour.is_not_null()).fill_null(False))
    bad = parts.filter(~pl.col("_ok"))
    if bad.height:
        row = bad.row(0, named=True)
        if row["_given"] is None and row["_rest"] == 0 and row["_day"] is not None:
            why = (f"DATE {row['_date']!r} is a date and no {api.HOUR_FIELD} is given, so its hours cannot be told "
                   "apart")
        else:
            why = f"its hour cannot be read (DATE {row['_date']!r}, {api.HOUR_FIELD} {row['_given']!r})"
        raise PayloadError(f"{stream}: granularity HOUR, but the row of record {row['_key']!r} cannot be placed in "
                           f"an hour: {why}. Stopping rather than merging hours into one row.")
    start = pl.col("_day").cast(UTC_DATETIME) + pl.duration(hours=pl.col("_hour"))
    out = df.with_columns(parts.select(start.alias(name)).to_series()).drop(_HOUR)
    clash = out.unique().filter(pl.struct(key, *within, name).is_duplicated())   # within: targeting type, value
    if clash.height:
        row = clash.row(0, named=True)
        raise PayloadError(f"{stream}: granularity HOUR, but record {row[key]!r} has different rows for the hour "
                           f"{row[name]:%Y-%m-%dT%H:00}Z: the response cannot be placed in distinct hours. Stopping "
                           "rather than keeping one of them.")
    return out


# a targeting value that is not a string or an integer (a float, an object...): read value by
# value (whitespace in the lookahead, so that the match cannot backtrack into the spaces after
# the colon and take every spaced answer for an odd one)
_ODD_TARGETING_VALUE = re.compile(rb'"targeting_value"\s*:\s*(?![\s"]|-?\d+\s*[,}])')
_TARGETING = ("targeting_type", "targeting_value")
# a targeting answer {"data": [...]}: its rows are read in parts (:func:`_read_parts`)
_DATA_ARRAY = re.compile(rb'[ \t\n\r]*\{[ \t\n\r]*"data"[ \t\n\r]*:[ \t\n\r]*\[')
_END_OF_DATA = re.compile(rb'\][ \t\n\r]*\}[ \t\n\r]*\Z')


def read_targeting(
    body: bytes,
    columns: Sequence[Column],
    *,
    stream: str,
    source_names: dict[str, str],
    id_field: str,
) -> pl.DataFrame:
    """Type a targeting analytics answer, ``{"data": [{"targeting_type", "targeting_value",
    "metrics": {<ID>, "DATE", <COLUMN>...}}]}``, into rows: the metrics object's members as
    :func:`read_json_array` types a flat array's, ``targeting_type`` and ``targeting_value`` as
    text. A value given as a number (a metro code) keeps its digits (``500`` -> ``"500"``); one
    that is not an integer cannot be read as text without loss and is refused, naming the record."""
    hour = next((c for c in columns if c.kind == "hour"), None)
    if hour is None:
        return _read_targeting(body, columns, stream, source_names, id_field)
    as_text = [Column(c.name, "str") if c is hour else c for c in columns] + [Column(_HOUR, "str")]
    df = _read_targeting(body, as_text, stream, {**source_names, _HOUR: api.HOUR_FIELD}, id_field)
    key = next((n for n, src in source_names.items() if src == id_field), columns[0].name)
    return _place_hours(df, hour.name, key, stream, _TARGETING).select([c.name for c in columns])


def _read_targeting(body: bytes, columns: Sequence[Column], stream: str, source_names: dict[str, str],
                    id_field: str) -> pl.DataFrame:
    names = {**source_names, **{n: n for n in _TARGETING}}
    wanted = [c for c in columns if c.name in names]
    if not _ODD_TARGETING_VALUE.search(body) and not _surrogate_escape(body):
        metrics = pl.Struct(_read_schema([c for c in wanted if c.name not in _TARGETING], names))
        row = pl.Struct({"targeting_type": pl.String, "targeting_value": pl.String, "metrics": metrics})
        try:
            data = _DATA_ARRAY.match(body)
            closing = _END_OF_DATA.search(body) if data else None
            read = (_read_parts(body, {"data": pl.List(row)}, data.end(), closing.start(), b'{"data":[', b"]}")
                    if data and closing and closing.start() >= data.end()
                    else pl.read_json(io.BytesIO(body), schema={"data": pl.List(row)}))
            raw = read.explode("data").filter(pl.col("data").is_not_null()).unnest("data").unnest("metrics")
        except pl.exceptions.PolarsError:
            raw = None
        df = _typed(raw, wanted, names) if raw is not None else None
        if df is not None:
            missing = [pl.lit(None, c.dtype).alias(c.name) for c in columns if c.name not in names]
            return df.with_columns(missing).select([c.name for c in columns])
    try:
        data = json.loads(body)
    except ValueError as e:
        raise PayloadError(f"{stream}: response is not valid JSON ({e})") from None
    rows = data.get("data") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("metrics", {}), dict)
                                             for r in rows):
        raise PayloadError(f'{stream}: expected {{"data": [{{"targeting_type", "targeting_value", "metrics"}}...]}}')
    records = [{**(r.get("metrics") or {}), "targeting_type": r.get("targeting_type"),
                "targeting_value": r.get("targeting_value")} for r in rows]
    return records_to_frame(records, columns, stream=stream, source_names=names, id_field=id_field, widen=True)


def concat(frames: Iterable[pl.DataFrame], columns: Sequence[Column]) -> pl.DataFrame:
    """Concatenate typed frames (an empty iterable gives an empty typed frame); an integer
    column widened to Float64 in one frame is Float64 in the result."""
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=polars_schema(tuple(columns)))
    return pl.concat(frames, how="vertical_relaxed")


# -- organic pin analytics ------------------------------------------------------------------
#
# A multi-pin response is ``{pin_id: {group: {"daily_metrics": [day, ...], ...}}}``; its rows
# are the days. ``pin_payload_frame`` types the decoded body (the validating path) and
# ``read_pin_payload`` the raw bytes, with Polars' JSON reader, falling back to the former
# whenever its read cannot be trusted: both give the same frame or raise the same error.


def pin_payload_frame(data: dict, columns: tuple[Column, ...], metric_types: tuple[str, ...],
                      split: str, *, app_type: str = "TOTAL") -> pl.DataFrame:
    """Type ``{pin_id: {group: {"daily_metrics": [...]}}}`` into pin_analytics rows.

    Without a split the group (``all``) becomes ``app_type`` (``TOTAL``, or the app type asked
    for with ``app_types``); with the app-type split each group key is the app type. Metrics
    missing from a day are null. A value that cannot be typed without loss (a date that is
    not ``YYYY-MM-DD``, a fractional count...) is a :class:`PayloadError` naming the field and
    the pin.
    """
    metric_schema = {m: pl.Float64 for m in metric_types}
    row_schema = {"date": pl.String, "data_status": pl.String, "metrics": pl.Struct(metric_schema)}
    # one frame for the whole response (a frame per pin costs ~1.5 ms and memory each)
    daily_rows: list = []
    pin_col: list[str] = []
    app_col: list[str] = []
    groups_read: list[tuple[str, list]] = []
    for pin_id, groups in data.items():
        if not isinstance(groups, dict):
            raise PayloadError(f"pin_analytics: pin {pin_id!r}: expected an object of groups")
        for group, body in groups.items():
            daily = body.get("daily_metrics") if isinstance(body, dict) else None
            if not daily:
                continue
            if not isinstance(daily, list):
                raise PayloadError(f"pin_analytics: pin {pin_id!r}: unreadable daily_metrics (not a list)")
            label = _app_type(group, split, app_type)
            daily_rows.extend(daily)
            pin_col.extend([str(pin_id)] * len(daily))
            app_col.extend([label] * len(daily))
            groups_read.append((pin_id, daily))
    if not daily_rows:
        return concat([], columns)
    try:
        raw = pl.from_dicts(daily_rows, schema=row_schema)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as e:
        raise _unreadable_days(groups_read, metric_types, row_schema, e) from None
    try:
        raw = raw.with_columns(pin_id=pl.Series(pin_col, dtype=pl.String),
                               app_type=pl.Series(app_col, dtype=pl.String)).unnest("metrics")
    except UnicodeEncodeError:
        bad = next(k for k in pin_col + app_col if not _is_text(k))
        raise PayloadError(f"pin_analytics: the answer's key {preview(bad)} (a pin id or app type) is not valid "
                           "Unicode text (it holds a lone UTF-16 surrogate)") from None
    date = pl.col("date").str.to_date("%Y-%m-%d", strict=False)
    bad = raw.filter(pl.col("date").is_not_null() & (date.is_null() | ~pl.col("date").str.contains(DATE_PATTERN)))
    if bad.height:
        raise field_error("pin_analytics", "date", bad["pin_id"][0],
                     f"is not a date YYYY-MM-DD (got {preview(bad['date'][0])})")
    exprs = [pl.col("pin_id"), pl.col("app_type"), date, pl.col("data_status")]
    for m in metric_types:
        col = next(c for c in columns if c.name == m.lower())
        dtype = col.dtype
        v = pl.col(m)
        bad = raw.filter(v.is_not_null() & (~v.is_finite() | ((v.abs() >= 2.0 ** 63) & (col.kind == "int"))))
        if bad.height:
            raise PayloadError(f"pin_analytics: field '{m.lower()}' of record {bad['pin_id'][0]!r} cannot be "
                               f"read as {col.kind} without loss (got {bad[m][0]})")
        if col.kind == "int":
            if raw.select((v.round(0) != v).any()).item():
                dtype = pl.Float64      # a count with a fraction: kept as sent, the column widened
        exprs.append(pl.col(m).cast(dtype).alias(col.name))
    return raw.select(exprs).select([c.name for c in columns])


DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _unreadable_days(groups_read: list[tuple[str, list]], metric_types: tuple[str, ...], row_schema: dict,
                     error: Exception) -> PayloadError:
    """The error for days Polars cannot read with the day schema: naming the pin and, when a
    value is the cause, its field."""
    def metric(m: str):
        return lambda d: d["metrics"].get(m) if isinstance(d.get("metrics"), dict) else None
    fields = [("date", pl.String, lambda d: d.get("date")), ("data_status", pl.String, lambda d: d.get("data_status"))]
    fields += [(m.lower(), pl.Float64, metric(m)) for m in metric_types]
    for pin_id, daily in groups_read:
        try:
            pl.from_dicts(daily, schema=row_schema)
        except (TypeError, ValueError, pl.exceptions.PolarsError) as pin_error:
            days = [d for d in daily if isinstance(d, dict)]
            for name, dtype, get in fields:
                for d in days:
                    try:
                        pl.Series([get(d)], dtype=dtype, strict=True)
                    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
                        kind = "text" if dtype == pl.String else "a number"
                        return field_error("pin_analytics", name, pin_id,
                                      f"cannot be read as {kind} (got {preview(get(d))})")
            return PayloadError(f"pin_analytics: pin {pin_id!r}: unreadable daily_metrics ({pin_error})")
    return PayloadError(f"pin_analytics: unreadable daily_metrics ({error})")


def pin_lifetime_frame(data: dict, columns: tuple[Column, ...], metric_types: tuple[str, ...], split: str, *,
                       app_type: str = "TOTAL", as_of: dt.date) -> pl.DataFrame:
    """Type the ``lifetime_metrics`` of ``{pin_id: {group: {...}}}`` into pin_lifetime_metrics
    rows read on ``as_of``. A group without a value for any of ``metric_types`` gives no row."""
    records = []
    for pin_id, groups in data.items():
        for group, body in (groups.items() if isinstance(groups, dict) else ()):
            values = body.get("lifetime_metrics") if isinstance(body, dict) else None
            if not isinstance(values, dict) or all(values.get(m) is None for m in metric_types):
                continue
            records.append({"pin_id": str(pin_id), "app_type": _app_type(group, split, app_type),
                            "as_of": as_of.isoformat(), **{m.lower(): values.get(m) for m in metric_types}})
    return records_to_frame(records, columns, stream="pin_lifetime_metrics", id_field="pin_id")


def _app_type(group: str, split: str, label: str = "TOTAL") -> str:
    if split == "NO_SPLIT":
        return label
    return "TOTAL" if group.lower() == "all" else group.upper()


def read_pin_payload(body: bytes, columns: tuple[Column, ...], metric_types: tuple[str, ...], split: str, *,
                     pin_ids: Sequence[str] | None = None, app_type: str = "TOTAL") -> pl.DataFrame:
    """Type the raw bytes of a multi-pin analytics response into pin_analytics rows.

    Gives exactly ``pin_payload_frame(json.loads(body), ...)`` (the same rows in the same
    order, the same dtypes and values) or raises the same :class:`PayloadError`, without
    decoding the body into Python objects: Polars parses it (see the comment below). What
    that read cannot vouch for (a shape or type it does not expect, a fractional count, a
    date that does not parse, an escape anywhere in the body...) goes through
    :func:`pin_payload_frame` after ``json.loads``.

    ``pin_ids`` (the batch asked for) only makes the read faster: pins missing from the body
    give no rows, pins in the body that were not asked for are read all the same. ``app_type``:
    see :func:`pin_payload_frame`.
    """
    if not isinstance(body, bytes):
        body = body.encode() if isinstance(body, str) else bytes(body)
    try:
        df = _read_pin_frame(body, columns, metric_types, split, pin_ids, app_type)
    except (Exception, pl.exceptions.PanicException):  # noqa: BLE001 - a Rust panic is not an Exception
        df = None       # whatever went wrong, pin_payload_frame decides
    if df is not None:
        return df
    try:
        data = json.loads(body)
    except ValueError as e:     # JSONDecodeError, UnicodeDecodeError
        raise PayloadError(f"pin_analytics: response is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise PayloadError("pin_analytics: expected a JSON object keyed by pin id")
    return pin_payload_frame(data, columns, metric_types, split, app_type=app_type)


# How the fast read works. Python cuts the body, without decoding it, into its group objects
# (``{"P1":{"all":G1},"P2":{"all":G2}}`` -> G1, G2) by searching for the keys expected (the
# pin ids, the group names), and Polars parses them, with the day schema declared, as JSON
# arrays ``[G1,S,G2,S,...,Gn]`` of about 64 KiB each (faster than one big array, and a third
# of the memory). ``S`` is a sentinel group whose one day is dated "\u0000". The cut is
# trusted only when
#   * the body is ASCII without a backslash: no string in it holds an escape, so every '"'
#     opens or closes a string, and none can hold "\u0000" (a raw control character in a
#     string is invalid JSON, which Polars rejects as json.loads does);
#   * only '{', ',', '}' and whitespace lie around the keys cut out;
#   * every array parses, with one element per piece and sentinel, and each sentinel's
#     element is one group whose one day is dated "\u0000".
# Each sentinel then sits at the top level of its array, so each piece (between two of them,
# or one of them and the end of the array) is exactly one JSON value: the body is valid JSON
# and its members are exactly the keys found (a key not searched for, or one found inside a
# value, would leave a piece that is not one value). Pins and groups come out in body order,
# days in list order, as pin_payload_frame reads them. The one case where the two paths can
# differ: a key repeated inside a group object, a day or its metrics (Polars keeps the first
# value, json.loads the last); repeated pin or group keys are caught by the cut.

_JSON_WS = b" \t\n\r"
_DIGIT_KEY = re.compile(rb'"(\d+)"[ \t\n\r]*:')
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.-]+")
_MAX_MISSES = 4         # pin ids not found ahead before scanning the body for every key instead
_SENTINEL = b'{"daily_metrics":[{"date":"\\u0000"}]}'


def _strip(body: bytes, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and body[lo] in _JSON_WS:
        lo += 1
    while hi > lo and body[hi - 1] in _JSON_WS:
        hi -= 1
    return lo, hi


def _find_key(body: bytes, key: bytes, lo: int, hi: int) -> tuple[int, int] | None:
    """(start of the first ``"key"`` in ``body[lo:hi]`` that a colon follows, start of its value)."""
    needle = b'"' + key + b'"'
    i = body.find(needle, lo, hi)
    while i >= 0:
        j = i + len(needle)
        while j < hi and body[j] in _JSON_WS:
            j += 1
        if j < hi and body[j] == 0x3A:      # ':'
            return i, j + 1
        i = body.find(needle, i + 1, hi)
    return None


def _locate(body: bytes, keys: Iterable[bytes], lo: int, hi: int,
            max_misses: int | None = None) -> list[tuple[int, int, bytes]] | None:
    """``[(key start, value start, key)]`` of the keys found in ``body[lo:hi]``, in body order.

    Each key is searched from where the previous one was found, then before it, so keys
    listed in body order cost one pass. None once more than ``max_misses`` keys were not
    found ahead (the caller then scans the body for its keys instead).
    """
    found = []
    cursor = lo
    misses = 0
    for key in keys:
        hit = _find_key(body, key, cursor, hi)
        if hit is None:
            misses += 1
            if max_misses is not None and misses > max_misses:
                return None
            if cursor > lo:
                hit = _find_key(body, key, lo, min(hi, cursor + len(key) + 2))
        if hit is not None:
            found.append((hit[0], hit[1], key))
            cursor = hit[1]
    found.sort()
    return found


def _members(body: bytes, lo: int, hi: int,
             found: list[tuple[int, int, bytes]]) -> list[tuple[bytes, int, int]] | None:
    """``[(key, value start, value end)]`` if ``body[lo:hi]`` is '{', the members keyed by
    ``found`` (from :func:`_locate`) and '}', with nothing else between; else None.
    The values themselves are not looked at."""
    lo, hi = _strip(body, lo, hi)
    if hi - lo < 2 or body[lo] != 0x7B or body[hi - 1] != 0x7D:     # '{' ... '}'
        return None
    first = found[0][0] if found else hi - 1
    if _strip(body, lo + 1, first)[0] != first:
        return None
    out = []
    for n, (_, value_lo, key) in enumerate(found):
        last = n + 1 == len(found)
        end = hi - 1 if last else found[n + 1][0]
        if end <= value_lo:
            return None
        v_lo, v_hi = _strip(body, value_lo, end)
        if not last:
            if v_hi == v_lo or body[v_hi - 1] != 0x2C:   # ','
                return None
            v_lo, v_hi = _strip(body, v_lo, v_hi - 1)
        if v_hi == v_lo:
            return None
        out.append((key, v_lo, v_hi))
    return out


def _pin_keys(body: bytes, pin_ids: Sequence[str] | None) -> list[tuple[int, int, bytes]] | None:
    """The top-level keys to cut the body at, located (see :func:`_locate`)."""
    if pin_ids:
        # other ids are not searched: were one a key of the body, the cut would fail
        keys = [p.encode() for p in dict.fromkeys(str(p) for p in pin_ids) if _PLAIN_ID.fullmatch(p)]
        found = _locate(body, keys, 0, len(body), _MAX_MISSES)
        if found is not None:
            return found
    return _locate(body, dict.fromkeys(m.group(1) for m in _DIGIT_KEY.finditer(body)), 0, len(body))


def _read_pin_frame(body: bytes, columns: tuple[Column, ...], metric_types: tuple[str, ...], split: str,
                    pin_ids: Sequence[str] | None, app_type: str = "TOTAL") -> pl.DataFrame | None:
    """:func:`read_pin_payload`'s Polars read (see the comment above), or None when the body
    has to go through :func:`pin_payload_frame`."""
    if not body.isascii() or b"\\" in body:
        return None
    pins = _members(body, 0, len(body), _pin_keys(body, pin_ids))
    if pins is None and pin_ids:    # say, the first pin was not asked for
        pins = _members(body, 0, len(body), _pin_keys(body, None))
    if pins is None:
        return None
    groups = tuple(g.encode() for g in (("all",) if split == "NO_SPLIT" else api.PIN_APP_TYPES))
    arrays: list[list[bytes]] = [[]]    # read in parts of ~64 KiB: as fast, and a third of the memory
    size = 0
    pin_col: list[str | None] = []      # per element of the arrays; None marks a sentinel
    app_col: list[str | None] = []
    for pin, lo, hi in pins:
        members = _members(body, lo, hi, _locate(body, groups, lo, hi))
        if members is None:     # not an object, or a group not expected: pin_payload_frame decides
            return None
        for group, g_lo, g_hi in members:
            if size >= _READ_BYTES and arrays[-1]:
                arrays.append([])
                size = 0
            if arrays[-1]:
                arrays[-1].append(_SENTINEL)
                pin_col.append(None)
                app_col.append(None)
            piece = body[g_lo:g_hi]
            arrays[-1].append(b"{}" if piece == b"null" else piece)  # both give no rows; Polars rejects a null row
            size += len(piece)
            pin_col.append(pin.decode())
            app_col.append(_app_type(group.decode(), split, app_type))
    if not pin_col:
        return concat([], columns)
    day = pl.Struct({"date": pl.String, "data_status": pl.String,
                     "metrics": pl.Struct({m: pl.Float64 for m in metric_types})})
    schema = {"daily_metrics": pl.List(day)}
    read = pl.concat([pl.read_json(io.BytesIO(b"[" + b",".join(a) + b"]"), schema=schema) for a in arrays])
    if read.height != len(pin_col):
        return None

    real = pl.col("pin_id").is_not_null()
    days = pl.col("daily_metrics")
    # the same typing as pin_payload_frame; sentinel days are dropped at the end
    exprs = [pl.col("pin_id"), pl.col("app_type"), pl.when(real).then(pl.col("date")).str.to_date("%Y-%m-%d"),
             pl.col("data_status")]
    suspect = [
        # a sentinel that did not give exactly one day dated "\0": the cut is wrong
        ((~real).sum() != pin_col.count(None)) | (~real & (pl.col("date") != "\0")).fill_null(True).any(),
        pl.col("_null_day").first(),
        # Polars reads a number or a boolean given as a status as text ("3", "true"), which
        # from_dicts may format otherwise ("1e+20"); a date so read fails to parse anyway
        (real & pl.col("data_status").str.contains(r"^(?:-|[0-9]|true$|false$)")).any(),
        # a date the format parses but that is not exactly YYYY-MM-DD: pin_payload_frame names it
        (real & ~pl.col("date").str.contains(DATE_PATTERN)).any(),
    ]
    for m in metric_types:
        col = next(c for c in columns if c.name == m.lower())
        suspect.append((~pl.col(m).is_finite()).any())      # pin_payload_frame names an infinity
        if col.kind == "int":       # pin_payload_frame widens a count with a fraction
            suspect.append(((pl.col(m).round(0) != pl.col(m)) & pl.col(m).is_not_null()).any())
        exprs.append(pl.col(m).cast(col.dtype).alias(col.name))
    df = (read.lazy()
          .with_columns(pl.Series("pin_id", pin_col, dtype=pl.String), pl.Series("app_type", app_col, dtype=pl.String))
          .filter(~real | (days.list.len() > 0))     # a group with null or no days gives no rows
          .explode("daily_metrics")
          .with_columns(_null_day=(real & days.is_null()).any())   # pin_payload_frame names the pin
          .unnest("daily_metrics")
          .unnest("metrics")
          .select(*exprs, pl.any_horizontal(suspect).alias("_suspect"))
          .collect(engine="in-memory"))
    if df.height and df.get_column("_suspect")[0]:
        return None
    return df.lazy().filter(real).select(list(polars_schema(columns))).collect(engine="in-memory")


# -- the user account's analytics ---------------------------------------------------------------

def user_analytics_frame(data: Any, columns: tuple[Column, ...], metric_types: tuple[str, ...],
                         split_field: str) -> pl.DataFrame:
    """Type ``{group: {"daily_metrics": [{"date", "data_status", "metrics"}], ...}}`` (the user
    account analytics answer) into rows: one per group and day, the group in the column named
    after the split (none without a split), metrics missing from a day null."""
    stream = "user_account_analytics"
    if not isinstance(data, dict):
        raise PayloadError(f"{stream}: expected a JSON object keyed by group")
    split_col = split_field.lower() if split_field != "NO_SPLIT" else None
    records = []
    for group, body in data.items():
        daily = body.get("daily_metrics") if isinstance(body, dict) else None
        if daily is None:
            continue
        if not isinstance(daily, list) or not all(isinstance(d, dict) for d in daily):
            raise PayloadError(f"{stream}: group {group!r}: unreadable daily_metrics (not a list of objects)")
        for day in daily:
            metrics = day.get("metrics") or {}
            if not isinstance(metrics, dict):
                raise PayloadError(f"{stream}: group {group!r}, day {day.get('date')!r}: metrics is not an object")
            record = {m.lower(): metrics.get(m) for m in metric_types}
            record.update(date=day.get("date"), data_status=day.get("data_status"))
            if split_col:
                record[split_col] = group
            records.append(record)
    return records_to_frame(records, columns, stream=stream, id_field="date")
