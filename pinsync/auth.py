"""Access tokens: a static token, or the refresh-token flow with a rotated-token store.

Pinterest rotates the refresh token on every refresh: the response carries a new
``refresh_token`` (and ``refresh_token_expires_at``) and the old one stops working.
Tools that drop the new one lock their users out. pinsync writes it, at once, to a token
store beside the state (its own file, mode 0600, never the state file or the output) and
prefers it over the configured value on the next run - unless the configured refresh
token has changed since (the user re-authorised), which then wins.

Refreshing happens under a lock on the token store and re-reads the store first, so
shards of one app that share the store never race each other into a revoked token: the
second one finds the fresh access token the first one stored and uses it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from urllib.parse import urlparse

import oauthlib.oauth2
import requests
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from pinsync.client import connection_problem
from pinsync.errors import AuthError, NetworkError, StateError
from pinsync.lock import Lock
from pinsync.secrets import redact, register
from pinsync.storage import Location, explain, split_url

log = logging.getLogger("pinsync.auth")
# requests-oauthlib logs request and response bodies (tokens) at DEBUG: keep it quiet.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.WARNING)

STORE_VERSION = 1
RESCUE_ENV = "PINSYNC_RESCUE_DIR"
# the fields of a token-store entry and their types (expires_at may be null: not every answer has it)
_ENTRY_FIELDS = {"seed": (str,), "refresh_token": (str,), "access_token": (str,),
                 "access_token_expires_at": (int, float), "refresh_token_expires_at": (int, float, type(None))}


def _check_entry(where: str, client_id: str, entry) -> None:
    """A token-store entry with every field of the right type, else a named :class:`StateError`
    (never a silent fall-back to the configured token)."""
    if not isinstance(entry, dict):
        raise StateError(f"token store {where}: the entry of app {client_id} is not an object; restore the "
                         "file or remove that entry (and set auth.refresh_token to a freshly authorised token)")
    for name, types in _ENTRY_FIELDS.items():
        if name not in entry or not isinstance(entry[name], types) or isinstance(entry[name], bool):
            what = "is missing" if name not in entry else f"has the wrong type ({type(entry[name]).__name__})"
            raise StateError(f"token store {where}: field {name!r} of app {client_id} {what}; restore the file "
                             "or remove that entry (and set auth.refresh_token to a freshly authorised token)")


def _cause(e: BaseException | None) -> str:
    """An OS error in words: 'No space left on device', an S3 error's message."""
    if e is None:
        return "unknown error"
    return getattr(e, "strerror", None) or str(e) or type(e).__name__
EXPIRY_MARGIN = 300   # refresh when an access token has less than this many seconds left


class StaticToken:
    """A fixed access token; a 401 cannot be repaired by refreshing."""

    def __init__(self, access_token: str):
        register(access_token)
        self._token = access_token

    def token(self) -> str:
        return self._token

    def refresh(self, rejected: str) -> str | None:
        return None

    def scopes(self) -> frozenset[str] | None:
        """Unknown: nothing tells a static token's scopes short of asking with it."""
        return None


