"""The schema registry: every table's columns, their Polars dtypes and how each is typed.

One place for this fact. The frames module types API payloads with it, the sink writes
it, :func:`pinsync.scan` reads with it and ``pinsync streams`` prints it.

Column kinds (how a JSON value becomes a typed value):

=========  ==========================  ===============================================
kind       dtype                       from
=========  ==========================  ===============================================
``id``     String                      digit strings (numbers are turned into strings)
``str``    String                      strings
``int``    Int64                       integers (micro-currency amounts, counts)
``float``  Float64                     numbers
``bool``   Boolean                     booleans
``epoch``  Datetime("us", "UTC")       Unix seconds
``epoch_ms`` Datetime("us", "UTC")     Unix milliseconds
``iso``    Datetime("us", "UTC")       ISO-8601 strings (no zone means UTC)
``date``   Date                        ``YYYY-MM-DD``
``list``   List(String)                arrays of strings
``json``   String (JSON text)          free-form objects, so the schema cannot drift
``struct`` Struct                      fixed-shape objects (``owner``, ``board_owner``)
``extra``  String (JSON text)          the record's fields that no other column holds
=========  ==========================  ===============================================

Every entity table ends with ``_extra``: the fields of a record that the table has no column
for (a field Pinterest added, or one its description omits), as one JSON object, null when
there are none. Nothing a record carries is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pinsync import api

UTC_DATETIME = pl.Datetime("us", "UTC")

_KIND_DTYPES: dict[str, pl.DataType] = {
    "id": pl.String(),
    "str": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "epoch": UTC_DATETIME,
    "epoch_ms": UTC_DATETIME,
    "iso": UTC_DATETIME,
    "hour": UTC_DATETIME,
    "date": pl.Date(),
    "list": pl.List(pl.String()),
    "json": pl.String(),
    "extra": pl.String(),
}


@dataclass(frozen=True)
class Column:
    """One column of a table: its name, kind and (for structs) the fields."""

    name: str
    kind: str
    fields: tuple[str, ...] = ()   # struct fields, all String

    @property
    def dtype(self) -> pl.DataType:
        if self.kind == "struct":
            return pl.Struct({f: pl.String() for f in self.fields})
        return _KIND_DTYPES[self.kind]


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse a compact ``name:kind`` table (structs as ``name:struct(a|b)``)."""
    out = []
    for item in spec.split():
        name, kind = item.split(":")
        if kind.startswith("struct("):
            out.append(Column(name, "struct", tuple(kind[7:-1].split("|"))))
        else:
            out.append(Column(name, kind))
    return tuple(out)


