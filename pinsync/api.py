"""Facts about the Pinterest REST API v5 that pinsync relies on, in one place.

Source: Pinterest's OpenAPI description v5.23.0 (``shared/pinterest-openapi``) and the
published rate limits. The fake API validates requests against these same facts, so a
change here changes both sides.
"""

from __future__ import annotations

DEFAULT_API_URL = "https://api.pinterest.com/v5"
SANDBOX_API_URL = "https://api-sandbox.pinterest.com/v5"

# Pagination (query_page_size): default 25, min 1, max 250.
PAGE_SIZE_MAX = 250

# Entity statuses (EntityStatus). The list endpoints default to ACTIVE, PAUSED only.
ENTITY_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DRAFT", "DELETED_DRAFT")
API_DEFAULT_ENTITY_STATUSES = ("ACTIVE", "PAUSED")

# Synchronous ads analytics limits (campaigns/ad_groups/ads analytics).
ANALYTICS_IDS_MAX = 250          # campaign_ids / ad_group_ids / ad_ids per call
PIN_IDS_MAX = 100                # pin_ids per multi-pin analytics call
ANALYTICS_DAYS_BACK = 90         # start_date at most this many days before today (UTC)
ANALYTICS_SAFE_DAYS_BACK = 89    # what we ask for: the server's "today" is UTC, stay one day inside
ANALYTICS_MAX_SPAN_DAYS = 90     # end_date - start_date at most this many days
HOUR_DAYS_BACK = 8
HOUR_SAFE_DAYS_BACK = 7
HOUR_MAX_SPAN_DAYS = 3

GRANULARITIES = ("TOTAL", "DAY", "HOUR", "WEEK", "MONTH")
ATTRIBUTION_WINDOW_DAYS = (0, 1, 7, 14, 30, 60)
CONVERSION_REPORT_TIMES = ("TIME_OF_AD_ACTION", "TIME_OF_CONVERSION")

# Organic pin analytics (pins/analytics, multi_pins/analytics).
PIN_METRIC_TYPES = (
    "IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE", "SAVE_RATE", "TOTAL_COMMENTS",
    "TOTAL_REACTIONS", "USER_FOLLOW", "PROFILE_VISIT", "VIDEO_MRC_VIEW", "VIDEO_10S_VIEW",
    "QUARTILE_95_PERCENT_VIEW", "VIDEO_V50_WATCH_TIME", "VIDEO_START", "VIDEO_AVG_WATCH_TIME",
)
# Served only as lifetime_metrics (never daily): "Total comments and total reactions are only
# available with lifetime Pin metrics".
PIN_LIFETIME_METRIC_TYPES = ("TOTAL_COMMENTS", "TOTAL_REACTIONS")
# GET /pins?pin_metrics=true: each pin's "90d" and "lifetime_metrics" counters (the spec gives
# only an example: pin_click, impression, clickthrough; lifetime also reaction, comment). "90d"
# is taken to be the last 90 days up to today (UTC).
PIN_METRICS_90D_DAYS = 90
# Single pin: split_field=APP_TYPE answers one group per app type (NO_SPLIT: "all"). The
# multi-pin beta declares no split_field: one app type at a time comes from app_types.
PIN_APP_TYPES = ("MOBILE", "TABLET", "WEB")

# data_status of a pin analytics day (DataStatus, 23 values), by what pinsync does with the day:
PIN_DATA_STATUS_PENDING = frozenset({"PROCESSING"})   # resolves later: the day is fetched again
PIN_DATA_STATUS_NOT_CREATED = "BEFORE_PIN_CREATED"    # the pin did not exist yet: the day has no row
# Every other status (READY, ESTIMATE, IN_BAD_TAG_DATE, the *_THRESHOLD and other BEFORE_*
# statuses, a status missing or unknown) is final, or never becomes READY: the day is kept as
# it is and not fetched again for its status.
PIN_DATA_STATUSES = (
    "PROCESSING", "READY", "ESTIMATE", "BEFORE_BUSINESS_CREATED", "BEFORE_DATA_RETENTION_PERIOD",
    "BEFORE_PIN_DATA_RETENTION_PERIOD", "BEFORE_METRIC_START_DATE", "BEFORE_CORE_METRIC_START_DATE",
    "BEFORE_PIN_FORMAT_METRIC_START_DATE", "BEFORE_AUDIENCE_METRIC_START_DATE",
    "BEFORE_AUDIENCE_MONTHLY_METRIC_START_DATE", "BEFORE_VIDEO_METRIC_START_DATE",
    "BEFORE_CONVERSION_METRIC_START_DATE", "PURCHASERS_METRIC_SMALLER_THAN_THRESHOLD", "IN_BAD_TAG_DATE",
    "BEFORE_PUBLISHED_METRIC_START_DATE", "BEFORE_ASSIST_METRIC_START_DATE", "BEFORE_PIN_CREATED",
    "BEFORE_ACCOUNT_CLAIMED", "BEFORE_DEMOGRAPHIC_FILTERS_START_DATE", "AUDIENCE_SEGMENT_SMALLER_THAN_THRESHOLD",
    "AUDIENCE_TOTAL_SMALLER_THAN_THRESHOLD", "BEFORE_PRODUCT_GROUP_FILTER_START_DATE",
)