def parse_scopes(scope) -> frozenset[str]:
    """The scopes of a token response's ``scope``: Pinterest separates them with commas,
    OAuth with spaces (and oauthlib may have split it into a list already)."""
    text = " ".join(scope) if isinstance(scope, (list, tuple)) else str(scope or "")
    return frozenset(text.replace(",", " ").split())


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class TokenStore:
    """The rotated-token file (JSON, mode 0600) at ``url``, one entry per app id."""

    def __init__(self, url: str, storage_options: dict | None = None):
        self.url = url
        folder, self.name = split_url(url)
        self.folder = Location(folder, storage_options)

    def read(self) -> dict:
        try:
            raw = self.folder.read(self.name)
        except Exception as e:   # OS errors, botocore errors (no credentials, no bucket, 5xx)
            why, retryable = explain(e, self.url)
            raise StateError(f"cannot read token store {self.url}: {why}", retryable=retryable) from None
        if raw is None:
            return {"version": STORE_VERSION, "clients": {}}
        try:
            data = json.loads(raw)
        except ValueError:
            raise StateError(f"token store {self.url} is corrupt (not JSON); restore it or remove it "
                             "and set auth.refresh_token to a freshly authorised token") from None
        if not isinstance(data, dict) or data.get("version") != STORE_VERSION or not isinstance(
                data.get("clients"), dict):
            raise StateError(f"token store {self.url} is not a pinsync token store (version "
                             f"{STORE_VERSION}); restore it or remove it")
        for client_id, entry in data["clients"].items():
            _check_entry(self.url, client_id, entry)
            register(entry.get("refresh_token"), entry.get("access_token"))
        return data

    def write(self, data: dict) -> None:
        try:
            self._put(data)
        except Exception as e:
            why, retryable = explain(e, self.url)
            raise StateError(f"cannot write token store {self.url}: {why}", retryable=retryable) from None

    def _put(self, data: dict) -> None:
        self.folder.write(self.name, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)
        if self.folder.local:
            os.chmod(self.folder.path(self.name), 0o600)

    def check_writable(self) -> None:
        """Write and remove a probe beside the store: a refresh retires the old refresh
        token, so never spend it while the new one could not be kept."""
        probe = f".{self.name}.probe-{uuid.uuid4().hex}"
        try:
            self.folder.write(probe, b"probe", mode=0o600)
            self.folder.delete(probe)
        except Exception as e:
            raise StateError(f"the token store {self.url} cannot be written ({explain(e, self.url)[0]}); nothing was "
                             "refreshed, the refresh token is still valid: fix the location and re-run") from None

    def keep(self, data: dict, client_id: str, *, attempts: int = 5, sleep=time.sleep) -> None:
        """Write ``data`` right after a refresh, retrying with backoff. If the store still
        cannot be written, the new tokens go to a local rescue file (mode 0600) that the
        next run picks up, and an :class:`AuthError` (exit 3) names the real cause."""
        last: OSError | None = None
        for attempt in range(attempts):
            try:
                self._put(data)
                return
            except OSError as e:
                last = e
                if attempt + 1 < attempts:
                    sleep(min(0.5 * 2 ** attempt, 8.0))
        path = self.rescue_path()
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"version": STORE_VERSION, "store": self.url,
                           "clients": {client_id: data["clients"][client_id]}}, f)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise AuthError(f"the token store {self.url} cannot be written after a refresh ({_cause(last)}) "
                            f"and neither can the rescue file {path} ({_cause(e)}): the new refresh token is "
                            "lost; re-authorise the app") from None
        raise AuthError(f"the token store {self.url} cannot be written after a refresh ({_cause(last)}). The new "
                        f"refresh token is kept in the rescue file {path} (mode 0600); the next run moves it "
                        "into the store by itself once the store can be written again: fix the location and "
                        "re-run")

    def rescue_path(self) -> str:
        """The local rescue file for this store (``$PINSYNC_RESCUE_DIR``, default
        ``~/.pinsync/rescue``), one per store URL."""
        folder = os.environ.get(RESCUE_ENV) or os.path.join(os.path.expanduser("~"), ".pinsync", "rescue")
        return os.path.join(folder, f"tokens-{hashlib.sha256(self.url.encode()).hexdigest()[:16]}.json")

    def rescued(self) -> dict:
        """The entries of this store's rescue file (``{client_id: entry}``; empty if none)."""
        try:
            with open(self.rescue_path(), encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise StateError(f"the token rescue file {self.rescue_path()} is unreadable ({e}); restore or "
                             "remove it") from None
        if not isinstance(data, dict) or data.get("store") != self.url or not isinstance(data.get("clients"), dict):
            raise StateError(f"the token rescue file {self.rescue_path()} is not this store's; remove it")
        for client_id, entry in data["clients"].items():
            _check_entry(self.rescue_path(), client_id, entry)
            register(entry.get("refresh_token"), entry.get("access_token"))
        return data["clients"]

    def forget_rescue(self) -> None:
        try:
            os.unlink(self.rescue_path())
        except FileNotFoundError:
            pass

    def lock(self, owner: str) -> Lock:
        return Lock(self.folder, f"{self.name}.lock", owner=owner, wait=120.0, stale_after=120.0,
                    what="token store")


class RefreshingToken:
    """Access tokens from ``POST {api_url}/oauth/token`` with ``grant_type=refresh_token``.

    Args:
        api_url: the API base URL (``/oauth/token`` is below it).
        client_id, client_secret: the app's id and secret (sent with HTTP Basic).
        refresh_token: the configured refresh token.
        store: where rotated tokens are kept.
        owner: a label for the store lock (the run id).
    """

    refreshable = True

    def __init__(self, api_url: str, client_id: str, client_secret: str, refresh_token: str | None,
                 store: TokenStore, *, owner: str = "pinsync", timeout: float = 60.0, attempts: int = 4,
                 sleep=time.sleep):
        register(client_secret, refresh_token)
        self.token_url = api_url.rstrip("/") + "/oauth/token"
        self.client_id, self._secret, self._configured = client_id, client_secret, refresh_token
        self.store, self.owner, self.timeout, self.attempts, self._sleep = store, owner, timeout, attempts, sleep
        self._access: str | None = None
        self._scopes: frozenset[str] | None = None
        self._lock = threading.Lock()
        self.refreshes = 0
        self.keep_window = 0.0     # seconds from the token answer to the durable store write
        host = urlparse(self.token_url).hostname or ""
        if self.token_url.startswith("http://") and host in ("127.0.0.1", "localhost", "::1"):
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")   # the loopback fake API only

    def token(self) -> str:
        with self._lock:
            if self._access is None:
                self._access = self._obtain(rejected=None)
            return self._access

    def refresh(self, rejected: str) -> str | None:
        with self._lock:
            if self._access != rejected and self._access is not None:
                return self._access          # another thread refreshed already
            self._access = self._obtain(rejected=rejected)
            return self._access

    def scopes(self) -> frozenset[str] | None:
        """The scopes the token endpoint granted the current access token (None: not known,
        e.g. a token stored by an older pinsync)."""
        self.token()
        return self._scopes

    def _obtain(self, rejected: str | None) -> str:
        with self.store.lock(self.owner):
            data = self.store.read()
            rescued = self.store.rescued().get(self.client_id)
            if rescued:   # an earlier run refreshed but could not keep the tokens in the store
                data["clients"][self.client_id] = rescued
                self.store.write(data)
                self.store.forget_rescue()
                log.warning("the tokens of the last refresh were moved from the rescue file into the token store")
            entry = data["clients"].get(self.client_id) or {}
            configured = _fingerprint(self._configured or "")
            if entry.get("seed") != configured:
                entry = {}   # first run, or the user configured a new refresh token: it wins
            access = entry.get("access_token")
            if access and access != rejected and entry.get("access_token_expires_at", 0) > time.time() + EXPIRY_MARGIN:
                self._scopes = frozenset(entry["scope"]) if isinstance(entry.get("scope"), list) else None
                return access
            refresh_token = entry.get("refresh_token") or self._configured
            if not refresh_token:
                raise AuthError(f"no refresh token for app {self.client_id} in the token store {self.store.url}: "
                                "run `pinsync login` (or set auth.refresh_token)")
            self.store.check_writable()
            token, received = self._call(refresh_token)
            # nothing but building the entry between Pinterest's answer and the durable write:
            # the old refresh token is already retired
            entry = {
                "seed": configured,
                "refresh_token": token.get("refresh_token") or refresh_token,
                "refresh_token_expires_at": token.get("refresh_token_expires_at"),
                "access_token": token["access_token"],
                "access_token_expires_at": int(time.time()) + int(token.get("expires_in") or 3600),
                "scope": sorted(parse_scopes(token.get("scope"))) or entry.get("scope"),
                "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            }
            data["clients"][self.client_id] = entry
            self.store.keep(data, self.client_id, sleep=self._sleep)
            self.keep_window = time.monotonic() - received
            self._scopes = frozenset(entry["scope"]) if isinstance(entry.get("scope"), list) else None
            self.refreshes += 1
        log.info("access token refreshed; rotated refresh token saved to the token store (%.1f ms after the answer)",
                 self.keep_window * 1000)
        return entry["access_token"]

    def _call(self, refresh_token: str) -> tuple[dict, float]:
        """Pinterest's token answer, checked, and when it was received (monotonic)."""
        received = [0.0]

        def stamp(r: requests.Response) -> requests.Response:
            received[0] = time.monotonic()
            return _check_token_response(r)

        session = OAuth2Session(self.client_id)
        session.register_compliance_hook("refresh_token_response", stamp)
        last = ""
        for attempt in range(self.attempts):
            try:
                token = session.refresh_token(self.token_url, refresh_token=refresh_token,
                                              auth=HTTPBasicAuth(self.client_id, self._secret),
                                              timeout=self.timeout)
            except requests.Timeout:
                last = "timed out"
            except requests.ConnectionError as e:
                last, transient = connection_problem(e, self.token_url)
                if not transient:
                    raise NetworkError(f"cannot refresh the access token at {self.token_url}: {last}; check "
                                       "api_url and the machine's network (DNS, proxy)") from None
            except _Transient as e:
                last = str(e)
            except _Rejected as e:
                if e.wrong_app:
                    raise AuthError(redact(
                        f"Pinterest rejected the app credentials ({e}): check auth.client_id and "
                        "auth.client_secret (PINTEREST_CLIENT_ID / PINTEREST_CLIENT_SECRET) against your app at "
                        "developers.pinterest.com; the refresh token was not used")) from None
                raise AuthError(redact(
                    f"Pinterest rejected the refresh token ({e}). The app must be re-authorised: run "
                    "`pinsync login` (README, 'From the demo to your account')")) from None
            except oauthlib.oauth2.OAuth2Error as e:
                raise AuthError(redact(
                    f"Pinterest rejected the refresh token ({e.description or e.error}). The app must be "
                    "re-authorised: run `pinsync login` (README, 'From the demo to your account')")) from None
            except ValueError as e:   # not JSON: a proxy page or an outage
                last = f"unreadable response ({type(e).__name__})"
            else:
                if not token.get("access_token"):
                    raise AuthError("the token endpoint answered without an access token")
                register(token.get("access_token"), token.get("refresh_token"))
                return token, received[0]
            self._sleep(min(2 ** attempt, 10))
        raise AuthError(f"could not refresh the access token at {self.token_url}: {last}", retryable=True)


class _Transient(Exception):
    pass


class _Rejected(Exception):
    def __init__(self, message: str, *, wrong_app: bool = False):
        super().__init__(message)
        self.wrong_app = wrong_app


def _check_token_response(r: requests.Response) -> requests.Response:
    """Tell retryable token-endpoint failures from a rejected refresh token."""
    if r.status_code == 429 or r.status_code >= 500:
        raise _Transient(f"HTTP {r.status_code}")
    if r.status_code >= 400:
        try:
            body = r.json()
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            body = {}
        detail = body.get("message") or body.get("error_description") or body.get("error")
        # the app's id/secret rejected (HTTP Basic): OAuth's invalid_client
        wrong_app = body.get("error") == "invalid_client" or "invalid_client" in str(body.get("message", ""))
        raise _Rejected(f"HTTP {r.status_code}: {detail or r.reason}", wrong_app=wrong_app)
    # oauthlib parses a non-JSON body as a query string and reports "missing access token",
    # which would read as a rejected refresh token: a proxy page or truncated body is transient.
    try:
        if not isinstance(r.json(), dict):
            raise ValueError
    except ValueError:
        raise _Transient(f"unreadable response (HTTP {r.status_code}, "
                         f"{r.headers.get('Content-Type', '?').split(';')[0]}, {len(r.content)} bytes)") from None
    return r


def token_provider(auth_config, api_url: str, storage_options: dict | None = None, *, owner: str = "pinsync",
                   timeout: float = 60.0):
    """The token provider for an :class:`pinsync.config.AuthConfig`."""
    if auth_config.access_token:
        return StaticToken(auth_config.access_token)
    store = TokenStore(auth_config.token_store, storage_options)
    return RefreshingToken(api_url, auth_config.client_id, auth_config.client_secret, auth_config.refresh_token,
                           store, owner=owner, timeout=timeout)
