"""Stream definitions: *what* pinsync fetches, as data.

A :class:`StreamSpec` says where a stream's records come from (path, rate-limit
category, parent), how they are keyed and bookmarked, and how the table is partitioned.
One loop in :mod:`pinsync.sync` serves them all; ``pinsync streams`` prints this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pinsync.errors import ConfigError


@dataclass(frozen=True)
class Fanout:
    """One way a listing fans out (a stream's rows are the union of its fan-outs' answers).

    Attributes:
        parent: the stream whose ids the calls carry in ``param`` (None: no ids).
        param: the query parameter carrying the ids, or taking each of ``values``.
        batch: ids per call.
        values: fixed values of ``param``: one listing each (e.g. OWNED, RECEIVED).
        column: the table column recording the value a row was listed with.
    """

    parent: str | None = None
    param: str | None = None
    batch: int = 1
    values: tuple[str, ...] = ()
    column: str | None = None


@dataclass(frozen=True)
class StreamSpec:
    """One stream.

    Attributes:
        name: the stream (and table) name.
        kind: ``entity``, ``ads_analytics``, ``pin_analytics``, or ``ads_report`` (ads
            metrics only reports serve).
        path: the endpoint path below the API URL; ``{ad_account_id}`` / ``{pin_id}`` are
            filled from the parent.
        category: Pinterest's rate-limit category of the endpoint.
        parent: the stream whose records this one is fetched for (None: top level).
        primary_key: the columns that identify a row of the table.
        cursor: the column the bookmark follows (entities) or ``date`` (analytics).
        partition_by: hive partition keys of the table, outermost first: columns, except
            ``month``, which analytics tables derive from ``date`` (:func:`pinsync.sink.month_of`).
        params: static query parameters.
        level: analytics level (``campaign``, ``ad_group``, ``ad``) for ads analytics.
        id_param: the query parameter that carries the batched ids.
        batch_size: ids per analytics call.
        report_level: the ``level`` of the asynchronous report that serves this stream's
            history (days the synchronous endpoints no longer serve); None: none does.
        scopes: the OAuth scopes a token needs to read the stream.
        description: one line for ``pinsync streams`` and the README.
        shape: how a listing answers: ``page`` (``{items, bookmark}``, followed to the end),
            ``items`` (one ``{items}`` object) or ``object`` (one object: one row).
        fanouts: the calls a listing makes for one path (default: one, without ids).
        context: path parameters every row holds (``ad_account_id``, ``board_id``): the
            request's value, filled in where the API's object does not carry it; a row that
            carries another is a :class:`~pinsync.errors.PayloadError` (partition keys come
            from the request, never from the payload).
        rename: ``{column: field of the API's object}`` where they differ.
        entity_statuses: whether the listing asks for the configured ``entity_statuses``
            (the API's default hides ARCHIVED and DRAFT objects).
        targeting_types: whether each call carries the configured ``targeting_types``.
    """

    name: str
    kind: str
    path: str
    category: str
    parent: str | None
    primary_key: tuple[str, ...]
    cursor: str | None
    partition_by: tuple[str, ...]
    params: dict = field(default_factory=dict)
    level: str | None = None
    id_param: str | None = None
    batch_size: int | None = None
    report_level: str | None = None
    scopes: tuple[str, ...] = ()
    description: str = ""
    shape: str = "page"
    fanouts: tuple[Fanout, ...] = (Fanout(),)
    context: tuple[str, ...] = ()
    rename: dict = field(default_factory=dict)
    entity_statuses: bool = False
    targeting_types: bool = False


ADS_SCOPES = ("ads:read",)
PINS_SCOPES = ("boards:read", "pins:read")
BOARDS_SCOPES = ("boards:read",)
CATALOGS_SCOPES = ("catalogs:read",)
USER_SCOPES = ("user_accounts:read",)
# asked for by `pinsync login` too: without them secret boards' pins are skipped (with a warning)
OPTIONAL_SCOPES = ("boards:read_secret", "pins:read_secret")


from pinsync.streams.analytics import ANALYTICS_STREAMS, OTHER_ANALYTICS_STREAMS  # noqa: E402
from pinsync.streams.entities import ENTITY_STREAMS, OBJECT_STREAMS  # noqa: E402

# Every stream, parent-first: the core ones (the default selection), then the other objects
# and reports (``streams: [all]``).
_CORE = (*ENTITY_STREAMS, *ANALYTICS_STREAMS)
STREAMS: dict[str, StreamSpec] = {s.name: s for s in (*_CORE, *OBJECT_STREAMS, *OTHER_ANALYTICS_STREAMS)}
STREAM_NAMES = tuple(STREAMS)
DEFAULT_STREAMS = tuple(s.name for s in _CORE)
ALL = "all"          # ``streams: [all]`` / ``--streams all``: every stream


def select(names: tuple[str, ...] | list[str] | None) -> list[StreamSpec]:
    """The named streams in registry order, which is parent-first (none named: the default
    selection; ``all``: every stream)."""
    if not names:
        names = DEFAULT_STREAMS
    if ALL in names:
        return list(STREAMS.values())
    unknown = [n for n in names if n not in STREAMS]
    if unknown:
        raise ConfigError([f"streams: unknown stream {n!r}" for n in unknown])
    return [s for s in STREAMS.values() if s.name in names]


def parents_of(spec: StreamSpec) -> tuple[str, ...]:
    """The streams whose records ``spec`` is fetched for: its parent (not the ad accounts,
    which every account's units share) and the streams its fan-outs carry the ids of."""
    out = [spec.parent] if spec.parent and spec.parent != "ad_accounts" else []
    out += [f.parent for f in spec.fanouts if f.parent and f.parent not in out]
    return tuple(out)


def per_account(spec: StreamSpec) -> bool:
    """Whether the stream is fetched (and kept) per ad account."""
    return "{ad_account_id}" in spec.path


def scopes_for(specs) -> tuple[str, ...]:
    """The scopes a token needs for ``specs`` (sorted, each once)."""
    return tuple(sorted({s for spec in specs for s in spec.scopes}))


def needed(selected: list[StreamSpec]) -> set[str]:
    """Every stream that must be fetched to produce ``selected`` (parents included)."""
    out: set[str] = set()
    todo = list(selected)
    while todo:
        spec = todo.pop()
        if spec.name not in out:
            out.add(spec.name)
            todo += [STREAMS[p] for p in (spec.parent, *(f.parent for f in spec.fanouts)) if p]
    return out
