"""The fake's object listings beyond the core entities: keywords, audiences, customer lists,
conversion tags, product group promotions, the user's account, boards (their sections and
pins) and catalogs (their feeds and product groups).

Faithful to the real API (spec v5.23.0; the operations ``keywords/get``, ``audiences/list``,
``customer_lists/list``, ``conversion_tags/list``, ``product_group_promotions/list``,
``user_account/get``, ``boards/list``, ``board_sections/list``, ``boards/list_pins``,
``catalogs/list``, ``feeds/list``, ``catalogs_product_groups/list``):

* each route takes the query parameters its operation declares (:mod:`pinsync.fake.declared`)
  and answers any other with 400 code 1; enums, id patterns and list limits are checked
  (``match_types`` 1-5, ``ad_group_ids`` and ``product_group_promotion_ids`` 1-250, the
  product groups' ``id`` 1-1000); ``page_size`` 1..250 and bookmarks as on every list;
* keywords: without a filter only the ad account's own keywords (those whose parent is the
  account: "it will only return keywords that specifically have parent_id set to the
  ad_account_id"); ``campaign_id``, ``ad_group_id`` or ``ad_group_ids`` list the keywords
  whose parent is that campaign or those ad groups;
* audiences: ``ownership_type`` OWNED (the default) or RECEIVED;
* conversion tags: one object ``{"items": [...]}`` (no paging); ``filter_deleted=true``
  leaves the deleted tags out;
* product group promotions: ``ad_group_id`` or ``product_group_promotion_ids`` is required
  (the latter wins when both are given), ``entity_statuses`` defaults to ACTIVE, PAUSED;
* ``/boards``: without ``privacy`` every board the token may see; secret and protected
  boards only with ``boards:read_secret`` (also for their sections and pins: 404
  ``{"code": 404, "message": "Board not found."}`` otherwise, as for an unknown board);
* a board's pins are the ``Pin`` objects of the pins saved to it (``creative_types`` filters
  them; ``pin_metrics`` as on ``/pins``);
* catalogs: ``/catalogs/feeds`` and ``/catalogs/product_groups`` consider every catalog (or
  feed) unless ``catalog_id`` / ``feed_id`` narrows them.

Choices (the API does not say):

* for a user without a catalog, ``/catalogs`` lists nothing, and its feeds and product
  groups answer **403** ``{"code": 4182, "message": "Can't access this feature without an
  existing catalog."}`` (the spec gives that body under 409; the issue this fake serves says
  Pinterest answers 403);
* a conversion tag is deleted when its status is ARCHIVED (``EntityStatus`` has no DELETED);
* keyword filters: one of ``campaign_id``, ``ad_group_id`` and ``ad_group_ids`` at a time
  (400 otherwise); ``match_types`` narrows any listing;
* lists are in id order (``order=DESCENDING`` reverses where the operation has ``order``);
  ``ad_account_id`` (Business Access) is accepted and ignored.
"""

from __future__ import annotations

import re

from pinsync import api
from pinsync.fake import errors
from pinsync.fake.analytics import multi
from pinsync.fake.data import Dataset
from pinsync.fake.errors import FakeApiError

_ACCOUNT = r"/v5/ad_accounts/(?P<account>[^/]+)"
_BOARD = r"/v5/boards/(?P<board>[^/]+)"
# (method, pattern, route name, x-ratelimit-category of the spec's operation)
ROUTES = (
    ("GET", _ACCOUNT + r"/keywords", "keywords", "ads_read"),
    ("GET", _ACCOUNT + r"/audiences", "audiences", "ads_read"),
    ("GET", _ACCOUNT + r"/customer_lists", "customer_lists", "ads_read"),
    ("GET", _ACCOUNT + r"/conversion_tags", "conversion_tags", "ads_read"),
    ("GET", _ACCOUNT + r"/product_group_promotions", "product_group_promotions", "ads_read"),
    ("GET", r"/v5/user_account", "user_account", "org_read"),
    ("GET", r"/v5/boards", "boards", "org_read"),
    ("GET", _BOARD + r"/sections", "board_sections", "org_read"),
    ("GET", _BOARD + r"/pins", "board_pins", "org_read"),
    ("GET", r"/v5/catalogs", "catalogs", "catalogs_read"),
    ("GET", r"/v5/catalogs/feeds", "catalog_feeds", "catalogs_read"),
    ("GET", r"/v5/catalogs/product_groups", "catalog_product_groups", "catalogs_read"),
)
PAGED = frozenset({"keywords", "audiences", "customer_lists", "product_group_promotions", "boards", "board_sections",
                   "board_pins", "catalogs", "catalog_feeds", "catalog_product_groups"})
