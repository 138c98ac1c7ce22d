"""`pinsync login` (the OAuth authorization-code flow against the fake's consent page, on
loopback) and `pinsync check` (each failure class with its exit code)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from click.testing import CliRunner

import pinsync
from pinsync.cli import main
from pinsync.errors import AuthError, ConfigError
from pinsync.login import login, redirect_uri

CLIENT_ID, SECRET = "1234567", "app-secret-xyz"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cfg(tmp_path, server) -> Path:
    """A config with the app's id and secret but no refresh token: `login` provides it."""
    path = tmp_path / "pinsync.yaml"
    path.write_text(yaml.safe_dump({
        "api_url": server.url, "output": {"url": "out"}, "state": {"url": "state/state.json"},
        "streams": ["ad_accounts", "campaigns", "pins"],
        "auth": {"client_id": CLIENT_ID, "client_secret": SECRET}}))
    return path


def _browser(url: str) -> requests.Response:
    """What the user's browser does: open the consent URL, approve, follow the redirect."""
    return requests.get(url, timeout=10)


def _login_in_background(cfg: Path, **kwargs):
    urls, result = [], {}

    def go():
        try:
            result["ok"] = login(pinsync.load_config(cfg, require_credentials=False), open_browser=False,
                                 on_url=urls.append, **kwargs)
        except Exception as e:   # handed to the test
            result["error"] = e

    t = threading.Thread(target=go)
    t.start()
    return t, urls, result


def _wait_for(urls: list) -> str:
    for _ in range(500):
        if urls:
            return urls[0]
        threading.Event().wait(0.01)
    raise AssertionError("login never showed a URL")


# ------------------------------------------------------------------ login
def test_login_end_to_end_then_a_run_refreshes_from_the_store(cfg, tmp_path, fake):
    port = _free_port()
    t, urls, result = _login_in_background(cfg, port=port, timeout=20)
    url = _wait_for(urls)
    q = parse_qs(urlsplit(url).query)
    assert q["client_id"] == [CLIENT_ID] and q["redirect_uri"] == [f"http://localhost:{port}/"]
    assert q["response_type"] == ["code"] and len(q["state"][0]) >= 20
    assert set(q["scope"][0].split(",")) == {"ads:read", "boards:read", "pins:read", "boards:read_secret",
                                             "pins:read_secret"}
    page = _browser(url)
    t.join(10)
    assert page.status_code == 200 and "authorised" in page.text
    done = result["ok"]
    assert done.redirect_uri == f"http://localhost:{port}/" and not done.missing
    assert "ads:read" in done.scopes_granted and 55 <= done.refresh_token_days <= 60
    store = tmp_path / "state" / "tokens.json"
    entry = json.loads(store.read_text())["clients"][CLIENT_ID]
    assert entry["refresh_token"] == fake.current_refresh_token and oct(store.stat().st_mode)[-3:] == "600"
    assert fake.current_refresh_token not in cfg.read_text()
    result = pinsync.run(pinsync.load_config(cfg))                  # no refresh token in the config
    assert result.ok and fake.refresh_count == 0                     # the login's access token serves


def test_a_redirect_with_another_state_is_rejected(cfg):
    port = _free_port()
    t, urls, result = _login_in_background(cfg, port=port, timeout=20)
    _wait_for(urls)
    requests.get(f"http://127.0.0.1:{port}/?code=stolen&state=not-the-one", timeout=10)
    t.join(10)
    assert isinstance(result["error"], AuthError) and "different state" in str(result["error"])


def test_a_denied_consent_is_one_clear_error(cfg, fake):
    fake.consent.deny = True
    port = _free_port()
    t, urls, result = _login_in_background(cfg, port=port, timeout=20)
    _browser(_wait_for(urls))
    t.join(10)
    assert isinstance(result["error"], AuthError) and "consent was not given (access_denied)" in str(result["error"])


def test_no_redirect_in_time_names_the_redirect_uri(cfg):
    port = _free_port()
    with pytest.raises(AuthError, match=f"no answer from the browser.*http://localhost:{port}/"):
        login(pinsync.load_config(cfg, require_credentials=False), port=port, open_browser=False,
              on_url=lambda u: None, timeout=0.3)


def test_a_taken_port_is_a_usage_error(cfg):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ConfigError, match="cannot listen on 127.0.0.1"):
            login(pinsync.load_config(cfg, require_credentials=False), port=s.getsockname()[1],
                  open_browser=False, on_url=lambda u: None, timeout=1)


