"""Faults from the API, end to end against the fake: the output always ends up equal to a
fault-free run's, retries are bounded, and what cannot be repaired fails clearly.

Every scenario runs ``pinsync.run`` in-process with an injected ``sleep`` (nothing really
waits) against its own fake API, then compares every table (all ``data.parquet`` files,
sorted by key) and the state's bookmarks with a fault-free run of the same dataset.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import stat
import threading

import polars as pl
import pytest
from click.testing import CliRunner

import pinsync
from pinsync.cli import main
from pinsync.errors import AuthError, SyncFailed
from pinsync.fake import FakePinterest, FakeServer
from pinsync.streams import parents_of, per_account
from tests.conftest import TODAY
from tests.reliability_support import (ACCOUNT_ENTITIES, ADS_ANALYTICS, SleepRecorder, assert_same_output,
                                       assert_state_not_ahead, bookmarks, build_config, raw_config, read_stream,
                                       small_dataset, tables, write_yaml)

STATIC = "pina.reliability-static-token-0123456789"
CLIENT_ID, CLIENT_SECRET, REFRESH = "4455667", "app-secret-reliability-0987", "pinr.reliability-initial-refresh"
REFRESH_AUTH = {"access_token": None, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH}
YESTERDAY = TODAY - dt.timedelta(days=1)


def _fake(**kw) -> FakePinterest:
    return FakePinterest(small_dataset(TODAY), access_tokens=(STATIC,), client_id=CLIENT_ID,
                         client_secret=CLIENT_SECRET, refresh_token=REFRESH, **kw)


class Env:
    """One fake API, its server, a sleep recorder and configs writing below ``root``."""

    def __init__(self, root, monkeypatch):
        self.root = root
        self.fake = _fake()
        self.server = FakeServer(self.fake).start()
        self.sleep = SleepRecorder()
        self.sleep.drive_rate_limiters(monkeypatch)

    @property
    def out(self):
        return self.root / "out"

    @property
    def state(self):
        return self.root / "state" / "state.json"

    def raw(self, **extra) -> dict:
        return raw_config(self.server.url, self.root, TODAY, **extra)

    def config(self, **extra):
        return build_config(self.raw(**extra), TODAY)

    def run(self, config=None, *, today=TODAY, **kw):
        return pinsync.run(config or self.config(), today=today, sleep=self.sleep, **kw)


@pytest.fixture
def env(tmp_path, monkeypatch):
    e = Env(tmp_path, monkeypatch)
    yield e
    e.server.stop()


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The fault-free run of the dataset: its output folder and bookmarks."""
    root = tmp_path_factory.mktemp("clean")
    fake = _fake()
    with FakeServer(fake) as srv:
        result = pinsync.run(build_config(raw_config(srv.url, root, TODAY), TODAY), today=TODAY)
    assert result.ok
    out = root / "out"
    found = tables(out)
    assert set(found) == set(pinsync.STREAMS), "the clean run must fill every table"
    assert all(df.height for df in found.values())
    return {"out": out, "tables": found, "bookmarks": bookmarks(root / "state" / "state.json"),
            "calls": dict(fake.calls)}


def _assert_equals_clean(env: Env, clean) -> None:
    assert_same_output(env.out, clean["out"])
    assert bookmarks(env.state) == clean["bookmarks"]


# ------------------------------------------------------------------ transient faults
# every route the run calls: the core ones and those of the other objects and reports
ALL_ROUTES = ("ad_accounts", "campaigns", "ad_groups", "ads", "pins", "campaign_analytics", "ad_group_analytics",
              "ad_analytics", "multi_pin_analytics", "keywords", "audiences", "customer_lists", "conversion_tags",
              "product_group_promotions", "user_account", "boards", "board_sections", "board_pins", "catalogs",
              "catalog_feeds", "catalog_product_groups", "ad_account_analytics", "ad_account_targeting_analytics",
              "campaign_targeting_analytics", "ad_group_targeting_analytics", "ad_targeting_analytics",
              "product_group_analytics", "user_account_analytics")
# routes called more than once a run (per account, per board): the fault hits a later call
PER_ACCOUNT = {"campaigns", "ad_groups", "ads", "campaign_analytics", "ad_group_analytics", "ad_analytics", "keywords",
               "audiences", "customer_lists", "conversion_tags", "product_group_promotions", "board_sections",
               "board_pins", "ad_account_analytics", "ad_account_targeting_analytics", "campaign_targeting_analytics",
               "ad_group_targeting_analytics", "ad_targeting_analytics"}

