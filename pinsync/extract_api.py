"""``pinsync.extract``: fetch one stream into a DataFrame without writing anything."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from pinsync import clock, frames
from pinsync.connect import client_for, extractor_for
from pinsync.errors import ConfigError
from pinsync.extractor import PinFetch
from pinsync.schemas import ENTITY_COLUMNS
from pinsync.streams import STREAMS, parents_of, per_account
from pinsync.streams.analytics import fetch_range, pins_to_ask


def extract(stream: str, config, *, today: dt.date | None = None,
            start_date: dt.date | None = None) -> pl.DataFrame:
    """Fetch ``stream`` for every configured ad account and return it as a typed DataFrame.

    Nothing is written: no output, no state (the token store is still updated if the
    refresh token rotates - losing it would lock the user out). Analytics cover
    ``start_date`` (default: the config's) to yesterday, within what the API serves.

    Args:
        stream: a stream name (see ``pinsync streams``).
        config: a loaded :class:`pinsync.config.Config`.
        today: the current UTC date (injectable for tests).
        start_date: overrides the config's start date for analytics.

    Example:
        >>> df = pinsync.extract("campaigns", pinsync.load_config("pinsync.yaml"))
    """
    if stream not in STREAMS:
        raise ConfigError(f"unknown stream {stream!r}; see `pinsync streams`")
    spec = STREAMS[stream]
    today = today or clock.today()
    client = client_for(config)
    with ThreadPoolExecutor(max(1, config.max_workers)) as pool:
        ex = extractor_for(client, config, pool=pool)
        listed: dict[tuple[str, str | None], pl.DataFrame] = {}

        def listing(name: str, account: str | None = None) -> pl.DataFrame:
            """A listed stream (of an account), its parents listed first, each once."""
            if (name, account) not in listed:
                s = STREAMS[name]
                parents = {p: listing(p, account) for p in parents_of(s)}
                listed[(name, account)] = ex.list_unit(s, account, parents)
            return listed[(name, account)]
        try:
            if spec.kind == "entity" and not per_account(spec) and spec.name != "ad_accounts":
                return listing(spec.name)
            daily = spec.kind not in ("ads_analytics", "targeting_analytics")
            rng = fetch_range(today=today, start_date=start_date or config.start_date, lookback_days=0,
                              bookmark=None, granularity="DAY" if daily else config.analytics.granularity)
            if spec.name in ("pin_analytics", "pin_lifetime_metrics"):
                lifetime = spec.name == "pin_lifetime_metrics"
                columns = ex.pin_lifetime_columns() if lifetime else ex.pin_analytics_columns()
                if rng is None:
                    return frames.concat([], columns)
                fetch = PinFetch()
                pins = listing("pins").select("id", "pin_metrics").rows()
                daily_rows = ex.pin_analytics(pins_to_ask(pins, *rng, today, ex.pin_metric_types), *rng, fetch)
                return ex.finish(spec, frames.concat(fetch.lifetime, columns)) if lifetime else daily_rows
            if spec.kind == "user_analytics":
                return (ex.user_account_analytics(spec, *rng) if rng else
                        frames.concat([], ex.user_analytics_columns()))
            accounts = listing("ad_accounts")
            if config.ad_account_ids:
                accounts = accounts.filter(pl.col("id").is_in(list(config.ad_account_ids)))
            if spec.name == "ad_accounts":
                return accounts
            out = []
            for acct in accounts.select("id", "currency").to_dicts():
                if spec.kind == "entity":
                    out.append(listing(spec.name, acct["id"]))
                elif rng is not None:
                    ids = listing(spec.parent, acct["id"])["id"].to_list() if spec.id_param else None
                    out.append(ex.ads_analytics(spec, acct["id"], ids, *rng, currency=acct["currency"]))
            if out:
                return pl.concat(out, how="vertical_relaxed")
            if spec.kind == "entity":
                return frames.concat([], ENTITY_COLUMNS[spec.name])
            return frames.concat([], ex.ads_analytics_columns(spec))
        finally:
            client.close()
