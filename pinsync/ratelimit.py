"""Client-side rate limiting, one limiter per Pinterest rate-limit category.

Pinterest publishes per-minute limits per user and app (``ads_analytics`` 300/min,
``org_analytics`` 60/min, ...). Pacing requests ourselves keeps 429s rare instead of
making them the control signal. When the API sends ``x-ratelimit-remaining`` /
``x-ratelimit-reset``, the limiter also holds back until the reset once the server says
nothing is left.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("pinsync.ratelimit")
WAIT_LOGGED = 1.0   # waits at least this long are logged at INFO (-v)


class RateLimiter:
    """A sliding-window limiter: at most ``limit`` request starts per ``window`` seconds.

    Thread-safe. ``clock`` and ``sleep`` are injectable so tests never wait.
    """

    def __init__(self, limit: float, window: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, name: str = ""):
        self.name = name
        self.limit = max(1, int(limit))
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self._waiting = 0       # requests held back in acquire() right now
        self.waited = 0.0

    def acquire(self) -> float:
        """Block until one more request may start; its start time (for :meth:`answered`)."""
        held = False
        try:
            while True:
                with self._lock:
                    now = self._clock()
                    self._expire(now)
                    wait = self._blocked_until - now
                    if wait <= 0 and len(self._starts) < self.limit:
                        self._starts.append(now)
                        return now
                    if wait <= 0:
                        wait = self._starts[0] + self.window - now
                    if not held:
                        held = True
                        self._waiting += 1
                wait = max(wait, 0.001)
                if wait >= WAIT_LOGGED:
                    log.info("rate limit %s (%d requests per %gs): waiting %.1fs", self.name or "?", self.limit,
                             self.window, wait)
                self.waited += wait
                self._sleep(wait)
        finally:
            if held:
                with self._lock:
                    self._waiting -= 1

    def room(self) -> int:
        """How many more requests may start now without waiting (none while requests are
        already held back, or the server said to wait)."""
        with self._lock:
            now = self._clock()
            if self._blocked_until > now:
                return 0
            self._expire(now)
            return max(0, self.limit - len(self._starts) - self._waiting)

    def _expire(self, now: float) -> None:
        while self._starts and self._starts[0] <= now - self.window:
            self._starts.popleft()

    def answered(self, started: float) -> None:
        """The request started at ``started`` was answered: it holds its place in the window
        from now on. The server counts a request when it arrives, up to a latency after it
        started, so two requests ``window`` apart at the client may arrive less than a
        window apart; counting from the answer never lets them (a latency per window)."""
        with self._lock:
            try:
                self._starts.remove(started)
            except ValueError:          # already out of the window
                return
            bisect.insort(self._starts, self._clock())

    def observe(self, remaining: str | None, reset: str | None) -> None:
        """Take the server's view into account: nothing remaining means wait for the reset."""
        try:
            if remaining is None or reset is None or float(remaining) > 0:
                return
            until = self._clock() + min(float(reset), self.window)
        except ValueError:
            return
        with self._lock:
            self._blocked_until = max(self._blocked_until, until)

    def block_for(self, seconds: float) -> None:
        """Hold every request of this category back for ``seconds`` (after a 429)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


class RateLimits:
    """The limiters of one run, keyed by category; unknown categories are not limited."""

    def __init__(self, per_minute: dict[str, float], *, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.limiters = {cat: RateLimiter(n, window, clock=clock, sleep=sleep, name=cat)
                         for cat, n in per_minute.items()}

    def get(self, category: str | None) -> RateLimiter | None:
        return self.limiters.get(category) if category else None

    def room(self, category: str | None) -> int | None:
        """How many requests of ``category`` may start now (None: it is not limited)."""
        limiter = self.get(category)
        return limiter.room() if limiter else None
