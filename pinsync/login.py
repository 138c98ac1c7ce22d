"""``pinsync login``: the OAuth authorization-code flow, end to end, on the user's machine.

1. A one-shot HTTP listener starts on ``127.0.0.1:PORT`` (default 8085).
2. The consent URL (``https://www.pinterest.com/oauth/`` with the app id, the redirect URI
   ``http://localhost:PORT/``, the scopes the selected streams need and a random
   ``state``) is printed and opened in a browser.
3. The browser comes back to the listener with ``code`` and ``state``; a wrong ``state``
   or a denied consent stops with one clear line.
4. The code is exchanged at ``POST /oauth/token`` (HTTP Basic with the app id and secret)
   and the tokens are written to the token store (mode 0600) - never to the config, never
   printed. The next ``pinsync run`` refreshes from there.

Headless machines: ``--no-browser`` only prints the URL, and ``--code CODE`` finishes the
exchange with a code copied from another machine's browser (the address bar of the
redirect, which fails to load there).
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import secrets as pysecrets
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import oauthlib.oauth2
import requests
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from pinsync.auth import STORE_VERSION, TokenStore, _fingerprint, parse_scopes
from pinsync.errors import AuthError, ConfigError, StateError
from pinsync.secrets import redact, register
from pinsync.streams import OPTIONAL_SCOPES, scopes_for, select

DEFAULT_PORT = 8085
PINTEREST_CONSENT_URL = "https://www.pinterest.com/oauth/"
_PINTEREST_API_HOSTS = ("api.pinterest.com", "api-sandbox.pinterest.com")


@dataclass
class LoginResult:
    """What ``login`` did: where the tokens went and what Pinterest granted."""

    token_store: str
    redirect_uri: str
    scopes_asked: tuple[str, ...]
    scopes_granted: tuple[str, ...]
    refresh_token_expires_at: int | None
    missing: tuple[str, ...] = field(default_factory=tuple)   # needed by the selected streams, not granted

    @property
    def refresh_token_days(self) -> int | None:
        if not self.refresh_token_expires_at:
            return None
        return max(0, int((self.refresh_token_expires_at - time.time()) // 86400))


def redirect_uri(port: int = DEFAULT_PORT) -> str:
    """The redirect URI to register on the app (exactly this, trailing slash included)."""
    return f"http://localhost:{port}/"


def consent_url_base(api_url: str) -> str:
    """Pinterest's consent page for the real API; the same host's ``/oauth/`` otherwise
    (the package's fake serves one)."""
    parts = urlsplit(api_url)
    if parts.hostname in _PINTEREST_API_HOSTS:
        return PINTEREST_CONSENT_URL
    return f"{parts.scheme}://{parts.netloc}/oauth/"


def scopes_to_ask(config) -> tuple[str, ...]:
    """The scopes the selected streams need, plus those that make them complete (secret boards)."""
    return tuple(sorted(set(scopes_for(select(config.streams))) | set(OPTIONAL_SCOPES)))


class _Listener(http.server.HTTPServer):
    """Answers one browser redirect on 127.0.0.1 and keeps its query."""

    allow_reuse_address = True

    def __init__(self, port: int):
        self.query: dict[str, list[str]] | None = None
        self.got = threading.Event()
        try:
            super().__init__(("127.0.0.1", port), _Handler)
        except OSError as e:
            raise ConfigError(f"login: cannot listen on 127.0.0.1:{port} ({e.strerror or e}); "
                              "free the port or pass --port with the port of a registered redirect URI") from None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        query = parse_qs(urlsplit(self.path).query)
        if urlsplit(self.path).path != "/" or not ({"code", "error"} & query.keys()):
            self.send_response(404)        # e.g. a favicon: not the redirect
            self.end_headers()
            return
        ok = "code" in query
        page = ("<h1>pinsync is authorised</h1><p>You can close this tab and go back to the terminal.</p>" if ok
                else "<h1>Consent not given</h1><p>Go back to the terminal.</p>")
        body = f"<html><body>{page}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.query = query             # type: ignore[attr-defined]
        self.server.got.set()                 # type: ignore[attr-defined]

    def log_message(self, format: str, *args) -> None:   # noqa: A002 - quiet
        pass


def login(config, *, port: int = DEFAULT_PORT, open_browser: bool = True, code: str | None = None,
          timeout: float = 300.0, on_url: Callable[[str], None] = print,
          http_timeout: float = 60.0) -> LoginResult:
    """Authorise pinsync for the config's app and keep the tokens in its token store.

    Args:
        config: a loaded :class:`pinsync.config.Config` with ``auth.client_id`` and
            ``auth.client_secret`` (credentials are otherwise not required).
        port: the listener's port on 127.0.0.1; the redirect URI is ``http://localhost:PORT/``.
        open_browser: open the consent URL in a browser (it is passed to ``on_url`` either way).
        code: finish with this authorization code (copied from another machine's browser)
            instead of listening for the redirect.
        timeout: seconds to wait for the browser to come back.
        on_url: receives the consent URL to show the user.

    Returns:
        A :class:`LoginResult`.

    Raises:
        ConfigError: no app id/secret, or the port is taken.
        AuthError: consent denied, a wrong ``state``, no redirect in time, or Pinterest
            refused the code or the app credentials (exit 3).
    """
    a = config.auth
    if not a.client_id or not a.client_secret:
        raise ConfigError("login needs auth.client_id and auth.client_secret (PINTEREST_CLIENT_ID / "
                          "PINTEREST_CLIENT_SECRET): the app id and secret from developers.pinterest.com/apps")
    register(a.client_secret)
    uri = redirect_uri(port)
    scopes = scopes_to_ask(config)
    state = pysecrets.token_urlsafe(24)
    token_url = config.api_url.rstrip("/") + "/oauth/token"
    if urlsplit(token_url).scheme == "http" and urlsplit(token_url).hostname in ("127.0.0.1", "localhost", "::1"):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")   # the loopback fake API only
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")        # Pinterest may grant fewer scopes
    session = OAuth2Session(a.client_id, redirect_uri=uri, scope=",".join(scopes), state=state)
    url, _ = session.authorization_url(consent_url_base(config.api_url))
    store = TokenStore(a.token_store, config.state.storage_options)
    store.check_writable()
    if code is None:
        code = _wait_for_code(url, state, port, open_browser=open_browser, timeout=timeout, on_url=on_url)
    try:
        token = session.fetch_token(token_url, code=code, auth=HTTPBasicAuth(a.client_id, a.client_secret),
                                    include_client_id=False, timeout=http_timeout)
    except oauthlib.oauth2.OAuth2Error as e:
        detail = e.description or e.error
        if "invalid_client" in str(detail) or e.status_code == 401 and "invalid_client" in str(e):
            raise AuthError(redact(f"Pinterest rejected the app credentials ({detail}): check auth.client_id "
                                   "and auth.client_secret")) from None
        raise AuthError(redact(f"Pinterest refused the authorization code ({detail}); codes work once and "
                               "for a few minutes: run `pinsync login` again")) from None
    except requests.RequestException as e:
        raise AuthError(f"cannot reach {token_url} ({type(e).__name__})", retryable=True) from None
    register(token.get("access_token"), token.get("refresh_token"))
    if not token.get("refresh_token"):
        raise AuthError("Pinterest answered without a refresh token; check that the app may use "
                        "continuous refresh tokens")
    granted = tuple(sorted(parse_scopes(token.get("scope"))))
    entry = {
        "seed": _fingerprint(a.refresh_token or ""),
        "refresh_token": token["refresh_token"],
        "refresh_token_expires_at": token.get("refresh_token_expires_at"),
        "access_token": token["access_token"],
        "access_token_expires_at": int(time.time()) + int(token.get("expires_in") or 3600),
        "scope": list(granted),
        "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    with store.lock("pinsync-login"):
        try:
            data = store.read()
        except StateError:   # a corrupt store is replaced by a fresh authorisation
            data = {"version": STORE_VERSION, "clients": {}}
        data["clients"][a.client_id] = entry
        store.keep(data, a.client_id)
    needed = scopes_for(select(config.streams))
    return LoginResult(store.url, uri, scopes, granted, entry["refresh_token_expires_at"],
                       tuple(s for s in needed if s not in granted))


def _wait_for_code(url: str, state: str, port: int, *, open_browser: bool, timeout: float,
                   on_url: Callable[[str], None]) -> str:
    listener = _Listener(port)
    thread = threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        on_url(url)
        if open_browser:
            try:
                webbrowser.open(url)
            except webbrowser.Error:
                pass
        if not listener.got.wait(timeout):
            raise AuthError(f"no answer from the browser within {timeout:.0f} s: open the URL above, approve, and "
                            f"make sure the app's redirect URI is exactly {redirect_uri(port)} (or finish on "
                            "another machine with --no-browser and --code)")
    finally:
        listener.shutdown()
        listener.server_close()
    query = listener.query or {}
    if "error" in query:
        raise AuthError(f"consent was not given ({query['error'][-1]}); run `pinsync login` again and approve")
    if query.get("state", [""])[-1] != state:
        raise AuthError("the redirect carried a different state than the one sent (a stale or forged "
                        "redirect); run `pinsync login` again")
    return query["code"][-1]
