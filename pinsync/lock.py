"""Locks that keep two runs (or two token refreshes) from interleaving.

* Local files: ``fcntl.flock`` on ``<name>.lock``. The kernel releases the lock when the
  holder dies, so a lock left by a killed run is free again at once (the file stays, with
  the last holder's details, and is simply taken over).
* Object stores: the lock object is created with a conditional PUT (put-if-absent) and
  holds the owner's details; its holder rewrites it every ``heartbeat`` seconds. A lock
  object not rewritten for ``stale_after`` seconds belongs to a run that died. Its age is
  measured on the store's own clock (its ``LastModified`` against that of a probe object
  written now), never by comparing two hosts' clocks, so a host whose clock runs ahead
  cannot take a live lock over. (Stores without modification times: the heartbeat time
  written inside the lock.) A stale lock is replaced
  with a conditional PUT on its ETag (``If-Match``), so of two runs taking over only one
  succeeds. (Stores without conditional replace: deleted, then re-created put-if-absent.)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time

from pinsync.errors import LockError, StateError
from pinsync.storage import Location, explain

try:
    import fcntl
except ImportError:   # pragma: no cover - Windows
    fcntl = None


log = logging.getLogger("pinsync.lock")

STALE_AFTER = 300.0   # seconds without a heartbeat after which an object-store lock is stale


def _parse(raw: bytes | None) -> dict:
    try:
        holder = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Lock:
    """An exclusive lock named ``rel`` in ``location``; use as a context manager.

    Args:
        location: where the lock lives (the state's folder).
        rel: the lock's file name.
        owner: a description of the holder (run id), shown to anyone who finds it taken.
        wait: seconds to keep trying before giving up (0: fail fast).
    """

    def __init__(self, location: Location, rel: str, *, owner: str, wait: float = 0.0,
                 stale_after: float | None = None, heartbeat: float = 30.0, what: str = "state"):
        stale_after = STALE_AFTER if stale_after is None else stale_after
        self.location, self.rel, self.owner, self.wait = location, rel, owner, wait
        self.stale_after, self.heartbeat, self.what = stale_after, heartbeat, what
        self._fd: int | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.took_over: dict | None = None

    def _info(self) -> bytes:
        return json.dumps({"owner": self.owner, "pid": os.getpid(), "host": socket.gethostname(),
                           "since": getattr(self, "_since", _now()), "heartbeat": _now()}).encode()

    def __enter__(self) -> "Lock":
        self._since = _now()
        deadline = time.monotonic() + self.wait
        while True:
            try:
                holder = self._try_acquire()
            except (LockError, StateError):
                raise
            except Exception as e:   # the store failed: no credentials, no bucket, 5xx after retries, disk full
                url = self.location.path(self.rel)
                if not self.location.local:
                    url = f"{self.location.fs.unstrip_protocol(url)}"
                why, retryable = explain(e, url)
                raise StateError(f"cannot take the {self.what} lock {url}: {why}", retryable=retryable) from None
            if holder is None:
                return self
            if time.monotonic() >= deadline:
                raise LockError(self._held_message(holder))
            time.sleep(min(0.2, max(0.01, deadline - time.monotonic())))

    def __exit__(self, *exc) -> None:
        self.release()

    def _held_message(self, holder: dict) -> str:
        who = holder.get("owner", "another run")
        where = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
        return (f"the {self.what} at {self.location.path(self.rel)} is locked by run {who} ({where}), "
                f"since {holder.get('since', '?')}; wait for that run to finish")

    def _try_acquire(self) -> dict | None:
        """None on success, else the current holder's details."""
        if self.location.local and fcntl is not None:
            path = self.location.path(self.rel)
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:   # e.g. a file where a folder should be: say so, no traceback
                why = ("part of the path is a file, not a folder" if isinstance(e, (FileExistsError, NotADirectoryError))
                       else e.strerror or str(e))
                raise StateError(f"cannot create the {self.what} lock {path}: {why}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                try:
                    holder = json.loads(os.read(fd, 4096) or b"{}")
                except ValueError:
                    holder = {}
                os.close(fd)
                return holder
            previous = os.read(fd, 4096)
            if previous.strip():
                try:
                    self.took_over = json.loads(previous)
                except ValueError:
                    self.took_over = {}
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, self._info())
            os.fsync(fd)
            self._fd = fd
            return None
        for _ in range(3):   # a lock released between our create and our read: just try again
            if self.location.put_if_absent(self.rel, self._info()):
                self._start_heartbeat()
                return None
            # version and age before reading: never judge (or replace) a newer lock by an older one
            version = self.location.version(self.rel)
            age = self.location.age(self.rel)
            raw = self.location.read(self.rel)
            if raw is not None:
                break
        else:
            return {}
        holder = _parse(raw)
        if age is None:   # a store without modification times: the holder's own heartbeat time
            try:
                age = (dt.datetime.now(dt.timezone.utc)
                       - dt.datetime.fromisoformat(holder.get("heartbeat"))).total_seconds()
            except (TypeError, ValueError):
                age = float("inf")
        if age > self.stale_after:
            if version is not None:
                # replace exactly the stale object (If-Match): of two runs taking over, one wins.
                # Deleting it first would let a slower taker delete the winner's fresh lock.
                taken = self.location.replace_if_version(self.rel, self._info(), version)
            else:   # stores without conditional replace: delete, then create-if-absent
                self.location.delete(self.rel)
                taken = self.location.put_if_absent(self.rel, self._info())
            if taken:
                self.took_over = holder
                self._start_heartbeat()
                return None
            return _parse(self.location.read(self.rel))   # whoever won
        return holder

    def _start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._stop.wait(self.heartbeat):
                try:
                    self.location.write(self.rel, self._info())
                except Exception:   # a missed heartbeat only makes the lock look older
                    pass
        self._beat = threading.Thread(target=beat, name="pinsync-lock-heartbeat", daemon=True)
        self._beat.start()

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        elif self._beat is not None:
            self._stop.set()
            self._beat.join(timeout=5)
            self._beat = None
            try:
                self.location.delete(self.rel)
            except Exception as e:   # the run's work is done: a lock left behind goes stale by itself
                log.warning("could not remove the %s lock %s (%s); it is taken over once %.0f s old",
                            self.what, self.location.path(self.rel), explain(e, self.location.path(self.rel))[0],
                            self.stale_after)
