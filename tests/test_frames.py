"""Typing API payloads: declared dtypes always, lossless coercion, clear errors."""

import datetime as dt
import io
import json
import random

import polars as pl
import pytest

from pinsync import frames
from pinsync.errors import PayloadError
from pinsync.frames import pin_payload_frame
from pinsync.schemas import (ENTITY_COLUMNS, Column, analytics_columns, pin_analytics_columns, polars_schema,
                             targeting_analytics_columns)

UTC = dt.timezone.utc
COLS = ("SPEND_IN_DOLLAR", "PAID_IMPRESSION", "CTR", "CPC_IN_MICRO_DOLLAR", "SPEND_IN_MICRO_DOLLAR",
        "CAMPAIGN_ID", "AD_ACCOUNT_ID", "CAMPAIGN_NAME")


def _analytics(body: bytes, columns=COLS):
    cols = analytics_columns("campaign", columns, "DAY")
    source = {"campaign_id": "CAMPAIGN_ID", "date": "DATE"}
    source.update({c.lower(): c for c in columns if c.lower() not in source})
    return frames.read_json_array(body, cols, stream="campaign_analytics", source_names=source,
                                  id_field="CAMPAIGN_ID"), cols


def test_entity_schema_is_identical_for_an_all_null_page():
    cols = ENTITY_COLUMNS["campaigns"]
    full = frames.records_to_frame([{"id": "1", "name": "x", "daily_spend_cap": 5_000_000, "created_time": 1,
                                     "tracking_urls": {"impression": ["u"]}, "is_performance_plus": True}],
                                   cols, stream="campaigns")
    empty = frames.records_to_frame([{"id": "2"}], cols, stream="campaigns")
    none = frames.records_to_frame([], cols, stream="campaigns")
    assert full.schema == empty.schema == none.schema == polars_schema(cols)


def test_entity_types_ids_times_money_json_and_structs():
    rec = {"id": 549755813888123456, "ad_account_id": "000123", "created_time": 1700000000,
           "updated_time": "1700000060", "daily_spend_cap": 12_345_678, "bid_options": {"b": 1, "a": [2]},
           "unknown_new_field": {"x": 1}}
    df = frames.records_to_frame([rec], ENTITY_COLUMNS["campaigns"], stream="campaigns")
    row = df.row(0, named=True)
    assert row["id"] == "549755813888123456"             # no float rounding of 18-digit ids
    assert row["ad_account_id"] == "000123"              # leading zeros kept
    assert row["created_time"] == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert row["updated_time"] == dt.datetime(2023, 11, 14, 22, 14, 20, tzinfo=UTC)
    assert row["daily_spend_cap"] == 12_345_678 and df.schema["daily_spend_cap"] == pl.Int64
    assert json.loads(row["bid_options"]) == {"a": [2], "b": 1}
    assert "unknown_new_field" not in df.columns


def test_pin_created_at_without_zone_is_utc_and_owner_struct():
    df = frames.records_to_frame([{"id": "1", "created_at": "2022-10-13T01:40:29", "board_owner": {"username": "u"}},
                                  {"id": "2", "created_at": "2022-10-13T03:40:29+02:00"}],
                                 ENTITY_COLUMNS["pins"], stream="pins")
    assert df["created_at"].to_list() == [dt.datetime(2022, 10, 13, 1, 40, 29, tzinfo=UTC)] * 2
    assert df["board_owner"].to_list()[0] == {"username": "u"}


def test_wrong_type_that_would_lose_data_names_stream_field_and_record():
    with pytest.raises(PayloadError) as e:
        frames.records_to_frame([{"id": "42", "daily_spend_cap": 1.5}], ENTITY_COLUMNS["campaigns"], stream="campaigns")
    assert "campaigns" in str(e.value) and "daily_spend_cap" in str(e.value) and "'42'" in str(e.value)
    with pytest.raises(PayloadError):
        frames.records_to_frame([{"id": "42", "is_performance_plus": "maybe"}], ENTITY_COLUMNS["campaigns"],
                                stream="campaigns")


def test_lossless_coercions_are_applied():
    df = frames.records_to_frame([{"id": "1", "daily_spend_cap": "15", "lifetime_spend_cap": 3.0,
                                   "is_performance_plus": "true"}], ENTITY_COLUMNS["campaigns"], stream="campaigns")
    assert df.row(0, named=True)["daily_spend_cap"] == 15
    assert df.row(0, named=True)["lifetime_spend_cap"] == 3
    assert df.row(0, named=True)["is_performance_plus"] is True