def _code_from_another_machine(server_url: str, port: int, scope: str = "ads:read,boards:read,pins:read") -> str:
    """The consent page redirects to a localhost that isn't listening: the user copies the code."""
    consent = f"{server_url.rsplit('/v5', 1)[0]}/oauth/"
    r = requests.get(consent, params={"client_id": CLIENT_ID, "redirect_uri": redirect_uri(port),
                                      "response_type": "code", "scope": scope, "state": "x"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302
    return parse_qs(urlsplit(r.headers["Location"]).query)["code"][0]


def test_headless_login_with_a_copied_code_on_the_command_line(cfg, tmp_path, server, fake):
    port = _free_port()
    code = _code_from_another_machine(server.url, port)
    res = CliRunner().invoke(main, ["login", "--config", str(cfg), "--no-browser", "--code", code,
                                    "--port", str(port)])
    assert res.exit_code == 0, res.output
    assert f"http://localhost:{port}/" in res.output and "scopes granted" in res.output and "valid 59 days" in res.output
    assert fake.current_refresh_token not in res.output and code not in res.output.replace(code + "\n", "")
    assert json.loads((tmp_path / "state" / "tokens.json").read_text())["clients"][CLIENT_ID]["refresh_token"] == \
        fake.current_refresh_token
    res = CliRunner().invoke(main, ["login", "--config", str(cfg), "--code", code, "--port", str(port)])
    assert res.exit_code == 3 and "codes work once" in res.output        # a used code


def test_login_names_scopes_the_streams_need_but_were_not_granted(cfg, server, fake):
    fake.consent.withheld = {"pins:read"}
    port = _free_port()
    code = _code_from_another_machine(server.url, port, "ads:read,boards:read,pins:read")
    res = CliRunner().invoke(main, ["login", "--config", str(cfg), "--code", code, "--port", str(port)])
    assert res.exit_code == 3 and "not granted: pins:read" in res.output


def test_login_without_app_credentials_is_a_config_error(tmp_path, server):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"api_url": server.url, "output": {"url": "o"}, "state": {"url": "s/s.json"}}))
    res = CliRunner().invoke(main, ["login", "--config", str(path), "--code", "x"])
    assert res.exit_code == 2 and "auth.client_id and auth.client_secret" in res.output


# ------------------------------------------------------------------ check
def _logged_in(cfg, server, fake, withheld=()):
    fake.consent.withheld = set(withheld)
    port = _free_port()
    code = _code_from_another_machine(server.url, port, "ads:read,boards:read,pins:read,pins:read_secret")
    login(pinsync.load_config(cfg, require_credentials=False), port=port, code=code, on_url=lambda u: None)


def test_check_passes_and_makes_no_analytics_request(cfg, server, fake):
    _logged_in(cfg, server, fake)
    fake.reset_counters()
    res = CliRunner().invoke(main, ["check", "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    names = [c["name"] for c in body["checks"]]
    assert body["ok"] and names == ["config", "output", "state", "token store", "credentials", "scopes",
                                    "ad accounts", "rate limits"]
    assert all(c["ok"] for c in body["checks"])
    assert not any("analytics" in route or "report" in route for route in fake.calls)
    assert not list((cfg.parent / "out").rglob("*"))                  # the probe is gone
    res = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert res.exit_code == 0 and "ok" in res.output and "2 visible" in res.output


def test_check_a_missing_scope_exits_3(cfg, server, fake):
    _logged_in(cfg, server, fake, withheld={"pins:read"})
    res = CliRunner().invoke(main, ["check", "--config", str(cfg), "--json"])
    assert res.exit_code == 3
    scopes = [c for c in json.loads(res.stdout)["checks"] if c["name"] == "scopes"][0]
    assert not scopes["ok"] and "pins:read" in scopes["detail"]


def test_check_revoked_credentials_exit_3(cfg, server, fake):
    _logged_in(cfg, server, fake)
    fake.expire_access_tokens()
    fake.revoke_refresh_token()
    res = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert res.exit_code == 3 and "FAIL credentials" in res.output.replace("  ", " ")


def test_check_an_unwritable_output_exits_2_before_spending_credentials(cfg, server, fake, tmp_path):
    (tmp_path / "blocker").write_text("a file, not a folder")
    text = yaml.safe_load(cfg.read_text())
    text["output"] = {"url": str(tmp_path / "blocker" / "out")}
    cfg.write_text(yaml.safe_dump(text))
    _logged_in(cfg, server, fake)
    fake.reset_counters()
    res = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert res.exit_code == 2 and "cannot be written" in res.output
    assert sum(fake.calls.values()) == 0


def test_check_an_invisible_selected_account_exits_2(cfg, server, fake):
    _logged_in(cfg, server, fake)
    text = yaml.safe_load(cfg.read_text())
    text["ad_account_ids"] = ["1111111111111111"]
    cfg.write_text(yaml.safe_dump(text))
    res = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert res.exit_code == 2 and "not visible to the token: 1111111111111111" in res.output


def test_check_without_a_login_says_to_log_in(cfg):
    res = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert res.exit_code == 3 and "pinsync login" in res.output