TRANSIENT = {
    "http-500": dict(kind="status", status=500),
    "http-502": dict(kind="status", status=502),
    "http-503": dict(kind="status", status=503),
    "connection-reset": dict(kind="reset"),
    "truncated-body": dict(kind="truncate"),
    "html-proxy-page-502": dict(kind="html"),
    "html-page-with-200": dict(kind="html", status=200),
    "empty-body": dict(kind="empty"),
    "non-json-200": dict(kind="status", status=200, body="upstream connect error or disconnect/reset"),
}


@pytest.mark.parametrize("name", sorted(TRANSIENT))
def test_transient_fault_on_every_route_ends_equal_to_the_fault_free_run(env, clean, name, caplog):
    caplog.set_level(logging.INFO, logger="pinsync")
    assert set(clean["calls"]) == set(ALL_ROUTES)          # every route the run calls gets its fault
    for route in ALL_ROUTES:   # one fault per route; the per-account ones hit the second account's request
        env.fake.add_fault(route, **TRANSIENT[name], after=1 if route in PER_ACCOUNT else 0)
    result = env.run()
    assert result.ok, result.failures
    assert env.fake.faults_pending() == 0, "every scheduled fault must have fired"
    assert len(env.sleep.calls) >= len(ALL_ROUTES)       # each fault cost one retry, after a backoff
    assert sum(env.fake.calls.values()) == sum(clean["calls"].values()) + len(ALL_ROUTES)
    assert caplog.text.count("; retry 1/3 in") >= len(ALL_ROUTES)
    _assert_equals_clean(env, clean)


def test_read_timeout_is_retried_and_ends_equal(env, clean):
    env.fake.timeout_sleep = 2.0
    env.fake.add_fault("campaigns", "timeout", after=1)
    env.fake.add_fault("ad_analytics", "timeout")
    result = env.run(env.config(http={"timeout_seconds": 1}))
    assert result.ok, result.failures
    assert env.fake.faults_pending() == 0
    assert env.fake.calls["campaigns"] >= 4 and env.fake.calls["ad_analytics"] >= 4   # 3 accounts + a retry
    _assert_equals_clean(env, clean)


# ------------------------------------------------------------------ 429
@pytest.mark.parametrize("header", ["x-ratelimit-reset", "Retry-After"])
def test_429_waits_as_the_server_says(env, clean, header):
    env.fake.add_fault("ad_group_analytics", "status", status=429, times=2, headers={header: "7"})
    result = env.run()
    assert result.ok, result.failures
    assert env.fake.faults_pending() == 0
    assert env.sleep.calls.count(7.0) == 2, env.sleep.calls
    _assert_equals_clean(env, clean)


def test_429_with_pinterest_body_and_a_long_reset_is_capped_and_logged(env, clean, caplog):
    caplog.set_level(logging.INFO, logger="pinsync")
    body = {"code": 8, "message": "This request exceeded a rate limit."}
    env.fake.add_fault("campaign_analytics", "status", status=429, body=body, headers={"x-ratelimit-reset": "3600"})
    result = env.run(env.config(http={"max_retry_wait_seconds": 5}))
    assert result.ok, result.failures
    assert env.fake.faults_pending() == 0
    assert 5.0 in env.sleep.calls and max(env.sleep.calls) <= 5.0
    capped = [r for r in caplog.records if "capped" in r.getMessage()]
    assert capped and capped[0].levelno == logging.WARNING and "3600" in capped[0].getMessage()
    _assert_equals_clean(env, clean)