_POOL = [None, True, False, 0, 1, 2, -5, 2**63 - 1, 2**63, -(2**63), 2**70, 1.0, 1.5, -0.0, 1e300, "", "x", "12",
         " 12 ", "1.5", "true", "False", "2026-11-29", "2026-02-30", "2026-11-29T22:40:25", "2026-11-29T22:40:25Z",
         "2026-11-29T22:40:25.5+00:00", "2026-11-29T22:40:25+02:00", "2026-11-29T22:40:25.1234567",
         "2026-11-29 22:40:25", "1700000000", [], ["a"], ["a", 1], ["a", None], [True], [["a"]], {}, {"a": 1},
         1700000000, -62135596800, 253402300799, 253402300800, 10**13]
_TYPICAL = {
    "id": [None, "1", "0042", "x", 7], "str": [None, "", "x", 7], "int": [None, 0, -5, 2**63 - 1, 2**63, 3.0],
    "float": [None, 0, 1.5, -0.0, 2**53 + 1, 2**63, True], "bool": [None, True, False, 1],
    "epoch": [None, 0, 1700000000, -62135596800, 253402300799, 253402300800, 1.5],
    "iso": [None, "2026-11-29T22:40:25", "2026-11-29T22:40:25Z", "2026-11-29T22:40:25.123456+00:00",
            "2026-11-29T22:40:25+02:00", "2026-02-30T00:00:00", "2026-11-29T22:40:25.1234567", 1700000000],
    "date": [None, "2026-11-29", "2026-02-30", "2026-11-29T00:00:00", "29/11/2026"],
    "list": [None, [], ["a"], ["a", "b"], ["é", "😀", 'q"\\', "\u2028"], ["a", 1], ["a", None], "a", [["a"]]],
}


def _value_by_value(kind: str, values: list):
    """The reference: every value through the lossless per-value coercion."""
    out = []
    for i, v in enumerate(values):
        try:
            out.append(frames._coerce(kind, v))
        except frames._Lossy as e:
            return f"t: field 'v' of record '{i}' {e}"
    return pl.Series("v", out, Column("v", kind).dtype)


@pytest.mark.parametrize("kind", sorted(_TYPICAL))
def test_vectorised_entity_typing_equals_value_by_value(kind):
    """Whole columns are typed in one step when their JSON types allow: the result (or the
    error) is exactly what typing each value on its own gives, for odd values too."""
    rng = random.Random(kind)
    cols = (Column("id", "id"), Column("v", kind))
    for _ in range(400):
        pool = _TYPICAL[kind] if rng.random() < 0.7 else _POOL
        values = [rng.choice(pool) for _ in range(rng.randint(1, 6))]
        expected = _value_by_value(kind, values)
        records = [{"id": str(i), "v": v} for i, v in enumerate(values)]
        if isinstance(expected, str):
            with pytest.raises(PayloadError) as e:
                frames.records_to_frame(records, cols, stream="t")
            assert str(e.value) == expected, values
        else:
            got = frames.records_to_frame(records, cols, stream="t")["v"]
            assert got.dtype == expected.dtype and got.equals(expected), values


def test_analytics_omitted_columns_are_null_with_stable_dtypes():
    body = json.dumps([{"CAMPAIGN_ID": "1", "DATE": "2026-11-01", "SPEND_IN_DOLLAR": 2.5, "PAID_IMPRESSION": 10},
                       {"CAMPAIGN_ID": "2", "DATE": "2026-11-01"}]).encode()
    df, cols = _analytics(body)
    assert df.schema == polars_schema(cols)
    assert df.filter(pl.col("campaign_id") == "2")["spend_in_dollar"].to_list() == [None]
    assert df.schema["paid_impression"] == pl.Int64 and df.schema["ctr"] == pl.Float64
    assert df.schema["cpc_in_micro_dollar"] == pl.Float64       # a ratio: never truncated
    assert df.schema["spend_in_micro_dollar"] == pl.Int64       # an additive total
    assert df.schema["date"] == pl.Date


def test_analytics_empty_response_is_a_typed_empty_frame():
    df, cols = _analytics(b"[]")
    assert df.height == 0 and df.schema == polars_schema(cols)


