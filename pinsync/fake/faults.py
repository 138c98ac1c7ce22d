"""Scheduled faults: failures the fake injects on chosen requests.

A fault targets a route name (or ``"*"``), skips the next ``after`` matching requests,
then fires on the following ``times`` matching ones. One fault fires per request (the
earliest scheduled one that is due); every pending fault counts the request towards its
``after``. Kinds:

``status``           answer ``status`` (default 500) with ``body`` (default: Pinterest's
                     error body for the status, ``{"code": 8, ...}`` for 429) and extra
                     ``headers`` (e.g. ``{"x-ratelimit-reset": "1"}`` or ``Retry-After``).
``reset``            close the TCP connection without any response (RST).
``timeout``          sleep ``FakePinterest.timeout_sleep`` seconds, then answer normally.
``truncate``         status 200, full headers (Content-Length of the whole body) but only
                     the first half of the body, then close the connection.
``html``             a proxy's HTML page: status 502 unless ``status`` is given
                     (e.g. 200), ``Content-Type: text/html``.
``empty``            status 200 (or ``status``) with an empty body.
``repeat_bookmark``  paginated routes: the page's ``bookmark`` is the one the request
                     sent, so a client that follows it loops. Only requests that carry a
                     bookmark match (a first-page request neither fires nor counts).
``empty_page``       paginated routes: no items, and a fresh bookmark that resumes where
                     this page would have started (a client must follow it). With a large
                     ``times``: a server that hands out new bookmarks forever.
``duplicate_rows``   ads analytics routes: every row is sent twice, first a stale copy (its
                     integer metrics one lower), then the row itself; a client that keeps
                     the last row of each key gets the true answer. Other routes answer
                     normally.
``edit``             a hostile payload: the answer (status 200 only) is decoded, passed to
                     ``body`` (a function that edits it in place or returns the new value)
                     and sent encoded again; values JSON cannot hold are sent as Python's
                     ``json`` writes them (``NaN``, lone ``\\ud800`` escapes). Any route,
                     the report download host too.
"""

from __future__ import annotations

from dataclasses import dataclass

FAULT_KINDS = ("status", "reset", "timeout", "truncate", "html", "empty", "repeat_bookmark", "empty_page",
               "duplicate_rows", "edit")
HTML_BODY = b"<html><body>Bad Gateway</body></html>"


@dataclass
class Fault:
    route: str
    kind: str
    times: int = 1
    status: int | None = None
    body: object = None
    headers: dict | None = None
    after: int = 0

    def matches(self, route: str, has_bookmark: bool) -> bool:
        if self.times <= 0 or (self.route != "*" and self.route != route):
            return False
        return has_bookmark if self.kind == "repeat_bookmark" else True


class FaultSchedule:
    """The pending faults, in the order they were added (callers hold the fake's lock)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if fault.kind == "edit" and not callable(fault.body):
            raise ValueError("an edit fault needs a function as its body")
        if fault.times < 1 or fault.after < 0:
            raise ValueError("times must be >= 1 and after >= 0")
        self._faults.append(fault)

    def take(self, route: str, has_bookmark: bool) -> Fault | None:
        """The fault that fires for this request, if any (and count the request for the others)."""
        fired = None
        for f in self._faults:
            if not f.matches(route, has_bookmark):
                continue
            if f.after > 0:
                f.after -= 1
            elif fired is None:
                fired = f
                f.times -= 1
        self._faults = [f for f in self._faults if f.times > 0]
        return fired

    def pending(self) -> int:
        """How many fault firings are still scheduled."""
        return sum(f.times for f in self._faults)

    def clear(self) -> None:
        self._faults.clear()
