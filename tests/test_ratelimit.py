"""Tests for pinsync.ratelimit: client-side pacing per category, on a fake clock (no real waits)."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from pinsync.ratelimit import RateLimiter, RateLimits


class FakeClock:
    """A clock that only moves when someone sleeps; records every sleep."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(limit: int, window: float = 60.0) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(limit, window, clock=clock, sleep=clock.sleep), clock


def test_requests_within_the_limit_never_wait():
    lim, clock = limiter(3)
    for _ in range(3):
        lim.acquire()
    assert clock.sleeps == []
    assert lim.waited == 0


def test_request_over_the_limit_waits_for_the_oldest_start_to_leave_the_window():
    lim, clock = limiter(3)
    for _ in range(3):
        lim.acquire()          # all at t=1000
        clock.now += 10        # t=1010, 1020, 1030
    lim.acquire()              # 4th: oldest start (1000) leaves the window at 1060
    assert clock.now == pytest.approx(1060)
    assert sum(clock.sleeps) == pytest.approx(30)
    # the window slides: the next slot opens when the start at 1010 expires, not a whole window later
    lim.acquire()
    assert clock.now == pytest.approx(1070)
    assert lim.waited == pytest.approx(40)


def test_a_request_holds_its_place_in_the_window_until_it_is_answered():
    """The server counts a request when it arrives: the next one in its place waits a window
    after the answer, not after the start, so the server never sees two inside one window."""
    lim, clock = limiter(2, window=10)
    first = lim.acquire()                  # t=1000
    lim.acquire()
    clock.now += 2                         # the first is answered at 1002
    lim.answered(first)
    lim.acquire()                          # the second's place (start 1000) frees first: t=1010
    assert clock.now == pytest.approx(1010)
    lim.acquire()                          # the first's place frees a window after its answer
    assert clock.now == pytest.approx(1012)


def test_no_more_than_limit_starts_in_any_window():
    lim, clock = limiter(5, window=60)
    starts = []
    for _ in range(23):
        lim.acquire()
        starts.append(clock.now)
    for i in range(len(starts) - 5):
        assert starts[i + 5] - starts[i] >= 60 - 1e-9
    # and it does not over-throttle: 23 requests at 5/min need just over 4 windows
    assert starts[-1] - starts[0] == pytest.approx(240)


def test_server_saying_nothing_remains_blocks_until_the_reset():
    lim, clock = limiter(100)
    lim.observe(remaining="0", reset="5")
    lim.acquire()
    assert clock.now == pytest.approx(1005)
    assert sum(clock.sleeps) == pytest.approx(5)


@pytest.mark.parametrize("remaining, reset", [("3", "5"), (None, "5"), ("0", None), (None, None),
                                              ("0", "soon"), ("many", "5")])
def test_server_headers_that_leave_quota_or_are_unusable_do_not_block(remaining, reset):
    lim, clock = limiter(100)
    lim.observe(remaining=remaining, reset=reset)
    lim.acquire()
    assert clock.sleeps == []


def test_a_huge_reset_never_blocks_longer_than_one_window():
    lim, clock = limiter(100, window=60)
    lim.observe(remaining="0", reset="1750000000")   # an epoch timestamp, not seconds
    lim.acquire()
    assert sum(clock.sleeps) == pytest.approx(60)


def test_block_for_holds_every_request_back():
    lim, clock = limiter(100)
    lim.block_for(12)
    lim.acquire()
    assert clock.now == pytest.approx(1012)
    lim.acquire()                         # the block is over: no further wait
    assert sum(clock.sleeps) == pytest.approx(12)


def test_block_for_never_shortens_an_existing_block():
    lim, clock = limiter(100)
    lim.block_for(30)
    lim.block_for(5)
    lim.acquire()
    assert clock.now == pytest.approx(1030)


def test_rate_limits_limit_known_categories_only():
    clock = FakeClock()
    limits = RateLimits({"ads_analytics": 2, "org_analytics": 1}, window=60, clock=clock, sleep=clock.sleep)
    assert limits.get("ads_analytics").limit == 2
    assert limits.get("org_analytics").limit == 1
    assert limits.get("ads_read") is None
    assert limits.get(None) is None
    # categories are independent
    limits.get("org_analytics").acquire()
    limits.get("ads_analytics").acquire()
    limits.get("ads_analytics").acquire()
    assert clock.sleeps == []
    limits.get("org_analytics").acquire()
    assert sum(clock.sleeps) == pytest.approx(60)


class ThreadClock:
    """A shared fake clock for threads; remembers, per thread, the last time it was read.

    The limiter reads the clock under its lock and records that reading as the start of the
    request it lets through, so a thread's last reading after ``acquire`` is its start time.
    """

    def __init__(self):
        self._t = 0.0
        self._lock = threading.Lock()
        self.local = threading.local()

    def __call__(self) -> float:
        with self._lock:
            v = self._t
        self.local.last = v
        return v

    def sleep(self, seconds: float) -> None:
        start = self.local.last
        with self._lock:
            self._t = max(self._t, start + seconds)
        time.sleep(0)


PER_THREAD = 25


def test_threads_never_exceed_the_limit_per_window():
    clock = ThreadClock()
    lim = RateLimiter(5, 60, clock=clock, sleep=clock.sleep)
    starts: list[float] = []
    starts_lock = threading.Lock()
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            for _ in range(PER_THREAD):
                lim.acquire()
                with starts_lock:
                    starts.append(clock.local.last)
        except BaseException as e:   # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)        # switch threads as often as possible to shake out races
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
    finally:
        sys.setswitchinterval(interval)
    assert not any(t.is_alive() for t in threads), "a thread is stuck in acquire()"
    assert errors == []
    assert len(starts) == 20 * PER_THREAD
    starts.sort()
    for i in range(len(starts) - 5):
        assert starts[i + 5] - starts[i] >= 60 - 1e-9, f"6 starts within one window at {starts[i]}"


def test_room_counts_the_requests_that_may_start_now():
    lim, clock = limiter(3)
    assert lim.room() == 3
    lim.acquire()
    lim.acquire()
    assert lim.room() == 1
    lim.acquire()
    assert lim.room() == 0
    clock.now += 60                     # the first starts leave the window
    assert lim.room() == 3
    lim.block_for(5)                    # the server said to wait: nothing may start
    assert lim.room() == 0
    assert RateLimits({"ads_read": 2}).room("ads_read") == 2
    assert RateLimits({"ads_read": 2}).room("org_read") is None      # not limited


def test_room_leaves_out_requests_already_held_back():
    """A request waiting in acquire() takes the next place that frees: that place is not room
    for another."""
    clock = FakeClock()
    parked, go = threading.Event(), threading.Event()

    def sleep(seconds):
        parked.set()
        go.wait(10)
    lim = RateLimiter(1, 60, clock=clock, sleep=sleep)
    lim.acquire()
    waiter = threading.Thread(target=lim.acquire)
    waiter.start()
    try:
        assert parked.wait(10)
        clock.now += 60                 # the first start has left the window; the waiter sleeps on
        assert lim.room() == 0
    finally:
        go.set()
        waiter.join(timeout=10)
    assert not waiter.is_alive()
    clock.now += 60
    assert lim.room() == 1
