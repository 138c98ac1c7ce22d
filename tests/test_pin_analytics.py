"""Organic pin analytics against the fake API, read the way the real API answers.

Expected rows come from the fake's own truth (``FakePinterest.pin_analytics_payload``, the
single-pin answer), never from pinsync's readers.
"""

from __future__ import annotations

import datetime as dt
import json

from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import pinsync
from pinsync import sync
from pinsync.cli import main
from pinsync.config import DEFAULT_PIN_METRIC_TYPES, config_from_dict
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.fake.data import is_protected
from tests.conftest import TODAY, TOKEN, active_pins, read_table

END = TODAY - dt.timedelta(days=1)
METRICS = ("IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE", "SAVE_RATE")
KEY = ["pin_id", "app_type", "date"]


def truth(fake, start, end, metrics=METRICS, split=False, pins=None) -> pl.DataFrame:
    """The fake's days of every pin created by ``end``, as pin_analytics rows: TOTAL (and each
    app type when split); days before the pin existed and days without any metric have no row."""
    daily = [m for m in metrics if m not in ("TOTAL_COMMENTS", "TOTAL_REACTIONS")]
    rows = []
    ids = pins if pins is not None else [p["id"] for p in fake.dataset.pins if p["created_at"][:10] <= end.isoformat()]
    for pin in ids:
        for split_field in ("NO_SPLIT", "APP_TYPE") if split else ("NO_SPLIT",):
            for group, body in fake.pin_analytics_payload(pin, start, end, list(metrics), split_field).items():
                for d in body["daily_metrics"]:
                    if d["data_status"] == "BEFORE_PIN_CREATED" or not d["metrics"]:
                        continue
                    rows.append({"pin_id": pin, "app_type": "TOTAL" if split_field == "NO_SPLIT" else group,
                                 "date": dt.date.fromisoformat(d["date"]), "data_status": d["data_status"],
                                 **{m.lower(): d["metrics"].get(m) for m in daily}})
    schema = {"pin_id": pl.String, "app_type": pl.String, "date": pl.Date, "data_status": pl.String,
              **{m.lower(): pl.Float64 if "RATE" in m else pl.Int64 for m in daily}}
    return pl.DataFrame(rows, schema=schema, orient="row").sort(KEY)


def table(config, stream="pin_analytics") -> pl.DataFrame:
    df = read_table(Path(config.output.url), stream)
    return df.sort(df.columns[:2] if stream == "pin_lifetime_metrics" else KEY) if df.height else df


def assert_equal_to_truth(config, expected: pl.DataFrame) -> None:
    got = table(config).select(expected.columns)
    j = got.join(expected, on=KEY, how="full", suffix="_e", coalesce=True)
    for c in expected.columns[3:]:
        d = j.filter(pl.col(c).ne_missing(pl.col(c + "_e")))
        if d.height: print("DIFF", c, got.schema[c], expected.schema[c], d.select(*KEY, c, c + "_e").head(5))
    assert got.height == expected.height and got.height > 0
    assert got.equals(expected)


@contextmanager
def serve(pins: int, history_days: int = 120, **fake_args):
    """A fake of its own with ``pins`` pins (a few ad entities), on 127.0.0.1."""
    ds = Dataset(seed=21, accounts=1, campaigns_per_account=1, ad_groups_per_campaign=1, ads_per_ad_group=1,
                 pins=pins, today=TODAY, history_days=history_days)
    fake = FakePinterest(ds, access_tokens=(TOKEN,), **fake_args)
    with FakeServer(fake) as srv:
        yield fake, srv


def config_for(srv, tmp_path, **extra):
    data = {"api_url": srv.url, "auth": {"access_token": TOKEN}, "output": {"url": str(tmp_path / "out")},
            "state": {"url": str(tmp_path / "state.json")}, "start_date": (TODAY - dt.timedelta(days=20)).isoformat(),
            "analytics": {"lookback_days": 5}, "streams": ["pins", "pin_analytics"],
            "http": {"rate_limit_window_seconds": 0.01}, **extra}   # the published limits would take minutes
    return config_from_dict(data, env={}, today=TODAY)


def sent(fake, route_suffix: str) -> list[dict]:
    return [q for m, p, q in fake.requests if p.endswith(route_suffix)]


# -- 2: the multi-pin beta has no split_field; per app type it is asked with app_types ----------