@pytest.mark.parametrize("ctr", ["0.5", '"0.5"'])      # read by Polars, or value by value (CTR as text)
def test_analytics_fraction_in_an_integer_column_widens_it_instead_of_truncating_or_failing(ctr):
    body = (b'[{"CAMPAIGN_ID": "7", "DATE": "2026-11-01", "PAID_IMPRESSION": 3.5, "CTR": %s},'
            b' {"CAMPAIGN_ID": "8", "DATE": "2026-11-01", "PAID_IMPRESSION": 4, "SPEND_IN_MICRO_DOLLAR": 9}]'
            % ctr.encode())
    df, _ = _analytics(body)
    assert df.schema["paid_impression"] == pl.Float64 and df["paid_impression"].to_list() == [3.5, 4.0]
    assert df.schema["spend_in_micro_dollar"] == pl.Int64 and df["ctr"].to_list() == [0.5, None]


@pytest.mark.parametrize("value", ["true", "9223372036854775808", "1e300", '"many"', '{"a": 1}'])
@pytest.mark.parametrize("fraction", [False, True])
def test_analytics_integer_values_that_are_no_number_or_out_of_range_still_fail(value, fraction):
    other = ', "PAID_IMPRESSION": 2.5' if fraction else ""
    body = (b'[{"CAMPAIGN_ID": "7", "DATE": "2026-11-01", "SPEND_IN_MICRO_DOLLAR": %s%s}]'
            % (value.encode(), other.encode()))
    with pytest.raises(PayloadError, match="spend_in_micro_dollar.*'7'"):
        _analytics(body)


def test_analytics_integers_above_2_53_stay_exact():
    values = [2**53 + 1, 9_007_199_254_740_993_1, 2**63 - 1, -(2**63), 123_456_789_012_345_678]
    body = json.dumps([{"CAMPAIGN_ID": str(i), "DATE": "2026-11-01", "SPEND_IN_MICRO_DOLLAR": v}
                       for i, v in enumerate(values)]).encode()
    df, _ = _analytics(body)
    assert df.schema["spend_in_micro_dollar"] == pl.Int64
    assert df["spend_in_micro_dollar"].to_list() == values
    # the value-by-value path (here: CTR given as text) keeps them exact too
    slow = json.dumps([{"CAMPAIGN_ID": "1", "DATE": "2026-11-01", "CTR": "0.5", "SPEND_IN_MICRO_DOLLAR": v}
                       for v in values]).encode()
    assert _analytics(slow)[0]["spend_in_micro_dollar"].to_list() == values


def test_analytics_integers_above_2_53_stay_exact_when_read_by_polars_alone(monkeypatch):
    """A usual answer, with nothing that sends it value by value (no value past Int64, no
    text): its integers a float cannot hold keep every digit on the fast path too."""
    def value_by_value(*a, **kw):
        raise AssertionError("read value by value")
    monkeypatch.setattr(frames, "records_to_frame", value_by_value)
    values = [2**53 + 1, 2**62 + 3, -(2**60) - 1, 123_456_789_012_345_679]
    body = json.dumps([{"CAMPAIGN_ID": str(i), "DATE": "2026-11-01", "SPEND_IN_MICRO_DOLLAR": v, "CTR": 0.5}
                       for i, v in enumerate(values)]).encode()
    df, _ = _analytics(body)
    assert df.schema["spend_in_micro_dollar"] == pl.Int64
    assert df["spend_in_micro_dollar"].to_list() == values


def test_analytics_numeric_strings_are_coerced():
    df, _ = _analytics(b'[{"CAMPAIGN_ID": 7, "DATE": "2026-11-01", "PAID_IMPRESSION": "3", "CTR": "0.5"}]')
    assert df.row(0, named=True)["paid_impression"] == 3 and df.row(0, named=True)["campaign_id"] == "7"


def test_pin_payload_unnests_metrics_and_types_them():
    cols = pin_analytics_columns(("IMPRESSION", "SAVE_RATE"))
    payload = {"p1": {"all": {"daily_metrics": [
        {"date": "2026-11-01", "data_status": "READY", "metrics": {"IMPRESSION": 240, "SAVE_RATE": 0.18}},
        {"date": "2026-11-02", "data_status": "PROCESSING", "metrics": {}}]}}}
    df = pin_payload_frame(payload, cols, ("IMPRESSION", "SAVE_RATE"), "NO_SPLIT")
    assert df.schema == polars_schema(cols)
    assert df.rows() == [("p1", "TOTAL", dt.date(2026, 11, 1), "READY", 240, 0.18),
                         ("p1", "TOTAL", dt.date(2026, 11, 2), "PROCESSING", None, None)]


