"""Run state: the bookmarks, in a versioned, human-readable JSON file.

Layout (``version`` 1; one line per bookmark)::

    {"layout": "month",
     "version": 1,
     "updated_at": "2026-11-29T08:00:00+00:00",
     "bookmarks": {
        "campaigns":          {"<ad_account_id>": {"cursor": "2026-11-28T17:00:00+00:00", "rows": 120, "fingerprint": "…"}},
        "pins":               {"*": {"cursor": "…", "rows": 2000, "fingerprint": "…"}},
        "campaign_analytics": {"<ad_account_id>": {"last_complete_date": "2026-11-28", "held_from": "2025-06-01",
                                                   "settings": "…", "partition_scheme": "polars-2.1.0/…",
                                                   "partitions": {"month=2026-11": "<content hash>", …},
                                                   "files": {"month=2025-06": 48213, …, "month=2026-11": 51077}}},
        "pin_analytics":      {"*": {"last_complete_date": "2026-11-26", "settings": "…", …}}}}

``partitions`` holds the content hash of each analytics month file a later run may fetch
again (the lookback window): a re-fetched month whose merged rows have the same hash,
and whose file exists, is not rewritten. The hashes are only compared under the same
``partition_scheme`` (layout, Polars version, table columns and settings), and only for a
file whose Parquet footer records the same scheme and hash.

``files`` holds every month file an analytics bookmark's days (``held_from`` to
``last_complete_date``) are in, with its size in bytes: each run lists the unit's folder once
and fetches again the days of a month file that is missing or of another size (or, older
than the API serves, stops claiming them and fails). A size is ``null`` while its file is
being replaced (a file must be there; it is checked whole before it is recorded again).
A bookmark without ``files`` (an older pinsync) records them from its next run, each once
its Parquet footer reads.

``layout`` is the output layout the bookmarks describe: one file per month. A state file
without it whose analytics bookmarks were written for the earlier one-file-per-day layout
is refused (a run with ``--full-refresh`` into a new location starts afresh).

Every value is checked once, when the file is loaded (:func:`check_state`): a value of the
wrong type or form (``partitions`` a list, a date that is not a date) is a :class:`StateError`
naming its path in the file (``bookmarks.campaign_analytics.123.last_complete_date``);
fields this pinsync does not know are left alone.

The file is replaced atomically, and only after the data it describes is durable, so it
never claims data that is not on disk; before a month file is replaced by different rows
(or deleted), its hash is removed from the file first, and its size made ``null`` (removed
for a file about to be deleted). A file that cannot be parsed, or has another
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
from pinsync.storage import GroupCommit, Location, explain, split_url

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
    if "layout" not in data:
        if any(isinstance(v, dict) and "last_complete_date" in v for entries in data["bookmarks"].values()
               if isinstance(entries, dict) for v in entries.values()):
            raise StateError(f"state file {where} describes analytics tables in the earlier one-file-per-day "
                             "layout; this pinsync writes one file per month: run with --full-refresh into a new "
                             "location")
        data["layout"] = LAYOUT
    problem = check_state(data)
    if problem:
        raise StateError(f"state file {where} is malformed: {problem}; fix that value (or remove the bookmark it is "
                         "in: that stream is fetched again), or run with --full-refresh to start afresh")
    return State(data)


def _is_date(v: Any) -> bool:
    try:
        return isinstance(v, str) and len(v) == 10 and dt.date.fromisoformat(v) is not None
    except ValueError:
        return False


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_month_leaf(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("month=") and _is_date(v[6:] + "-01") and len(v) == 13


def _is_size(v: Any) -> bool:
    return v is None or _is_count(v)


def _type_name(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number")


# what each field of a bookmark must be: (check, what it is); fields not listed are left alone
_TEXT = (lambda v: isinstance(v, str), "text")
_FIELDS: dict[str, tuple] = {
    "cursor": (lambda v: v is None or isinstance(v, str), "text or null"),
    "rows": (_is_count, "a whole number >= 0"),
    "fingerprint": _TEXT, "settings": _TEXT, "partition_scheme": _TEXT, "last_run": _TEXT,
    "last_complete_date": (_is_date, "a date (YYYY-MM-DD)"),
    "held_from": (_is_date, "a date (YYYY-MM-DD)"),
}
# top-level members besides bookmarks and version
_TOP = {"layout": (lambda v: v == LAYOUT, json.dumps(LAYOUT)), "output": _TEXT, "updated_at": _TEXT}


def check_state(data: dict) -> str | None:
    """The first problem with a parsed state file's values, as ``path: what is wrong``, or
    None. ``data`` is an object with a ``bookmarks`` object (:func:`parse_state` checks that)."""
    def wrong(path: str, value: Any, expected: str) -> str:
        shown = json.dumps(value) if not isinstance(value, (dict, list)) else _type_name(value)
        return f"{path}: {shown} is not {expected}"
    for name, (ok, what) in _TOP.items():
        if name in data and not ok(data[name]):
            return wrong(name, data[name], what)
    for stream, keys in data["bookmarks"].items():
        if not isinstance(keys, dict):
            return wrong(f"bookmarks.{stream}", keys, "an object of bookmarks by ad account")
        for key, mark in keys.items():
            path = f"bookmarks.{stream}.{key}"
            if not isinstance(mark, dict):
                return wrong(path, mark, "an object (a bookmark)")
            for name, value in mark.items():
                ok, what = _FIELDS.get(name, (None, None))
                if ok is not None and not ok(value):
                    return wrong(f"{path}.{name}", value, what)
            if "last_complete_date" in mark and "held_from" in mark and mark["held_from"] > mark["last_complete_date"]:
                return f"{path}.held_from: {mark['held_from']} is later than last_complete_date"
            for name, key_ok, what, value_ok, value_what in (
                    ("partitions", _is_month_leaf, "a month folder (month=YYYY-MM)", _TEXT[0], "text"),
                    ("files", _is_month_leaf, "a month folder (month=YYYY-MM)", _is_size,
                     "a size in bytes (a whole number >= 0) or null"),
                    ("reports", lambda k: True, "", _TEXT[0], "text")):
                table = mark.get(name, {})
                if not isinstance(table, dict):
                    return wrong(f"{path}.{name}", table, "an object")
                for k, v in table.items():
                    if not key_ok(k):
                        return f"{path}.{name}: {json.dumps(k)} is not {what}"
                    if not value_ok(v):
                        return wrong(f"{path}.{name}.{k}", v, value_what)
    return None


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
        except Exception as e:   # OS errors, botocore errors (no credentials, no bucket, 5xx)
            why, retryable = explain(e, self.url)
            raise StateError(f"cannot read state file {self.url}: {why}", retryable=retryable) from None
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
        except Exception as e:
            why, retryable = explain(e, self.url)
            raise StateError(f"cannot write state file {self.url}: {why}", retryable=retryable) from None

    def lock(self, owner: str, *, wait: float = 0.0) -> Lock:
        """The run lock: one run at a time per state file."""
        return Lock(self.folder, f"{self.name}.lock", owner=owner, wait=wait, what="state")

    def describe(self) -> dict[str, Any]:
        return self.load().as_dict()


def summarize(state: State, today: dt.date) -> list[dict[str, Any]]:
    """One row per stream and key for people: what the state holds, without the hashes.

    ``bookmark`` is an entity stream's cursor or an analytics stream's last complete day;
    ``held_from`` the first day an analytics table holds for it (so it holds
    ``held_from..bookmark``; None when not recorded); ``pending_days`` counts the complete
    days after that bookmark (up to yesterday) that the next run will fetch; ``last_run``
    names the run that wrote the bookmark.
    """
    rows = []
    yesterday = today - dt.timedelta(days=1)
    for stream, keys in sorted(state.as_dict()["bookmarks"].items()):
        for key, mark in sorted(keys.items()):
            row: dict[str, Any] = {"stream": stream, "ad_account_id": None if key == "*" else key,
                                   "bookmark": mark.get("last_complete_date") or mark.get("cursor"),
                                   "held_from": mark.get("held_from") if mark.get("last_complete_date") else None,
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