def test_multi_pin_split_by_app_type_asks_with_app_types_and_matches_the_single_pin_truth(fake, server, make_config):
    config = make_config(streams=["pins", "pin_analytics"], pin_analytics={"split_by_app_type": True})
    result = pinsync.run(config, today=TODAY)
    assert result.ok, result.failures
    multi = sent(fake, "/pins/analytics")
    assert multi and not any("split_field" in q for q in multi)
    assert sorted(q.get("app_types", ["ALL"])[0] for q in multi) == ["ALL", "MOBILE", "TABLET", "WEB"]
    assert fake.calls["pin_analytics"] == 0           # 30 pins: one batch, four calls, no single-pin call
    start = TODAY - dt.timedelta(days=20)
    expected = truth(fake, start, END, split=True)
    assert set(expected["app_type"]) == {"TOTAL", "MOBILE", "TABLET", "WEB"}
    assert_equal_to_truth(config, expected)


# -- 9: 401 code 7 from the beta is not a dead token ---------------------------------------------

def test_an_app_without_the_beta_gets_401_code_7_no_refresh_is_forced_and_pins_are_asked_one_by_one(
        fake, server, make_config):
    fake.multi_pin_analytics = False
    config = make_config({"auth": {"access_token": None, "client_id": "1234567", "client_secret": "app-secret-xyz",
                                   "refresh_token": "pinr.initial-refresh-token"}},
                         streams=["pins", "pin_analytics"])
    result = pinsync.run(config, today=TODAY)
    assert result.ok, result.failures
    assert fake.refresh_count == 1                    # the run's first token; the 401 did not force another
    assert fake.calls["multi_pin_analytics"] == 1
    assert fake.calls["pin_analytics"] == len(active_pins(fake))
    assert_equal_to_truth(config, truth(fake, TODAY - dt.timedelta(days=20), END))


def test_a_multi_pin_batch_refused_for_one_pin_is_asked_pin_by_pin_and_the_beta_is_kept(tmp_path):
    with serve(250) as (fake, srv):
        asked = set(active_pins(fake))
        assert len(asked) > 100
        status, _, body = fake.handle("GET", "/v5/pins", {"page_size": ["250"], "pin_metrics": ["true"]},
                                      {"Authorization": f"Bearer {TOKEN}"})
        listed = [p["id"] for p in json.loads(body)["items"] if p["id"] in asked]     # the order batches go in
        forbidden = listed[3]                         # in the first batch: a pin the token may not read
        fake.forbid_pin(forbidden)
        config = config_for(srv, tmp_path)
        result = pinsync.run(config, today=TODAY)
        assert result.ok, result.failures
        assert result.streams["pin_analytics"].skipped == 1
        assert fake.calls["multi_pin_analytics"] == 2     # the refused batch, then the second: the beta is kept
        assert fake.calls["pin_analytics"] == 100         # the refused batch, pin by pin
        fake.allow_pin(forbidden)
        expected = truth(fake, TODAY - dt.timedelta(days=20), END).filter(pl.col("pin_id") != forbidden)
        assert_equal_to_truth(config, expected)


# -- 10: single-pin mode: a pin that is gone or private is skipped, the others land -------------

@pytest.mark.parametrize("status,code", [(404, 404), (403, 403)])
def test_a_pin_answering_403_or_404_is_skipped_and_counted_and_the_others_land(fake, server, make_config, tmp_path,
                                                                           status, code):
    fake.multi_pin_analytics = False
    message = "Pin not found." if status == 404 else "Not authorized to access board or Pin."
    fake.add_fault("pin_analytics", "status", status=status, body={"code": code, "message": message}, after=4)
    config = make_config(streams=["pins", "pin_analytics"])
    result = pinsync.run(config, today=TODAY)
    assert result.ok, result.failures
    singles = [p for m, p, q in fake.requests if p.startswith("/v5/pins/") and p != "/v5/pins/analytics"]
    refused = singles[4].split("/")[-2]             # the fifth single-pin request got the fault
    assert result.streams["pin_analytics"].skipped == 1
    expected = truth(fake, TODAY - dt.timedelta(days=20), END).filter(pl.col("pin_id") != refused)
    assert_equal_to_truth(config, expected)
    bookmark = json.loads((tmp_path / "state" / "state.json").read_text())["bookmarks"]["pin_analytics"]["*"]
    assert bookmark["last_complete_date"] >= (TODAY - dt.timedelta(days=4)).isoformat()   # it moved on


