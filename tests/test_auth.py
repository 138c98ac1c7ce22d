"""Tests for pinsync.auth: the refresh-token flow, the rotated-token store, and keeping secrets secret.

The token endpoint is mocked with ``responses``; waits go to a recorder.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import threading
import time
from urllib.parse import parse_qs

import pytest
import responses
from responses.registries import OrderedRegistry

from pinsync import secrets
from pinsync.auth import RefreshingToken, StaticToken, TokenStore, token_provider
from pinsync.errors import AuthError, StateError

API = "https://api.example.test/v5"
TOKEN_URL = f"{API}/oauth/token"
CLIENT_ID = "1484362"
SECRET = "app-secret-5f0c2b9e7d1a"
CONFIGURED = "pinr.CONFIGURED-refresh-aaaaaaaaaaaa"
REAUTHORISED = "pinr.REAUTHORISED-refresh-bbbbbbbbbb"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()


def grant(n: int, expires_in: int = 2_592_000) -> dict:
    """Pinterest's refresh response: a new access token and a NEW (rotated) refresh token."""
    return {
        "access_token": f"pina.ACCESS-{n}-cccccccccccc",
        "token_type": "bearer",
        "expires_in": expires_in,
        "scope": "ads:read,pins:read,boards:read",
        "refresh_token": f"pinr.ROTATED-{n}-dddddddddddd",
        "refresh_token_expires_in": 5_184_000,
        "refresh_token_expires_at": int(time.time()) + 5_184_000,
        "response_type": "refresh_token",
    }


def access(n: int) -> str:
    return f"pina.ACCESS-{n}-cccccccccccc"


def rotated(n: int) -> str:
    return f"pinr.ROTATED-{n}-dddddddddddd"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def rsps():
    with responses.RequestsMock(registry=OrderedRegistry) as r:
        yield r


@pytest.fixture
def state_dir(tmp_path):
    d = tmp_path / "state"
    d.mkdir()
    return d


@pytest.fixture
def store_path(state_dir):
    return state_dir / "pinsync-token.json"


@pytest.fixture
def store(store_path):
    return TokenStore(str(store_path))


def make(store, refresh_token=CONFIGURED, sleep=None) -> RefreshingToken:
    return RefreshingToken(API, CLIENT_ID, SECRET, refresh_token, store, owner="test-run",
                           sleep=sleep if sleep is not None else Sleeps())


def form(call) -> dict[str, list[str]]:
    body = call.request.body
    return parse_qs(body.decode() if isinstance(body, bytes) else body)


def stored_entry(store_path) -> dict:
    return json.loads(store_path.read_text())["clients"][CLIENT_ID]


# -- the first refresh -------------------------------------------------------------------


def test_first_refresh_sends_basic_auth_and_the_configured_refresh_token(rsps, store):
    rsps.post(TOKEN_URL, json=grant(1))
    assert make(store).token() == access(1)
    assert len(rsps.calls) == 1
    req = rsps.calls[0].request
    assert req.headers["Authorization"] == BASIC
    assert req.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    body = form(rsps.calls[0])
    assert body["grant_type"] == ["refresh_token"]
    assert body["refresh_token"] == [CONFIGURED]
    assert SECRET not in str(req.body)           # the secret travels only in the Basic header


def test_first_refresh_saves_the_rotated_tokens_in_a_private_store(rsps, store, store_path, state_dir):
    state_file = state_dir / "state.json"
    state_file.write_text('{"version": 1, "streams": {}}\n')
    before = state_file.read_bytes(), state_file.stat().st_mtime_ns
    rsps.post(TOKEN_URL, json=grant(1))
    make(store).token()

    entry = stored_entry(store_path)
    assert entry["refresh_token"] == rotated(1)
    assert entry["access_token"] == access(1)
    assert entry["access_token_expires_at"] > time.time() + 3600
    assert stat.S_IMODE(os.stat(store_path).st_mode) == 0o600
    # the state file is not involved, and no other file holds a token
    assert (state_file.read_bytes(), state_file.stat().st_mtime_ns) == before
    for f in state_dir.rglob("*"):
        if f.is_file() and f != store_path:
            text = f.read_bytes().decode(errors="replace")
            for s in (access(1), rotated(1), CONFIGURED, SECRET):
                assert s not in text, f"{s} leaked into {f.name}"


def test_a_valid_token_is_reused_by_the_same_run(rsps, store):
    rsps.post(TOKEN_URL, json=grant(1))
    tokens = make(store)
    assert tokens.token() == access(1)
    assert tokens.token() == access(1)
    assert len(rsps.calls) == 1


# -- the next run ------------------------------------------------------------------------


def test_next_run_reuses_the_stored_access_token_without_calling(store):
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        rsps.post(TOKEN_URL, json=grant(1))
        make(store).token()
    with responses.RequestsMock() as rsps:        # nothing registered: any call would fail
        assert make(store).token() == access(1)
        assert len(rsps.calls) == 0


