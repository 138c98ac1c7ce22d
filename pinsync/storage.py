"""Files on any fsspec location, written atomically. The only module importing fsspec.

* Local disk: temp file -> fsync -> ``os.replace`` -> fsync the folder. The temp file is in
  the same folder, or in a run's :class:`Staging` folder (data files: outside every table
  folder, so a reader of a table never meets a half-written file).
  Many files at once (:meth:`Location.batch`): every temp file is written first, then one
  ``syncfs`` makes them all durable, then the renames, then one more ``syncfs`` - two
  flushes per batch instead of two per file (falls back to per-file fsync where
  ``syncfs`` does not exist).
* Object stores: the whole object is built in memory and sent with one PUT
  (``pipe_file``), so a failure can never leave a partial object behind. In a
  :meth:`Location.batch` the objects wait in anonymous local temp files (``$TMPDIR``, not
  memory) and are sent when it commits: a batch that fails sends none.
* ``put_if_absent``: ``O_EXCL`` locally, a conditional PUT (``If-None-Match: *``) on S3.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import errno
import os
import posixpath
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import fsspec

from pinsync.errors import SinkError

try:
    import fcntl
except ImportError:   # pragma: no cover - Windows
    fcntl = None

STAGING = ".pinsync-tmp"     # below the output root: the runs' staging folders
STALE_TEMP_AGE = 3600.0      # seconds: a temp file no live run can own is this old


def is_local(fs: Any) -> bool:
    proto = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return "file" in proto or "local" in proto


class Location:
    """A folder (or file prefix) on an fsspec filesystem.

    Args:
        url: local path or any fsspec URL (``s3://bucket/prefix``).
        storage_options: passed to fsspec unchanged.
    """

    def __init__(self, url: str, storage_options: dict | None = None):
        self.url = url.rstrip("/") if url not in ("/",) else url
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        except (ImportError, ValueError, TypeError) as e:
            raise SinkError(f"cannot open {url}: {e}") from None
        self.root = self.root.rstrip("/")
        self.local = is_local(self.fs)

    def path(self, rel: str) -> str:
        return posixpath.join(self.root, rel) if rel else self.root

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""
        try:
            return self.fs.cat_file(self.path(rel))
        except FileNotFoundError:
            return None

    def tail(self, rel: str, size: int) -> bytes | None:
        """The last ``size`` bytes of ``rel`` (all of it if shorter): one ranged read on an
        object store. None if it does not exist."""
        try:
            return self.fs.cat_file(self.path(rel), start=-size)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == errno.EINVAL:      # a local file shorter than ``size``
                return self.read(rel)
            raise

    def write(self, rel: str, data: bytes, *, mode: int | None = None, batch: "WriteBatch | None" = None,
              stage: "Staging | None" = None) -> None:
        """Replace ``rel`` with ``data`` atomically (``mode`` sets local permissions).

        With ``batch`` (from :meth:`batch`), a local file only gets its temp file here; it
        replaces ``rel`` when the batch commits (on an object store the bytes wait in a local
        temp file, and are PUT then). With ``stage``, the temp file is made in that staging
        folder instead of beside ``rel``. Without a batch, object stores PUT at once.
        """
        path = self.path(rel)
        if not self.local:
            if batch is None:
                self.fs.pipe_file(path, data)
                return
            held = tempfile.TemporaryFile(prefix="pinsync-put-")
            try:
                held.write(data)
            except BaseException:
                held.close()
                raise
            batch.puts.append((held, path))
            return
        # through symlinks: replace the target (a state or token store shared by a link stays shared)
        path = os.path.realpath(path)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        name = os.path.basename(path)
        tmp = stage.temp(name) if stage else os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode if mode is not None else 0o644)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if batch is not None:
                    batch.pending.append((tmp, path))
                    return
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise
        if not stage:
            _remove_stale_temps(folder, name)
        _fsync_dir(folder)

    @contextlib.contextmanager
    def batch(self):
        """Write many files with two disk flushes in all instead of two per file.

        Inside the block, pass the yielded :class:`WriteBatch` to :meth:`write`. On a clean
        exit every temp file is made durable, renamed into place and the renames made
        durable, in that order, so a crash or power loss at any moment leaves each file
        either old or new and whole. On an error the temp files are removed and no file
        is replaced.
        """
        b = WriteBatch(self)
        try:
            yield b
        except BaseException:
            b.abort()
            raise
        b.commit()

    def put_if_absent(self, rel: str, data: bytes) -> bool:
        """Create ``rel`` only if it does not exist; True if this call created it."""
        path = self.path(rel)
        if self.local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            return True
        try:
            self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return False
        except OSError as e:   # some stores answer 412 Precondition Failed as a generic error
            if _precondition_failed(e):
                return False
            raise
        return True

    def version(self, rel: str) -> str | None:
        """An opaque version of ``rel`` (its ETag) on stores that can replace it conditionally
        (S3), for :meth:`replace_if_version`; None if it does not exist or the store cannot."""
        if self.local or not _is_s3(self.fs):
            return None
        try:
            return self.fs.info(self.path(rel), refresh=True).get("ETag")
        except FileNotFoundError:
            return None

    def replace_if_version(self, rel: str, data: bytes, version: str) -> bool:
        """Replace ``rel`` only if it is still at ``version`` (a conditional PUT, ``If-Match``):
        of several callers holding the same version, exactly one succeeds. True if replaced."""
        try:
            self.fs.pipe_file(self.path(rel), data, IfMatch=version)
        except FileNotFoundError:
            return False
        except OSError as e:
            if _precondition_failed(e):
                return False
            raise
        return True

    def age(self, rel: str) -> float | None:
        """Seconds since ``rel`` was last written, measured on the store's own clock (for an
        object store: the ``LastModified`` of a probe object written now, minus ``rel``'s),
        so hosts whose clocks disagree agree on it. None if ``rel`` is gone or the store
        keeps no modification times."""
        path = self.path(rel)
        if self.local:
            try:
                return time.time() - os.stat(path).st_mtime
            except FileNotFoundError:
                return None
        probe = f"{rel}.clock-{uuid.uuid4().hex}"
        try:
            then = _modified(self.fs.info(path, refresh=True) if _is_s3(self.fs) else self.fs.info(path))
            if then is None:
                return None
            self.fs.pipe_file(self.path(probe), b"")
            try:
                now = _modified(self.fs.info(self.path(probe), refresh=True) if _is_s3(self.fs)
                                else self.fs.info(self.path(probe)))
            finally:
                self.fs.rm_file(self.path(probe))
        except FileNotFoundError:
            return None
        return None if now is None else (now - then).total_seconds()

    def exists(self, rel: str) -> bool:
        path = self.path(rel)
        if not self.local:   # ask the store: a listing cached by an earlier scan may be stale
            self.fs.invalidate_cache(path)
        return self.fs.exists(path)

    def delete(self, rel: str, *, recursive: bool = False) -> None:
        path = self.path(rel)
        try:
            self.fs.rm(path, recursive=recursive)
        except FileNotFoundError:
            pass
        if self.local and recursive:
            _remove_empty_parents(path, self.root)

    def listdir(self, rel: str = "") -> list[str]:
        """Names directly below ``rel`` (empty if it does not exist)."""
        path = self.path(rel)
        try:
            entries = self.fs.ls(path, detail=False, refresh=True) if not self.local else self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        return sorted(posixpath.basename(e.rstrip("/")) for e in entries if e.rstrip("/") != path.rstrip("/"))

    def find(self, rel: str = "") -> list[str]:
        """Every file below ``rel``, relative to this location."""
        path = self.path(rel)
        try:
            found = self.fs.find(path)
        except FileNotFoundError:
            return []
        prefix = self.root.rstrip("/") + "/"
        return sorted(f[len(prefix):] if f.startswith(prefix) else f for f in found)

    def sizes(self, rel: str = "") -> dict[str, int]:
        """Every file below ``rel`` with its size in bytes, by its path below ``rel``: one
        walk of the folder locally, one listing of the prefix on an object store (never
        from a cached listing). Empty if there is nothing there."""
        base = self.path(rel)
        if self.local:
            out = {}
            for folder, _, names in os.walk(base):
                for name in names:
                    path = os.path.join(folder, name)
                    try:
                        out[os.path.relpath(path, base).replace(os.sep, "/")] = os.stat(path).st_size
                    except FileNotFoundError:
                        pass
            return out
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        prefix = base.rstrip("/") + "/"
        return {name[len(prefix):]: int(info.get("size") or 0) for name, info in found.items()
                if name.startswith(prefix) and info.get("type", "file") != "directory"}

    def staging(self, run_id: str) -> "Staging | None":
        """A staging folder for ``run_id``'s temp files (None on object stores: they hold none)."""
        return Staging(self.root, run_id) if self.local else None

    def remove_stale_temps(self, rel: str = "") -> int:
        """Remove the temp files (``.<name>.<hex>.tmp``) that writers of earlier pinsync versions,
        killed before their rename, left beside their files below ``rel``, once they are
        :data:`STALE_TEMP_AGE` old (this pinsync stages them in a :class:`Staging` folder).
        Object stores never hold temp files. Returns how many were removed."""
        if not self.local:
            return 0
        removed, now = 0, None
        for folder, _, names in os.walk(self.path(rel)):
            for name in names:
                if _TEMP_NAME.fullmatch(name):
                    path = os.path.join(folder, name)
                    try:
                        now = now or _fs_now(self.root)
                        if now - os.stat(path).st_mtime > STALE_TEMP_AGE:
                            os.unlink(path)
                            removed += 1
                    except OSError:
                        pass
        return removed

    def check_writable(self) -> None:
        """Fail early, with a clear message, if nothing can be written here."""
        probe = f"_pinsync/.probe-{uuid.uuid4().hex}"
        try:
            self.write(probe, b"ok")
            self.delete(probe)
        except Exception as e:   # OS errors, botocore / aiohttp errors from object stores
            raise SinkError(f"cannot write to {self.url}: {explain(e, self.url)[0]}") from None


class Staging:
    """Where one run stages its local temp files: ``{root}/.pinsync-tmp/{run_id}/``, outside
    every table folder (a reader of a table never meets a half-written file) and on the
    same file system (the rename into place stays atomic).

    While the run lives it holds an ``flock`` on ``{run_id}.lock`` beside the folder; the
    kernel releases it when the run dies, however it dies. Runs sharing the output (even with
    separate states) sweep only staging folders whose lock is free - their run is gone - or,
    without a lock file, :data:`STALE_TEMP_AGE` old: never a live run's temp files.
    """

    def __init__(self, root: str, run_id: str):
        self.base = os.path.join(root, STAGING)
        self.folder = os.path.join(self.base, run_id)
        while True:
            os.makedirs(self.base, exist_ok=True)
            try:
                self._fd = os.open(self.folder + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:       # another run removed the (empty) base folder just now
                continue
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:    # still the file at that name (not one a sweeper removed before we locked it)?
                if os.stat(self.folder + ".lock").st_ino == os.fstat(self._fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(self._fd)
        os.makedirs(self.folder, exist_ok=True)
        self.sweep()

    def temp(self, name: str) -> str:
        """A new temp file's path for a file called ``name``."""
        return os.path.join(self.folder, f"{name}.{uuid.uuid4().hex}.tmp")

    def sweep(self) -> int:
        """Remove the staging folders of runs that are gone; returns how many."""
        removed, now = 0, _fs_now(self.base)
        for entry in os.listdir(self.base):
            path = os.path.join(self.base, entry)
            if path in (self.folder, self.folder + ".lock"):
                continue
            if entry.endswith(".lock"):
                removed += _sweep_locked(path)
            elif not os.path.exists(path + ".lock"):
                try:
                    if now - os.stat(path).st_mtime > STALE_TEMP_AGE:
                        shutil.rmtree(path, ignore_errors=True)
                        removed += 1
                except OSError:
                    pass
        return removed

    def close(self) -> None:
        """Remove this run's folder (its temp files are gone or renamed) and release it; the
        base folder too when no other run uses it."""
        shutil.rmtree(self.folder, ignore_errors=True)
        _unlink(self.folder + ".lock")
        os.close(self._fd)
        with contextlib.suppress(OSError):
            os.rmdir(self.base)


def _fs_now(folder: str) -> float:
    """The file system's clock (the modification time of a file created now in ``folder``,
    never a table folder), against which file ages are measured: this host's clock may be off."""
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".clock-", suffix=".probe")
    try:
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        _unlink(probe)


def _sweep_locked(lock_path: str) -> int:
    """Remove the staging folder of ``lock_path`` (and the lock file) if no live run holds it."""
    if fcntl is None:
        return 0
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except OSError:
        return 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:       # held: its run is alive
            return 0
        shutil.rmtree(lock_path[: -len(".lock")], ignore_errors=True)
        _unlink(lock_path)
        return 1
    finally:
        os.close(fd)


class WriteBatch:
    """Files written by :meth:`Location.batch`: local temp files, until the commit (renamed
    into place, or on an object store PUT)."""

    def __init__(self, location: Location):
        self.location = location
        self.pending: list[tuple[str, str]] = []      # (temp file, final path)
        self.puts: list[tuple[Any, str]] = []         # object stores: (local temp file, object path)

    def commit(self) -> None:
        while self.puts:
            held, path = self.puts[0]
            try:
                held.seek(0)
                self.location.fs.pipe_file(path, held.read())
            except Exception as e:
                self.abort()
                raise SinkError(f"cannot write {path}: {type(e).__name__}: {e}") from None
            except BaseException:
                self.abort()
                raise
            held.close()
            self.puts.pop(0)
        if not self.pending:
            return
        try:
            _make_durable(self.location.root, [t for t, _ in self.pending])
            for tmp, path in self.pending:
                os.replace(tmp, path)
        except BaseException:
            self.abort()
            raise
        _make_durable(self.location.root, sorted({os.path.dirname(p) for _, p in self.pending}))
        self.pending = []

    def abort(self) -> None:
        for tmp, _ in self.pending:
            _unlink(tmp)
        self.pending = []
        for held, _ in self.puts:
            held.close()
        self.puts = []


class GroupCommit:
    """Run ``fn`` on behalf of many threads at once (a group commit).

    Each call returns once a run of ``fn`` that *began after the call did* has finished, or
    raises that run's error; calls made while ``fn`` runs share the next run. For work whose
    effect covers everything asked for before it starts: saving the latest state, flushing a
    whole filesystem. Many units committing at once then cost one save or flush, not one each.
    """

    def __init__(self, fn: Callable[[], None]):
        self.fn = fn
        self._cond = threading.Condition()
        self._asked = 0              # calls so far
        self._done = 0               # calls covered by a finished run
        self._failed: tuple[int, BaseException] | None = None
        self._running = False

    def __call__(self) -> None:
        with self._cond:
            self._asked += 1
            mine = self._asked
            while True:
                if self._done >= mine:
                    return
                if self._failed is not None and self._failed[0] >= mine:
                    raise self._failed[1]
                if not self._running:
                    break
                self._cond.wait()
            self._running, covers = True, self._asked
        try:
            self.fn()
        except BaseException as e:
            with self._cond:
                self._running, self._failed = False, (covers, e)
                self._cond.notify_all()
            raise
        with self._cond:
            self._running, self._done = False, covers
            self._cond.notify_all()


def _syncfs_function():
    try:
        fn = getattr(ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True), "syncfs", None)
    except OSError:
        return None
    if fn is not None:
        fn.argtypes = [ctypes.c_int]
    return fn


_SYNCFS = _syncfs_function() if hasattr(os, "O_DIRECTORY") else None


_SYNCS: dict[str, GroupCommit] = {}
_SYNCS_LOCK = threading.Lock()


def _syncfs(root: str) -> None:
    """``syncfs`` of the filesystem holding ``root``."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _SYNCFS(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs failed")
    finally:
        os.close(fd)


def _make_durable(root: str, paths: list[str]) -> None:
    """Flush ``paths`` (files, or folders whose entries changed) to disk: a ``syncfs`` of
    the filesystem holding ``root`` on Linux (one for all the threads asking at the same
    time: it flushes what each of them wrote), else an fsync per path."""
    if _SYNCFS is not None:
        with _SYNCS_LOCK:
            flush = _SYNCS.get(root) or _SYNCS.setdefault(root, GroupCommit(lambda: _syncfs(root)))
        try:
            flush()
            return
        except OSError:
            pass
    for p in paths:
        if os.path.isdir(p):
            _fsync_dir(p)
        else:
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")   # what write() names its temp files


def _remove_stale_temps(folder: str, name: str) -> None:
    """Remove temp files of ``name`` left by a writer that was killed before its rename.

    Only writers of the same file create these (one partition has one writer at a time),
    so a leftover can never belong to a write still in progress. Left in place, it would
    break readers that list the folder (``pl.scan_parquet("out/campaigns/")``).
    """
    pattern = re.compile(r"\." + re.escape(name) + r"\.[0-9a-f]{32}\.tmp")
    try:
        leftovers = [n for n in os.listdir(folder) if pattern.fullmatch(n)]
    except OSError:
        return
    for n in leftovers:
        try:
            os.unlink(os.path.join(folder, n))
        except OSError:
            pass


def _modified(info: dict) -> dt.datetime | None:
    """A file's modification time from fsspec's ``info`` (S3: ``LastModified``), in UTC."""
    value = info.get("LastModified") or info.get("mtime") or info.get("created")
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return None


def _is_s3(fs: Any) -> bool:
    proto = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return "s3" in proto or "s3a" in proto


def _precondition_failed(e: OSError) -> bool:
    """Whether a conditional write was refused because the object is not as required: 412
    Precondition Failed (s3fs turns it into a generic OSError), or 409 ConditionalRequestConflict
    (S3: a concurrent conditional write to the same key won)."""
    cause = getattr(e, "__cause__", None)
    code = str(getattr(cause, "response", {}).get("Error", {}).get("Code", "")) if cause is not None else ""
    text = f"{e} {code}"
    return any(m in text for m in ("PreconditionFailed", "412", "pre-conditions you specified",
                                   "ConditionalRequestConflict"))


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:   # not supported on every filesystem
        if e.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _remove_empty_parents(path: str, root: str) -> None:
    parent = os.path.dirname(path)
    while parent.startswith(root) and parent != root:
        try:
            os.rmdir(parent)
        except OSError:
            return
        parent = os.path.dirname(parent)


def _chain(e: BaseException):
    """``e`` and the exceptions it was raised from or during."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def explain(e: BaseException, url: str) -> tuple[str, bool]:
    """What a storage location's error means, in words a user can act on, and whether a
    later run may succeed (a store answering 5xx) rather than something to fix first
    (missing credentials, a missing bucket, access denied, a full disk)."""
    errs = list(_chain(e))
    names = {c.__name__ for x in errs for c in type(x).__mro__}
    text = " ".join(f"{type(x).__name__}: {x}" for x in errs)
    bucket = url.split("://", 1)[1].split("/", 1)[0] if "://" in url else ""
    if names & {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}:
        return (f"no S3 credentials found for {url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                "AWS_PROFILE), or key and secret in its storage_options", False)
    if "NoSuchBucket" in text or "bucket does not exist" in text:
        return f"the bucket {bucket!r} does not exist: create it or correct the URL {url}", False
    if any(isinstance(x, OSError) and x.errno == errno.ENOSPC for x in errs):
        return f"no space left on the device holding {url}: free some space and re-run", False
    if isinstance(e, PermissionError) or "AccessDenied" in text or "Forbidden" in text:
        return f"access to {url} was denied ({_words(e)}): check the credentials' permissions", False
    answers = [x.response for x in errs if isinstance(getattr(x, "response", None), dict)]   # botocore's
    status = next((a.get("ResponseMetadata", {}).get("HTTPStatusCode") for a in answers), None)
    code = next((a.get("Error", {}).get("Code") for a in answers), None)
    if ((isinstance(status, int) and status >= 500) or code in ("ServiceUnavailable", "SlowDown", "InternalError")
            or names & {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"}):
        answer = f"HTTP {status} {code or ''}".strip() if status else _words(e)
        return f"the store failed for now ({answer}) after its retries; re-run later", True
    return _words(e), False


def _words(e: BaseException) -> str:
    return getattr(e, "strerror", None) or f"{type(e).__name__}: {e}"


def split_url(url: str) -> tuple[str, str]:
    """(folder URL, file name) of a file URL."""
    folder, _, name = url.rstrip("/").rpartition("/")
    return (folder or "."), name
