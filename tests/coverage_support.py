"""Helpers for the tests of the other objects and reports: the spec extract, its objects'
properties, and the value and dtype a table must hold for each of them (derived from the
spec's types here, independently of pinsync's schema registry and frames module)."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from tests.conftest import SPEC_PATH

SPEC = json.loads(SPEC_PATH.read_text())
SCHEMAS = SPEC["components"]["schemas"]
PARAMETERS = SPEC["components"].get("parameters", {})
UTC = dt.timezone.utc
UTC_DATETIME = pl.Datetime("us", "UTC")


def resolve(s: dict) -> dict:
    while "$ref" in s:
        section, name = s["$ref"].split("/")[2:]
        s = SPEC["components"][section][name]
    return s


def properties(name: str) -> dict[str, dict]:
    """Every property of a spec object: its own, its ``allOf`` parts', and for a ``oneOf`` the
    union of its variants' (a feed is a retail, hotel or creative assets feed)."""
    def walk(s: dict) -> dict:
        s = resolve(s)
        out = {}
        for part in (*s.get("allOf", ()), *s.get("oneOf", ())):
            out.update(walk(part))
        for k, v in s.get("properties", {}).items():
            out.setdefault(k, v)
        return out
    return walk(SCHEMAS[name])


def operation(path: str, method: str = "get") -> dict:
    return SPEC["paths"][path][method]


def declared_parameters(path: str) -> dict[str, dict]:
    """The query parameters an operation declares, by name (resolved)."""
    out = {}
    for p in operation(path).get("parameters", []):
        p = resolve(p)
        if p["in"] == "query":
            out[p["name"]] = p
    return out


def scopes(path: str) -> set[str]:
    """The OAuth scopes of the operation's ``pinterest_oauth2`` security requirement."""
    return {s for req in operation(path)["security"] for k, v in req.items() if k == "pinterest_oauth2" for s in v}


def _kind(prop: dict) -> str:
    """What the spec says a property is: id, str, int, float, bool, time, list, json."""
    p = resolve(prop)
    for part in p.get("allOf", ()):
        p = {**resolve(part), **{k: v for k, v in p.items() if k != "allOf"}}
    t = p.get("type")
    if t == "string":
        if p.get("format") == "date-time":
            return "time"
        return "id" if p.get("pattern") in ("^\\d+$", "^(AG)?\\d+$") else "str"
    if t == "array":
        return "list" if resolve(p["items"]).get("type") == "string" else "json"
    if t in ("object", None):
        return "json"
    return {"integer": "int", "number": "float", "boolean": "bool"}[t]


def expected_dtype(name: str, prop: dict) -> pl.DataType:
    """The dtype a property's column must have: ids and strings text, times UTC datetimes
    (Unix seconds or milliseconds, or ISO strings), free-form objects JSON text, counts
    integers, flags booleans, arrays of strings lists."""
    kind = _kind(prop)
    timelike = name.endswith(("_time", "_timestamp", "_time_ms", "_at"))
    if kind == "time" or (kind in ("int", "float") and timelike):
        return UTC_DATETIME
    return {"id": pl.String(), "str": pl.String(), "int": pl.Int64(), "float": pl.Float64(), "bool": pl.Boolean(),
            "list": pl.List(pl.String()), "json": pl.String()}[kind]


def expected_value(name: str, value, dtype: pl.DataType):
    """What a column must hold for the API's ``value`` (a struct column: its fields' text)."""
    if value is None:
        return None
    if dtype == UTC_DATETIME:
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value).replace(tzinfo=UTC)
        seconds = value / 1000 if name.endswith("_ms") else value
        return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=seconds)
    if isinstance(dtype, pl.Struct):
        return {f.name: value.get(f.name) for f in dtype.fields}
    if dtype == pl.String() and isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if dtype == pl.String() and isinstance(value, int):
        return str(value)
    return value