def test_next_run_refreshes_with_the_rotated_refresh_token_not_the_configured_one(rsps, store, store_path):
    rsps.post(TOKEN_URL, json=grant(1))
    rsps.post(TOKEN_URL, json=grant(2))
    make(store).token()
    next_run = make(store)
    assert next_run.token() == access(1)
    assert next_run.refresh(access(1)) == access(2)
    assert len(rsps.calls) == 2
    assert form(rsps.calls[1])["refresh_token"] == [rotated(1)]
    assert rsps.calls[1].request.headers["Authorization"] == BASIC
    assert stored_entry(store_path)["refresh_token"] == rotated(2)
    assert next_run.token() == access(2)


def test_an_access_token_about_to_expire_is_refreshed_with_the_rotated_token(rsps, store):
    rsps.post(TOKEN_URL, json=grant(1, expires_in=60))     # expires within the safety margin
    rsps.post(TOKEN_URL, json=grant(2))
    make(store).token()
    assert make(store).token() == access(2)
    assert form(rsps.calls[1])["refresh_token"] == [rotated(1)]


def test_a_newly_configured_refresh_token_wins_over_the_stored_one(rsps, store, store_path):
    rsps.post(TOKEN_URL, json=grant(1))
    rsps.post(TOKEN_URL, json=grant(2))
    make(store, CONFIGURED).token()
    # the user re-authorised and configured a new refresh token
    assert make(store, REAUTHORISED).token() == access(2)     # the stored access token is not reused
    assert form(rsps.calls[1])["refresh_token"] == [REAUTHORISED]
    assert stored_entry(store_path)["refresh_token"] == rotated(2)


def test_the_store_keeps_one_entry_per_app(rsps, store, store_path):
    rsps.post(TOKEN_URL, json=grant(1))
    rsps.post(TOKEN_URL, json=grant(2))
    make(store).token()
    RefreshingToken(API, "9999999", "other-secret-1234", "pinr.OTHER-APP-eeeeeeee", store,
                    sleep=Sleeps()).token()
    clients = json.loads(store_path.read_text())["clients"]
    assert clients[CLIENT_ID]["refresh_token"] == rotated(1)
    assert clients["9999999"]["refresh_token"] == rotated(2)


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("status, body", [
    (400, {"code": 1, "message": "Invalid refresh token"}),
    (401, {"code": 2, "message": "Authentication failed."}),
    (400, {"error": "invalid_grant", "error_description": f"refresh token {CONFIGURED} was revoked"}),
    (400, {"code": 1, "message": f"Invalid refresh token {CONFIGURED} for client secret {SECRET}"}),
])
def test_a_revoked_refresh_token_asks_the_user_to_reauthorise(rsps, store, store_path, status, body):
    rsps.post(TOKEN_URL, status=status, json=body)
    sleeps = Sleeps()
    with pytest.raises(AuthError) as exc:
        make(store, sleep=sleeps).token()
    text = str(exc.value)
    assert "re-authorise" in text
    assert CONFIGURED not in text
    assert SECRET not in text
    assert len(rsps.calls) == 1          # a rejection is not retried
    assert sleeps == []
    assert not store_path.exists() or CONFIGURED not in store_path.read_text()


def test_a_token_endpoint_outage_is_retried(rsps, store):
    rsps.post(TOKEN_URL, status=503, body="<html>Service Unavailable</html>", content_type="text/html")
    rsps.post(TOKEN_URL, status=429, json={"code": 8, "message": "rate limit"})
    rsps.post(TOKEN_URL, json=grant(1))
    sleeps = Sleeps()
    assert make(store, sleep=sleeps).token() == access(1)
    assert len(rsps.calls) == 3
    assert sleeps == [1, 2]


@pytest.mark.parametrize("body, content_type", [
    ("<!DOCTYPE html><html><body>502 Bad Gateway (proxy)</body></html>", "text/html"),
    ("", "application/json"),
    ('{"access_token": "pina.ACCESS-0-cccccccccccc", "token_type": "bea', "application/json"),
])
def test_an_unreadable_token_response_is_retried_not_called_a_rejection(rsps, store, body, content_type):
    rsps.post(TOKEN_URL, body=body, content_type=content_type)
    rsps.post(TOKEN_URL, json=grant(1))
    assert make(store).token() == access(1)
    assert len(rsps.calls) == 2


def test_a_connection_error_at_the_token_endpoint_is_retried(rsps, store):
    import requests
    rsps.post(TOKEN_URL, body=requests.ConnectionError("connection reset"))
    rsps.post(TOKEN_URL, json=grant(1))
    assert make(store).token() == access(1)
    assert len(rsps.calls) == 2


