"""From a :class:`pinsync.config.Config` to a ready :class:`PinterestClient` (one place)."""

from __future__ import annotations

import time
from collections.abc import Callable

from pinsync.auth import token_provider
from pinsync.client import PinterestClient, RetryPolicy
from pinsync.ratelimit import RateLimits


def client_for(config, *, owner: str = "pinsync", sleep: Callable[[float], None] = time.sleep) -> PinterestClient:
    """The API client a run uses: credentials, retry bounds, rate limits and pool size from ``config``."""
    tokens = token_provider(config.auth, config.api_url, config.state.storage_options, owner=owner,
                            timeout=config.http.timeout_seconds)
    policy = RetryPolicy(max_retries=config.http.max_retries, retry_budget=config.http.retry_budget,
                         max_wait=config.http.max_retry_wait_seconds, timeout=config.http.timeout_seconds)
    limits = RateLimits(dict(config.rate_limits), window=config.http.rate_limit_window_seconds, sleep=sleep)
    return PinterestClient(config.api_url, tokens, policy=policy, rate_limits=limits,
                           max_workers=config.max_workers, sleep=sleep)


def extractor_for(client: PinterestClient, config, *, pool=None, on_progress=None, today=None, report_sleep=None):
    """The :class:`~pinsync.extractor.Extractor` for ``config``'s statuses and analytics settings.
    ``report_sleep`` waits between report polls (None: on the client's cancel event, so a
    stopped run stops waiting at once)."""
    from pinsync.extractor import AnalyticsSettings, Extractor
    from pinsync.reports import ReportPolicy

    a = config.analytics
    settings = AnalyticsSettings(tuple(a.columns), a.granularity, a.click_window_days, a.engagement_window_days,
                                 a.view_window_days, a.conversion_report_time)
    return Extractor(client, entity_statuses=tuple(config.entity_statuses), settings=settings,
                     pin_metric_types=tuple(config.pin_analytics.metric_types),
                     split_by_app_type=config.pin_analytics.split_by_app_type, pool=pool, on_progress=on_progress,
                     ahead=config.max_workers, today=today, report_policy=ReportPolicy(sleep=report_sleep),
                     targeting_types=tuple(config.targeting_analytics.targeting_types),
                     user_metric_types=tuple(config.user_account_analytics.metric_types),
                     user_split_field=config.user_account_analytics.split_field)