def test_skipped_pins_are_in_the_cli_summary_and_json(fake, server, make_config, tmp_path):
    fake.multi_pin_analytics = False
    fake.forbid_pin(active_pins(fake)[0])
    config = make_config()
    cfg = tmp_path / "pinsync.yaml"
    cfg.write_text(json.dumps({"api_url": config.api_url, "auth": {"access_token": "${PINTEREST_ACCESS_TOKEN}"},
                               "start_date": config.start_date.isoformat(), "output": {"url": config.output.url},
                               "state": {"url": config.state.url}, "streams": ["pins", "pin_analytics"]}))
    env = {"PINTEREST_ACCESS_TOKEN": TOKEN}
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["streams"]["pin_analytics"]["skipped"] == 1
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--full-refresh"], env=env)
    assert res.exit_code == 0, res.output
    assert "skipped" in res.stderr


def patch_days(fake, change) -> None:
    """Rewrite every day of the pin analytics answers (multi-pin and single-pin) before they
    are sent: ``change(pin_id, day)`` edits the day in place."""
    serve = fake.serve

    def patched(method, path, *a, **kw):
        reply = serve(method, path, *a, **kw)
        if reply.status == 200 and path.startswith("/v5/pins/") and path.endswith("/analytics"):
            data = json.loads(reply.body)
            answers = data if path == "/v5/pins/analytics" else {path.split("/")[-2]: data}
            for pin_id, groups in answers.items():
                for body in groups.values():
                    for day in body["daily_metrics"]:
                        change(pin_id, day)
            reply.body = json.dumps(data).encode()
            reply.headers["Content-Length"] = str(len(reply.body))
        return reply

    fake.serve = patched


def bookmark(tmp_path) -> str:
    return json.loads((tmp_path / "state" / "state.json").read_text())["bookmarks"]["pin_analytics"]["*"][
        "last_complete_date"]


# -- 6: data_status is optional: a day without one is kept -----------------------------------------

@pytest.mark.parametrize("multi_pin", [True, False])
def test_a_day_without_data_status_is_kept(fake, server, make_config, multi_pin):
    fake.multi_pin_analytics = multi_pin
    day = (TODAY - dt.timedelta(days=6)).isoformat()
    patch_days(fake, lambda pin, d: d.pop("data_status") if d["date"] == day else None)
    config = make_config(streams=["pins", "pin_analytics"])
    assert pinsync.run(config, today=TODAY).ok
    expected = truth(fake, TODAY - dt.timedelta(days=20), END).with_columns(
        data_status=pl.when(pl.col("date") == dt.date.fromisoformat(day)).then(None).otherwise(pl.col("data_status")))
    assert expected.filter(pl.col("data_status").is_null()).height > 3
    assert_equal_to_truth(config, expected)


# -- 14: only statuses that resolve hold the bookmark back ----------------------------------------

def test_statuses_that_never_become_ready_do_not_hold_the_bookmark(fake, server, make_config, tmp_path):
    never = {(TODAY - dt.timedelta(days=10)).isoformat(): "ESTIMATE",
             (TODAY - dt.timedelta(days=9)).isoformat(): "IN_BAD_TAG_DATE",
             (TODAY - dt.timedelta(days=8)).isoformat(): "PURCHASERS_METRIC_SMALLER_THAN_THRESHOLD"}
    patch_days(fake, lambda pin, d: d.update(data_status=never[d["date"]]) if d["date"] in never else None)
    config = make_config(streams=["pins", "pin_analytics"])
    assert pinsync.run(config, today=TODAY).ok
    # the fake marks today and the two days before PROCESSING: the bookmark stops before those only
    assert bookmark(tmp_path) == (TODAY - dt.timedelta(days=3)).isoformat()
    got = table(config)
    assert set(got.filter(pl.col("date").cast(pl.String).is_in(list(never)))["data_status"]) == set(never.values())
    fake.reset_counters()
    fake.requests.clear()
    assert pinsync.run(config, today=TODAY).ok          # the next run starts within the lookback, not before
    starts = {q["start_date"][0] for m, p, q in fake.requests if p.endswith("/analytics")}
    assert starts == {(TODAY - dt.timedelta(days=5)).isoformat()}


