"""The state never vouches for what is not there.

A bookmark later than the last complete day (a clock that ran ahead, a hand edit) is not
trusted: with a warning, the last complete day is fetched again (with ``lookback_days: 0`` too)
and the days after it as they complete; a unit whose held days all lie in the future holds
nothing. Every malformed value in the state
file is one named error (exit 2) giving its path, and ``--full-refresh`` always starts afresh."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import pinsync
from pinsync.errors import StateError
from tests.conftest import TODAY, read_table

DAY = dt.timedelta(days=1)
ANALYTICS = ("campaign_analytics", "ad_group_analytics", "ad_analytics", "pin_analytics")


def _state(tmp_path) -> dict:
    return json.loads((tmp_path / "state" / "state.json").read_text())


def _write_state(tmp_path, data: dict) -> None:
    (tmp_path / "state" / "state.json").write_text(json.dumps(data))


def _tables(out, streams) -> dict:
    return {s: read_table(out, s).sort(read_table(out, s).columns) for s in streams}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[s].equals(b[s]) for s in a)


def _alt(make_config, tmp_path, name, raw=None, **kw):
    return make_config({**(raw or {}), "output": {"url": str(tmp_path / name / "out")},
                        "state": {"url": str(tmp_path / name / "state.json")}}, **kw)


def test_a_bookmark_in_the_future_is_clamped_and_later_days_are_fetched_with_lookback_0(make_config, tmp_path,
                                                                                       caplog):
    raw = {"analytics": {"lookback_days": 0}}
    assert pinsync.run(make_config(raw), today=TODAY).ok
    state = _state(tmp_path)
    ahead = TODAY + 6 * DAY          # what a run under a clock 7 days ahead writes
    for stream in ANALYTICS:
        for mark in state["bookmarks"][stream].values():
            mark["last_complete_date"] = ahead.isoformat()
    _write_state(tmp_path, state)
    tomorrow = TODAY + DAY
    assert pinsync.run(make_config(raw), today=tomorrow).ok
    warned = [m for m in caplog.messages if "later than the last complete day" in m]
    units = [(s, k) for s in ANALYTICS for k in state["bookmarks"][s]]
    assert len(warned) == len(units)
    for stream, key in units:
        head = stream + ("" if key == "*" else f" (ad account {key})")
        assert any(m.startswith(f"{head}: the state's bookmark {ahead} is later than the last complete day {TODAY}")
                   and m.endswith(f"fetching again from {TODAY}") for m in warned)
        assert _state(tmp_path)["bookmarks"][stream][key]["last_complete_date"] <= TODAY.isoformat()
    # the day the future bookmark hid is on disk, as a clean run over the same days writes it
    assert pinsync.run(_alt(make_config, tmp_path, "clean", raw), today=tomorrow).ok
    got, clean = _tables(tmp_path / "out", ANALYTICS), _tables(tmp_path / "clean" / "out", ANALYTICS)
    for stream in ANALYTICS[:3]:
        assert got[stream]["date"].max() == TODAY
    assert _same(got, clean)


def test_held_days_all_in_the_future_hold_nothing_and_a_future_report_token_is_dropped(make_config, fake, tmp_path,
                                                                                        caplog):
    config = make_config(streams=["campaigns", "campaign_analytics"])
    assert pinsync.run(config, today=TODAY).ok
    state = _state(tmp_path)
    for key, mark in state["bookmarks"]["campaign_analytics"].items():
        mark.update(held_from=(TODAY + 3 * DAY).isoformat(), last_complete_date=(TODAY + 6 * DAY).isoformat(),
                    reports={f"{key}:CAMPAIGN:{TODAY + DAY}..{TODAY + 5 * DAY}:0123456789ab": "a0" * 16})
    _write_state(tmp_path, state)
    fake.reset_counters()
    assert pinsync.run(config, today=TODAY).ok
    assert sum("fetching the whole history again" in m for m in caplog.messages) == len(fake.dataset.ad_accounts)
    assert fake.calls["create_report"] == fake.calls["get_report"] == 0
    for mark in _state(tmp_path)["bookmarks"]["campaign_analytics"].values():
        assert (mark["held_from"], mark["last_complete_date"]) == (config.start_date.isoformat(),
                                                                   (TODAY - DAY).isoformat())
        assert "reports" not in mark
    assert pinsync.run(_alt(make_config, tmp_path, "clean", streams=["campaigns", "campaign_analytics"]),
                       today=TODAY).ok
    assert read_table(tmp_path / "out", "campaign_analytics").sort("campaign_id", "date").equals(
        read_table(tmp_path / "clean" / "out", "campaign_analytics").sort("campaign_id", "date"))


# -- a malformed state: every wrong-typed value named, --full-refresh always works ---------------------

STREAMS = ["campaigns", "campaign_analytics", "pin_analytics"]
WRONG = ["not-a-date", ["x"], {"x": 1}, None, 7]


def _nodes(value, path=()):
    """Every (path, value) below the root of a JSON document."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        yield (*path, k), v
        yield from _nodes(v, (*path, k))