# Rate-limit categories (x-ratelimit-category) and published Standard-tier limits, per minute.
RATE_LIMITS_PER_MINUTE = {
    "ads_read": 1000,        # published figure is much higher; 1000/min is what we pace to
    "ads_analytics": 300,
    "org_read": 1000,
    "org_analytics": 60,
}

# Error codes seen in Pinterest's error bodies.
RATE_LIMIT_CODE = 8
# A 401 is about the token when its code says so: 2 "Authentication failed.", 3 "Your token does
# not have sufficient permissions..." (a scope it lacks). Code 7 "Not authorized to access board
# or Pin." (multi_pins/analytics) is the endpoint refusing this app or these pins: not a token
# problem, refreshing cannot help.
SCOPE_ERROR_CODE = 3
NOT_AUTHORIZED_CODE = 7

# The OAuth scope to read pins on secret boards ("protected pins": GET /pins lists them only
# with include_protected_pins=true).
SECRET_PINS_SCOPE = "pins:read_secret"

# Every column the synchronous analytics endpoints accept (query_columns, 175 values).
ANALYTICS_COLUMNS = (
    "SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "SPEND_IN_DOLLAR", "CPC_IN_MICRO_DOLLAR",
    "ECPC_IN_MICRO_DOLLAR", "ECPC_IN_DOLLAR", "CTR", "ECTR", "OUTBOUND_CTR_1", "CAMPAIGN_NAME",
    "CAMPAIGN_BRAND_LABEL", "PIN_ID", "TOTAL_ENGAGEMENT", "ENGAGEMENT_1", "ENGAGEMENT_2",
    "ECPE_IN_DOLLAR", "ENGAGEMENT_RATE", "EENGAGEMENT_RATE", "ECPM_IN_MICRO_DOLLAR", "REPIN_RATE",
    "CTR_2", "CAMPAIGN_ID", "ADVERTISER_ID", "AD_ACCOUNT_ID", "PIN_PROMOTION_ID", "AD_ID",
    "AD_GROUP_ID", "CAMPAIGN_ENTITY_STATUS", "CAMPAIGN_OBJECTIVE_TYPE", "CPM_IN_MICRO_DOLLAR",
    "CPM_IN_DOLLAR", "AD_GROUP_NAME", "AD_GROUP_BUDGET_TYPE", "AD_GROUP_BUDGET_IN_LOCAL_CURRENCY",
    "AD_GROUP_ENTITY_STATUS", "AD_GROUP_BID_MULTIPLIER", "PROMO_ID", "PROMO_NAME", "ORDER_LINE_ID",
    "ORDER_LINE_NAME", "CLICKTHROUGH_1", "REPIN_1", "IMPRESSION_1", "IMPRESSION_1_GROSS",
    "CLICKTHROUGH_1_GROSS", "OUTBOUND_CLICK_1", "CLICKTHROUGH_2", "REPIN_2", "IMPRESSION_2",
    "OUTBOUND_CLICK_2", "TOTAL_CLICKTHROUGH", "TOTAL_IMPRESSION", "TOTAL_IMPRESSION_USER",
    "TOTAL_IMPRESSION_FREQUENCY", "COST_PER_OUTBOUND_CLICK_IN_DOLLAR",
    "COST_PER_OUTBOUND_CLICK_IN_DOLLAR_1", "TOTAL_ENGAGEMENT_SIGNUP", "TOTAL_ENGAGEMENT_CHECKOUT",
    "TOTAL_ENGAGEMENT_LEAD", "TOTAL_CLICK_SIGNUP", "TOTAL_CLICK_CHECKOUT",
    "TOTAL_CLICK_ADD_TO_CART", "TOTAL_CLICK_LEAD", "TOTAL_VIEW_SIGNUP", "TOTAL_VIEW_CHECKOUT",
    "TOTAL_VIEW_ADD_TO_CART", "TOTAL_VIEW_LEAD", "TOTAL_CONVERSIONS",
    "TOTAL_ENGAGEMENT_SIGNUP_VALUE_IN_MICRO_DOLLAR",
    "TOTAL_ENGAGEMENT_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "TOTAL_CLICK_SIGNUP_VALUE_IN_MICRO_DOLLAR",
    "TOTAL_CLICK_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "TOTAL_VIEW_SIGNUP_VALUE_IN_MICRO_DOLLAR",
    "TOTAL_VIEW_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "TOTAL_WEB_SESSIONS", "WEB_SESSIONS_1",
    "WEB_SESSIONS_2", "AD_NAME", "CAMPAIGN_LIFETIME_SPEND_CAP", "AD_GROUP_OPTIMIZATION",
    "CAMPAIGN_DAILY_SPEND_CAP", "CAMPAIGN_BUDGET_OPTIMIZATION", "IS_PREMIERE_CAMPAIGN",
    "TOTAL_PAGE_VISIT", "TOTAL_SIGNUP", "TOTAL_CHECKOUT", "TOTAL_CUSTOM", "TOTAL_LEAD",
    "TOTAL_ADD_TO_WISHLIST", "TOTAL_SUBSCRIBE", "TOTAL_SIGNUP_VALUE_IN_MICRO_DOLLAR",
    "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "TOTAL_CUSTOM_VALUE_IN_MICRO_DOLLAR",
    "PAGE_VISIT_COST_PER_ACTION", "PAGE_VISIT_ROAS", "CHECKOUT_ROAS", "CUSTOM_ROAS",
    "PRODUCT_GROUP_AD_IMAGE_TAG", "PRODUCT_GROUP_AD_VIDEO_TAG", "VIDEO_3SEC_VIEWS_1",
    "VIDEO_15SEC_UNIQUE_VIEWS_1", "VIDEO_MRC_VIEWS_1", "VIDEO_3SEC_VIEWS_2",
    "VIDEO_15SEC_UNIQUE_VIEWS_2", "VIDEO_P100_COMPLETE_2", "VIDEO_P0_COMBINED_2",
    "VIDEO_P25_COMBINED_2", "VIDEO_P50_COMBINED_2", "VIDEO_P75_COMBINED_2", "VIDEO_P95_COMBINED_2",
    "VIDEO_MRC_VIEWS_2", "PAID_VIDEO_VIEWABLE_RATE", "VIDEO_LENGTH", "VIDEO_SPEND_IN_DOLLAR",
    "ECPV_IN_DOLLAR", "ECPCV_IN_DOLLAR", "ECPCV_P95_IN_DOLLAR", "TOTAL_VIDEO_3SEC_VIEWS",
    "TOTAL_VIDEO_15SEC_UNIQUE_VIEWS", "TOTAL_VIDEO_P100_COMPLETE", "TOTAL_VIDEO_P0_COMBINED",
    "TOTAL_VIDEO_P25_COMBINED", "TOTAL_VIDEO_P50_COMBINED", "TOTAL_VIDEO_P75_COMBINED",
    "TOTAL_VIDEO_P95_COMBINED", "TOTAL_VIDEO_MRC_VIEWS", "TOTAL_VIDEO_AVG_WATCHTIME_IN_SECOND",
    "TOTAL_REPIN_RATE", "WEB_CHECKOUT_COST_PER_ACTION", "WEB_CHECKOUT_ROAS", "TOTAL_WEB_CHECKOUT",
    "TOTAL_WEB_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "TOTAL_WEB_CLICK_CHECKOUT",
    "TOTAL_WEB_CLICK_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "TOTAL_WEB_ENGAGEMENT_CHECKOUT",
    "TOTAL_WEB_ENGAGEMENT_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "TOTAL_WEB_VIEW_CHECKOUT",
    "TOTAL_WEB_VIEW_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "INAPP_CHECKOUT_COST_PER_ACTION",
    "TOTAL_OFFLINE_CHECKOUT", "TOTAL_APP_INSTALL_CONVERSION_RATE",
    "TOTAL_INAPP_APP_INSTALL_CONVERSION_RATE", "IDEA_PIN_PRODUCT_TAG_VISIT_1",
    "IDEA_PIN_PRODUCT_TAG_VISIT_2", "TOTAL_IDEA_PIN_PRODUCT_TAG_VISIT", "LEADS", "COST_PER_LEAD",
    "QUIZ_COMPLETED", "QUIZ_PIN_RESULT_OPEN", "QUIZ_COMPLETION_RATE", "SHOWCASE_PIN_CLICKTHROUGH",
    "SHOWCASE_SUBPAGE_CLICKTHROUGH", "SHOWCASE_SUBPIN_CLICKTHROUGH", "SHOWCASE_SUBPAGE_IMPRESSION",
    "SHOWCASE_SUBPIN_IMPRESSION", "SHOWCASE_SUBPAGE_SWIPE_LEFT", "SHOWCASE_SUBPAGE_SWIPE_RIGHT",
    "SHOWCASE_SUBPIN_SWIPE_LEFT", "SHOWCASE_SUBPIN_SWIPE_RIGHT", "SHOWCASE_SUBPAGE_REPIN",
    "SHOWCASE_SUBPIN_REPIN", "SHOWCASE_SUBPAGE_CLOSEUP", "SHOWCASE_CARD_THUMBNAIL_SWIPE_FORWARD",
    "SHOWCASE_CARD_THUMBNAIL_SWIPE_BACKWARD", "SHOWCASE_AVERAGE_SUBPAGE_CLOSEUP_PER_SESSION",
    "TOTAL_CHECKOUT_CONVERSION_RATE", "TOTAL_VIEW_CATEGORY_CONVERSION_RATE",
    "TOTAL_ADD_TO_CART_CONVERSION_RATE", "TOTAL_SIGNUP_CONVERSION_RATE",
    "TOTAL_PAGE_VISIT_CONVERSION_RATE", "TOTAL_LEAD_CONVERSION_RATE",
    "TOTAL_SEARCH_CONVERSION_RATE", "TOTAL_WATCH_VIDEO_CONVERSION_RATE",
    "TOTAL_UNKNOWN_CONVERSION_RATE", "TOTAL_CUSTOM_CONVERSION_RATE",)

