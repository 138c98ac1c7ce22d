"""The Pinterest API client: one ``requests.Session``, retries, rate limits, pagination.

Only this module talks HTTP. Behaviour:

* 429: wait as told by ``x-ratelimit-reset`` or ``Retry-After`` (capped, logged), else back
  off exponentially; the category's limiter is held back for everyone meanwhile.
* 5xx, connection errors, timeouts and bodies that are not the JSON they should be (an
  HTML page from a proxy, a truncated or empty body): retried with exponential backoff.
* 401: the access token is refreshed once (when refresh credentials exist) and the
  request repeated; a second 401 is an :class:`AuthError`. Except a 401 whose body's code
  says the endpoint refuses the request rather than the token (code 7, "Not authorized to
  access board or Pin."): an :class:`ApiError` at once, the token is not refreshed.
* 401 or 403 with Pinterest's code 3 ("Your token does not have sufficient permissions"):
  the token lacks the endpoint's scope; a :class:`ScopeError` at once (no refresh: a new
  token of the same authorisation has the same scopes).
* other 4xx: an :class:`ApiError` at once, carrying Pinterest's ``code`` and ``message``,
  the endpoint and ``x-pinterest-rid``.

Retries are bounded per request (``max_retries``) and per run (``retry_budget``), so no
loop can run forever. Nothing partial is ever returned: a page either parses completely or
the request fails.

Report files (:meth:`PinterestClient.download`) live on another host behind pre-signed
links: they are fetched with a session of their own that carries no Authorization header
and no Pinterest credential, under the same retry rules; the link's query string (its
signature) is never logged nor put in an error.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import requests
from requests.adapters import HTTPAdapter

from pinsync import api
from pinsync.errors import (ApiError, AuthError, Cancelled, NetworkError, PinsyncError, RateLimitError, ScopeError,
                            SinkError)
from pinsync.ratelimit import RateLimits
from pinsync.secrets import RedactingFilter, redact, redact_url

log = logging.getLogger("pinsync.client")
# urllib3 logs whole URLs at DEBUG, a report link's signature included: masked at the source
logging.getLogger("urllib3.connectionpool").addFilter(RedactingFilter())

USER_AGENT = "pinsync (+https://github.com/pinsync/pinsync)"


class TokenProvider(Protocol):
    """Supplies bearer tokens; :mod:`pinsync.auth` implements it."""

    def token(self) -> str: ...

    def refresh(self, rejected: str) -> str | None:
        """A new token after ``rejected`` was refused, or None when refreshing is impossible."""

    def scopes(self) -> frozenset[str] | None:
        """The token's scopes, or None when they are not known."""


@dataclass
class RetryPolicy:
    """Retry bounds. ``max_wait`` caps any single wait (including server-requested ones)."""

    max_retries: int = 6
    retry_budget: int = 500
    max_wait: float = 300.0
    backoff_base: float = 0.5
    timeout: float = 60.0


@dataclass(frozen=True)
class Page:
    """One page of a paginated list."""

    items: list[dict]
    bookmark: str | None


