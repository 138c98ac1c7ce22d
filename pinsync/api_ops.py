"""Small library operations behind CLI commands that are not a sync."""

from __future__ import annotations

from pinsync.auth import token_provider
from pinsync.client import PinterestClient, RetryPolicy
from pinsync.extract import Extractor
from pinsync.streams import STREAMS


def list_accounts(config) -> list[dict]:
    """The ad accounts the configured token can read: ``[{"id", "name", "currency", "country"}]``.

    Used by orchestrators to fan out one task per account or shard
    (``pinsync accounts --json``).
    """
    tokens = token_provider(config.auth, config.api_url, config.state.storage_options,
                            timeout=config.http.timeout_seconds)
    client = PinterestClient(config.api_url, tokens, policy=RetryPolicy(
        max_retries=config.http.max_retries, retry_budget=config.http.retry_budget,
        max_wait=config.http.max_retry_wait_seconds, timeout=config.http.timeout_seconds))
    try:
        df = Extractor(client).entities(STREAMS["ad_accounts"])
    finally:
        client.close()
    if config.ad_account_ids:
        df = df.filter(df["id"].is_in(list(config.ad_account_ids)))
    return df.select("id", "name", "currency", "country").to_dicts()