def test_every_data_status_of_the_spec_is_classified():
    from pinsync import api
    from tests.conftest import SPEC_PATH
    spec = json.loads(SPEC_PATH.read_text())
    assert set(api.PIN_DATA_STATUSES) == set(spec["components"]["schemas"]["DataStatus"]["enum"])
    assert api.PIN_DATA_STATUS_PENDING <= set(api.PIN_DATA_STATUSES)
    assert api.PIN_DATA_STATUS_NOT_CREATED in api.PIN_DATA_STATUSES


# -- 11: a malformed value is a PayloadError naming stream, field and record ----------------------

@pytest.mark.parametrize("bad", ["2026-11-5", "11/05/2026", "2026-11-05T00:00:00", 20261105])
@pytest.mark.parametrize("multi_pin", [True, False])
def test_a_malformed_pin_date_fails_the_unit_naming_stream_field_and_pin(fake, server, make_config, tmp_path, bad,
                                                                        multi_pin):
    fake.multi_pin_analytics = multi_pin
    day = (TODAY - dt.timedelta(days=7)).isoformat()
    victim = truth(fake, TODAY - dt.timedelta(days=20), END).filter(pl.col("date").cast(pl.String) == day)["pin_id"][0]
    patch_days(fake, lambda pin, d: d.update(date=bad) if pin == victim and d["date"] == day else None)
    result = pinsync.run(make_config(streams=["pins", "pin_analytics"]), today=TODAY, raise_on_failure=False)
    assert len(result.failures) == 1, result.failures
    failure = result.failures[0]
    assert failure.startswith("pin_analytics") and "'date'" in failure and victim in failure, failure
    assert "pins" in json.loads((tmp_path / "state" / "state.json").read_text())["bookmarks"]
    assert not (tmp_path / "out" / "pin_analytics").exists()


# -- 3: lifetime-only metrics land in pin_lifetime_metrics, never in an always-null column ---------