class PinterestClient:
    """Talks to the Pinterest REST API v5 for one run.

    Args:
        api_url: base URL, e.g. ``https://api.pinterest.com/v5``.
        tokens: the bearer-token provider.
        policy: retry bounds and timeout.
        rate_limits: per-category limiters (None: no client-side pacing).
        max_workers: size of the connection pool (the sync's concurrency).
        sleep: injectable for tests.
    """

    def __init__(self, api_url: str, tokens: TokenProvider, *, policy: RetryPolicy | None = None,
                 rate_limits: RateLimits | None = None, max_workers: int = 8,
                 sleep: Callable[[float], None] = time.sleep):
        self.api_url = api_url.rstrip("/")
        self.tokens = tokens
        self.policy = policy or RetryPolicy()
        self.rate_limits = rate_limits
        self._sleep = sleep
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(4, max_workers), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        self._downloads: requests.Session | None = None     # report files: no credentials, its own pool
        self._max_workers = max_workers
        # the environment's proxy and CA bundle settings, read once: requests would scan the
        # whole environment again on every request (a few ms of CPU each with long id lists)
        self.session.proxies.update(requests.utils.get_environ_proxies(self.api_url))
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.session.trust_env = False
        self._lock = threading.Lock()
        self._inflight = threading.BoundedSemaphore(max(1, max_workers))
        self.cancelled = threading.Event()      # set by the sync to stop every request loop
        self.requests_by_tag: Counter[str] = Counter()
        self.requests_by_category: Counter[str] = Counter()
        self.retries_used = 0
        self.waited_seconds = 0.0
        # the API's last word on each category's rate limit: {category: {"limit", "remaining"}}
        self.headroom: dict[str, dict[str, str]] = {}

    def close(self) -> None:
        self.session.close()
        if self._downloads is not None:
            self._downloads.close()

    def token_scopes(self) -> frozenset[str] | None:
        """The access token's scopes, when the token provider knows them (None otherwise)."""
        scopes = getattr(self.tokens, "scopes", None)
        return scopes() if scopes else None

    # -- requests --------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.api_url}/{path.lstrip('/')}"

    def request_line_length(self, path: str, params: Mapping[str, Any] | None = None) -> int:
        """Bytes of the request line ``GET <path>?<query> HTTP/1.1`` a GET of ``path`` sends,
        encoded exactly as :meth:`get_bytes` encodes it (see ``api.REQUEST_LINE_MAX``)."""
        target = requests.Request("GET", self._url(path), params=_encode(params)).prepare().path_url
        return len(f"GET {target} HTTP/1.1".encode())

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *, category: str | None = None,
                 tag: str = "") -> Any:
        """GET ``path`` and return the decoded JSON body (retried as described above)."""
        body, value = self._get(path, params, category=category, tag=tag, expect="any")
        return json.loads(body) if value is _NOT_PARSED else value

    def get_bytes(self, path: str, params: Mapping[str, Any] | None = None, *, category: str | None = None,
                  tag: str = "", expect: str = "any") -> bytes:
        """GET ``path`` and return the raw body, verified to be JSON of the expected shape.

        ``expect`` is ``"array"``, ``"object"`` or ``"any"``; a body that does not parse
        as such is treated as a transient failure (retried), never returned.
        """
        return self._get(path, params, category=category, tag=tag, expect=expect, decode=False)[0]

    def post_json(self, path: str, body: Mapping[str, Any], *, category: str | None = None, tag: str = "") -> Any:
        """POST ``body`` as JSON to ``path``; the decoded JSON object answered. Retried like a
        GET: a creation retried after a lost answer may leave an unused object behind (a
        report nobody polls), never a wrong one."""
        endpoint = f"POST /{path.lstrip('/')}"
        return self._send("POST", f"{self.api_url}/{path.lstrip('/')}", endpoint, category=category,
                          tag=tag or path, expect="object", json_body=dict(body))[1]

    def download(self, url: str, *, tag: str = "", read: Callable[[BinaryIO], Any] | None = None) -> Any:
        """GET a pre-signed link on another host (a report file) and decode its JSON object,
        or return ``read(file)`` (a ``ValueError`` from it: the body is unreadable).

        The body is streamed into an anonymous temp file (``$TMPDIR``) a block at a time, never
        held in memory whole (report files run to tens of MB, and several download at once);
        ``read`` gets that file, open for binary reading at its start, and it is gone once
        ``read`` returns (or the process dies).

        No Authorization header, no Pinterest credential, a session of its own; retried like
        an API call (a truncated or unparsable body included). Errors and logs show the
        link without its query string. A refused link (expired: 403) is an
        :class:`ApiError` with its status, at once.

        Raises:
            SinkError: the temp folder cannot hold the file (full, or not writable).
        """
        with self._lock:
            if self._downloads is None:
                self._downloads = requests.Session()
                adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(4, self._max_workers), max_retries=0)
                self._downloads.mount("http://", adapter)
                self._downloads.mount("https://", adapter)
                self._downloads.headers["User-Agent"] = USER_AGENT
            session = self._downloads
        return self._send("GET", url, f"GET {redact_url(url)}", category=None, tag=tag or "download",
                          expect="object", session=session, read=read)[1]

    def _get(self, path: str, params: Mapping[str, Any] | None, *, category: str | None, tag: str,
             expect: str, decode: bool = True) -> tuple[bytes, Any]:
        """:meth:`get_bytes`, plus the JSON value decoded while checking the body (decoding
        a page twice costs as much as the rest of its handling), or ``_NOT_PARSED`` for
        arrays and when not ``decode`` (the frame readers check and read those)."""
        return self._send("GET", self._url(path), f"GET /{path.lstrip('/')}",
                          params=params, category=category, tag=tag or path, expect=expect, decode=decode)

    def _send(self, method: str, url: str, endpoint: str, *, category: str | None, tag: str, expect: str,
              params: Mapping[str, Any] | None = None, json_body: Any = None, decode: bool = True,
              session: requests.Session | None = None,
              read: Callable[[BinaryIO], Any] | None = None) -> tuple[bytes, Any]:
        """One request with the retry rules of the module docstring. With a ``session`` of
        its own (downloads) no token is sent, a 401 is an error like any 4xx, and a 200's body
        is streamed to a temp file for ``read`` (:meth:`download`; the body returned is empty)."""
        api_call = session is None
        session = session or self.session
        attempt = 0
        refreshed = False
        limiter = self.rate_limits.get(category) if self.rate_limits else None
        while True:
            if self.cancelled.is_set():
                raise Cancelled("the run was stopped")
            started = limiter.acquire() if limiter else None
            token = self.tokens.token() if api_call else None
            with self._lock:
                self.requests_by_tag[tag] += 1
                if category:
                    self.requests_by_category[category] += 1
            problem: str
            wait: float | None = None
            t_sent = time.monotonic()
            spooled = None
            try:
                with self._inflight:
                    resp = session.request(method, url, params=_encode(params), json=json_body,
                                           timeout=self.policy.timeout, stream=not api_call,
                                           headers={"Authorization": f"Bearer {token}"} if api_call else None)
                    if not api_call and resp.status_code == 200:
                        spooled = _spool(resp)      # a file: streamed to disk
                    elif not api_call:
                        resp.content                # an error's few bytes, read while the connection is ours
            except requests.Timeout:
                problem = "timed out"
            except requests.RequestException as e:
                problem, transient = connection_problem(e, url)
                if not transient:     # a name that does not resolve will not resolve in a second either
                    raise NetworkError(f"{endpoint}: {problem}; check api_url and the machine's network "
                                       "(DNS, proxy)") from None
            else:
                rid = resp.headers.get("x-pinterest-rid")
                log.debug("%s -> %d in %.0f ms", endpoint, resp.status_code, (time.monotonic() - t_sent) * 1000)
                if limiter:
                    limiter.answered(started)
                    limiter.observe(resp.headers.get("x-ratelimit-remaining"), resp.headers.get("x-ratelimit-reset"))
                if category and "x-ratelimit-remaining" in resp.headers:
                    self.headroom[category] = {"limit": resp.headers.get("x-ratelimit-limit", "?"),
                                               "remaining": resp.headers["x-ratelimit-remaining"]}
                status = resp.status_code
                if status == 200 and spooled is not None:
                    with spooled:
                        value = _read_file(spooled, expect, read)
                        if value is not _INVALID:
                            return b"", value
                        problem = f"unreadable response body ({_describe_file(resp, spooled)})"
                elif status == 200:
                    body = resp.content
                    value = _parse_json(body, expect, decode)
                    if value is not _INVALID:
                        return body, value
                    problem = f"unreadable response body ({_describe_body(resp)})"
                elif status in (401, 403) and api_call and _error_fields(resp)[0] == api.SCOPE_ERROR_CODE:
                    raise ScopeError(redact(_error_fields(resp)[1]), status=status, code=api.SCOPE_ERROR_CODE,
                                     endpoint=endpoint, request_id=rid)
                elif status == 401 and api_call:
                    code, message = _error_fields(resp)
                    if code == api.NOT_AUTHORIZED_CODE:
                        # the endpoint refuses this app or these pins: not the token (no refresh)
                        raise ApiError(redact(message), status=status, code=code, endpoint=endpoint, request_id=rid)
                    if not refreshed:
                        refreshed = True
                        if self.tokens.refresh(token) is not None:
                            continue
                    remedy = ("Check the credentials, or re-authorise the app to get a new refresh token."
                              if getattr(self.tokens, "refreshable", False) else
                              "The access token is invalid or expired: set a new auth.access_token, or use "
                              "client_id + client_secret + refresh_token so pinsync can refresh it.")
                    raise AuthError(redact(
                        f"{endpoint}: Pinterest rejected the access token (HTTP 401"
                        f"{f', code {code}' if code is not None else ''}: {message}). {remedy}"), code=code)
                elif status == 429:
                    wait = _server_wait(resp)
                    problem = "rate limited (HTTP 429)"
                    if limiter:
                        limiter.block_for(min(wait or 1.0, self.policy.max_wait))
                elif status >= 500:
                    problem = f"server error (HTTP {status})"
                elif not api_call:      # the file host's error bodies may echo the link: not shown
                    raise ApiError(f"the download link was refused ({resp.reason or 'error'})", status=status,
                                   endpoint=endpoint)
                else:
                    code, message = _error_fields(resp)
                    raise ApiError(redact(message), status=status, code=code, endpoint=endpoint, request_id=rid)
            attempt += 1
            with self._lock:
                budget_left = self.retries_used < self.policy.retry_budget
                if budget_left and attempt <= self.policy.max_retries:
                    self.retries_used += 1
            if attempt > self.policy.max_retries or not budget_left:
                why = "retries exhausted" if budget_left else "the run's retry budget is used up"
                msg = f"{endpoint}: {problem}; {why} after {attempt} attempts"
                if problem.startswith("rate limited"):
                    raise RateLimitError(msg + " - re-run later", status=429)
                if "refused the connection" in problem:   # every request would be refused alike
                    raise NetworkError(f"{msg}: is api_url right, and nothing (a proxy, a firewall) in the way?")
                raise ApiError(msg)
            backoff = self.policy.backoff_base * (2 ** (attempt - 1)) * (1 + random.random() * 0.25)
            if wait is None or wait <= 0:
                wait = backoff
            if wait > self.policy.max_wait:
                log.warning("%s: server asked to wait %.0fs; capped at %.0fs", endpoint, wait, self.policy.max_wait)
                wait = self.policy.max_wait
            log.info("%s: %s; retry %d/%d in %.2fs", endpoint, problem, attempt, self.policy.max_retries, wait)
            with self._lock:
                self.waited_seconds += wait
            self._sleep(wait)

    def paginate(self, path: str, params: Mapping[str, Any] | None = None, *, category: str | None = None,
                 tag: str = "", page_size: int = api.PAGE_SIZE_MAX) -> Iterator[Page]:
        """Yield every page of a bookmark-paginated list.

        Ends on a null/empty bookmark, following bookmarks past empty pages; raises
        :class:`ApiError` if a bookmark repeats, or after ``api.LISTING_MAX_PAGES`` pages
        (``api.LISTING_MAX_EMPTY_PAGES`` empty ones in a row): a server that hands out new
        bookmarks forever. If the API rejects the page size, it is halved (down to 25) and
        the same page is asked for again.
        """
        seen: set[str] = set()
        bookmark: str | None = None
        pages = empty = 0
        where = f"GET /{path.lstrip('/')}"
        while True:
            query = dict(params or {})
            query["page_size"] = page_size
            if bookmark:
                query["bookmark"] = bookmark
            try:
                _, data = self._get(path, query, category=category, tag=tag, expect="object")
            except ApiError as e:
                if e.status == 400 and "page_size" in (e.api_message or "") and page_size > 25:
                    page_size = max(25, page_size // 2)
                    log.warning("GET /%s: page_size rejected; retrying with %d", path.lstrip("/"), page_size)
                    continue
                raise
            items = data.get("items")
            if not isinstance(items, list):
                raise ApiError(f"GET /{path.lstrip('/')}: response has no 'items' list")
            nxt = data.get("bookmark") or None
            yield Page(items, nxt)
            if not nxt:
                return
            pages += 1
            empty = 0 if items else empty + 1
            if pages >= api.LISTING_MAX_PAGES or empty >= api.LISTING_MAX_EMPTY_PAGES:
                raise ApiError(f"{where}: the API kept handing out new bookmarks ({pages} pages, the last {empty} "
                               "empty); stopping instead of looping (nothing from this list was saved)")
            if nxt in seen or nxt == bookmark:
                raise ApiError(f"GET /{path.lstrip('/')}: the API returned a bookmark it had already "
                               "returned; stopping instead of looping (nothing from this list was saved)")
            seen.add(nxt)
            bookmark = nxt


def _encode(params: Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    """Query encoding: lists become repeated keys; booleans lowercase."""
    if not params:
        return None
    out = []
    for k, v in params.items():
        if v is None:
            continue
        for item in (v if isinstance(v, (list, tuple)) else [v]):
            out.append((k, str(item).lower() if isinstance(item, bool) else str(item)))
    return out


_INVALID = object()       # the body is not JSON of the expected shape
_NOT_PARSED = object()    # looks right; decoding is left to the caller


def _fits(start: bytes, tail: bytes, expect: str) -> bool:
    """Whether a body whose first and last non-blank bytes are ``start`` and ``tail`` can be
    JSON of the ``expect``-ed shape (a cut or empty body cannot)."""
    if expect == "array" and start != b"[":
        return False
    if expect == "object" and start != b"{":
        return False
    if not start:
        return False
    return not ((start == b"[" and tail != b"]") or (start == b"{" and tail != b"}"))


def _parse_json(body: bytes, expect: str, decode: bool = True) -> Any:
    """The decoded body, ``_NOT_PARSED`` for an array or when not ``decode`` (the frame
    readers parse and validate those), or ``_INVALID`` when it is not JSON of the expected
    shape."""
    if not _fits(body.lstrip()[:1], body.rstrip()[-1:], expect):
        return _INVALID
    if expect == "array" or not decode:
        return _NOT_PARSED
    try:
        return json.loads(body)
    except ValueError:
        return _INVALID


DOWNLOAD_BLOCK = 2**20       # a downloaded file is written to disk this much at a time


def _spool(resp: requests.Response) -> BinaryIO:
    """The body of a streamed response in an anonymous temp file (removed when closed, or
    when the process dies), open at its start. A cut connection raises as requests does."""
    try:
        f = tempfile.TemporaryFile(prefix="pinsync-download-")
    except OSError as e:
        raise SinkError(f"cannot create a temp file for a download in {tempfile.gettempdir()} ($TMPDIR): "
                        f"{e.strerror or e}; point TMPDIR at a writable folder") from None
    try:
        for block in resp.iter_content(DOWNLOAD_BLOCK):
            f.write(block)
        f.seek(0)
    except OSError as e:
        f.close()
        if isinstance(e, requests.RequestException):
            raise
        raise SinkError(f"cannot write a download to the temp folder {tempfile.gettempdir()} ($TMPDIR): "
                        f"{e.strerror or e}; free space there or point TMPDIR at a larger disk") from None
    except BaseException:
        f.close()
        raise
    return f


def _read_file(f: BinaryIO, expect: str, read: Callable[[BinaryIO], Any] | None) -> Any:
    """A downloaded file's JSON value (``read(f)`` when given), or ``_INVALID`` when it is
    not JSON of the expected shape (``read`` raised ``ValueError``)."""
    if not _fits(*_edges(f), expect):
        return _INVALID
    f.seek(0)
    try:
        return read(f) if read is not None else json.load(f)
    except ValueError:
        return _INVALID


def _edges(f: BinaryIO, block: int = 2**16) -> tuple[bytes, bytes]:
    """The first and last non-blank bytes of a file (empty when it is all blank)."""
    f.seek(0)
    start = b""
    while not start and (data := f.read(block)):
        start = data.lstrip()[:1]
    end, tail = f.seek(0, os.SEEK_END), b""
    while not tail and end > 0:
        f.seek(max(0, end - block))
        tail = f.read(end - max(0, end - block)).rstrip()[-1:]
        end = max(0, end - block)
    return start, tail


def _describe_file(resp: requests.Response, f: BinaryIO) -> str:
    ctype = resp.headers.get("Content-Type", "?").split(";")[0]
    return "empty body" if _edges(f) == (b"", b"") else f"{ctype}, {f.seek(0, os.SEEK_END)} bytes"


def _describe_body(resp: requests.Response) -> str:
    ctype = resp.headers.get("Content-Type", "?").split(";")[0]
    return "empty body" if not resp.content.strip() else f"{ctype}, {len(resp.content)} bytes"


def _error_fields(resp: requests.Response) -> tuple[int | None, str]:
    try:
        data = resp.json()
        if isinstance(data, dict) and "message" in data:
            return data.get("code"), str(data["message"])
    except ValueError:
        pass
    text = resp.text.strip().replace("\n", " ")
    return None, (text[:200] or resp.reason or "error")


def _server_wait(resp: requests.Response) -> float | None:
    for h in ("x-ratelimit-reset", "Retry-After"):
        v = resp.headers.get(h)
        if v:
            try:
                return max(0.0, float(v))
            except ValueError:
                continue
    return None


__all__ = ["PinterestClient", "RetryPolicy", "Page", "TokenProvider", "PinsyncError"]


def connection_problem(e: BaseException, url: str) -> tuple[str, bool]:
    """A failed connection to ``url`` in words naming the host and the cause, and whether
    trying again may help (a refused or reset connection: yes; a name that does not resolve: no)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or url
    seen, todo, text = set(), [e], []
    while todo:   # requests wraps urllib3 wraps socket errors: in .args, .reason, __cause__, __context__
        x = todo.pop()
        if not isinstance(x, BaseException) or id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, socket.gaierror):
            return f"the host name {host} does not resolve ({x.strerror or x})", False
        if isinstance(x, ConnectionRefusedError):
            return f"{parts.netloc or host} refused the connection", True
        text.append(str(x))
        todo += [*x.args, getattr(x, "reason", None), x.__cause__, x.__context__]
    joined = " ".join(text)
    if "NameResolutionError" in joined or "Name or service not known" in joined or "name resolution" in joined:
        return f"the host name {host} does not resolve", False
    if "Connection refused" in joined:
        return f"{parts.netloc or host} refused the connection", True
    return f"connection to {parts.netloc or host} failed ({type(e).__name__})", True
