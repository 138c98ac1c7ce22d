"""Run state: the bookmarks, in a versioned, human-readable JSON file.

Layout (``version`` 1; one line per bookmark)::

    {"layout": "month",
     "version": 1,
     "updated_at": "2026-11-29T08:00:00+00:00",
     "bookmarks": {
        "campaigns":          {"<ad_account_id>": {"cursor": "2026-11-28T17:00:00+00:00", "rows": 120, "fingerprint": "…"}},
        "pins":               {"*": {"cursor": "…", "rows": 2000, "fingerprint": "…"}},
        "campaign_analytics": {"<ad_account_id>": {"last_complete_date": "2026-11-28", "settings": "…",
                                                   "partition_scheme": "polars-2.1.0/…",
                                                   "partitions": {"month=2026-11": "<content hash>", …}}},
        "pin_analytics":      {"*": {"last_complete_date": "2026-11-26", "settings": "…", …}}}}

``partitions`` holds the content hash of each analytics month file a later run may fetch
again (the lookback window): a re-fetched month whose merged rows have the same hash,
and whose file exists, is not rewritten. The hashes are only compared under the same
``partition_scheme`` (layout, Polars version, table columns and settings), and only for a
file whose Parquet footer records the same scheme and hash.

``layout`` is the output layout the bookmarks describe: one file per month. A state file
without it whose analytics bookmarks were written for the earlier one-file-per-day layout
is refused (a run with ``--full-refresh`` into a new location starts afresh).

The file is replaced atomically, and only after the data it describes is durable, so it
never claims data that is not on disk; before a month file is replaced by different rows
(or deleted), its hash is removed from the file first. A file that cannot be parsed, or has another
version, is an error: it is never silently reset (``--full-refresh`` ignores it).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from typing import Any

from pinsync.errors import StateError
from pinsync.lock import Lock
from pinsync.storage import GroupCommit, Location, split_url

STATE_VERSION = 1
LAYOUT = "month"


class State:
    """Bookmarks per stream and per key (an ad account id, or ``"*"``). Thread-safe."""

    def __init__(self, data: dict | None = None):
        self._data = data or {"version": STATE_VERSION, "layout": LAYOUT, "bookmarks": {}}
        self._lock = threading.Lock()
        self._lines: dict[tuple[str, str], str] = {}    # each bookmark's line in the file, once encoded

    def get(self, stream: str, key: str = "*") -> dict | None:
        with self._lock:
            value = self._data["bookmarks"].get(stream, {}).get(key)
            return copy.deepcopy(value)

    def set(self, stream: str, key: str, value: dict) -> None:
        with self._lock:
            self._data["bookmarks"].setdefault(stream, {})[key] = copy.deepcopy(value)
            self._lines.pop((stream, key), None)

    @property
    def output(self) -> str | None:
        """The output location the bookmarks vouch for (None: not recorded yet)."""
        with self._lock:
            return self._data.get("output")

    @output.setter
    def output(self, url: str) -> None:
        with self._lock:
            self._data["output"] = url

    def remove(self, stream: str, key: str | None = None) -> list[str]:
        """Forget ``stream``'s bookmark for ``key`` (every key when None); returns the keys removed."""
        with self._lock:
            keys = self._data["bookmarks"].get(stream, {})
            gone = [k for k in keys if key is None or k == key]
            for k in gone:
                del keys[k]
            if not keys:
                self._data["bookmarks"].pop(stream, None)
            return gone

    def as_dict(self) -> dict:
        with self._lock:
            return copy.deepcopy(self._data)

    def to_json(self) -> bytes:
        """The file's bytes: one line per bookmark, so it reads (and diffs) well, written
        with the C JSON encoder (an indented dump runs in pure Python, several ms a save)."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self._lock:    # serialised in place: no copy of the bookmarks
            top = {k: v for k, v in self._data.items() if k != "bookmarks"}
            top["updated_at"] = now
            streams = [f"    {json.dumps(stream)}: {{\n" + ",\n".join(self._line(stream, key, value)
                                                              for key, value in sorted(keys.items()))
                       + "\n    }" for stream, keys in sorted(self._data["bookmarks"].items())]
        head = "".join(f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)},\n" for k, v in sorted(top.items()))
        body = "{\n" + ",\n".join(streams) + "\n  }" if streams else "{}"
        return ("{\n" + head + '  "bookmarks": ' + body + "\n}\n").encode()

    def _line(self, stream: str, key: str, value: dict) -> str:
        """A bookmark's line, encoded once per change (a save rewrites every line)."""
        line = self._lines.get((stream, key))
        if line is None:
            line = self._lines[(stream, key)] = f"      {json.dumps(key)}: {json.dumps(value, sort_keys=True)}"
        return line