def _hourly(rows: list[dict]):
    cols = analytics_columns("campaign", ("PAID_IMPRESSION",), "HOUR")
    source = {"campaign_id": "CAMPAIGN_ID", "date": "DATE", "paid_impression": "PAID_IMPRESSION"}
    return frames.read_json_array(json.dumps(rows).encode(), cols, stream="campaign_analytics",
                                  source_names=source, id_field="CAMPAIGN_ID")


def _at(hour: int, day: int = 28) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=UTC)


def test_hourly_rows_are_placed_by_the_hour_member_beside_a_plain_date():
    rows = [{"CAMPAIGN_ID": "7", "DATE": "2026-11-28", "HOUR": h, "PAID_IMPRESSION": 10 + h} for h in range(24)]
    rows.append({"CAMPAIGN_ID": "7", "DATE": "2026-11-29", "HOUR": "3", "PAID_IMPRESSION": 1})
    df = _hourly(rows)
    assert df.schema["date"] == pl.Datetime("us", "UTC")
    assert df["date"].to_list() == [_at(h) for h in range(24)] + [_at(3, 29)]
    assert df["paid_impression"].to_list() == [10 + h for h in range(24)] + [1]


@pytest.mark.parametrize("date", ["2026-11-28T05:00:00", "2026-11-28 05:00:00", "2026-11-28T05:00:00Z"])
def test_hourly_rows_are_placed_by_a_time_inside_date(date):
    df = _hourly([{"CAMPAIGN_ID": "7", "DATE": date, "PAID_IMPRESSION": 1},
                  {"CAMPAIGN_ID": "7", "DATE": "2026-11-28T00:00:00", "HOUR": 6, "PAID_IMPRESSION": 2},
                  {"CAMPAIGN_ID": "7", "DATE": "2026-11-28T07:00:00", "HOUR": 7, "PAID_IMPRESSION": 3}])
    assert df["date"].to_list() == [_at(5), _at(6), _at(7)]


def test_identical_hourly_rows_sent_twice_are_not_an_error():
    row = {"CAMPAIGN_ID": "7", "DATE": "2026-11-28", "HOUR": 4, "PAID_IMPRESSION": 1}
    assert _hourly([row, dict(row)])["date"].to_list() == [_at(4), _at(4)]     # deduplicated when written


@pytest.mark.parametrize("rows,message", [
    # the spec's plain date and nothing else: 24 rows would collapse into one
    ([{"CAMPAIGN_ID": "7", "DATE": "2026-11-28", "PAID_IMPRESSION": h} for h in range(24)],
     r"record '7' cannot be placed in an hour: DATE '2026-11-28' is a date and no HOUR is given"),
    ([{"CAMPAIGN_ID": "7", "DATE": "2026-11-28", "HOUR": 24, "PAID_IMPRESSION": 1}], r"record '7'.*HOUR '24'"),
    ([{"CAMPAIGN_ID": "7", "DATE": "2026-11-28", "HOUR": "noon", "PAID_IMPRESSION": 1}], r"HOUR 'noon'"),
    ([{"CAMPAIGN_ID": "7", "DATE": "2026-11-28T05:30:00", "PAID_IMPRESSION": 1}], r"DATE '2026-11-28T05:30:00'"),
    ([{"CAMPAIGN_ID": "7", "DATE": "2026-11-28T05:00:00", "HOUR": 6, "PAID_IMPRESSION": 1}], r"HOUR '6'"),
    ([{"CAMPAIGN_ID": "7", "DATE": "28/11/2026", "HOUR": 6, "PAID_IMPRESSION": 1}], r"DATE '28/11/2026'"),
    ([{"CAMPAIGN_ID": "7", "DATE": "2026-11-28X05:00:00", "PAID_IMPRESSION": 1}], r"DATE '2026-11-28X05:00:00'"),
    ([{"CAMPAIGN_ID": "7", "HOUR": 6, "PAID_IMPRESSION": 1}], r"record '7' cannot be placed"),
    # hours that are all the same: different rows for one hour
    ([{"CAMPAIGN_ID": "7", "DATE": "2026-11-28", "HOUR": 0, "PAID_IMPRESSION": h} for h in range(3)],
     r"record '7' has different rows for the hour 2026-11-28T00:00Z"),
])
def test_hourly_rows_that_cannot_be_told_apart_fail_naming_the_stream(rows, message):
    with pytest.raises(PayloadError, match="^campaign_analytics: granularity HOUR, but " + ".*" + message):
        _hourly(rows)