@pytest.mark.parametrize("http,attempts", [
    ({"max_retries": 2}, 3 * 3),                      # each account's request: 1 + 2 retries
    ({"max_retries": 5, "retry_budget": 4}, 3 + 4),   # 3 first attempts + the run's 4 retries
], ids=["per-request-retries", "run-retry-budget"])
def test_429_burst_outlasting_the_retries_fails_clearly_commits_nothing_and_a_rerun_completes(env, clean, http,
                                                                                               attempts):
    assert env.run(today=YESTERDAY).ok                        # yesterday's run: bookmarks at TODAY-2
    before = bookmarks(env.state)
    before_rows = read_stream(env.out, "campaign_analytics")
    env.fake.add_fault("campaign_analytics", "status", status=429, times=10_000, headers={"x-ratelimit-reset": "2"})
    config = env.config(http=http)
    with pytest.raises(SyncFailed) as info:
        env.run(config)
    failures = info.value.result.failures
    assert len(failures) == 3 and all(f.startswith("campaign_analytics (ad account ") for f in failures)
    assert all("rate limited (HTTP 429)" in f and "re-run later" in f for f in failures)
    assert env.fake.calls["campaign_analytics"] == 3 + attempts        # yesterday's 3, then today's attempts
    assert 2.0 in env.sleep.calls and max(env.sleep.calls) <= 2.0      # waited as told, never longer
    after = bookmarks(env.state)
    assert after["campaign_analytics"] == before["campaign_analytics"]   # not moved, for any account
    for stream in ("ad_group_analytics", "ad_analytics"):                  # the others did move
        assert {v["last_complete_date"] for v in after[stream].values()} == {YESTERDAY.isoformat()}
    # nothing of the failed unit was written: the table is exactly yesterday's
    assert read_stream(env.out, "campaign_analytics").equals(before_rows)
    assert read_stream(env.out, "campaign_analytics").filter(pl.col("date") == YESTERDAY).height == 0
    env.fake.clear_faults()
    assert env.run(config).ok
    _assert_equals_clean(env, clean)


def test_the_run_retry_budget_bounds_every_retry(env):
    env.fake.add_fault("*", "status", status=503, times=1_000_000)
    with pytest.raises(SyncFailed) as info:
        env.run(env.config(http={"max_retries": 3, "retry_budget": 5}))
    text = str(info.value)
    assert "retry budget is used up" in text and "HTTP 503" in text
    # the units that wait for no other (the ad accounts, pins, the user's account, boards,
    # catalogs...) ask once each, + at most 5 retries in the whole run
    independent = [s for s in pinsync.STREAMS.values() if not per_account(s) and not parents_of(s)
                   and s.kind != "pin_lifetime"]
    assert len(independent) == 8
    assert sum(env.fake.calls.values()) <= len(independent) + 5
    assert len(env.sleep.calls) <= 5
    assert not tables(env.out) and bookmarks(env.state) == {}


def test_per_request_retries_are_bounded(env):
    account = env.fake.dataset.ad_accounts[0]["id"]
    env.fake.add_fault("campaigns", "status", status=500, times=50)
    result = env.run(env.config(streams=["campaigns"], ad_account_ids=[account], http={"max_retries": 3}),
                     raise_on_failure=False)
    assert env.fake.calls["campaigns"] == 4                         # the first attempt and 3 retries
    assert result.failures and "retries exhausted after 4 attempts" in result.failures[0]
    assert "campaigns" not in bookmarks(env.state)


# ------------------------------------------------------------------ tokens
class _Tap:
    """Wraps ``fake.serve``: runs ``hook(n)`` before the n-th request (1-based) and counts 401s."""

    def __init__(self, fake, hook):
        self.fake, self.hook, self.n, self.unauthorized = fake, hook, 0, 0
        self._lock = threading.Lock()
        self._serve = fake.serve
        fake.serve = self

    def __call__(self, method, path, *a, **kw):
        with self._lock:
            self.n += 1
            self.hook(self.n)
        reply = self._serve(method, path, *a, **kw)
        if reply.status == 401:
            with self._lock:
                self.unauthorized += 1
        return reply


def test_access_token_expiring_in_the_middle_of_a_run_is_refreshed_and_the_run_carries_on(env, clean):
    tap = _Tap(env.fake, lambda n: env.fake.expire_access_tokens() if n == 12 else None)
    result = env.run(env.config(auth=REFRESH_AUTH))
    assert result.ok, result.failures
    assert tap.unauthorized >= 1 and env.fake.refresh_count == 2
    store = env.state.parent / "tokens.json"
    assert env.fake.current_refresh_token in store.read_text()
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    _assert_equals_clean(env, clean)


