"""Secrets (access tokens, refresh tokens, client secret) never reach logs at any level, error
messages, exception text, the state file, the output or the run summary; the token store -
the one place the rotated tokens must live - is private (mode 0600).

The runs below refresh tokens, see them expire mid-run, hit retried faults and an API error
that echoes the request's ``Authorization`` header back, all with DEBUG logging; then every
file written below the test's folder is searched for every secret the fake ever issued.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

import pinsync
from pinsync.cli import main
from pinsync.config import load_config
from pinsync.errors import AuthError, ConfigError
from pinsync.fake import FakePinterest, FakeServer
from pinsync.secrets import install_log_filter
from tests.conftest import TODAY
from tests.reliability_support import SleepRecorder, build_config, raw_config, small_dataset, tables, write_yaml

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID = "5551234"
CLIENT_SECRET = "cs-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
REFRESH = "pinr.secrets-suite-initial-refresh-token-77"
STATIC = "pina.secrets-suite-static-access-token-31"


class Issued:
    """Wraps ``fake.serve``: records every token ``/oauth/token`` issues; optionally expires
    the access tokens before the n-th request; echoes the caller's Authorization header in
    a 400 for one ad account's ad groups (as a misbehaving proxy might)."""

    def __init__(self, fake: FakePinterest, *, expire_at: int | None = None, echo_account: str | None = None):
        self.fake, self.expire_at, self.echo_account = fake, expire_at, echo_account
        self.tokens: set[str] = set()
        self.n = 0
        self.echoed = 0
        self._lock = threading.Lock()
        self._serve = fake.serve
        fake.serve = self

    def __call__(self, method, path, query=None, headers=None, body=b"", **kw):
        with self._lock:
            self.n += 1
            if self.n == self.expire_at:
                self.fake.expire_access_tokens()
        if self.echo_account and path.endswith(f"/ad_accounts/{self.echo_account}/ad_groups"):
            auth = {k.lower(): v for k, v in (headers or {}).items()}.get("authorization", "")
            with self._lock:
                self.echoed += 1
            from pinsync.fake import Reply
            body_out = json.dumps({"code": 1, "message": f"Invalid parameters. Request had Authorization: {auth} "
                                                        f"and client_secret={CLIENT_SECRET}"}).encode()
            return Reply(400, {"Content-Type": "application/json", "Content-Length": str(len(body_out))}, body_out)
        reply = self._serve(method, path, query, headers, body, **kw)
        if path.endswith("/oauth/token") and reply.status == 200:
            data = json.loads(reply.body)
            with self._lock:
                self.tokens |= {data["access_token"], data["refresh_token"]}
        return reply


def _fake() -> FakePinterest:
    return FakePinterest(small_dataset(TODAY), access_tokens=(STATIC,), client_id=CLIENT_ID,
                         client_secret=CLIENT_SECRET, refresh_token=REFRESH)


def _faults(fake: FakePinterest) -> None:
    fake.add_fault("campaigns", "status", status=503, after=1)
    fake.add_fault("ad_group_analytics", "status", status=429, headers={"x-ratelimit-reset": "1"})
    fake.add_fault("pins", "reset")
    fake.add_fault("ads", "html", after=2)
    fake.add_fault("campaign_analytics", "status", status=500, body={"code": 500, "message": f"boom {REFRESH}"})


def _files_containing(root: Path, secrets: set[str], *, skip: set[Path]) -> dict[str, list[str]]:
    found = {}
    for p in root.rglob("*"):
        if not p.is_file() or p in skip:
            continue
        data = p.read_bytes()
        hits = [s[:12] + "..." for s in secrets if s.encode() in data]
        if hits:
            found[str(p.relative_to(root))] = hits
    return found


class DebugLog:
    """Root logging at DEBUG (urllib3 included) into a file, through pinsync's redacting filter.

    ``attach()`` again after a CLI invocation: the CLI replaces the root handlers."""

    def __init__(self, path: Path):
        self.path = path
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))

    def attach(self) -> None:
        root = logging.getLogger()
        if self.handler not in root.handlers:
            root.addHandler(self.handler)
        root.setLevel(logging.DEBUG)
        logging.getLogger("urllib3").setLevel(logging.DEBUG)
        install_log_filter(root)

    def text(self) -> str:
        self.handler.flush()
        return self.path.read_text()


@pytest.fixture
def debug_log(tmp_path):
    (tmp_path / "logs").mkdir()
    root = logging.getLogger()
    saved = root.level, logging.getLogger("urllib3").level, list(root.filters)
    log = DebugLog(tmp_path / "logs" / "debug.log")
    log.attach()
    yield log
    root.removeHandler(log.handler)
    log.handler.close()
    root.setLevel(saved[0])
    logging.getLogger("urllib3").setLevel(saved[1])
    for f in [f for f in root.filters if f not in saved[2]]:
        root.removeFilter(f)


