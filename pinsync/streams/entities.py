"""The entity streams: current state of ad accounts, campaigns, ad groups, ads and pins.

The list endpoints have no "changed since" filter, so each run lists everything
(250 a page) and the sync rewrites only the partitions whose content changed. The
campaign, ad group and ad lists ask for every ``entity_statuses`` value: the API's
default hides ARCHIVED and DRAFT entities.
"""

from __future__ import annotations

from pinsync.streams import ADS_SCOPES, PINS_SCOPES, StreamSpec

ENTITY_STREAMS = (
    StreamSpec("ad_accounts", "entity", "ad_accounts", "ads_read", None, ("id",), "updated_time", (),
               params={"include_shared_accounts": True},
               scopes=ADS_SCOPES, description="Ad accounts the token can read"),
    StreamSpec("campaigns", "entity", "ad_accounts/{ad_account_id}/campaigns", "ads_read", "ad_accounts",
               ("id",), "updated_time", ("ad_account_id",),
               scopes=ADS_SCOPES, description="Campaigns of every status"),
    StreamSpec("ad_groups", "entity", "ad_accounts/{ad_account_id}/ad_groups", "ads_read", "ad_accounts",
               ("id",), "updated_time", ("ad_account_id",),
               scopes=ADS_SCOPES, description="Ad groups of every status"),
    StreamSpec("ads", "entity", "ad_accounts/{ad_account_id}/ads", "ads_read", "ad_accounts",
               ("id",), "updated_time", ("ad_account_id",),
               scopes=ADS_SCOPES, description="Ads of every status"),
    StreamSpec("pins", "entity", "pins", "org_read", None, ("id",), "created_at", (),
               params={"pin_metrics": True},      # the 90-day and lifetime counters (pin_metrics)
               scopes=PINS_SCOPES, description="Pins owned by the user"),
)