def test_revoked_refresh_token_stops_the_run_with_one_message_to_reauthorise(env, clean):
    def hook(n):
        if n == 15:
            env.fake.expire_access_tokens()
            env.fake.revoke_refresh_token()

    _Tap(env.fake, hook)
    with pytest.raises(AuthError) as info:
        env.run(env.config(auth=REFRESH_AUTH))
    message = str(info.value)
    assert "re-authorise" in message and "refresh token" in message
    assert REFRESH not in message and CLIENT_SECRET not in message
    assert_state_not_ahead(env.state, env.out, clean["out"])      # what was committed is whole
    # the user re-authorises: a new refresh token in the config wins over the stored one
    env.fake.current_refresh_token = "pinr.reliability-reauthorised"
    result = env.run(env.config(auth={**REFRESH_AUTH, "refresh_token": "pinr.reliability-reauthorised"}))
    assert result.ok
    _assert_equals_clean(env, clean)


def test_revoked_refresh_token_on_the_command_line_exits_3_with_one_line(env, monkeypatch):
    env.fake.revoke_refresh_token()
    monkeypatch.setenv("RELIABILITY_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("RELIABILITY_REFRESH", REFRESH)
    raw = env.raw(auth={"access_token": None, "client_id": CLIENT_ID, "client_secret": "${RELIABILITY_SECRET}",
                        "refresh_token": "${RELIABILITY_REFRESH}"})
    cfg = write_yaml(env.root / "pinsync.yaml", raw)
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 3, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "re-authorise" in errors[0], res.stderr
    assert "Traceback" not in res.output and REFRESH not in res.output and CLIENT_SECRET not in res.output
    assert sum(n for route, n in env.fake.calls.items() if route != "oauth_token") == 0
    assert not tables(env.out)


# ------------------------------------------------------------------ 403 on one ad account
def test_403_on_one_account_other_accounts_sync_and_its_bookmarks_do_not_move(env, tmp_path):
    ds = env.fake.dataset
    a, b = ds.ad_accounts[0]["id"], ds.ad_accounts[1]["id"]
    reference = build_config(raw_config(env.server.url, tmp_path / "reference", TODAY), TODAY)
    assert env.run(today=YESTERDAY).ok
    assert pinsync.run(reference, today=YESTERDAY).ok        # the same runs, without the 403
    before = bookmarks(env.state)
    b_files = {p: p.read_bytes() for p in env.out.rglob(f"ad_account_id={b}/**/data.parquet")}
    assert b_files
    noon = (dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.timezone.utc)).timestamp()
    for acct in (a, b):   # a change in both accounts: only the readable one may be picked up
        env.fake.touch("campaigns", [next(c["id"] for c in ds.campaigns if c["ad_account_id"] == acct)], at=noon)
    env.fake.forbid_account(b)
    result = env.run(raise_on_failure=False)
    assert not result.ok
    named = [f for f in result.failures if f"ad account {b}" in f]
    assert named and len(named) == len(result.failures)             # every failure names the account ...
    assert {f.split(" ")[0] for f in named} == {*ACCOUNT_ENTITIES, *ADS_ANALYTICS}
    assert any("HTTP 403" in f for f in named)
    after = bookmarks(env.state)
    for stream, entries in before.items():
        if b in entries:
            assert after[stream][b] == entries[b], stream             # ... and its bookmarks did not move
    assert after["campaigns"][a] != before["campaigns"][a]            # the other accounts' did
    assert {after[s][k]["last_complete_date"] for s in ADS_ANALYTICS for k in after[s] if k != b} == \
        {YESTERDAY.isoformat()}
    assert {p: p.read_bytes() for p in env.out.rglob(f"ad_account_id={b}/**/data.parquet")} == b_files
    campaigns = read_stream(env.out, "campaigns")
    assert campaigns.filter(pl.col("ad_account_id") == a, pl.col("name").str.ends_with(" v2")).height == 1
    assert campaigns.filter(pl.col("ad_account_id") == b, pl.col("name").str.ends_with(" v2")).height == 0
    # once the account is readable again, the output equals the same runs without the fault
    env.fake.allow_account(b)
    assert env.run().ok
    assert pinsync.run(reference, today=TODAY).ok
    assert_same_output(env.out, tmp_path / "reference" / "out")
    assert bookmarks(env.state) == bookmarks(tmp_path / "reference" / "state" / "state.json")