def test_pin_watch_time_is_a_float_as_the_spec_types_it():
    """The spec types pin metrics as ``number``; total play time is a measure, not a count."""
    metrics = ("VIDEO_V50_WATCH_TIME", "VIDEO_START")
    cols = pin_analytics_columns(metrics)
    payload = {"p1": {"all": {"daily_metrics": [
        {"date": "2026-11-01", "data_status": "READY", "metrics": {"VIDEO_V50_WATCH_TIME": 10031, "VIDEO_START": 29}},
        {"date": "2026-11-02", "data_status": "READY", "metrics": {"VIDEO_V50_WATCH_TIME": 2507.75}}]}}}
    df = pin_payload_frame(payload, cols, metrics, "NO_SPLIT")
    assert df.schema["video_v50_watch_time"] == pl.Float64 and df.schema["video_start"] == pl.Int64
    assert df.schema == polars_schema(cols)                          # declared so, not widened
    assert df["video_v50_watch_time"].to_list() == [10031.0, 2507.75]


def test_the_usual_analytics_answer_is_read_by_polars_alone(monkeypatch):
    """No Python per row on the analytics path: plain answers, and answers whose only oddity
    is a fraction in an integer column, never go value by value."""
    def value_by_value(*a, **kw):
        raise AssertionError("read value by value")
    monkeypatch.setattr(frames, "records_to_frame", value_by_value)
    plain = json.dumps([{"CAMPAIGN_ID": str(i), "DATE": "2026-11-01", "PAID_IMPRESSION": i, "CTR": 0.5}
                        for i in range(3)]).encode()
    assert _analytics(plain)[0]["paid_impression"].to_list() == [0, 1, 2]
    for value in (2.5, 2.25):
        fraction = json.dumps([{"CAMPAIGN_ID": "1", "DATE": "2026-11-01", "PAID_IMPRESSION": value}]).encode()
        assert _analytics(fraction)[0]["paid_impression"].to_list() == [value]


def test_analytics_dates_polars_cannot_parse_go_value_by_value():
    df, _ = _analytics(b'[{"CAMPAIGN_ID": "7", "DATE": "2026-11-01T00:00:00", "PAID_IMPRESSION": 1}]')
    assert df["date"].to_list() == [dt.date(2026, 11, 1)]
    with pytest.raises(PayloadError, match="date.*'7'"):
        _analytics(b'[{"CAMPAIGN_ID": "7", "DATE": "2026-02-30", "PAID_IMPRESSION": 1}]')


def _nasty_rows(n: int, seed: int, nested: bool = False) -> list[dict]:
    """Rows whose texts hold what a row separator looks like, inside strings and at their ends."""
    rng = random.Random(seed)
    bits = ['},{"', '},{"x', '}, {"', '},{', '"}', '{"a":1}', '\\', '\n', ']', '[{', ':', ',', 'é', ' ']
    rows = []
    for i in range(n):
        name = "".join(rng.choice(bits) for _ in range(rng.randrange(0, 6)))
        row = {"CAMPAIGN_ID": str(1000 + i), "DATE": "2026-11-01", "CAMPAIGN_NAME": name,
               "PAID_IMPRESSION": rng.randrange(0, 10**6), "CTR": rng.random()}
        if nested and i % 7 == 3:
            row["EXTRA"] = [{"a": name}, {"b": 2}]      # a field the table has no column for
        rows.append(row)
    return rows


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": "), (",\n  ", ":\t")])
@pytest.mark.parametrize("nested", [False, True])
def test_a_big_analytics_answer_is_read_in_parts_with_every_row_as_one_read_gives_it(separators, nested, monkeypatch):
    rows = _nasty_rows(3000, seed=len(separators[0]) + nested, nested=nested)
    body = json.dumps(rows, separators=separators, ensure_ascii=False).encode()
    assert len(body) > 4 * frames._READ_BYTES
    reads = []
    read_json = pl.read_json
    monkeypatch.setattr(pl, "read_json", lambda src, **kw: reads.append(1) or read_json(src, **kw))
    df, _ = _analytics(body)
    parts = len(reads)
    monkeypatch.setattr(frames, "_READ_BYTES", 10**9)      # one read of the whole body
    whole, _ = _analytics(body)
    assert len(reads) == parts + 1
    assert parts > 3 or nested      # nested rows: a cut inside a row fails, and the body is read whole
    assert df.equals(whole)
    assert df["campaign_name"].to_list() == [r["CAMPAIGN_NAME"] for r in rows]
    assert df["paid_impression"].to_list() == [r["PAID_IMPRESSION"] for r in rows]


