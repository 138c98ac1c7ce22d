"""read_pin_payload (Polars reads the raw multi-pin body) == pin_payload_frame after json.loads."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pinsync import frames
from pinsync.config import DEFAULT_PIN_METRIC_TYPES
from pinsync.errors import PayloadError
from pinsync.fake import Dataset, FakePinterest
from pinsync.frames import pin_payload_frame, read_pin_payload
from pinsync.schemas import pin_analytics_columns
from tests.conftest import TODAY, TOKEN

METRICS = ("IMPRESSION", "SAVE_RATE", "PIN_CLICK")
SPLITS = ("NO_SPLIT", "APP_TYPE")


@pytest.fixture(scope="module")
def fake() -> FakePinterest:
    ds = Dataset(seed=5, accounts=1, campaigns_per_account=1, ad_groups_per_campaign=1, ads_per_ad_group=1,
                 pins=14, today=TODAY, history_days=50)
    return FakePinterest(ds, access_tokens=(TOKEN,))


@pytest.fixture(scope="module")
def pin_ids(fake) -> list[str]:
    return sorted(p["id"] for p in fake.dataset.pins)


def multi_pin_body(fake, pin_ids, split: str, metric_types=METRICS, days: int = 40) -> bytes:
    """The fake API's answer to GET /v5/pins/analytics (the pins created in the window have
    BEFORE_PIN_CREATED days, the last three days are PROCESSING, zero metrics are omitted).
    The multi-pin beta has no split_field: split by APP_TYPE, the single-pin answers (one
    group per app type) in the same shape, ``{pin_id: answer}``."""
    query = {"start_date": [(TODAY - dt.timedelta(days=days)).isoformat()], "end_date": [TODAY.isoformat()],
             "metric_types": [",".join(metric_types)]}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    if split == "NO_SPLIT":
        status, _, body = fake.handle("GET", "/v5/pins/analytics", {**query, "pin_ids": [",".join(pin_ids)]}, auth)
        assert status == 200, body[:300]
        return body
    answers = {}
    for pin in pin_ids:
        status, _, body = fake.handle("GET", f"/v5/pins/{pin}/analytics", {**query, "split_field": [split]}, auth)
        assert status == 200, body[:300]
        answers[pin] = json.loads(body)
    return dumps(answers)


def dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def expected(body: bytes, metric_types=METRICS, split="NO_SPLIT"):
    """What the slow path gives for ``body``: a frame, or the exception it raises."""
    try:
        data = json.loads(body)
    except ValueError as e:
        return PayloadError(f"pin_analytics: response is not valid JSON ({e})")
    if not isinstance(data, dict):
        return PayloadError("pin_analytics: expected a JSON object keyed by pin id")
    try:
        return pin_payload_frame(data, pin_analytics_columns(metric_types), metric_types, split)
    except (PayloadError, pl.exceptions.PolarsError) as e:
        return e


def assert_same(body: bytes, metric_types=METRICS, split="NO_SPLIT", pin_ids=None) -> pl.DataFrame | None:
    want = expected(body, metric_types, split)
    cols = pin_analytics_columns(metric_types)
    if isinstance(want, Exception):
        with pytest.raises(type(want)) as got:
            read_pin_payload(body, cols, metric_types, split, pin_ids=pin_ids)
        assert str(got.value) == str(want)
        return None
    got = read_pin_payload(body, cols, metric_types, split, pin_ids=pin_ids)
    assert_frame_equal(got, want)
    return got


def fast(body: bytes, metric_types=METRICS, split="NO_SPLIT", pin_ids=None) -> pl.DataFrame | None:
    """The Polars read alone (None: it would hand the body to pin_payload_frame)."""
    return frames._read_pin_frame(body, pin_analytics_columns(metric_types), metric_types, split, pin_ids)


# ---------------------------------------------------------------------------- real bodies

@pytest.mark.parametrize("split", SPLITS)
def test_fake_api_bodies_are_read_by_polars_exactly_like_the_slow_path(fake, pin_ids, split):
    body = multi_pin_body(fake, pin_ids, split)
    got = assert_same(body, split=split, pin_ids=pin_ids)
    assert fast(body, split=split, pin_ids=pin_ids) is not None
    statuses = set(got["data_status"])
    assert {"READY", "PROCESSING", "BEFORE_PIN_CREATED"} <= statuses
    assert got["impression"].null_count() and got["save_rate"].null_count()       # metrics left out
    assert got.schema["impression"] == pl.Int64 and got.schema["save_rate"] == pl.Float64
    assert got.schema["date"] == pl.Date
    assert set(got["app_type"]) == ({"TOTAL"} if split == "NO_SPLIT" else {"MOBILE", "TABLET", "WEB"})
    assert got["pin_id"].unique(maintain_order=True).to_list() == pin_ids


@pytest.mark.parametrize("split", SPLITS)
def test_default_metric_types(fake, pin_ids, split):
    body = multi_pin_body(fake, pin_ids, split, DEFAULT_PIN_METRIC_TYPES)
    assert_same(body, DEFAULT_PIN_METRIC_TYPES, split, pin_ids)
    assert fast(body, DEFAULT_PIN_METRIC_TYPES, split, pin_ids) is not None


@pytest.mark.parametrize("split", SPLITS)
def test_empty_days_missing_pins_and_pins_not_asked_for(fake, pin_ids, split):
    data = json.loads(multi_pin_body(fake, pin_ids, split, days=20))
    first, second = pin_ids[:2]
    for group in data[first].values():
        group["daily_metrics"] = []                    # no days at all
    next(iter(data[second].values()))["daily_metrics"] = None
    body = dumps(data)
    absent = ["999000111", "999000222", "999000333", "999000444", "999000555", "999000666"]
    for ids in (pin_ids[1:] + absent[:2], pin_ids + absent, None, list(reversed(pin_ids))):
        got = assert_same(body, split=split, pin_ids=ids)
        assert fast(body, split=split, pin_ids=ids) is not None
        assert first not in set(got["pin_id"]) and (second in set(got["pin_id"])) == (split == "APP_TYPE")
    for ids in (pin_ids[::3], pin_ids[:1], absent):    # some pins in the body were not asked for
        assert_same(body, split=split, pin_ids=ids)


@pytest.mark.parametrize("split", SPLITS)
def test_layout_does_not_matter(fake, pin_ids, split):
    data = json.loads(multi_pin_body(fake, pin_ids[:4], split, days=8))
    pretty = json.dumps(data, indent=2).encode()
    spaced = json.dumps(data, separators=(" , ", " : ")).encode()
    shuffled = dumps({k: dict(reversed(list(v.items()))) for k, v in reversed(list(data.items()))})
    for body in (pretty, spaced, b"\r\n\t " + shuffled + b" \n"):
        assert_same(body, split=split, pin_ids=pin_ids[:4])
        assert fast(body, split=split, pin_ids=pin_ids[:4]) is not None


def test_an_empty_answer():
    for body in (b"{}", b" { } "):
        got = assert_same(body, pin_ids=["1"])
        assert got.height == 0 and got.schema == pl.Schema({c.name: c.dtype for c in pin_analytics_columns(METRICS)})


# ---------------------------------------------------------------------------- odd bodies

def _day(date="2026-11-01", status="READY", metrics=None):
    return {"date": date, "data_status": status, "metrics": {"IMPRESSION": 3, "SAVE_RATE": 0.25}
            if metrics is None else metrics}


def _body(*days, pin="11", other=True, group="all") -> bytes:
    data = {pin: {group: {"daily_metrics": list(days), "summary_metrics": {}}}}
    if other:
        data["22"] = {group: {"daily_metrics": [_day("2026-11-02")]}}
    return dumps(data)


GOOD = _body(_day(), _day("2026-11-02", "PROCESSING", {}))

# bodies pin_payload_frame (or json.loads) refuses: read_pin_payload must raise the same error
BAD = {
    "empty": b"",
    "not json": b"nope",
    "truncated": GOOD[:-3],
    "trailing garbage": GOOD + b"}",
    "two objects": GOOD + GOOD,
    "array": b"[]",
    "number": b"5",
    "null": b"null",
    "pin is a number": b'{"11": 5}',
    "pin is null": b'{"11": null, "22": {"all": {"daily_metrics": []}}}',
    "pin is a list": b'{"11": []}',
    "pin is a string": GOOD[:-1] + b',"33":"x"}',
    "unknown key holding a string": GOOD[:-1] + b',"message":"partial"}',
    "daily_metrics is an object": b'{"11": {"all": {"daily_metrics": {"a": 1}}}}',
    "daily_metrics is a string": b'{"11": {"all": {"daily_metrics": "x"}}}',
    "daily_metrics is true": b'{"11": {"all": {"daily_metrics": true}}}',
    "daily_metrics in an unknown group": b'{"11": {"all": {"daily_metrics": []}, "IOS": {"daily_metrics": 5}}}',
    "only null days": b'{"11": {"all": {"daily_metrics": [null]}}, "22": {"all": {"daily_metrics": [null]}}}',
    "numeric day": _body(5),
    "list day": _body([1]),
    "NaN count": _body(_day()).replace(b'"IMPRESSION":3', b'"IMPRESSION":NaN'),
    "infinite count": _body(_day()).replace(b'"IMPRESSION":3', b'"IMPRESSION":1e400'),
    "count too large": _body(_day(metrics={"IMPRESSION": 1e30})),
    "bad date": _body(_day("2026-13-01")),
    "not a date": _body(_day("yesterday")),
    "numeric date": _body(_day(20261101)),
    "null date and a bad one": _body(_day(None), _day("01/11/2026")),
    "invalid JSON that still cuts into values":
        b'{"11":{"all":{"daily_metrics":[{}},"22":{"all":{}]},{},{"daily_metrics":[{}},"33":{"all":{}]}}}',
    "invalid JSON with brackets in strings":
        b'{"11":{"all":{"d":[1,"]}"}},"22":{"all":{"y":1}]},{"z":"[{"}}}',
    "invalid JSON: raw tab in a string": _body(_day("2026-11-01\t")),
    "invalid JSON: missing comma": GOOD.replace(b'},"22"', b'} "22"'),
    "invalid JSON: trailing comma": GOOD[:-1] + b",}",
    "invalid UTF-8": _body(_day(status="READY\xff")).replace(b"\\u00ff", b"\xff"),
}

# bodies the slow path accepts, if not in the usual shape: the same frame either way
ODD = {
    "count sent as a float": _body(_day(metrics={"IMPRESSION": 3.0, "PIN_CLICK": 2e0})),
    "count sent as a string": _body(_day(metrics={"IMPRESSION": "3"})),
    "count sent as a boolean": _body(_day(metrics={"IMPRESSION": True, "PIN_CLICK": False})),
    "huge integer count": _body(_day(metrics={"IMPRESSION": 2**60 + 1})),
    "numeric status": _body(_day(status=3), _day("2026-11-02", status=1e20)),
    "boolean status": _body(_day(status=True)),
    "null status and metrics": _body(_day(status=None), {"date": "2026-11-02", "metrics": None}),
    "metrics not an object": _body(_day(metrics=[1]), _day("2026-11-02", metrics="x")),
    "an empty day": _body({}),
    "a null day": _body(_day(), None),       # from_dicts makes it a row of nulls (unless every day is null)
    "extra fields": _body({**_day(), "extra": {"x": [1]}, "metrics": {"IMPRESSION": 1, "OTHER": "x"}}),
    "escapes": _body(_day(status="READ\u0059 \u00e9")),
    "brackets in strings": _body(_day(status="]}],{[:,"), _day("2026-11-02", status="{[")),
    "quotes in strings": _body(_day(status='"]},{"')),
    "null group": b'{"11": {"all": null}, "22": {"all": {"daily_metrics": []}}}',
    "group not an object": b'{"11": {"all": 5}, "22": {"all": [1]}, "33": {"all": {"daily_metrics": null}}}',
    "falsy daily_metrics": b'{"11": {"all": {"daily_metrics": {}}}, "22": {"all": {"daily_metrics": 0}}}',
    "a pin without groups": b'{"11": {}, "22": {"all": {"daily_metrics": [{"date": "2026-11-01"}]}}}',
    "unknown group": _body(_day()).replace(b'"22":{"all"', b'"22":{"IOS":{"daily_metrics":[]},"all"'),
    "group in capitals": _body(_day(), group="ALL"),
    "duplicate pin": GOOD[:-1] + b',"11":{"all":{"daily_metrics":[]}}}',
    "duplicate group": _body(_day()).replace(b'"22":{"all"', b'"22":{"all":{"daily_metrics":[]},"all"'),
    "pin id nested in another pin": b'{"11":{"all":{"daily_metrics":[],"22":{}}},"22":{"all":{"daily_metrics":'
                                    b'[{"date":"2026-11-01","data_status":"READY","metrics":{"IMPRESSION":1}}]}}}',
    "pin ids that are not digits": _body(_day(), pin="pin-a"),
    "pin id with spaces": _body(_day(), pin="pin a"),
    "byte order mark": b"\xef\xbb\xbf" + GOOD,
    "UTF-16": GOOD.decode().encode("utf-16"),
    "negative zero and tiny numbers": _body(_day(metrics={"IMPRESSION": -0, "SAVE_RATE": -0.0, "PIN_CLICK": 1e-400})),
    # a count with a fraction widens its column to Float64, values as sent
    "fractional count": _body(_day(metrics={"IMPRESSION": 1.5})),
    "fractional count later": _body(_day(), _day("2026-11-03", metrics={"IMPRESSION": 7, "PIN_CLICK": 0.5})),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_bodies_raise_what_the_slow_path_raises(name):
    body = BAD[name]
    want = expected(body)
    assert isinstance(want, Exception), "the slow path accepts this body"
    for ids in (["11", "22"], None):
        assert_same(body, pin_ids=ids)


@pytest.mark.parametrize("name", ODD)
def test_odd_bodies_give_what_the_slow_path_gives(name):
    body = ODD[name]
    assert isinstance(expected(body), pl.DataFrame)
    for ids in (["11", "22", "33"], None):
        assert_same(body, pin_ids=ids)


@pytest.mark.parametrize("split", SPLITS)
def test_odd_bodies_with_the_app_type_split(split):
    for body in (GOOD, ODD["unknown group"], ODD["group in capitals"]):
        assert_same(body.replace(b'"all"', b'"WEB"'), split=split, pin_ids=["11", "22"])
        assert_same(body, split=split, pin_ids=["11", "22"])


def test_the_usual_shape_is_read_by_polars():
    assert fast(GOOD, pin_ids=["11", "22"]) is not None
    assert fast(GOOD) is not None
    for name in ("count sent as a float", "huge integer count", "an empty day", "extra fields", "null group",
                 "null status and metrics", "a pin without groups", "count sent as a boolean",
                 "brackets in strings"):
        assert fast(ODD[name], pin_ids=["11", "22"]) is not None, name
    assert_same(GOOD, ("SAVE_RATE",), pin_ids=["11"])
    assert_same(GOOD, ("IMPRESSION", "IMPRESSION"), pin_ids=["11"])


def test_a_count_with_a_fraction_widens_its_column_and_keeps_the_value():
    df = read_pin_payload(ODD["fractional count later"], pin_analytics_columns(METRICS), METRICS, "NO_SPLIT",
                          pin_ids=["11", "22"])
    assert df.schema["pin_click"] == pl.Float64 and df.schema["impression"] == pl.Int64
    assert df.filter(pl.col("date") == dt.date(2026, 11, 3))["pin_click"].to_list() == [0.5]


def test_the_fast_read_names_the_same_pin_and_value():
    with pytest.raises(PayloadError, match=r"pin_analytics: pin '11': unreadable daily_metrics"):
        read_pin_payload(BAD["only null days"], pin_analytics_columns(METRICS), METRICS, "NO_SPLIT")
    with pytest.raises(PayloadError, match=r"pin_analytics: pin '33': expected an object of groups"):
        read_pin_payload(BAD["pin is a string"], pin_analytics_columns(METRICS), METRICS, "NO_SPLIT")


@pytest.mark.parametrize("read_bytes", [1, 3000, 10**9])
@pytest.mark.parametrize("split", SPLITS)
def test_any_number_of_reads(fake, pin_ids, split, read_bytes, monkeypatch):
    monkeypatch.setattr(frames, "_READ_BYTES", read_bytes)      # one group per array ... one array in all
    body = multi_pin_body(fake, pin_ids[:6], split, days=10)
    assert_same(body, split=split, pin_ids=pin_ids[:6])
    assert fast(body, split=split, pin_ids=pin_ids[:6]) is not None
    for name in ("invalid JSON that still cuts into values", "invalid JSON with brackets in strings", "only null days"):
        assert_same(BAD[name], pin_ids=["11", "22"])
    assert_same(ODD["fractional count later"], pin_ids=["11", "22"])