def test_403_on_one_account_exits_1_naming_the_account(env, clean):
    b = env.fake.dataset.ad_accounts[2]["id"]
    env.fake.forbid_account(b)
    cfg = write_yaml(env.root / "pinsync.yaml", env.raw(auth={"access_token": STATIC}))
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert f"ad account {b}" in res.stderr and "sync failed" in res.stderr
    others = [x["id"] for x in env.fake.dataset.ad_accounts if x["id"] != b]
    for stream in (*ACCOUNT_ENTITIES, *ADS_ANALYTICS):
        got = read_stream(env.out, stream)
        assert set(got["ad_account_id"].unique()) == set(others)
        assert got.equals(clean["tables"][stream].filter(pl.col("ad_account_id").is_in(others)))
        assert b not in bookmarks(env.state)[stream]
    assert_same_output(env.out, clean["out"], streams={"ad_accounts", "pins", "pin_analytics"})


# ------------------------------------------------------------------ pagination faults
def test_a_repeating_bookmark_stops_the_list_instead_of_looping_and_a_rerun_completes(env, clean):
    env.fake.page_size_max = 25            # 30 pins and 32 ads per account: two pages each
    env.fake.add_fault("pins", "repeat_bookmark")
    env.fake.add_fault("ads", "repeat_bookmark", after=1)
    result = env.run(raise_on_failure=False)
    assert env.fake.faults_pending() == 0
    looped = [f for f in result.failures if "bookmark it had already returned" in f]
    assert sorted(re.split("[ :]", f)[0] for f in looped) == ["ads", "pins"]
    assert any(f.startswith("pin_analytics") and "skipped" in f for f in result.failures)
    assert any(f.startswith("ad_analytics") and "skipped" in f for f in result.failures)
    # the list ended at the repeat: at most page-size probes + 3 pages per list
    assert env.fake.calls["pins"] <= 4 + 3
    marks = bookmarks(env.state)
    assert "pins" not in marks and "pin_analytics" not in marks and len(marks["ads"]) == 2
    assert_state_not_ahead(env.state, env.out, clean["out"])
    assert env.run().ok
    _assert_equals_clean(env, clean)


@pytest.mark.parametrize("limit", [100, 25])
def test_a_page_size_the_api_rejects_is_lowered_and_the_output_is_unchanged(env, clean, limit, caplog):
    env.fake.page_size_max = limit
    result = env.run()
    assert result.ok, result.failures
    sizes = {int(q["page_size"][0]) for _, path, q in env.fake.requests if "page_size" in q}
    assert max(sizes) == 250 and min(sizes) <= limit
    assert "page_size rejected" in caplog.text
    _assert_equals_clean(env, clean)


def test_a_page_size_below_the_smallest_we_ask_for_fails_clearly_without_looping(env):
    env.fake.page_size_max = 10
    with pytest.raises(SyncFailed) as info:
        env.run(env.config(streams=["ad_accounts", "pins"]))
    assert "page_size must be at most 10" in str(info.value)
    assert env.fake.calls["pins"] <= 5 and env.fake.calls["ad_accounts"] <= 5
    assert bookmarks(env.state) == {}


# ------------------------------------------------------------------ the report routes and the download host
# A history run: 120 days, the 31 oldest through one report per level and account.
HISTORY = dict(days=120, streams=["campaigns", "ad_groups", "ads", *ADS_ANALYTICS])
REPORT_ROUTES = ("create_report", "get_report", "report_download")
REPORT_FAULTS = {
    "http-500": dict(kind="status", status=500),
    "http-503": dict(kind="status", status=503),
    "429-retry-after": dict(kind="status", status=429, headers={"Retry-After": "4"}),
    "connection-reset": dict(kind="reset"),
    "truncated-body": dict(kind="truncate"),
    "html-proxy-page-502": dict(kind="html"),
    "unparsable-200": dict(kind="status", status=200, body="upstream connect error or disconnect/reset"),
}


def _history_fake() -> FakePinterest:
    return FakePinterest(small_dataset(TODAY, history_days=150), access_tokens=(STATIC,), client_id=CLIENT_ID,
                         client_secret=CLIENT_SECRET, refresh_token=REFRESH)


