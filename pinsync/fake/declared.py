"""What each route of the fake declares in Pinterest's OpenAPI description v5.23.0, as data.

:data:`OPERATIONS` maps a route to the spec's operation, and :data:`PARAMETERS` lists the query
parameters that operation declares (for ``POST /oauth/token``: the form fields of its request
body). The fake answers any other parameter with the route's 400, as the real API rejects what
it does not declare; so a client that passes the fake sends nothing the real API does not know.

Copied from the spec (``tests/test_fake.py`` checks this table against the extract of the spec
that ships with the tests, so the two cannot drift apart).
"""

from __future__ import annotations

# route -> (method, path) of the spec's operation
OPERATIONS: dict[str, tuple[str, str]] = {
    "ad_accounts": ("GET", "/ad_accounts"),
    "campaigns": ("GET", "/ad_accounts/{ad_account_id}/campaigns"),
    "ad_groups": ("GET", "/ad_accounts/{ad_account_id}/ad_groups"),
    "ads": ("GET", "/ad_accounts/{ad_account_id}/ads"),
    "campaign_analytics": ("GET", "/ad_accounts/{ad_account_id}/campaigns/analytics"),
    "ad_group_analytics": ("GET", "/ad_accounts/{ad_account_id}/ad_groups/analytics"),
    "ad_analytics": ("GET", "/ad_accounts/{ad_account_id}/ads/analytics"),
    "pins": ("GET", "/pins"),
    "multi_pin_analytics": ("GET", "/pins/analytics"),
    "pin_analytics": ("GET", "/pins/{pin_id}/analytics"),
    "oauth_token": ("POST", "/oauth/token"),
    "create_report": ("POST", "/ad_accounts/{ad_account_id}/reports"),
    "get_report": ("GET", "/ad_accounts/{ad_account_id}/reports"),
}
# not part of the API: the consent page (www.pinterest.com/oauth/) the fake stands in for
NOT_API_ROUTES = frozenset({"oauth_consent"})

_ADS_ANALYTICS = ("start_date", "end_date", "columns", "granularity", "click_window_days", "engagement_window_days",
                  "view_window_days", "conversion_report_time", "reporting_timezone")

PARAMETERS: dict[str, frozenset[str]] = {
    "ad_accounts": frozenset({"include_shared_accounts", "bookmark", "page_size"}),
    "campaigns": frozenset({"campaign_ids", "entity_statuses", "page_size", "order", "bookmark"}),
    "ad_groups": frozenset({"campaign_ids", "ad_group_ids", "entity_statuses", "page_size", "order", "bookmark",
                            "translate_interests_to_names"}),
    "ads": frozenset({"campaign_ids", "ad_group_ids", "ad_ids", "entity_statuses", "page_size", "order", "bookmark"}),
    "campaign_analytics": frozenset({*_ADS_ANALYTICS, "campaign_ids", "aggregate_report_rows"}),
    "ad_group_analytics": frozenset({*_ADS_ANALYTICS, "ad_group_ids", "aggregate_report_rows"}),
    "ad_analytics": frozenset({*_ADS_ANALYTICS, "ad_ids", "pin_ids", "campaign_ids"}),
    "pins": frozenset({"pin_filter", "pin_metrics", "include_protected_pins", "pin_type", "creative_types",
                       "ad_account_id", "bookmark", "page_size"}),
    # the multi-pin beta has no split_field: per-app-type numbers come from app_types
    "multi_pin_analytics": frozenset({"pin_ids", "start_date", "end_date", "app_types", "metric_types",
                                      "ad_account_id"}),
    "pin_analytics": frozenset({"start_date", "end_date", "app_types", "metric_types", "split_field",
                                "ad_account_id"}),
    # every grant's fields (OauthAccessTokenRequest and its three variants), plus
    # continuous_refresh, which the operation's description tells older apps to send
    "oauth_token": frozenset({"grant_type", "code", "redirect_uri", "refresh_token", "scope",
                              "continuous_refresh"}),
    # its parameters are a JSON body ("does not support URL query parameters")
    "create_report": frozenset(),
    "get_report": frozenset({"token"}),
}

# declared by the operation's description, not by its request body schema
DESCRIBED_ONLY = {"oauth_token": frozenset({"continuous_refresh"})}