@pytest.mark.parametrize("seed", range(40))
def test_reading_an_array_in_parts_gives_what_one_read_gives_or_fails_as_it_does(seed, monkeypatch):
    """Random arrays (flat or nested rows, odd strings, odd spacing, some not JSON at all)."""
    monkeypatch.setattr(frames, "_READ_BYTES", 64)
    rng = random.Random(seed)
    rows = _nasty_rows(rng.randrange(1, 60), seed, nested=rng.random() < 0.5)
    text = json.dumps(rows, separators=rng.choice([(",", ":"), (", ", ": "), (" ,\r\n", " : ")]))
    if rng.random() < 0.3:      # damage it: a character dropped or doubled somewhere
        i = rng.randrange(len(text))
        text = text[:i] + (text[i] * 2 if rng.random() < 0.5 else "") + text[i + 1:]
    body = text.encode()
    schema = {"CAMPAIGN_ID": pl.String, "DATE": pl.String, "CAMPAIGN_NAME": pl.String,
              "PAID_IMPRESSION": pl.String, "CTR": pl.Float64}

    def read(fn):
        try:
            return fn()
        except pl.exceptions.PolarsError:
            return "fails"
    whole = read(lambda: pl.read_json(io.BytesIO(body), schema=schema))
    parts = read(lambda: frames._read_rows(body, schema))
    assert isinstance(parts, str) == isinstance(whole, str)
    if isinstance(whole, pl.DataFrame):
        assert parts.equals(whole)


def _targeting(body: bytes):
    cols = targeting_analytics_columns("campaign", COLS, "DAY")
    source = {"campaign_id": "CAMPAIGN_ID", "date": "DATE"}
    source.update({c.lower(): c for c in COLS if c.lower() not in source})
    return frames.read_targeting(body, cols, stream="campaign_targeting_analytics", source_names=source,
                                 id_field="CAMPAIGN_ID")


@pytest.mark.parametrize("extra", ["", ', "bookmark": null', ', "x": [1]'])
def test_a_big_targeting_answer_is_read_in_parts_with_every_row_as_one_read_gives_it(extra, monkeypatch):
    rows = [{"targeting_type": "KEYWORD", "targeting_value": r["CAMPAIGN_NAME"] + str(i),
             "metrics": {k: v for k, v in r.items() if k != "CAMPAIGN_NAME"}}
            for i, r in enumerate(_nasty_rows(3000, seed=7))]
    body = (json.dumps({"data": rows}, ensure_ascii=False)[:-1] + extra + "}").encode()
    assert len(body) > 4 * frames._READ_BYTES
    reads = []
    read_json = pl.read_json
    monkeypatch.setattr(pl, "read_json", lambda src, **kw: reads.append(1) or read_json(src, **kw))

    def value_by_value(*a, **kw):
        raise AssertionError("read value by value")
    monkeypatch.setattr(frames, "records_to_frame", value_by_value)     # a spaced answer is no odd one
    df = _targeting(body)
    parts = len(reads)
    monkeypatch.setattr(frames, "_READ_BYTES", 10**9)      # one read of the whole body
    whole = _targeting(body)
    assert parts > 3 if extra != ', "bookmark": null' else parts == 1     # {"data": [...]} alone is cut
    assert df.equals(whole)
    assert df["targeting_value"].to_list() == [r["targeting_value"] for r in rows]
    assert df["paid_impression"].to_list() == [r["metrics"]["PAID_IMPRESSION"] for r in rows]