@pytest.fixture(scope="module")
def clean_history(tmp_path_factory):
    """The fault-free history run: its output folder and bookmarks."""
    root = tmp_path_factory.mktemp("clean-history")
    fake = _history_fake()
    with FakeServer(fake) as srv:
        result = pinsync.run(build_config(raw_config(srv.url, root, TODAY, **HISTORY), TODAY), today=TODAY,
                             sleep=lambda s: None)
    assert result.ok, result.failures
    accounts = len(fake.dataset.ad_accounts)
    assert fake.calls["create_report"] == fake.calls["report_download"] == len(ADS_ANALYTICS) * accounts
    found = tables(root / "out")
    assert all(found[s].filter(pl.col("date") < TODAY - dt.timedelta(days=89)).height for s in ADS_ANALYTICS)
    return {"out": root / "out", "bookmarks": bookmarks(root / "state" / "state.json"), "calls": dict(fake.calls)}


@pytest.fixture
def history(tmp_path, monkeypatch):
    e = Env(tmp_path, monkeypatch)
    e.server.stop()
    e.fake = _history_fake()
    e.server = FakeServer(e.fake).start()
    yield e
    e.server.stop()


def _assert_equals_clean_history(env: Env, clean_history) -> None:
    assert_same_output(env.out, clean_history["out"])
    assert bookmarks(env.state) == clean_history["bookmarks"]


@pytest.mark.parametrize("route", REPORT_ROUTES)
@pytest.mark.parametrize("name", sorted(REPORT_FAULTS))
def test_a_transient_fault_on_the_report_routes_and_the_download_host_ends_equal(history, clean_history, route,
                                                                                name):
    fault = REPORT_FAULTS[name]
    history.fake.add_fault(route, **fault, after=2)              # a later account's request
    history.fake.add_fault(route, **fault, times=2, after=4)     # and twice in a row
    result = history.run(history.config(**HISTORY))
    assert result.ok, result.failures
    assert history.fake.faults_pending() == 0
    if fault.get("status") == 429:
        assert history.sleep.calls.count(4.0) >= 3               # waited as the download host / API said
    # the retried requests only: no report created twice, no file downloaded twice more than retried
    assert history.fake.calls["create_report"] == clean_history["calls"]["create_report"] + 3 * (
        route == "create_report")
    assert history.fake.calls["report_download"] == clean_history["calls"]["report_download"] + 3 * (
        route == "report_download")
    _assert_equals_clean_history(history, clean_history)


def test_a_truncated_report_file_with_a_matching_length_is_fetched_again(history, clean_history):
    history.fake.reports.truncate_next(2)                         # complete responses, cut JSON
    result = history.run(history.config(**HISTORY))
    assert result.ok, result.failures
    assert history.fake.calls["report_download"] == clean_history["calls"]["report_download"] + 2
    _assert_equals_clean_history(history, clean_history)


def test_a_download_host_down_fails_the_unit_writes_nothing_of_it_and_a_rerun_completes(history, clean_history):
    assert history.run(history.config(**HISTORY), today=YESTERDAY).ok     # yesterday's run
    before = bookmarks(history.state)
    before_rows = {s: read_stream(history.out, s) for s in ADS_ANALYTICS}
    history.fake.add_fault("report_download", "truncate", times=10_000)
    config = history.config(**dict(HISTORY, days=200))           # a start date moved back: new reports
    with pytest.raises(SyncFailed) as info:
        history.run(config)
    failures = info.value.result.failures
    assert failures and all("retries exhausted" in f or "retry budget" in f for f in failures), failures
    after = bookmarks(history.state)
    for stream in ADS_ANALYTICS:              # never half-written: the tables and bookmarks are yesterday's
        failed = {k for k in before[stream] if any(stream in f and k in f for f in failures)}
        assert failed
        for key in failed:
            assert {k: v for k, v in after[stream][key].items() if k != "reports"} == before[stream][key]
        assert read_stream(history.out, stream).filter(pl.col("date") < TODAY - dt.timedelta(days=120)).height == 0
        assert read_stream(history.out, stream).height >= before_rows[stream].height
    history.fake.clear_faults()
    assert history.run(config).ok
    clean = history.root / "clean"
    fake = _history_fake()
    with FakeServer(fake) as srv:
        assert pinsync.run(build_config(raw_config(srv.url, clean, TODAY, **dict(HISTORY, days=200)), TODAY),
                           today=TODAY, sleep=lambda s: None).ok
    assert_same_output(history.out, clean / "out")
