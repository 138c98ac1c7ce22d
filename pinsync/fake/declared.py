"""What each route of the fake declares in Pinterest's OpenAPI description v5.23.0, as data.

:data:`OPERATIONS` maps a route to the spec's operation, and :data:`PARAMETERS` lists the query
parameters that operation declares (for ``POST /oauth/token``: the form fields of its request
body). The fake answers any other parameter with the route's 400, as the real API rejects what
it does not declare; so a client that passes the fake sends nothing the real API does not know.
:data:`BAD_REQUEST` is that 400's body where the operation's description gives one (its example);
the other routes answer ``{"code": 1, "message": "Invalid parameters. ..."}``.

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
    # the other objects (pinsync.fake.objects) and reports (pinsync.fake.insights)
    "keywords": ("GET", "/ad_accounts/{ad_account_id}/keywords"),
    "audiences": ("GET", "/ad_accounts/{ad_account_id}/audiences"),
    "customer_lists": ("GET", "/ad_accounts/{ad_account_id}/customer_lists"),
    "conversion_tags": ("GET", "/ad_accounts/{ad_account_id}/conversion_tags"),
    "product_group_promotions": ("GET", "/ad_accounts/{ad_account_id}/product_group_promotions"),
    "user_account": ("GET", "/user_account"),
    "boards": ("GET", "/boards"),
    "board_sections": ("GET", "/boards/{board_id}/sections"),
    "board_pins": ("GET", "/boards/{board_id}/pins"),
    "catalogs": ("GET", "/catalogs"),
    "catalog_feeds": ("GET", "/catalogs/feeds"),
    "catalog_product_groups": ("GET", "/catalogs/product_groups"),
    "ad_account_analytics": ("GET", "/ad_accounts/{ad_account_id}/analytics"),
    "ad_account_targeting_analytics": ("GET", "/ad_accounts/{ad_account_id}/targeting_analytics"),
    "campaign_targeting_analytics": ("GET", "/ad_accounts/{ad_account_id}/campaigns/targeting_analytics"),
    "ad_group_targeting_analytics": ("GET", "/ad_accounts/{ad_account_id}/ad_groups/targeting_analytics"),
    "ad_targeting_analytics": ("GET", "/ad_accounts/{ad_account_id}/ads/targeting_analytics"),
    "product_group_analytics": ("GET", "/ad_accounts/{ad_account_id}/product_groups/analytics"),
    "user_account_analytics": ("GET", "/user_account/analytics"),
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
    "keywords": frozenset({"campaign_id", "ad_group_id", "ad_group_ids", "match_types", "page_size", "bookmark"}),
    "audiences": frozenset({"order", "ownership_type", "page_size", "bookmark"}),
    "customer_lists": frozenset({"order", "page_size", "bookmark"}),
    "conversion_tags": frozenset({"filter_deleted"}),
    "product_group_promotions": frozenset({"product_group_promotion_ids", "entity_statuses", "ad_group_id", "order",
                                           "page_size", "bookmark"}),
    "user_account": frozenset({"ad_account_id"}),
    "boards": frozenset({"ad_account_id", "privacy", "page_size", "bookmark"}),
    "board_sections": frozenset({"ad_account_id", "page_size", "bookmark"}),
    "board_pins": frozenset({"creative_types", "ad_account_id", "pin_metrics", "page_size", "bookmark"}),
    "catalogs": frozenset({"ad_account_id", "page_size", "bookmark"}),
    "catalog_feeds": frozenset({"catalog_id", "ad_account_id", "page_size", "bookmark"}),
    "catalog_product_groups": frozenset({"id", "feed_id", "catalog_id", "ad_account_id", "page_size", "bookmark"}),
    "ad_account_analytics": frozenset(_ADS_ANALYTICS),
    "product_group_analytics": frozenset({*_ADS_ANALYTICS, "product_group_ids"}),
    "ad_account_targeting_analytics": frozenset({*_ADS_ANALYTICS, "targeting_types", "attribution_types"}),
    "campaign_targeting_analytics": frozenset({*_ADS_ANALYTICS, "targeting_types", "attribution_types",
                                               "campaign_ids"}),
    "ad_group_targeting_analytics": frozenset({*_ADS_ANALYTICS, "targeting_types", "attribution_types",
                                               "ad_group_ids"}),
    "ad_targeting_analytics": frozenset({*_ADS_ANALYTICS, "targeting_types", "attribution_types", "ad_ids"}),
    "user_account_analytics": frozenset({"start_date", "end_date", "metric_types", "split_field", "ad_account_id",
                                         "from_claimed_content", "pin_format", "app_types", "content_type",
                                         "source"}),
}

# route -> (code, message) of the operation's 400 example; every 400 of the route has this body,
# the message followed by what was wrong
BAD_REQUEST: dict[str, tuple[int, str]] = {
    "campaigns": (400, "Invalid ad account campaign parameters."),
    "ad_groups": (400, "Invalid ad account group parameters."),
    "ads": (400, "Invalid ad account ads parameters."),
    "campaign_analytics": (400, "Invalid ad account campaign analytics parameters."),
    "ad_group_analytics": (400, "Invalid ad account group analytics parameters."),
    "ad_analytics": (400, "Invalid ad account ads analytics parameters."),
    "multi_pin_analytics": (1, "Invalid multi_pins analytics parameters."),
    "pin_analytics": (400, "Invalid pins analytics parameters."),
    "create_report": (400, "Invalid ad account ads analytics parameters."),
    "get_report": (400, "Invalid ad account ads analytics parameters."),
    "audiences": (400, "Invalid ad account audience parameters."),
    "ad_account_analytics": (400, "Invalid ad account analytics parameters."),
    "product_group_analytics": (400, "Invalid ad account ads analytics parameters."),
    "user_account_analytics": (400, "Invalid user accounts analytics parameters."),
}

# declared by the operation's description, not by its request body schema
DESCRIBED_ONLY = {"oauth_token": frozenset({"continuous_refresh"})}
