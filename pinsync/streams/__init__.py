"""Stream definitions: *what* pinsync fetches, as data.

A :class:`StreamSpec` says where a stream's records come from (path, rate-limit
category, parent), how they are keyed and bookmarked, and how the table is partitioned.
One loop in :mod:`pinsync.sync` serves them all; ``pinsync streams`` prints this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pinsync.errors import ConfigError


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


ADS_SCOPES = ("ads:read",)
PINS_SCOPES = ("boards:read", "pins:read")
# asked for by `pinsync login` too: without them secret boards' pins are skipped (with a warning)
OPTIONAL_SCOPES = ("boards:read_secret", "pins:read_secret")


from pinsync.streams.analytics import ANALYTICS_STREAMS  # noqa: E402
from pinsync.streams.entities import ENTITY_STREAMS  # noqa: E402

STREAMS: dict[str, StreamSpec] = {s.name: s for s in (*ENTITY_STREAMS, *ANALYTICS_STREAMS)}
STREAM_NAMES = tuple(STREAMS)


def select(names: tuple[str, ...] | list[str] | None) -> list[StreamSpec]:
    """The named streams (all when empty) in registry order, which is parent-first."""
    if not names:
        return list(STREAMS.values())
    unknown = [n for n in names if n not in STREAMS]
    if unknown:
        raise ConfigError([f"streams: unknown stream {n!r}" for n in unknown])
    return [s for s in STREAMS.values() if s.name in names]


def scopes_for(specs) -> tuple[str, ...]:
    """The scopes a token needs for ``specs`` (sorted, each once)."""
    return tuple(sorted({s for spec in specs for s in spec.scopes}))


def needed(selected: list[StreamSpec]) -> set[str]:
    """Every stream that must be fetched to produce ``selected`` (parents included)."""
    out: set[str] = set()
    for spec in selected:
        s: StreamSpec | None = spec
        while s is not None:
            out.add(s.name)
            s = STREAMS.get(s.parent) if s.parent else None
    return out
