"""Files on any fsspec location, written atomically. The only module importing fsspec.

* Local disk: temp file in the same folder -> fsync -> ``os.replace`` -> fsync the folder.
* Object stores: the whole object is built in memory and sent with one PUT
  (``pipe_file``), so a failure can never leave a partial object behind.
* ``put_if_absent``: ``O_EXCL`` locally, a conditional PUT (``If-None-Match: *``) on S3.
"""

from __future__ import annotations

import errno
import os
import posixpath
import uuid
from typing import Any

import fsspec

from pinsync.errors import SinkError


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

    def write(self, rel: str, data: bytes, *, mode: int | None = None) -> None:
        """Replace ``rel`` with ``data`` atomically (``mode`` sets local permissions)."""
        path = self.path(rel)
        if not self.local:
            self.fs.pipe_file(path, data)
            return
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode if mode is not None else 0o644)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_dir(folder)

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
            if "PreconditionFailed" in str(e) or "412" in str(e):
                return False
            raise
        return True

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.path(rel))

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

    def check_writable(self) -> None:
        """Fail early, with a clear message, if nothing can be written here."""
        probe = f"_pinsync/.probe-{uuid.uuid4().hex}"
        try:
            self.write(probe, b"ok")
            self.delete(probe)
        except (OSError, PermissionError) as e:
            raise SinkError(f"cannot write to {self.url}: {e.strerror if hasattr(e, 'strerror') and e.strerror else e}") from None
        except Exception as e:   # botocore / aiohttp errors from object stores
            raise SinkError(f"cannot write to {self.url}: {type(e).__name__}: {e}") from None


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


def split_url(url: str) -> tuple[str, str]:
    """(folder URL, file name) of a file URL."""
    folder, _, name = url.rstrip("/").rpartition("/")
    return (folder or "."), name