# Columns that name an entity, and the level at which each is valid.
LEVEL_ID_COLUMN = {"campaign": "CAMPAIGN_ID", "ad_group": "AD_GROUP_ID", "ad": "AD_ID"}
# Columns valid only at or below a level (dropped, with a warning, above it).
COLUMNS_NEEDING_LEVEL = {
    "AD_GROUP_ID": ("ad_group", "ad"),
    "AD_GROUP_NAME": ("ad_group", "ad"),
    "AD_GROUP_BUDGET_TYPE": ("ad_group", "ad"),
    "AD_GROUP_BUDGET_IN_LOCAL_CURRENCY": ("ad_group", "ad"),
    "AD_GROUP_ENTITY_STATUS": ("ad_group", "ad"),
    "AD_GROUP_BID_MULTIPLIER": ("ad_group", "ad"),
    "AD_GROUP_OPTIMIZATION": ("ad_group", "ad"),
    "AD_ID": ("ad",),
    "AD_NAME": ("ad",),
    "PIN_ID": ("ad",),
    "PIN_PROMOTION_ID": ("ad",),
    "PRODUCT_GROUP_AD_IMAGE_TAG": ("ad",),
    "PRODUCT_GROUP_AD_VIDEO_TAG": ("ad",),
}

_STRING_COLUMNS = {
    "CAMPAIGN_NAME", "CAMPAIGN_BRAND_LABEL", "PIN_ID", "CAMPAIGN_ID", "ADVERTISER_ID", "AD_ACCOUNT_ID",
    "PIN_PROMOTION_ID", "AD_ID", "AD_GROUP_ID", "CAMPAIGN_ENTITY_STATUS", "CAMPAIGN_OBJECTIVE_TYPE",
    "AD_GROUP_NAME", "AD_GROUP_BUDGET_TYPE", "AD_GROUP_ENTITY_STATUS", "PROMO_ID", "PROMO_NAME",
    "ORDER_LINE_ID", "ORDER_LINE_NAME", "AD_NAME", "AD_GROUP_OPTIMIZATION", "PRODUCT_GROUP_AD_IMAGE_TAG",
    "PRODUCT_GROUP_AD_VIDEO_TAG",
}
_BOOLEAN_COLUMNS = {"CAMPAIGN_BUDGET_OPTIMIZATION", "IS_PREMIERE_CAMPAIGN"}
_FLOAT_MARKERS = ("RATE", "CTR", "ROAS", "_IN_DOLLAR", "COST_PER", "CPC_", "CPM_", "ECPC", "ECPM", "ECPE",
                  "ECPV", "ECPCV", "FREQUENCY", "AVG_", "AVERAGE", "BID_MULTIPLIER", "IN_LOCAL_CURRENCY", "VIDEO_LENGTH")


def analytics_column_kind(column: str) -> str:
    """How a sync analytics column is typed: ``"str"``, ``"bool"``, ``"float"`` or ``"int"``.

    Counts and additive micro-currency totals are integers; ratios (including CPC/CPM in
    micro units), rates and dollar amounts are floats, since Polars would silently
    truncate a float read into an integer column.
    """
    if column in _STRING_COLUMNS:
        return "str"
    if column in _BOOLEAN_COLUMNS:
        return "bool"
    if any(m in column for m in _FLOAT_MARKERS):
        return "float"
    return "int"


def pin_metric_kind(metric: str) -> str:
    """Pin metrics are counts except rates and averages."""
    return "float" if ("RATE" in metric or "AVG" in metric) else "int"