# Entity tables: every field of the seed and of the spec's object, in a stable order.
ENTITY_COLUMNS: dict[str, tuple[Column, ...]] = {
    "ad_accounts": _cols("""
        id:id name:str owner:struct(id|username) country:str currency:str permissions:list
        created_time:epoch updated_time:epoch"""),
    "campaigns": _cols("""
        id:id ad_account_id:id name:str status:str objective_type:str type:str
        start_time:epoch end_time:epoch daily_spend_cap:int lifetime_spend_cap:int
        is_campaign_budget_optimization:bool is_flexible_daily_budgets:bool is_automated_campaign:bool
        is_performance_plus:bool tracking_urls:json bid_options:json order_line_id:id summary_status:str
        created_time:epoch updated_time:epoch"""),
    "ad_groups": _cols("""
        id:id name:str ad_account_id:id campaign_id:id status:str budget_in_micro_currency:int
        bid_in_micro_currency:int bid_strategy_type:str bid_multiplier:float budget_type:str
        billable_event:str start_time:epoch end_time:epoch placement_group:str pacing_delivery_type:str
        targeting_spec:json targeting_template_ids:list optimization_goal_metadata:json
        lifetime_frequency_cap:int tracking_urls:json auto_targeting_enabled:bool
        is_creative_optimization:bool conversion_learning_mode_type:str promotion_id:id
        promotion_application_level:str feed_profile_id:id summary_status:str type:str dca_assets:json
        created_time:epoch updated_time:epoch"""),
    "ads": _cols("""
        id:id name:str ad_account_id:id campaign_id:id ad_group_id:id pin_id:id status:str
        creative_type:str destination_url:str android_deep_link:str ios_deep_link:str
        click_tracking_url:str view_tracking_url:str disclosure_type:str disclosure_url:str
        lead_form_id:id grid_click_type:str customizable_cta_type:str is_pin_deleted:bool
        is_removable:bool review_status:str rejected_reasons:list rejection_labels:list
        tracking_urls:json collection_items_destination_url_template:str carousel_destination_urls:list
        carousel_android_deep_links:list carousel_ios_deep_links:list quiz_pin_data:json
        summary_status:str type:str created_time:epoch updated_time:epoch"""),
    "pins": _cols("""
        id:id title:str description:str link:str alt_text:str board_id:id board_section_id:id
        board_owner:struct(username) creative_type:str dominant_color:str media:json parent_pin_id:id
        pin_metrics:json has_been_promoted:bool is_owner:bool is_standard:bool created_at:iso
        note:str product_tags:json"""),
    # -- the other objects (:data:`pinsync.streams.entities.OBJECT_STREAMS`): every field of the
    # spec's object, plus the context a row needs (``ad_account_id``, ``board_id``, the
    # ``ownership_type`` asked for). A feed's ``credentials`` keep the user name only: its
    # password is never read.
    "keywords": _cols("""
        id:id ad_account_id:id parent_id:id parent_type:str type:str value:str match_type:str bid:int
        archived:bool"""),
    "audiences": _cols("""
        id:id ad_account_id:id ownership_type:str name:str description:str audience_type:str type:str status:str
        size:int rule:json created_by_company_name:str created_timestamp:epoch updated_timestamp:epoch"""),
    "customer_lists": _cols("""
        id:id ad_account_id:id name:str type:str status:str num_batches:float num_removed_user_records:float
        num_uploaded_user_records:float exceptions:json created_time:epoch updated_time:epoch"""),
    "conversion_tags": _cols("""
        id:id ad_account_id:id name:str status:str version:str code_snippet:str configs:json
        enhanced_match_status:str last_fired_time_ms:epoch_ms"""),
    "product_group_promotions": _cols("""
        id:id ad_account_id:id ad_group_id:id catalog_product_group_id:id catalog_product_group_name:str status:str
        creative_type:str bid_in_micro_currency:int included:bool definition:str relative_definition:str
        parent_id:id collections_header_type:str collections_hero_destination_url:str collections_hero_pin_id:id
        customizable_cta_type:str grid_click_type:str is_mdl:bool is_generate_background:bool
        preferred_media_type:str selected_image_tag:str selected_video_tag:str slideshow_collections_description:str
        slideshow_collections_title:str tracking_url:str"""),
    "user_account": _cols("""
        username:str id:id account_type:str business_name:str about:str profile_image:str website_url:str
        board_count:int pin_count:int follower_count:int following_count:int monthly_views:int"""),
    "boards": _cols("""
        id:id name:str description:str owner:struct(username) privacy:str is_ads_only:bool media:json
        collaborator_count:int follower_count:int pin_count:int created_at:iso board_pins_modified_at:iso"""),
    "board_sections": _cols("id:id board_id:id name:str"),
    "board_pins": _cols("""
        board_id:id pin_id:id title:str description:str link:str alt_text:str board_section_id:id
        board_owner:struct(username) creative_type:str dominant_color:str media:json parent_pin_id:id
        pin_metrics:json has_been_promoted:bool is_owner:bool is_standard:bool created_at:iso note:str
        product_tags:json"""),
    "catalogs": _cols("id:id name:str catalog_type:str created_at:iso updated_at:iso"),
    "catalog_feeds": _cols("""
        id:id name:str catalog_id:id catalog_type:str format:str location:str status:str default_availability:str
        default_country:str default_currency:str default_locale:str credentials:struct(username)
        preferred_processing_schedule:struct(time|timezone) created_at:iso updated_at:iso"""),
    "catalog_product_groups": _cols("""
        id:id name:str description:str catalog_id:id catalog_type:str feed_id:id type:str status:str country:str
        locale:str is_featured:bool filters:json created_at:epoch updated_at:epoch"""),
}
# on real pins, though the spec's Pin (v5.23) lacks them: note (the pin's private note) and product_tags

EXTRA = Column("_extra", "extra")
ENTITY_COLUMNS = {name: (*columns, EXTRA) for name, columns in ENTITY_COLUMNS.items()}

# Context columns stored on every ads analytics row.
ANALYTICS_CONTEXT = _cols("""
    granularity:str click_window_days:int engagement_window_days:int view_window_days:int
    conversion_report_time:str currency:str""")

_KIND_OF_API = {"str": "str", "bool": "bool", "float": "float", "int": "int"}