DOCUMENTS = frozenset({"conversion_tags", "user_account"})

# The scopes each route's operation asks for (its ``security``); secret boards also need
# boards:read_secret.
ALL_READ_SCOPES = ("ads:read", "boards:read", "boards:read_secret", "catalogs:read", "pins:read", "pins:read_secret",
                   "user_accounts:read")
_ADS, _PINS = ("ads:read",), ("boards:read", "pins:read")
SCOPES: dict[str, tuple[str, ...]] = {
    **{r: _ADS for r in ("ad_accounts", "campaigns", "ad_groups", "ads", "campaign_analytics", "ad_group_analytics",
                         "ad_analytics", "create_report", "get_report", "keywords", "audiences", "customer_lists",
                         "conversion_tags", "product_group_promotions", "ad_account_analytics",
                         "ad_account_targeting_analytics", "campaign_targeting_analytics",
                         "ad_group_targeting_analytics", "ad_targeting_analytics", "product_group_analytics")},
    **{r: _PINS for r in ("pins", "multi_pin_analytics", "pin_analytics", "board_pins")},
    "boards": ("boards:read",), "board_sections": ("boards:read",),
    "user_account": ("user_accounts:read",), "user_account_analytics": ("user_accounts:read",),
    "catalogs": ("catalogs:read",), "catalog_feeds": ("catalogs:read",), "catalog_product_groups": ("catalogs:read",),
}
SECRET_PRIVACY = ("SECRET", "PROTECTED")
_DIGITS = re.compile(r"^\d{1,18}$")


def no_catalog() -> FakeApiError:
    return FakeApiError(403, api.NO_CATALOG_CODE, "Can't access this feature without an existing catalog.")


def board_not_found() -> FakeApiError:
    return FakeApiError(404, 404, "Board not found.")


def _one_id(query: dict, name: str) -> str | None:
    v = query.get(name, [""])[-1]
    if v == "":
        return None
    if not _DIGITS.match(v):
        raise errors.bad_params(f"{name} must be an id of digits (got {v!r}).")
    return v


def _ids(query: dict, name: str, limit: int, pattern: re.Pattern = _DIGITS) -> list[str] | None:
    ids = multi(query, name)
    if ids is None:
        return None
    if not 1 <= len(ids) <= limit:
        raise errors.bad_params(f"{name} must contain 1 to {limit} items.")
    bad = [i for i in ids if not pattern.match(i)]
    if bad:
        raise errors.bad_params(f"{name} must be ids of digits (got {bad[0]!r}).")
    return ids


