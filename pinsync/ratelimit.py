"""Client-side rate limiting, one limiter per Pinterest rate-limit category.

Pinterest publishes per-minute limits per user and app (``ads_analytics`` 300/min,
``org_analytics`` 60/min, ...). Pacing requests ourselves keeps 429s rare instead of
making them the control signal. When the API sends ``x-ratelimit-remaining`` /
``x-ratelimit-reset``, the limiter also holds back until the reset once the server says
nothing is left.
"""

from __future__ import annotations

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
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until one more request may start."""
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self.window:
                    self._starts.popleft()
                wait = self._blocked_until - now
                if wait <= 0 and len(self._starts) < self.limit:
                    self._starts.append(now)
                    return
                if wait <= 0:
                    wait = self._starts[0] + self.window - now
            wait = max(wait, 0.001)
            if wait >= WAIT_LOGGED:
                log.info("rate limit %s (%d requests per %gs): waiting %.1fs", self.name or "?", self.limit,
                         self.window, wait)
            self.waited += wait
            self._sleep(wait)

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
