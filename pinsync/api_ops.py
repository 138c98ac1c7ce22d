"""Small library operations behind CLI commands that are not a sync."""

from __future__ import annotations

from pinsync.connect import client_for
from pinsync.extractor import Extractor
from pinsync.streams import STREAMS


def list_accounts(config) -> list[dict]:
    """The ad accounts the configured token can read: ``[{"id", "name", "currency", "country"}]``.

    Used by orchestrators to fan out one task per account or shard
    (``pinsync accounts --json``).
    """
    client = client_for(config)
    try:
        df = Extractor(client).entities(STREAMS["ad_accounts"])
    finally:
        client.close()
    if config.ad_account_ids:
        df = df.filter(df["id"].is_in(list(config.ad_account_ids)))
    return df.select("id", "name", "currency", "country").to_dicts()