def _enum(query: dict, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    v = query.get(name, [""])[-1]
    if v == "":
        return default
    if v not in choices:
        raise errors.bad_params(f"{name} must be one of {', '.join(choices)} (got {v!r}).")
    return v


def _flag(query: dict, name: str) -> bool:
    v = query.get(name, ["false"])[-1].lower() or "false"
    if v not in ("true", "false"):
        raise errors.bad_params(f"{name} must be true or false (got {v!r}).")
    return v == "true"


def _ordered(items: list[dict], query: dict) -> list[dict]:
    order = _enum(query, "order", ("ASCENDING", "DESCENDING"), "ASCENDING")
    return items[::-1] if order == "DESCENDING" else items


class Objects:
    """The answers of the object routes for a :class:`Dataset` (see the module docstring)."""

    def __init__(self, dataset: Dataset):
        self.ds = dataset

    def listing(self, route: str, params: dict, query: dict, scopes: frozenset[str]) -> list[dict]:
        """The items of a paginated route, in order (the router pages them)."""
        _one_id(query, "ad_account_id")
        ds = self.ds
        if route in ("catalog_feeds", "catalog_product_groups") and not ds.catalogs:
            raise no_catalog()
        if route == "keywords":
            return self._keywords(params["account"], query)
        if route == "audiences":
            ownership = _enum(query, "ownership_type", api.AUDIENCE_OWNERSHIP_TYPES, "OWNED")
            return _ordered([a for a in ds.audiences if a["ad_account_id"] == params["account"]
                             and ds.audience_ownership[a["id"]] == ownership], query)
        if route == "customer_lists":
            return _ordered([c for c in ds.customer_lists if c["ad_account_id"] == params["account"]], query)
        if route == "product_group_promotions":
            return self._promotions(params["account"], query)
        if route == "boards":
            privacy = _enum(query, "privacy", api.BOARD_PRIVACY_FILTERS, "ALL")
            wanted = {"ALL": ("PUBLIC", "PROTECTED", "SECRET"), "PUBLIC_AND_SECRET": ("PUBLIC", "SECRET")}.get(
                privacy, (privacy,))
            return [b for b in ds.boards if b["privacy"] in wanted and self._visible(b, scopes)]
        if route == "board_sections":
            return list(ds.board_sections[self._board(params["board"], scopes)["id"]])
        if route == "board_pins":
            board = self._board(params["board"], scopes)
            types = multi(query, "creative_types")
            bad = [t for t in types or () if t not in api.CREATIVE_TYPES]
            if bad:
                raise errors.bad_params(f"creative_types: {bad[0]!r} is not a creative type.")
            _flag(query, "pin_metrics")
            return [p for p in sorted(ds.pins, key=lambda p: int(p["id"]))
                    if p["board_id"] == board["id"] and (not types or p["creative_type"] in types)]
        if route == "catalogs":
            return list(ds.catalogs)
        if route == "catalog_feeds":
            catalog = _one_id(query, "catalog_id")
            return [f for f in ds.catalog_feeds if catalog is None or self._catalog_of_feed(f) == catalog]
        # catalog_product_groups
        wanted_ids = _ids(query, "id", 1000)
        feed, catalog = _one_id(query, "feed_id"), _one_id(query, "catalog_id")
        return [g for g in ds.catalog_product_groups
                if (wanted_ids is None or g["id"] in wanted_ids) and (feed is None or g.get("feed_id") == feed)
                and (catalog is None or g["catalog_id"] == catalog)]

    def document(self, route: str, params: dict, query: dict) -> dict:
        """The one JSON object a non-paginated route answers."""
        if route == "user_account":
            _one_id(query, "ad_account_id")
            return dict(self.ds.user_account)
        deleted = _flag(query, "filter_deleted")     # conversion_tags
        return {"items": [t for t in self.ds.conversion_tags if t["ad_account_id"] == params["account"]
                          and not (deleted and t["status"] == "ARCHIVED")]}

    # ------------------------------------------------------------------ helpers
    def _keywords(self, account: str, query: dict) -> list[dict]:
        ds = self.ds
        match_types = _ids(query, "match_types", 5, re.compile("|".join(f"^{m}$" for m in api.KEYWORD_MATCH_TYPES)))
        campaign, group = _one_id(query, "campaign_id"), _one_id(query, "ad_group_id")
        groups = _ids(query, "ad_group_ids", api.KEYWORD_AD_GROUP_IDS_MAX)
        given = [f for f in (campaign, group, groups) if f is not None]
        if len(given) > 1:
            raise errors.bad_params("Provide only one of campaign_id, ad_group_id and ad_group_ids.")
        if campaign is not None:
            parents = {campaign} if ds.campaign_by_id.get(campaign, {}).get("ad_account_id") == account else set()
        elif group is not None or groups is not None:
            parents = {g for g in ([group] if group is not None else groups)
                       if ds.ad_group_by_id.get(g, {}).get("ad_account_id") == account}
        else:
            parents = {account}
        return [k for k in ds.keywords if k["parent_id"] in parents
                and (match_types is None or k["match_type"] in match_types)]

    def _promotions(self, account: str, query: dict) -> list[dict]:
        ds = self.ds
        ids = _ids(query, "product_group_promotion_ids", api.ANALYTICS_IDS_MAX)
        group = _one_id(query, "ad_group_id")
        if ids is None and group is None:
            raise errors.bad_params("ad_group_id or product_group_promotion_ids is required.")
        statuses = multi(query, "entity_statuses") or list(api.API_DEFAULT_ENTITY_STATUSES)
        bad = [s for s in statuses if s not in api.ENTITY_STATUSES]
        if bad:
            raise errors.bad_params(f"entity_statuses: {bad[0]!r} is not one of {', '.join(api.ENTITY_STATUSES)}.")
        items = [p for p in ds.product_group_promotions
                 if ds.ad_group_by_id[p["ad_group_id"]]["ad_account_id"] == account and p["status"] in statuses
                 and (p["id"] in ids if ids is not None else p["ad_group_id"] == group)]
        return _ordered(items, query)

    def _visible(self, board: dict, scopes: frozenset[str]) -> bool:
        return board["privacy"] not in SECRET_PRIVACY or "boards:read_secret" in scopes

    def _board(self, board_id: str, scopes: frozenset[str]) -> dict:
        board = self.ds.board_by_id.get(board_id)
        if board is None or not self._visible(board, scopes):
            raise board_not_found()
        return board

    def _catalog_of_feed(self, feed: dict) -> str | None:
        if feed.get("catalog_id"):
            return feed["catalog_id"]
        # retail feeds do not name their catalog: their product groups do
        return next((g["catalog_id"] for g in self.ds.catalog_product_groups if g.get("feed_id") == feed["id"]), None)