def test_a_lasting_outage_is_an_auth_error_after_bounded_attempts(rsps, store):
    for _ in range(4):
        rsps.post(TOKEN_URL, status=503)
    with pytest.raises(AuthError) as exc:
        make(store).token()
    assert len(rsps.calls) == 4
    assert "503" in str(exc.value)
    assert SECRET not in str(exc.value) and CONFIGURED not in str(exc.value)


@pytest.mark.parametrize("content", ["{not json", "[]", '{"version": 99, "clients": {}}', '{"version": 1}'])
def test_a_corrupt_token_store_is_an_error_never_silently_reset(store, store_path, content):
    store_path.write_text(content)
    with responses.RequestsMock() as rsps:
        with pytest.raises(StateError) as exc:
            make(store).token()
        assert len(rsps.calls) == 0
    assert str(store_path) in str(exc.value)
    assert store_path.read_text() == content


# -- concurrency ---------------------------------------------------------------------------------


def _race(targets) -> list:
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)

    def run(i, fn):
        barrier.wait()
        try:
            results[i] = fn()
        except BaseException as e:   # reported by the assertions
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    return results


def test_two_refreshers_sharing_a_store_refresh_only_once(store, store_path):
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=False) as rsps:
        rsps.post(TOKEN_URL, json=grant(1))
        rsps.post(TOKEN_URL, json=grant(2))
        rsps.post(TOKEN_URL, json=grant(3))     # only reached if both shards refresh
        make(store).token()                       # an earlier run left access 1 / rotated 1
        a, b = make(store), make(store)           # two shards of the next run
        assert a.token() == b.token() == access(1)
        assert len(rsps.calls) == 1
        results = _race([lambda: a.refresh(access(1)), lambda: b.refresh(access(1))])
        assert len(rsps.calls) == 2             # exactly one token-endpoint call for the race
    assert results == [access(2), access(2)]
    assert a.token() == b.token() == access(2)
    assert stored_entry(store_path)["refresh_token"] == rotated(2)
    assert stored_entry(store_path)["access_token"] == access(2)


def test_threads_of_one_run_share_a_single_refresh(store):
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=False) as rsps:
        rsps.post(TOKEN_URL, json=grant(1))
        rsps.post(TOKEN_URL, json=grant(2))
        rsps.post(TOKEN_URL, json=grant(3))
        tokens = make(store)
        rejected = tokens.token()
        results = _race([lambda: tokens.refresh(rejected) for _ in range(6)])
        assert len(rsps.calls) == 2
    assert results == [access(2)] * 6


# -- static tokens and wiring ----------------------------------------------------------------------


def test_a_static_token_cannot_be_refreshed():
    tokens = StaticToken("pina.STATIC-ffffffffffff")
    assert tokens.token() == "pina.STATIC-ffffffffffff"
    assert tokens.refresh("pina.STATIC-ffffffffffff") is None


def test_token_provider_builds_a_refreshing_token_on_the_configured_store(rsps, store_path):
    class Auth:
        access_token = None
        client_id, client_secret, refresh_token = CLIENT_ID, SECRET, CONFIGURED
        token_store = str(store_path)

    rsps.post(TOKEN_URL, json=grant(1))
    tokens = token_provider(Auth, API)
    assert tokens.token() == access(1)
    assert stored_entry(store_path)["refresh_token"] == rotated(1)


# -- secrets in logs ----------------------------------------------------------------------------------


def test_no_token_or_secret_reaches_the_logs(rsps, store, caplog):
    # everything at DEBUG, including requests-oauthlib, which logs request and response bodies
    caplog.set_level(logging.DEBUG)
    for name in ("requests_oauthlib", "oauthlib", "urllib3", "pinsync"):
        caplog.set_level(logging.DEBUG, logger=name)
    root = logging.getLogger()
    before = list(root.filters)
    secrets.install_log_filter()
    try:
        rsps.post(TOKEN_URL, json=grant(1))
        rsps.post(TOKEN_URL, json=grant(2))
        rsps.post(TOKEN_URL, status=400, json={"code": 1, "message": "Invalid refresh token"})
        tokens = make(store)
        tokens.token()
        tokens.refresh(access(1))
        with pytest.raises(AuthError):
            make(store, REAUTHORISED).token()
    finally:
        for f in list(root.filters):
            if f not in before:
                root.removeFilter(f)

    messages = [r.getMessage() for r in caplog.records]
    # the test only means something if the chatty loggers did log the exchanges
    assert any("refresh" in m.lower() and "content" in m.lower() for m in messages), messages
    leaked = [access(1), access(2), rotated(1), rotated(2), CONFIGURED, REAUTHORISED, SECRET,
              BASIC.split()[1]]
    for m in messages:
        for s in leaked:
            assert s not in m, f"secret in log line: {m!r}"
