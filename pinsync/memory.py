"""Keep a long sync's memory flat: hand freed memory back to the OS promptly.

A sync allocates and frees many short-lived buffers (response bodies, frames, Parquet
bytes) from several threads. By default Polars' allocator (jemalloc) keeps freed pages
for ten seconds and glibc gives each thread its own arena, so the resident size climbs
well above what is live. pinsync asks both to give memory back at once: measured on the
benchmark's full run, peak RSS went from 287 MB to 198 MB for about 10 % more CPU. The cost
grows with the number of small frames a run handles: on the agency-sized run (50 accounts,
two years) pinsync spent 22.7-24.6 s of CPU, against 20.2-22.2 s with a one-second decay
(``dirty_decay_ms:1000,muzzy_decay_ms:0``): a purge for each freed block and page faults to
get it back. That decay, though, took the 912-day run of the memory sweep to 292 MB (218 MB
with the default). The README shows how to choose the other trade-off.
jemalloc's background purging thread (on in Polars' build) is turned off: with nothing left
to purge later it only woke up, about 460,000 times in the agency-sized run, for 5-9 s of
CPU there and no change in peak RSS.
Response bodies of a few MB are kept out of glibc's arenas too (a fixed mmap threshold),
which took another 10-15 MB off the peak. These are only defaults: a ``_RJEM_MALLOC_CONF``,
``MALLOC_ARENA_MAX`` or ``MALLOC_MMAP_THRESHOLD_`` already set in the environment wins.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
import threading

JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0,background_thread:false"
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024
_M_ARENA_MAX = -8      # glibc's mallopt parameters
_M_MMAP_THRESHOLD = -3


def tune_before_polars() -> None:
    """Set Polars' jemalloc options; effective only before Polars is first imported."""
    if "polars" not in sys.modules:
        os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)


def limit_arenas() -> None:
    """Cap glibc malloc arenas for the threads a run starts, and keep large blocks (response
    bodies) out of them: without a fixed mmap threshold, glibc raises it to the size of the
    largest block freed, and bodies of a few MB then stay in the arenas after they are freed
    (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if "MALLOC_ARENA_MAX" not in os.environ:
            libc.mallopt(_M_ARENA_MAX, ARENAS)
        if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
            libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):   # not glibc
        pass


# CPU-bound steps (typing a response, encoding a table's partitions) allocate several times
# their input while they run. More of them at once than there are CPUs would not finish
# sooner, only hold more memory, so however many requests are in flight they take turns.
_CPU_SLOTS = threading.BoundedSemaphore(max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                               else os.cpu_count() or 1))


@contextlib.contextmanager
def cpu_slot():
    """Hold one of the process's CPU slots for a CPU-bound step (never nest them)."""
    with _CPU_SLOTS:
        yield


class Allowance:
    """Bytes of large inputs (report files) whose rows the process holds at once, over all
    threads: typing a report file and holding its rows until its months are written costs
    about twice the file's size, and a long history's units would otherwise all do it at
    once. A thread waits for room before it starts on a file; one that holds some already
    never waits (it may be finishing what another waits for), and a file larger than the
    whole allowance goes alone."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._cond = threading.Condition()
        self._mine = threading.local()

    def take(self, size: int) -> int:
        """Wait for room for ``size`` bytes and hold them; returns what to :meth:`give_back`."""
        with self._cond:
            if not getattr(self._mine, "held", 0):
                while self.used and self.used + size > self.limit:
                    self._cond.wait()
            self.used += size
            self._mine.held = getattr(self._mine, "held", 0) + size
        return size

    def give_back(self, size: int) -> None:
        with self._cond:
            self.used -= size
            self._mine.held = getattr(self._mine, "held", 0) - size
            self._cond.notify_all()


REPORT_BYTES = 32 * 2**20
REPORTS = Allowance(REPORT_BYTES)     # report files typed and not yet written, over the whole process