def parse_state(raw: bytes, where: str) -> State:
    """Parse a state file's bytes; raise :class:`StateError` rather than guess."""
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise StateError(f"state file {where} is not valid JSON ({e}); fix or remove it, "
                         "or run with --full-refresh") from None
    if not isinstance(data, dict) or not isinstance(data.get("bookmarks"), dict):
        raise StateError(f"state file {where} is not a pinsync state file (no 'bookmarks' object)")
    if data.get("version") != STATE_VERSION:
        raise StateError(f"state file {where} has version {data.get('version')!r}; this pinsync reads "
                         f"version {STATE_VERSION}")
    for stream, entries in data["bookmarks"].items():
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            raise StateError(f"state file {where}: bookmarks for {stream!r} are malformed")
    if data.get("layout") != LAYOUT:
        if any("last_complete_date" in v for entries in data["bookmarks"].values() for v in entries.values()):
            raise StateError(f"state file {where} describes analytics tables in the earlier one-file-per-day "
                             "layout; this pinsync writes one file per month: run with --full-refresh into a new "
                             "location")
        data["layout"] = LAYOUT
    return State(data)


class StateStore:
    """Loads, saves and locks the state file at ``url``."""

    def __init__(self, url: str, storage_options: dict | None = None):
        self.url = url
        folder, self.name = split_url(url)
        self.folder = Location(folder, storage_options)
        self._latest: State | None = None
        self._commit = GroupCommit(self._write)

    def load(self) -> State:
        try:
            raw = self.folder.read(self.name)
        except PermissionError as e:
            raise StateError(f"cannot read state file {self.url}: {e}") from None
        except IsADirectoryError:
            raise StateError(f"state file {self.url} is a directory") from None
        except OSError as e:
            raise StateError(f"cannot read state file {self.url}: {e}") from None
        if raw is None:
            return State()
        return parse_state(raw, self.url)

    def save(self, state: State) -> None:
        """Save ``state`` as it is now. Units committing at the same time share one write
        (:class:`~pinsync.storage.GroupCommit`), which holds every change made before it."""
        self._latest = state
        self._commit()

    def _write(self) -> None:
        try:
            self.folder.write(self.name, self._latest.to_json())
        except OSError as e:
            raise StateError(f"cannot write state file {self.url}: {e}") from None

    def lock(self, owner: str, *, wait: float = 0.0) -> Lock:
        """The run lock: one run at a time per state file."""
        return Lock(self.folder, f"{self.name}.lock", owner=owner, wait=wait, what="state")

    def describe(self) -> dict[str, Any]:
        return self.load().as_dict()


def summarize(state: State, today: dt.date) -> list[dict[str, Any]]:
    """One row per stream and key for people: what the state holds, without the hashes.

    ``bookmark`` is an entity stream's cursor or an analytics stream's last complete day;
    ``pending_days`` counts the complete days after that bookmark (up to yesterday) that
    the next run will fetch; ``last_run`` names the run that wrote the bookmark.
    """
    rows = []
    yesterday = today - dt.timedelta(days=1)
    for stream, keys in sorted(state.as_dict()["bookmarks"].items()):
        for key, mark in sorted(keys.items()):
            row: dict[str, Any] = {"stream": stream, "ad_account_id": None if key == "*" else key,
                                   "bookmark": mark.get("last_complete_date") or mark.get("cursor"),
                                   "rows": mark.get("rows"), "pending_days": None, "last_run": mark.get("last_run")}
            last = mark.get("last_complete_date")
            if isinstance(last, str):
                try:
                    row["pending_days"] = max(0, (yesterday - dt.date.fromisoformat(last)).days)
                except ValueError:
                    row["pending_days"] = None
            rows.append(row)
    return rows


def reset(store: "StateStore", stream: str, ad_account_id: str | None = None, *, owner: str) -> int:
    """Forget ``stream``'s bookmarks (of one ad account, or all) under the run lock, so the
    next run fetches it again from ``start_date``. Returns how many bookmarks were removed."""
    with store.lock(owner):
        state = store.load()
        gone = state.remove(stream, ad_account_id)
        if gone:
            store.save(state)
        return len(gone)
