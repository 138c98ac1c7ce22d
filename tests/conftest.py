"""Shared fixtures: pinsync's fake Pinterest API on 127.0.0.1 and configs pointing at it."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import polars as pl
import pytest

# before any test module imports them: their asserts explain themselves
pytest.register_assert_rewrite("tests.s3_fixtures", "tests.reliability_support")

from pinsync import clock, secrets
from pinsync.config import DEFAULT_PIN_METRIC_TYPES, config_from_dict
from pinsync.fake import Dataset, FakePinterest, FakeServer

# Shared by the test modules: import them from here rather than repeating them.
TODAY = dt.date(2026, 11, 29)
TOKEN = "pina.test-access-token-0123456789"           # the static token the ``fake`` fixture accepts
CLIENT_ID, CLIENT_SECRET = "1234567", "app-secret-xyz"   # the ``fake`` fixture's app
REFRESH_TOKEN = "pinr.initial-refresh-token"          # its first refresh token
REFRESH_AUTH = {"access_token": None, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN}
SHORT = {"start_date": (TODAY - dt.timedelta(days=7)).isoformat()}   # a week of analytics: fewer files
ID_COLUMNS = {"id", "ad_account_id", "campaign_id", "ad_group_id", "ad_id", "pin_id"}
# the parts of Pinterest's OpenAPI description (v5.23.0) the tests check pinsync and its fake against
SPEC_PATH = Path(__file__).resolve().parent / "data" / "pinterest-openapi-extract.json"
# the default metric types plus the lifetime-only ones, so a run with the test configs fills
# every table (pin_lifetime_metrics too)
ALL_TABLES_PIN_METRICS = (*DEFAULT_PIN_METRIC_TYPES, "TOTAL_COMMENTS", "TOTAL_REACTIONS")

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    """Every test runs on ``TODAY``: the CLI, the library and the fake share one clock
    (``PINSYNC_TODAY``), so no test depends on the calendar date it runs on."""
    monkeypatch.setenv(clock.ENV, TODAY.isoformat())


@pytest.fixture(autouse=True)
def _quick_report_polls(monkeypatch):
    """The fake's reports are ready in milliseconds: runs (subprocesses too) poll them after
    20 ms, not the 1 s a real report needs at least (tests of the waits set their own)."""
    monkeypatch.setenv("PINSYNC_REPORT_FIRST_WAIT", "0.02")


@pytest.fixture(autouse=True)
def _rescue_dir(monkeypatch, tmp_path):
    """Token rescue files (written when the token store fails after a refresh) stay in the
    test's folder, never in the home folder."""
    monkeypatch.setenv("PINSYNC_RESCUE_DIR", str(tmp_path / "rescue"))


@pytest.fixture(autouse=True)
def _no_registered_secrets(monkeypatch):
    """Each test starts with pinsync's process-wide secrets registry empty (and leaves the
    previous one untouched), so no test is protected by secrets another test registered."""
    monkeypatch.setattr(secrets, "_secrets", set())


@pytest.fixture
def dataset() -> Dataset:
    return Dataset(seed=11, accounts=2, campaigns_per_account=4, ad_groups_per_campaign=2, ads_per_ad_group=3,
                   pins=30, today=TODAY, history_days=120)


@pytest.fixture
def fake(dataset) -> FakePinterest:
    return FakePinterest(dataset, access_tokens=(TOKEN,), client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         refresh_token=REFRESH_TOKEN)


@pytest.fixture
def server(fake):
    with FakeServer(fake) as srv:
        yield srv


@pytest.fixture
def make_config(tmp_path: Path, server):
    """Build a Config for the fake API; keyword overrides are merged into the raw mapping."""

    def build(raw: dict | None = None, **overrides):
        data = {
            "api_url": server.url,
            "auth": {"access_token": TOKEN},
            "start_date": (TODAY - dt.timedelta(days=20)).isoformat(),
            "output": {"url": str(tmp_path / "out")},
            "state": {"url": str(tmp_path / "state" / "state.json")},
            "http": {"max_retries": 3, "timeout_seconds": 10},
            "analytics": {"lookback_days": 5},
            "pin_analytics": {"metric_types": ALL_TABLES_PIN_METRICS},
        }
        for k, v in (raw or {}).items():
            if isinstance(v, dict) and isinstance(data.get(k), dict):
                data[k] = {**data[k], **v}
            else:
                data[k] = v
        return config_from_dict(data, base_dir=tmp_path, env={}, today=TODAY, overrides=overrides or None)

    return build


def patch_analytics(fake: FakePinterest, route: str, change) -> None:
    """Let ``change`` edit the decoded JSON answers of the routes whose path ends with
    ``route`` (rows of ads analytics, ``{pin: ...}`` of multi-pin analytics) before they are sent."""
    serve = fake.serve

    def patched(method, path, *a, **kw):
        reply = serve(method, path, *a, **kw)
        if reply.status == 200 and path.rstrip("/").endswith(route):
            rows = json.loads(reply.body)
            change(rows)
            reply.body = json.dumps(rows).encode()
            reply.headers["Content-Length"] = str(len(reply.body))
        return reply

    fake.serve = patched


def read_table(out: Path, stream: str) -> pl.DataFrame:
    """Read a table the way users do (hive partitioning), all files."""
    files = sorted((out / stream).rglob("*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.scan_parquet(str(out / stream) + "/", hive_partitioning=True).collect()


def data_files(out: Path) -> dict[str, float]:
    """Every file below the output with its modification time (ns)."""
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def active_pins(fake, today: dt.date = TODAY) -> list[str]:
    """The pins created before ``today`` with any activity in the last 90 days, by the fake's
    own daily analytics: the pins a run over that window asks for (the others have no rows
    there, as their pin_metrics show)."""
    ids = sorted(p["id"] for p in fake.dataset.pins if p["created_at"][:10] < today.isoformat())
    start = today - dt.timedelta(days=89)
    return [i for i in ids if fake.pin_analytics_payload(i, start, today, ["IMPRESSION"])["all"]["summary_metrics"]]