def analytics_columns(level: str, columns: tuple[str, ...], granularity: str) -> tuple[Column, ...]:
    """The columns of an ads analytics table (level: campaign, ad_group or ad).

    The entity id, ``ad_account_id`` and the time key come first, then the configured
    metrics in lowercase, then the context. Id-like API columns (``CAMPAIGN_ID``…) are
    typed as ids; columns not valid at this level are not part of the table.
    """
    id_col = api.LEVEL_ID_COLUMN[level].lower()
    cols: list[Column] = [Column(id_col, "id")] + ([Column("ad_account_id", "id")] if id_col != "ad_account_id" else [])
    if granularity == "TOTAL":
        cols += [Column("date", "date"), Column("start_date", "date"), Column("end_date", "date")]
    elif granularity == "HOUR":
        cols.append(Column("date", "hour"))   # the hour's start (UTC); one partition per hour
    else:
        cols.append(Column("date", "date"))
    seen = {c.name for c in cols}
    for c in valid_columns_for_level(level, columns):
        name = c.lower()
        if name in seen:
            continue
        kind = "id" if c.endswith("_ID") else _KIND_OF_API[api.analytics_column_kind(c)]
        cols.append(Column(name, kind))
        seen.add(name)
    return tuple(cols) + ANALYTICS_CONTEXT


def valid_columns_for_level(level: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The configured columns the API accepts at ``level`` (others are dropped with a warning).
    A level only reports serve (keywords) takes only the columns reports know."""
    report_only = level in api.REPORT_ONLY_LEVELS
    return tuple(c for c in columns if level in api.COLUMNS_NEEDING_LEVEL.get(c, (level,))
                 and not (report_only and c in api.REPORT_UNSUPPORTED_COLUMNS))


def targeting_analytics_columns(level: str, columns: tuple[str, ...], granularity: str) -> tuple[Column, ...]:
    """The columns of a targeting analytics table: those of the level's analytics table with
    ``targeting_type`` and ``targeting_value`` (always text: ``"45-49"``, ``"US:02139"``,
    a metro code's digits) after the ids."""
    cols = analytics_columns(level, columns, granularity)
    at = 1 if level == "ad_account" else 2
    return cols[:at] + (Column("targeting_type", "str"), Column("targeting_value", "str")) + cols[at:]


def user_account_analytics_columns(metric_types: tuple[str, ...], split_field: str) -> tuple[Column, ...]:
    """The columns of the ``user_account_analytics`` table: the date, the split field's value
    (a column named after the split, e.g. ``app_type``; none without a split), the day's
    ``data_status`` and the metrics."""
    cols = [Column("date", "date")]
    if split_field != "NO_SPLIT":
        cols.append(Column(split_field.lower(), "str"))
    cols.append(Column("data_status", "str"))
    cols += [Column(m.lower(), api.pin_metric_kind(m)) for m in metric_types]
    return tuple(cols)


def pin_analytics_columns(metric_types: tuple[str, ...]) -> tuple[Column, ...]:
    """The columns of the ``pin_analytics`` table: one per daily metric (the lifetime-only
    metrics are in ``pin_lifetime_metrics``)."""
    cols = [Column("pin_id", "id"), Column("app_type", "str"), Column("date", "date"),
            Column("data_status", "str")]
    cols += [Column(m.lower(), api.pin_metric_kind(m)) for m in pin_daily_metric_types(metric_types)]
    return tuple(cols)


def pin_lifetime_columns(metric_types: tuple[str, ...]) -> tuple[Column, ...]:
    """The columns of the ``pin_lifetime_metrics`` table: the lifetime-only metrics asked for."""
    cols = [Column("pin_id", "id"), Column("app_type", "str"), Column("as_of", "date")]
    cols += [Column(m.lower(), "int") for m in pin_lifetime_metric_types(metric_types)]
    return tuple(cols)


def pin_daily_metric_types(metric_types: tuple[str, ...]) -> tuple[str, ...]:
    """The metric types the API serves per day (``daily_metrics``), once each."""
    return tuple(m for m in dict.fromkeys(metric_types) if m not in api.PIN_LIFETIME_METRIC_TYPES)


def pin_lifetime_metric_types(metric_types: tuple[str, ...]) -> tuple[str, ...]:
    """The metric types the API serves only as ``lifetime_metrics``, once each."""
    return tuple(m for m in dict.fromkeys(metric_types) if m in api.PIN_LIFETIME_METRIC_TYPES)


def polars_schema(columns: tuple[Column, ...]) -> pl.Schema:
    """The Polars schema of a column table."""
    return pl.Schema({c.name: c.dtype for c in columns})