def test_no_secret_reaches_logs_errors_state_output_or_summary(tmp_path, debug_log, monkeypatch):
    fake = _fake()
    echo_account = fake.dataset.ad_accounts[1]["id"]
    issued = Issued(fake, expire_at=14, echo_account=echo_account)
    _faults(fake)
    sleep = SleepRecorder()
    sleep.drive_rate_limiters(monkeypatch)
    texts: list[str] = []
    with FakeServer(fake) as srv:
        auth = {"access_token": None, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH}
        config = build_config(raw_config(srv.url, tmp_path, TODAY, auth=auth), TODAY)
        texts += [repr(config), repr(config.auth), str(config)]

        # 1. a library run: tokens refreshed twice (start, mid-run expiry), retried faults, an echoing 400
        result = pinsync.run(config, today=TODAY, sleep=sleep, raise_on_failure=False)
        assert fake.refresh_count == 2 and fake.faults_pending() == 0 and issued.echoed == 1
        assert len(result.failures) >= 1 and all(echo_account in f for f in result.failures)
        texts += [repr(result), str(pinsync.SyncFailed(result.failures)), *result.failures]

        # 2. the command line, debug logging and the JSON summary, tokens expiring again
        monkeypatch.setenv("SECRETS_SUITE_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("SECRETS_SUITE_REFRESH", REFRESH)
        raw = raw_config(srv.url, tmp_path, TODAY, auth={"access_token": None, "client_id": CLIENT_ID,
                                                         "client_secret": "${SECRETS_SUITE_CLIENT_SECRET}",
                                                         "refresh_token": "${SECRETS_SUITE_REFRESH}"})
        cfg = write_yaml(tmp_path / "pinsync.yaml", raw)
        fake.expire_access_tokens()
        fake.add_fault("ads", "status", status=502)
        res = CliRunner().invoke(main, ["run", "--config", str(cfg), "-vv", "--json"])
        debug_log.attach()
        assert res.exit_code == 1, res.output          # the echoing account still fails
        assert fake.refresh_count == 3
        (tmp_path / "logs" / "cli-run.stdout").write_text(res.stdout)
        (tmp_path / "logs" / "cli-run.stderr").write_text(res.stderr)
        summary = json.loads(res.stdout[res.stdout.index("{"):])
        assert summary["failures"] and "requests_by_category" in summary

        # 3. a revoked refresh token: the error message and the exception text
        fake.expire_access_tokens()
        fake.revoke_refresh_token()
        with pytest.raises(AuthError) as info:
            pinsync.run(config, today=TODAY, sleep=sleep)
        texts += [str(info.value), repr(info.value)]
        res = CliRunner().invoke(main, ["run", "--config", str(cfg), "-vv"])
        debug_log.attach()
        assert res.exit_code == 3 and "re-authorise" in res.stderr
        (tmp_path / "logs" / "cli-revoked.stderr").write_text(res.stderr + res.stdout)
        (tmp_path / "logs" / "texts.txt").write_text("\n".join(texts))

    # the catalog feeds' passwords come in the API's answers (credentials): never stored
    assert fake.dataset.feed_passwords
    secrets = {CLIENT_SECRET, REFRESH, *issued.tokens, *fake.dataset.feed_passwords}
    assert len(issued.tokens) == 6                      # three refreshes: an access and a refresh token each
    log_text = debug_log.text()
    assert "access token refreshed" in log_text and "retry 1/3" in log_text and "DEBUG" in log_text
    assert "Authorization: ***" in log_text or "Bearer ***" in log_text     # the echo was there, masked
    assert len(tables(tmp_path / "out")) == len(pinsync.STREAMS)
    store = tmp_path / "state" / "tokens.json"
    assert any(t in store.read_text() for t in issued.tokens)    # the one place they belong
    leaks = _files_containing(tmp_path, secrets, skip={store})
    assert not leaks, f"secrets found in {leaks}"


def test_a_fresh_process_logs_no_secret_at_debug(tmp_path):
    """The same in a new interpreter (``pinsync run -vv``), where nothing is registered yet."""
    fake = _fake()
    issued = Issued(fake, expire_at=6)
    fake.add_fault("campaigns", "status", status=500)
    with FakeServer(fake) as srv:
        raw = raw_config(srv.url, tmp_path, TODAY, streams=["ad_accounts", "campaigns", "pins"],
                         start_date=(TODAY - dt.timedelta(days=3)).isoformat(),
                         auth={"access_token": None, "client_id": CLIENT_ID,
                               "client_secret": "${SECRETS_SUITE_CLIENT_SECRET}",
                               "refresh_token": "${SECRETS_SUITE_REFRESH}"})
        cfg = write_yaml(tmp_path / "pinsync.yaml", raw)
        env = {**os.environ, "SECRETS_SUITE_CLIENT_SECRET": CLIENT_SECRET, "SECRETS_SUITE_REFRESH": REFRESH,
               "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
        with (tmp_path / "cli.out").open("w") as out, (tmp_path / "cli.err").open("w") as err:
            rc = subprocess.run([sys.executable, "-m", "pinsync", "run", "--config", str(cfg), "-vv", "--json"],
                                cwd=ROOT, env=env, stdout=out, stderr=err, timeout=120).returncode
    stderr = (tmp_path / "cli.err").read_text()
    assert rc == 0, stderr
    assert fake.refresh_count == 2 and "access token refreshed" in stderr and "server error (HTTP 500)" in stderr
    leaks = _files_containing(tmp_path, {CLIENT_SECRET, REFRESH, *issued.tokens},
                              skip={tmp_path / "state" / "tokens.json"})
    assert not leaks, f"secrets found in {leaks}"


def test_the_token_store_is_private(tmp_path):
    fake = _fake()
    with FakeServer(fake) as srv:
        auth = {"access_token": None, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH}
        config = build_config(raw_config(srv.url, tmp_path, TODAY, auth=auth, streams=["ad_accounts"]), TODAY)
        old_umask = os.umask(0)             # even with a permissive umask
        try:
            assert pinsync.run(config, today=TODAY).ok
        finally:
            os.umask(old_umask)
        store = tmp_path / "state" / "tokens.json"
        assert stat.S_IMODE(store.stat().st_mode) == 0o600
        assert fake.current_refresh_token in store.read_text()
        # a store someone loosened is made private again on the next write
        os.chmod(store, 0o644)
        fake.expire_access_tokens()
        assert pinsync.run(config, today=TODAY).ok and fake.refresh_count == 2
        assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert not [p for p in store.parent.iterdir() if p.name.startswith(".tokens.json")]   # no temp copies


@pytest.mark.parametrize("yaml_text", [
    f"auth:\n  client_secret: {CLIENT_SECRET}\n  refresh_token: [{REFRESH}\n",         # malformed, on the line
    f"auth:\n  access_token: {STATIC}\n  acces_token: {STATIC}\n",                      # unknown key beside it
    f"auth:\n  access_token: {STATIC}\nmax_workers: {STATIC}\n",                        # the secret as a bad value
    f"auth:\n  client_id: '1'\n  refresh_token: {REFRESH}\n",                            # no app secret
    f"auth:\n  access_token: {STATIC}\noutput:\n  storage_options:\n    secret: {CLIENT_SECRET}\n  urll: x\n",
])
def test_configuration_errors_never_echo_a_secret(tmp_path, yaml_text):
    cfg = tmp_path / "pinsync.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={}, today=TODAY)
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 2
    for text in (str(info.value), repr(info.value), res.output):
        assert text.strip()
        for secret in (CLIENT_SECRET, REFRESH, STATIC):
            assert secret not in text


def test_config_reprs_mask_the_secrets(tmp_path):
    cfg = tmp_path / "pinsync.yaml"
    cfg.write_text(f"auth:\n  client_id: '{CLIENT_ID}'\n  client_secret: {CLIENT_SECRET}\n  refresh_token: {REFRESH}\n"
                   f"output:\n  url: out\n  storage_options:\n    key: AKIA-NOT-A-SECRET-ID\n    secret: {STATIC}\n")
    config = load_config(cfg, env={}, today=TODAY)
    for text in (repr(config), str(config), repr(config.auth), repr(config.output)):
        assert CLIENT_SECRET not in text and REFRESH not in text and STATIC not in text
    assert CLIENT_ID in repr(config.auth)        # public: still shown


NEVER = "pina.never-registered-0c1d2e3f4a5b"        # a token no test hands to pinsync


@pytest.mark.parametrize("text,kept", [
    (f"400: Request had Authorization: Bearer {NEVER} (echoed by a proxy)", "(echoed by a proxy)"),
    (f"headers={{'Authorization': 'Bearer {NEVER}', 'Accept': 'application/json'}}", "'Accept'"),
    (f"authorization=basic {NEVER}", "authorization="),
    (f"grant_type=refresh_token&refresh_token={NEVER}&scope=ads:read", "&scope=ads:read"),
    (f'{{"access_token": "{NEVER}", "expires_in": 2592000}}', '"expires_in": 2592000'),
    (f"client_secret={NEVER},next", ",next"),
])
def test_token_looking_values_are_masked_even_if_never_registered(text, kept):
    from pinsync.secrets import redact
    assert NEVER not in redact("x") and redact("x") == "x"      # nothing registered in this test
    out = redact(text)
    assert NEVER not in out and "***" in out and kept in out


def test_an_api_error_echoing_an_unregistered_token_is_masked(fake, server):
    """Whatever the server echoes: the message pinsync raises never shows the token."""
    from pinsync.client import PinterestClient
    from pinsync.errors import ApiError
    from pinsync.fake import Reply

    class Static:
        def token(self):
            return NEVER

        def refresh(self, rejected):
            return None

    serve = fake.serve

    def echo(method, path, *a, **kw):
        body = json.dumps({"code": 1, "message": f"Invalid parameters. Authorization: Bearer {NEVER}; "
                                                 f"refresh_token={NEVER}"}).encode()
        return Reply(400, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body)
    fake.serve = echo
    try:
        with pytest.raises(ApiError) as info:
            PinterestClient(server.url, Static()).get_json("ad_accounts")
    finally:
        fake.serve = serve
    assert NEVER not in str(info.value) and NEVER not in repr(info.value) and "Invalid parameters" in str(info.value)


def test_no_credential_reaches_the_download_host_the_saved_report_state_logs_or_output(tmp_path, debug_log,
                                                                                      monkeypatch):
    """A history run (reports) with app credentials: the download host receives no
    Authorization header and no token, the state saved while a report is pending holds its
    token (the report's id) and no credential, and no secret reaches any file or output."""
    import time as _time

    from pinsync.reports import ReportRunner

    fake = FakePinterest(small_dataset(TODAY, history_days=150), access_tokens=(STATIC,), client_id=CLIENT_ID,
                         client_secret=CLIENT_SECRET, refresh_token=REFRESH)
    issued = Issued(fake)
    fake.add_fault("report_download", "status", status=503)
    fake.add_fault("get_report", "reset", after=1)
    sleep = SleepRecorder()
    sleep.drive_rate_limiters(monkeypatch)
    streams = ["campaigns", "ad_groups", "ads", "campaign_analytics", "ad_group_analytics", "ad_analytics"]
    with FakeServer(fake) as srv:
        auth = {"access_token": None, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH}
        config = build_config(raw_config(srv.url, tmp_path, TODAY, days=120, streams=streams, auth=auth), TODAY)
        real_step = ReportRunner._step

        def step(self, *a, **kw):             # the run stops while its reports are pending
            real_step(self, *a, **kw)
            raise KeyboardInterrupt
        monkeypatch.setattr(ReportRunner, "_step", step)
        with pytest.raises(KeyboardInterrupt):
            pinsync.run(config, today=TODAY, sleep=sleep)
        deadline = _time.monotonic() + 30
        while any(t.name.startswith("pinsync-") for t in threading.enumerate()) and _time.monotonic() < deadline:
            _time.sleep(0.05)
        state_text = (tmp_path / "state" / "state.json").read_text()
        saved = [v for s in json.loads(state_text)["bookmarks"].values() for m in s.values()
                 for v in (m.get("reports") or {}).values()]
        assert saved and set(saved) <= set(fake.reports.by_token)      # report ids only
        monkeypatch.setattr(ReportRunner, "_step", real_step)

        monkeypatch.setenv("SECRETS_SUITE_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("SECRETS_SUITE_REFRESH", REFRESH)
        raw = raw_config(srv.url, tmp_path, TODAY, days=120, streams=streams,
                         auth={**auth, "client_secret": "${SECRETS_SUITE_CLIENT_SECRET}",
                               "refresh_token": "${SECRETS_SUITE_REFRESH}"})
        cfg = write_yaml(tmp_path / "pinsync.yaml", raw)
        fake.expire_access_tokens()
        res = CliRunner().invoke(main, ["run", "--config", str(cfg), "-vv", "--json"])
        debug_log.attach()
        assert res.exit_code == 0, res.output
        (tmp_path / "logs" / "cli-run.out").write_text(res.stdout + res.stderr)
    assert fake.calls["report_download"] >= 9 and fake.faults_pending() == 0
    secrets = {CLIENT_SECRET, REFRESH, STATIC, *issued.tokens}
    assert len(issued.tokens) >= 4
    for method, path, query, headers in fake.downloads:
        assert "authorization" not in headers, headers
        sent = json.dumps([path, query, headers])
        assert not [s for s in secrets if s in sent], "a credential went to the download host"
    assert not [s for s in secrets if s in state_text]
    store = tmp_path / "state" / "tokens.json"
    leaks = _files_containing(tmp_path, secrets, skip={store})
    assert not leaks, f"secrets found in {leaks}"
    assert "X-Amz-Signature=" not in debug_log.text()       # the links' signatures stay out of the logs
