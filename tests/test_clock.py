"""One clock: the CLI, the library and the fake agree on "today", which is the UTC date
unless ``PINSYNC_TODAY`` / ``--today`` moves it; never the local date."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from click.testing import CliRunner

from pinsync import clock
from pinsync.cli import main
from pinsync.config import config_from_dict
from pinsync.errors import ConfigError
from tests.conftest import TODAY

BASE = {"auth": {"access_token": "x"}, "output": {"url": "/tmp/o"}, "state": {"url": "/tmp/s.json"}}


def test_today_is_the_utc_date_not_the_local_one(monkeypatch):
    """At any moment one of these zones (UTC+14, UTC-11) has another date than UTC, so a
    local-date "today" fails here whatever the hour."""
    monkeypatch.delenv(clock.ENV)
    try:
        seen = set()
        for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            seen.add(dt.date.today())
            utc = dt.datetime.now(dt.timezone.utc).date()
            assert clock.today() == utc
            assert config_from_dict(BASE, env={}).start_date == utc - dt.timedelta(days=30)
        assert len(seen) == 2   # 25 hours apart: their dates always differ
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026-1-5", "20261201"])
def test_bad_today_is_a_config_error(monkeypatch, bad):
    monkeypatch.setenv(clock.ENV, bad)
    with pytest.raises(ConfigError, match="PINSYNC_TODAY"):
        clock.today()


def test_cli_today_flag_reaches_the_config(tmp_path, monkeypatch):
    monkeypatch.delenv(clock.ENV)
    cfg = tmp_path / "pinsync.yaml"
    cfg.write_text(f"output: {{url: {tmp_path / 'out'}}}\nstate: {{url: {tmp_path / 's.json'}}}\n"
                   "start_date: 2026-01-20\n")
    res = CliRunner().invoke(main, ["--today", "2026-01-10", "state", "show", "--config", str(cfg)])
    assert res.exit_code == 2 and "2026-01-20 is in the future (today is 2026-01-10" in res.output
    res = CliRunner().invoke(main, ["--today", "2026-02-10", "state", "show", "--config", str(cfg), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["bookmarks"] == {}


def test_cli_bad_today_exits_2(tmp_path):
    res = CliRunner().invoke(main, ["--today", "tomorrow", "streams"])
    assert res.exit_code == 2 and "--today" in res.output and "Traceback" not in res.output