def _kind(v) -> type:
    return type(None) if v is None else float if isinstance(v, int) and not isinstance(v, bool) else type(v)


def _replaced(doc, path, value):
    doc = json.loads(json.dumps(doc))
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


@pytest.fixture
def written(make_config, fake, tmp_path):
    """A state a run wrote (one account: campaigns, campaign analytics, pin analytics)."""
    account = fake.dataset.ad_accounts[0]["id"]
    config = make_config(streams=STREAMS, ad_account_ids=[account])
    assert pinsync.run(config, today=TODAY).ok
    return config, _state(tmp_path), account


def _corruptions(state):
    """Each node of ``state`` replaced by each value of another JSON type (and a text that is
    not a date), except what the format allows (a null cursor, a null month file size)."""
    for path, value in _nodes(state):
        for wrong in WRONG:
            if _kind(wrong) is _kind(value) and not (path[-1] in ("last_complete_date", "held_from")):
                continue
            if (path[-1] == "cursor" or path[-2:-1] == ("files",)) and wrong is None:
                continue          # a null cursor; a null size (a month file being replaced)
            yield path, wrong


def test_every_wrong_typed_value_in_the_state_is_a_named_error(written, tmp_path, fake):
    config, state, _ = written
    cases = list(_corruptions(state))
    assert len(cases) > 100
    calls = sum(fake.calls.values())
    for path, wrong in cases:
        _write_state(tmp_path, _replaced(state, path, wrong))
        with pytest.raises(StateError) as e:
            pinsync.run(config, today=TODAY)
        message = str(e.value)
        assert e.value.exit_code == 2
        named = ".".join(map(str, path)) if path[0] not in ("version", "bookmarks") or len(path) > 1 else path[0]
        if path == ("version",):
            named = "version"
        assert message.startswith(f"state file {config.state.url} ") and named in message, (path, wrong, message)
    assert sum(fake.calls.values()) == calls, "nothing fetched"


def test_full_refresh_starts_afresh_from_any_malformed_state(written, make_config, tmp_path):
    config, state, account = written
    assert pinsync.run(_alt(make_config, tmp_path, "clean", streams=STREAMS, ad_account_ids=[account]),
                       today=TODAY).ok
    clean = _tables(tmp_path / "clean" / "out", STREAMS)
    done = set()
    for path, wrong in _corruptions(state):
        field = path[-1] if not str(path[-1]).isdigit() and path[-1] != "*" else path[-2]
        if (field, _kind(wrong)) in done:            # one run per field and kind of damage
            continue
        done.add((field, _kind(wrong)))
        _write_state(tmp_path, _replaced(state, path, wrong))
        assert pinsync.run(config, today=TODAY, full_refresh=True).ok, (path, wrong)
        assert _same(_tables(tmp_path / "out", STREAMS), clean), (path, wrong)
        assert pinsync.run(config, today=TODAY).ok        # the state it wrote is a good one
    assert len(done) > 20