def lifetime_truth(fake, start, end, split=False) -> pl.DataFrame:
    rows = []
    for p in fake.dataset.pins:
        if p["created_at"][:10] > end.isoformat():
            continue
        for split_field in ("NO_SPLIT", "APP_TYPE") if split else ("NO_SPLIT",):
            answer = fake.pin_analytics_payload(p["id"], start, end, ["IMPRESSION", "TOTAL_COMMENTS",
                                                                      "TOTAL_REACTIONS"], split_field)
            for group, body in answer.items():
                life = body["lifetime_metrics"]
                if life:
                    rows.append({"pin_id": p["id"], "app_type": "TOTAL" if split_field == "NO_SPLIT" else group,
                                 "as_of": TODAY, "total_comments": life.get("TOTAL_COMMENTS"),
                                 "total_reactions": life.get("TOTAL_REACTIONS")})
    schema = {"pin_id": pl.String, "app_type": pl.String, "as_of": pl.Date, "total_comments": pl.Int64,
              "total_reactions": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row").sort("pin_id", "app_type")


@pytest.mark.parametrize("split", [False, True])
def test_lifetime_metrics_land_in_pin_lifetime_metrics(fake, server, make_config, split):
    metrics = ["IMPRESSION", "SAVE", "TOTAL_COMMENTS", "TOTAL_REACTIONS"]
    config = make_config(streams=["pins", "pin_analytics", "pin_lifetime_metrics"],
                         pin_analytics={"metric_types": metrics, "split_by_app_type": split})
    result = pinsync.run(config, today=TODAY)
    assert result.ok, result.failures
    daily = table(config)
    assert "total_comments" not in daily.columns and "total_reactions" not in daily.columns
    assert_equal_to_truth(config, truth(fake, TODAY - dt.timedelta(days=20), END, metrics, split))
    expected = lifetime_truth(fake, TODAY - dt.timedelta(days=20), END, split)
    assert expected.height > 10 and expected["total_comments"].null_count() < expected.height
    got = table(config, "pin_lifetime_metrics")
    assert got.select(expected.columns).equals(expected)
    assert pinsync.scan("pin_lifetime_metrics", config=config).collect().height == expected.height


def test_without_lifetime_metrics_no_lifetime_table_is_written(fake, server, make_config, tmp_path):
    config = make_config(pin_analytics={"metric_types": list(DEFAULT_PIN_METRIC_TYPES)})
    assert pinsync.run(config, today=TODAY).ok
    assert not (tmp_path / "out" / "pin_lifetime_metrics").exists()
    assert "total_comments" not in table(config).columns and table(config).height


# -- issue 12: no activity, no rows - and no call -----------------------------------------------

@pytest.mark.parametrize("multi_pin", [False, True])
def test_pins_without_activity_are_not_asked_for_and_the_output_equals_the_fakes_truth(tmp_path, multi_pin):
    with serve(300, multi_pin_analytics=multi_pin) as (fake, srv):
        start = TODAY - dt.timedelta(days=89)
        config = config_for(srv, tmp_path, start_date=start.isoformat())
        result = pinsync.run(config, today=TODAY)
        assert result.ok, result.failures
        live = [p["id"] for p in fake.dataset.pins if p["created_at"][:10] <= END.isoformat()]
        asked = active_pins(fake)
        assert len(asked) < 0.8 * len(live)                       # a good share is never asked for
        assert {p["id"] for p in fake.dataset.pins if is_protected(p)} & set(asked)     # protected pins too
        if multi_pin:
            assert fake.calls["multi_pin_analytics"] == -(-len(asked) // 100)
        else:
            assert fake.calls["multi_pin_analytics"] == 1 and fake.calls["pin_analytics"] == len(asked)
        assert {i for m, p, q in fake.requests if "/analytics" in p
                for i in (q["pin_ids"][0].split(",") if "pin_ids" in q else [p.split("/")[-2]])} == set(asked)
        assert_equal_to_truth(config, truth(fake, start, END, pins=live))     # every pin's days, all the same


def test_a_pin_silent_for_90_days_is_still_asked_for_when_its_lifetime_metrics_are(tmp_path):
    metrics = ["IMPRESSION", "PIN_CLICK", "TOTAL_COMMENTS", "TOTAL_REACTIONS"]
    with serve(150, history_days=240, multi_pin_analytics=False) as (fake, srv):
        config = config_for(srv, tmp_path, streams=["pins", "pin_analytics", "pin_lifetime_metrics"],
                            pin_analytics={"metric_types": metrics})
        assert pinsync.run(config, today=TODAY).ok
        life = {p: fake.pin_analytics_payload(p, END, END, metrics)["all"]["lifetime_metrics"] for p in
                [p["id"] for p in fake.dataset.pins if p["created_at"][:10] <= END.isoformat()]}
        silent = [p for p, values in life.items() if values and p not in active_pins(fake)]
        assert silent                                               # silent lately, with lifetime comments
        assert fake.calls["pin_analytics"] == len(set(active_pins(fake)) | {p for p, v in life.items() if v})
        got = table(config, "pin_lifetime_metrics")
        assert set(got["pin_id"]) == {p for p, v in life.items() if v}
        assert_equal_to_truth(config, truth(fake, TODAY - dt.timedelta(days=20), END, metrics))


def test_pins_to_ask_skips_only_what_the_counters_prove():
    from pinsync.streams.analytics import pins_to_ask
    zero = {"pin_click": 0, "impression": 0, "clickthrough": 0}
    some = {**zero, "impression": 3}
    life = {**zero, "reaction": 0, "comment": 0}

    def pm(d90, lifetime=None):
        return json.dumps({"90d": d90, "lifetime_metrics": lifetime if lifetime is not None else life})

    start, end = TODAY - dt.timedelta(days=89), END
    pins = [("quiet", pm(zero)), ("busy", pm(some)), ("no metrics", None), ("garbage", "{"),
            ("no impression counter", pm({"pin_click": 0})), ("a text counter", pm({**zero, "impression": "0"})),
            ("commented long ago", pm(zero, {**life, "impression": 9, "comment": 2}))]
    assert pins_to_ask(pins, start, end, TODAY, METRICS) == [p for p, _ in pins if p not in
                                                             ("quiet", "commented long ago")]
    # a lifetime-only metric asked for: the lifetime counters must be zero too
    assert "commented long ago" in pins_to_ask(pins, start, end, TODAY, METRICS + ("TOTAL_COMMENTS",))
    assert "quiet" not in pins_to_ask(pins, start, end, TODAY, METRICS + ("TOTAL_COMMENTS",))
    # a window reaching before the 90 days: only the lifetime counters can prove it
    older = pins_to_ask(pins, start - dt.timedelta(days=5), end, TODAY, METRICS)
    assert "commented long ago" in older and "quiet" not in older
    # nothing left to ask: the first pin all the same (its answer says which days are pending)
    assert pins_to_ask([("a", pm(zero)), ("b", pm(zero))], start, end, TODAY, METRICS) == ["a"]


def test_pin_analytics_are_asked_for_while_the_pins_are_still_being_listed(tmp_path):
    """The first batches go out as soon as the listing's first pages hold 100 pins to ask
    for, not after its last page; the calls, the pins asked for and the rows are those of
    asking from the whole listing."""
    with serve(900, latency=0.02) as (fake, srv):
        start = TODAY - dt.timedelta(days=89)
        result = pinsync.run(config_for(srv, tmp_path, start_date=start.isoformat()), today=TODAY)
        assert result.ok, result.failures
        order = [("bookmark" in q) if p.endswith("/pins") else "analytics" for m, p, q in fake.requests
                 if p.endswith("/pins") or p.endswith("/pins/analytics")]
        pages = [i for i, r in enumerate(order) if r != "analytics"]
        assert len(pages) == 4 and order.index("analytics") < pages[-1], order
        asked = active_pins(fake)
        assert fake.calls["multi_pin_analytics"] == -(-len(asked) // 100)
        sent = [q["pin_ids"][0].split(",") for m, p, q in fake.requests if p.endswith("/pins/analytics")]
        assert sorted(i for batch in sent for i in batch) == sorted(asked)        # each pin once
        live = [p["id"] for p in fake.dataset.pins if p["created_at"][:10] <= END.isoformat()]
        assert_equal_to_truth(config_for(srv, tmp_path, start_date=start.isoformat()), truth(fake, start, END, pins=live))


def test_when_the_pins_listing_fails_half_way_pin_analytics_are_skipped_and_nothing_is_claimed(tmp_path):
    with serve(900, latency=0.01) as (fake, srv):
        fake.add_fault("pins", "status", status=404, body={"code": 4, "message": "gone"}, after=2, times=5)
        config = config_for(srv, tmp_path, start_date=(TODAY - dt.timedelta(days=89)).isoformat())
        result = pinsync.run(config, today=TODAY, raise_on_failure=False)
        assert not result.ok
        assert fake.calls["multi_pin_analytics"] >= 1         # batches of the first pages went out
        assert any(f.startswith("pin_analytics") and "skipped: pins could not be listed" in f for f in result.failures)
        assert result.streams["pin_analytics"].rows_written == 0
        assert not (Path(config.output.url) / "pin_analytics").exists() or table(config).height == 0
        state = Path(config.state.url)
        assert not state.exists() or "pin_analytics" not in state.read_text()
        fake.clear_faults()
        assert pinsync.run(config, today=TODAY).ok              # the next run lands everything
        live = [p["id"] for p in fake.dataset.pins if p["created_at"][:10] <= END.isoformat()]
        assert_equal_to_truth(config, truth(fake, TODAY - dt.timedelta(days=89), END, pins=live))


@pytest.mark.parametrize("days", [30, 89, 200])
@pytest.mark.parametrize("multi_pin", [True, False])
def test_following_the_listing_asks_as_many_calls_and_lands_the_same_rows_as_waiting_for_it(tmp_path, days,
                                                                                            multi_pin, monkeypatch):
    """Following the pins listing's pages, or waiting for the whole listing as pinsync used
    to: the same calls, the same pins asked for, the same table, whatever the windows (200
    days: three of them)."""
    got = {}
    follows = sync._Run.follows_pages
    for follow in (True, False):
        monkeypatch.setattr(sync._Run, "follows_pages", follows if follow else lambda self, spec: False)
        with serve(700, history_days=250, multi_pin_analytics=multi_pin, latency=0.005) as (fake, srv):
            config = config_for(srv, tmp_path / str(follow), start_date=(TODAY - dt.timedelta(days=days)).isoformat())
            assert pinsync.run(config, today=TODAY).ok
            # a set: without the beta, the pins of the batch that checks for it are asked again one by one
            asked = {i for m, p, q in fake.requests if "/analytics" in p
                     for i in (q["pin_ids"][0].split(",") if "pin_ids" in q else [p.split("/")[-2]])}
            got[follow] = (dict(fake.calls), asked, table(config))
    (calls_f, asked_f, table_f), (calls_w, asked_w, table_w) = got[True], got[False]
    assert calls_f.get("multi_pin_analytics") == calls_w.get("multi_pin_analytics")
    assert calls_f.get("pin_analytics") == calls_w.get("pin_analytics")
    assert asked_f == asked_w and len(asked_f) > 100 and table_f.height > 0 and table_f.equals(table_w)
