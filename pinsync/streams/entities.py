"""The entity streams: current state of ad accounts, campaigns, ad groups, ads and pins.

The list endpoints have no "changed since" filter, so each run lists everything
(250 a page) and the sync rewrites only the partitions whose content changed. The
campaign, ad group and ad lists ask for every ``entity_statuses`` value: the API's
default hides ARCHIVED and DRAFT entities.
"""

from __future__ import annotations

from pinsync import api
from pinsync.streams import (ADS_SCOPES, BOARDS_SCOPES, CATALOGS_SCOPES, PINS_SCOPES, USER_SCOPES, Fanout,
                             StreamSpec)

ENTITY_STREAMS = (
    StreamSpec("ad_accounts", "entity", "ad_accounts", "ads_read", None, ("id",), "updated_time", (),
               params={"include_shared_accounts": True},
               scopes=ADS_SCOPES, description="Ad accounts the token can read"),
    StreamSpec("campaigns", "entity", "ad_accounts/{ad_account_id}/campaigns", "ads_read", "ad_accounts",
               ("id",), "updated_time", ("ad_account_id",), entity_statuses=True,
               context=("ad_account_id",), scopes=ADS_SCOPES, description="Campaigns of every status"),
    StreamSpec("ad_groups", "entity", "ad_accounts/{ad_account_id}/ad_groups", "ads_read", "ad_accounts",
               ("id",), "updated_time", ("ad_account_id",), entity_statuses=True,
               context=("ad_account_id",), scopes=ADS_SCOPES, description="Ad groups of every status"),
    StreamSpec("ads", "entity", "ad_accounts/{ad_account_id}/ads", "ads_read", "ad_accounts",
               ("id",), "updated_time", ("ad_account_id",), entity_statuses=True,
               context=("ad_account_id",), scopes=ADS_SCOPES, description="Ads of every status"),
    StreamSpec("pins", "entity", "pins", "org_read", None, ("id",), "created_at", (),
               params={"pin_metrics": True},      # the 90-day and lifetime counters (pin_metrics)
               scopes=PINS_SCOPES, description="Pins owned by the user"),
)


def _ads_object(name: str, path: str, description: str, **kw) -> StreamSpec:
    """An object of an ad account: current state, one row per id, partitioned by account."""
    return StreamSpec(name, "entity", f"ad_accounts/{{ad_account_id}}/{path}", "ads_read", "ad_accounts", ("id",),
                      None, ("ad_account_id",), scopes=ADS_SCOPES, description=description,
                      context=("ad_account_id",), **kw)


# The other objects: ads objects beside campaigns (partitioned by ad account), the user's
# account, boards and catalogs (unpartitioned). Not in ``STREAMS`` yet.
OBJECT_STREAMS = (
    # Without a filter the API lists only the account's own keywords; campaigns' keywords
    # come one campaign a call, ad groups' 250 ad groups a call.
    _ads_object("keywords", "keywords", "Keywords of the account, its campaigns and its ad groups",
                fanouts=(Fanout(), Fanout("campaigns", "campaign_id"),
                         Fanout("ad_groups", "ad_group_ids", api.KEYWORD_AD_GROUP_IDS_MAX))),
    _ads_object("audiences", "audiences", "Audiences the account owns and those shared with it",
                fanouts=(Fanout(param="ownership_type", values=api.AUDIENCE_OWNERSHIP_TYPES,
                                column="ownership_type"),)),
    _ads_object("customer_lists", "customer_lists", "Customer lists"),
    _ads_object("conversion_tags", "conversion_tags", "Conversion tags, deleted ones included",
                shape="items", params={"filter_deleted": False}),
    # the API requires an ad group (or promotion ids): one call per ad group
    _ads_object("product_group_promotions", "product_group_promotions",
                "Catalog product groups promoted by shopping ad groups", entity_statuses=True,
                fanouts=(Fanout("ad_groups", "ad_group_id"),)),
    StreamSpec("user_account", "entity", "user_account", "org_read", None, ("username",), None, (), shape="object",
               scopes=USER_SCOPES, description="The token user's account"),
    StreamSpec("boards", "entity", "boards", "org_read", None, ("id",), None, (), params={"privacy": "ALL"},
               scopes=BOARDS_SCOPES, description="The user's boards (secret ones with boards:read_secret)"),
    StreamSpec("board_sections", "entity", "boards/{board_id}/sections", "org_read", "boards", ("id",), None, (),
               context=("board_id",), scopes=BOARDS_SCOPES, description="Sections of every board"),
    StreamSpec("board_pins", "entity", "boards/{board_id}/pins", "org_read", "boards", ("board_id", "pin_id"), None, (),
               context=("board_id",), rename={"pin_id": "id"}, scopes=PINS_SCOPES,
               description="The pins saved to every board"),
    StreamSpec("catalogs", "entity", "catalogs", "catalogs_read", None, ("id",), None, (),
               scopes=CATALOGS_SCOPES, description="The user's catalogs"),
    StreamSpec("catalog_feeds", "entity", "catalogs/feeds", "catalogs_read", None, ("id",), None, (),
               scopes=CATALOGS_SCOPES, description="Feeds of every catalog (without their passwords)"),
    StreamSpec("catalog_product_groups", "entity", "catalogs/product_groups", "catalogs_read", None, ("id",), None, (),
               scopes=CATALOGS_SCOPES, description="Product groups of every catalog"),
)
