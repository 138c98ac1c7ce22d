"""Deterministic generation of a realistic Pinterest ads + organic dataset.

:class:`Dataset` builds ad accounts, campaigns, ad groups, ads and pins as JSON-ready
dicts shaped exactly like the API's items (every property of the spec objects
``AdAccount``, ``CampaignResponse``, ``AdGroupResponse``, ``AdResponse`` and ``Pin`` of
the official OpenAPI description v5.23.0 is present, with values of the spec's JSON
types and enum values, nullable fields sometimes null).

Faithful to the real API:

* ids are digit strings; higher ids belong to more recently created entities (the spec:
  "higher-value IDs are associated with more-recently added items");
* ``created_time`` / ``updated_time`` are Unix seconds; a pin's ``created_at`` is an ISO
  string without a zone (``"2025-03-01T12:34:56"``), as observed from the real API;
* statuses use ``EntityStatus``; ``summary_status`` is consistent with the status
  (RUNNING/COMPLETED/PAUSED/ARCHIVED/DRAFT/DELETED_DRAFT; ads APPROVED/REJECTED/PENDING...);
* money is in micro-units of the account's currency.

Choices (not from the API):

* every id has 16-18 digits, above 2**53, so a client that parses ids as floats corrupts
  them (ad accounts 16 digits, campaigns/ad groups/ads 17, pins 18);
* status mix: about 45% ACTIVE, 20% PAUSED, 25% ARCHIVED, 7% DRAFT, 3% DELETED_DRAFT for
  campaigns, ad groups and ads, drawn independently at each level;
* each campaign, ad group and ad has an *activity window* (first and last day with
  delivery, see :attr:`Dataset.activity`): from its start day to today for ACTIVE
  entities, to the day it was paused/archived (its ``updated_time``) otherwise, none at
  all for drafts; a child's window lies inside its parent's. Analytics come only from
  inside that window;
* pins sit on 12 boards of the owner, two of them secret (:func:`is_protected`: about one
  pin in six is a protected pin);
* all pins have ``media.media_type == "image"``; some ads promote pins of the dataset
  (those pins have ``has_been_promoted: true``), others promote pins of other users;
* keywords (``Keyword`` objects) belong to ad groups (0-3 each), campaigns (0-2) and ad
  accounts (1-3); campaigns and accounts only take negative keywords (the spec: "Advertisers
  and campaigns can only be assigned keywords with excluding ('_NEGATIVE')"). Each kind is drawn
  from its own random stream so that adding it changed nothing else; a keyword delivers inside
  its ad group's window (from a few days after its start), negative keywords never; an ad
  account's window spans its campaigns' windows;
* the other objects (audiences, customer lists, conversion tags, product group promotions, the
  user's account, boards and their sections, catalogs, feeds and product groups) come from
  random streams of their own too (:meth:`Dataset._gen_objects`): none of them changes an
  entity above, a pin or an analytics value. Boards are the boards the pins name
  (``board_id``; the secret ones SECRET), plus two boards without pins (one PROTECTED: an
  ads-only board, one SECRET); a board's sections are the sections its pins name, plus one
  empty section on some boards.
  Product group promotions belong to the ad groups of CATALOG_SALES campaigns and deliver
  inside their ad group's window.

Everything is a function of the constructor arguments (``today`` included), so two
datasets built with the same arguments are equal.
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect_left

from pinsync import api, clock

DAY = 86400
EPOCH = dt.date(1970, 1, 1)

STATUS_WEIGHTS = (("ACTIVE", 45), ("PAUSED", 20), ("ARCHIVED", 25), ("DRAFT", 7), ("DELETED_DRAFT", 3))
assert tuple(s for s, _ in STATUS_WEIGHTS) == api.ENTITY_STATUSES

CURRENCIES = (("USD", ("US",)), ("GBP", ("GB",)), ("EUR", ("DE", "FR", "ES", "IT", "NL")))
OBJECTIVES = ("AWARENESS", "CONSIDERATION", "WEB_CONVERSION", "CATALOG_SALES", "VIDEO_COMPLETION")
AD_CREATIVES = (("REGULAR", 55), ("VIDEO", 15), ("CAROUSEL", 8), ("SHOPPING", 8), ("MAX_VIDEO", 4),
                ("IDEA", 4), ("COLLECTION", 3), ("QUIZ", 1.5), ("SHOWCASE", 1.5))
CTAS = ("LEARN_MORE", "SHOP_NOW", "BOOK_NOW", "SIGN_UP", "VISIT_SITE", "BUY_NOW", "GET_OFFER", "ORDER_NOW")
REJECTED_REASONS = ("HASHTAGS", "PROMOTIONS_AND_PRICES", "LANDING_PAGE", "CAPS_AND_SYMBOLS", "LOW_QUALITY",
                    "IMAGE_LOW_QUALITY", "LANDING_PAGE_BROKEN", "EXAGGERATED_CLAIMS")
CONVERSION_EVENTS = ("PAGE_VISIT", "SIGNUP", "CHECKOUT", "CUSTOM", "ADD_TO_CART", "LEAD")
AGE_BUCKETS = ("18-24", "25-34", "35-44", "45-49", "50-54", "55-64", "65+")
APP_TYPES = ("android_mobile", "android_tablet", "ipad", "iphone", "web", "web_mobile")
LOCALES = {"US": "en-US", "GB": "en-GB", "DE": "de", "FR": "fr", "ES": "es", "IT": "it", "NL": "nl"}

BRANDS = ("Acme Home", "Northwind Outdoors", "Blue Fern Kitchen", "Lumen Beauty", "Harbor & Pine", "Velvet Loom",
          "Trailhead Gear", "Copper Kettle", "Mossy Stone Garden", "Orbit Toys", "Saltwater Linen", "Juniper Pets")
THEMES = ("Spring Sale", "Summer Collection", "Back to School", "Holiday Gifts", "Black Friday", "New Arrivals",
          "Evergreen", "Brand Awareness", "Retargeting", "Catalog", "Clearance", "Wedding Season", "Home Refresh",
          "Cozy Fall", "Valentine's Day", "Prospecting")
AUDIENCES = ("Women 25-44", "Men 25-54", "Parents", "DIY Enthusiasts", "Home Decor", "Foodies", "Travelers",
             "Lookalike 1%", "Site Visitors 30d", "Broad", "Interest: Gardening", "Interest: Fitness")
SUBJECTS = ("linen duvet cover", "ceramic planter", "cast iron skillet", "hiking backpack", "rattan lamp",
            "vegan lip balm", "oak side table", "wool throw", "herb garden kit", "dog rain jacket",
            "copper kettle", "wedding centerpiece", "kids' craft set", "reading nook", "sourdough starter",
            "minimalist desk setup", "boho living room", "fall wreath", "meal prep containers", "yoga mat")
ADJECTIVES = ("Easy", "Cozy", "Modern", "Rustic", "Budget", "Bright", "Small-space", "Timeless", "Quick", "Bold")
COLORS = ("#6E7874", "#C8B7A6", "#2F4858", "#F6AE2D", "#86BBD8", "#33658A", "#F26419", "#E0E0E0", "#A3B18A",
          "#3A5A40", "#D4A373", "#BC6C25")


# the owner's boards: board k has id BOARD_BASE + k * BOARD_STEP; boards 3 and 8 are secret, so
# the pins on them are "protected pins" (listed only with include_protected_pins and a token
# with the pins:read_secret scope)
BOARDS, BOARD_BASE, BOARD_STEP = 12, 400_000_000_000_000_000, 7_919_000_003
SECRET_BOARDS = frozenset(str(BOARD_BASE + k * BOARD_STEP) for k in (3, 8))


def is_protected(pin: dict) -> bool:
    """Whether the pin is on one of the owner's secret boards."""
    return pin.get("board_id") in SECRET_BOARDS


def to_ord(day: dt.date) -> int:
    """Days since 1970-01-01 (the fake's integer day key)."""
    return (day - EPOCH).days


def from_ord(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=n)


def _weighted(rng: random.Random, table) -> str:
    items = [k for k, _ in table]
    cum, total = [], 0.0
    for _, w in table:
        total += w
        cum.append(total)
    return items[min(bisect_left(cum, rng.random() * total), len(items) - 1)]


def _statuses(rng: random.Random, n: int) -> list[str]:
    """``n`` statuses in the configured mix: largest-remainder quotas, shuffled (small sets still mix)."""
    quotas = [(status, n * weight / 100) for status, weight in STATUS_WEIGHTS]
    counts = {status: int(q) for status, q in quotas}
    by_remainder = sorted(quotas, key=lambda sq: sq[1] - int(sq[1]), reverse=True)
    for status, _ in by_remainder[: n - sum(counts.values())]:
        counts[status] += 1
    out = [status for status, _ in STATUS_WEIGHTS for _ in range(counts[status])]
    rng.shuffle(out)
    return out


class Dataset:
    """A generated Pinterest dataset (see the module docstring).

    Args:
        seed: everything random derives from it.
        accounts: number of ad accounts.
        campaigns_per_account, ad_groups_per_campaign, ads_per_ad_group: the tree's shape.
        pins: number of pins owned by the token's user.
        today: the fake's "today" (UTC); defaults to the current UTC date.
        history_days: entities are created within this many days before ``today``.
        catalogs: number of the user's catalogs (0: the user has no catalog; the catalog
            routes then answer 403).

    Attributes:
        ad_accounts, campaigns, ad_groups, ads, pins: lists of API items (dicts). Campaigns,
            ad groups and ads are in id order; pins in id (= creation) order.
        keywords: ``Keyword`` items of the ad groups, campaigns and ad accounts, in id order.
        audiences, customer_lists, conversion_tags, product_group_promotions, boards, catalogs,
            catalog_feeds, catalog_product_groups: API items, in id order.
        audience_ownership: ``{audience id: "OWNED" | "RECEIVED"}`` (the API's
            ``ownership_type`` filter; an audience does not carry it).
        board_sections: ``{board_id: [BoardSection, ...]}``.
        feed_passwords: the passwords inside the feeds' ``credentials`` (a test checks none is stored).
        user_account: the token user's ``Account``.
        activity: ``{"advertiser"|"campaign"|"ad_group"|"ad"|"keyword"|"product_group": {id:
            (first_day, last_day)}}`` with day ordinals (:func:`to_ord`); ``first > last`` means
            the entity never delivered ("advertiser" is keyed by ad account id,
            "product_group" by product group promotion id).
    """

    def __init__(self, seed: int = 7, accounts: int = 3, campaigns_per_account: int = 8,
                 ad_groups_per_campaign: int = 3, ads_per_ad_group: int = 5, pins: int = 120,
                 today: dt.date | None = None, history_days: int = 120, catalogs: int = 3):
        if today is None:
            today = clock.today()
        if history_days < 1:
            raise ValueError("history_days must be at least 1")
        self.seed = seed
        self.n_accounts = accounts
        self.campaigns_per_account = campaigns_per_account
        self.ad_groups_per_campaign = ad_groups_per_campaign
        self.ads_per_ad_group = ads_per_ad_group
        self.n_pins = pins
        self.n_catalogs = catalogs
        self.today = today
        self.history_days = history_days
        self.today_ord = to_ord(today)
        self.today_epoch = self.today_ord * DAY

        self._rng = random.Random(f"pinsync-fake:{seed}")
        self.ad_accounts: list[dict] = []
        self.campaigns: list[dict] = []
        self.ad_groups: list[dict] = []
        self.ads: list[dict] = []
        self.pins: list[dict] = []
        self.keywords: list[dict] = []
        self.activity: dict[str, dict[str, tuple[int, int]]] = {"campaign": {}, "ad_group": {}, "ad": {},
                                                                "keyword": {}, "advertiser": {}, "product_group": {}}
        self.owner_username = ""
        self._next_pin_id = 0

        self._gen_accounts()
        self._gen_pins(pins)
        self._gen_campaigns()
        self._gen_ad_groups()
        self._gen_ads()
        self._gen_keywords()
        self._advertiser_windows()
        self._gen_objects()
        self.reindex()

    def advance(self, days: int = 1) -> "Dataset":
        """The same world ``days`` later (e.g. a benchmark's run "the next day"): ``today``
        moves on; entities that were delivering up to today go on delivering (within
        their end time); nothing else changes, so every earlier day's analytics stay
        the same. Call it before the dataset is served. Returns the dataset."""
        old = self.today_ord
        self.today = self.today + dt.timedelta(days=days)
        self.today_ord = to_ord(self.today)
        self.today_epoch = self.today_ord * DAY
        for level, windows in self.activity.items():
            items = self.by_level(level)
            for entity_id, (first, last) in windows.items():
                if last == old and first <= last:
                    end_time = items[entity_id].get("end_time")
                    windows[entity_id] = (first, self.today_ord if end_time is None
                                          else min(self.today_ord, (end_time - 1) // DAY))
        return self

    # ------------------------------------------------------------------ lookups
    def reindex(self) -> None:
        """Rebuild the id indexes (after items were added)."""
        self.account_by_id = {a["id"]: a for a in self.ad_accounts}
        self.campaign_by_id = {c["id"]: c for c in self.campaigns}
        self.ad_group_by_id = {g["id"]: g for g in self.ad_groups}
        self.ad_by_id = {a["id"]: a for a in self.ads}
        self.pin_by_id = {p["id"]: p for p in self.pins}
        self.keyword_by_id = {k["id"]: k for k in self.keywords}
        self.promotion_by_id = {p["id"]: p for p in self.product_group_promotions}
        self.board_by_id = {b["id"]: b for b in self.boards}

    def by_level(self, level: str) -> dict[str, dict]:
        """``{id: item}`` for ``advertiser`` (ad accounts), ``campaign``, ``ad_group``, ``ad``, ``keyword``
        or ``product_group`` (product group promotions)."""
        return {"advertiser": self.account_by_id, "campaign": self.campaign_by_id, "ad_group": self.ad_group_by_id,
                "ad": self.ad_by_id, "keyword": self.keyword_by_id, "product_group": self.promotion_by_id}[level]

    def lineage(self, level: str, entity_id: str) -> tuple[dict, dict | None, dict | None, dict | None]:
        """(ad account, campaign, ad group, ad) of an entity of ``level``; None above it."""
        item = self.by_level(level)[entity_id]
        if level == "advertiser":
            return item, None, None, None
        group = ad = None
        if level == "keyword" and item["parent_type"] == "advertiser":
            return self.account_by_id[item["parent_id"]], None, None, None
        if level == "keyword" and item["parent_type"] == "campaign":
            campaign = self.campaign_by_id[item["parent_id"]]
            return self.account_by_id[campaign["ad_account_id"]], campaign, None, None
        if level == "keyword":
            group = self.ad_group_by_id[item["parent_id"]]
        elif level == "product_group":
            group = self.ad_group_by_id[item["ad_group_id"]]
        elif level == "ad_group":
            group = item
        elif level == "ad":
            ad, group = item, self.ad_group_by_id[item["ad_group_id"]]
        campaign = self.campaign_by_id[group["campaign_id"] if group else item["id"]]
        return self.account_by_id[campaign["ad_account_id"]], campaign, group, ad

    def items(self, kind: str) -> list[dict]:
        """The item list for ``ad_accounts``, ``campaigns``, ``ad_groups``, ``ads`` or ``pins``."""
        return {"ad_accounts": self.ad_accounts, "campaigns": self.campaigns, "ad_groups": self.ad_groups,
                "ads": self.ads, "pins": self.pins}[kind]

    def __repr__(self) -> str:
        return (f"Dataset(seed={self.seed}, accounts={len(self.ad_accounts)}, campaigns={len(self.campaigns)}, "
                f"ad_groups={len(self.ad_groups)}, ads={len(self.ads)}, pins={len(self.pins)}, today={self.today})")

    # ------------------------------------------------------------------ helpers
    def _ids(self, n: int, base: int, lo: int, hi: int) -> list[str]:
        rng, cur, out = self._rng, base, []
        for _ in range(n):
            cur += rng.randint(lo, hi)
            out.append(str(cur))
        return out

    def _history_time(self) -> int:
        """A second in the history window, before today."""
        return self.today_epoch - self.history_days * DAY + self._rng.randrange(self.history_days * DAY)

    def _between(self, lo: int, hi: int) -> int:
        return lo if hi <= lo else self._rng.randint(lo, hi)

    def _tracking_urls(self) -> dict | None:
        rng = self._rng
        if rng.random() < 0.7:
            return None
        tag = rng.getrandbits(32)
        return {"impression": [f"https://ad.tracker.example/imp?c={tag:x}"],
                "click": [f"https://ad.tracker.example/clk?c={tag:x}"],
                "engagement": [], "buyable_button": [], "audience_verification": []}

    # ------------------------------------------------------------------ accounts
    def _gen_accounts(self) -> None:
        rng = self._rng
        owner_id = str(rng.randint(10 ** 17, 10 ** 18 - 1))
        brands = list(BRANDS)
        rng.shuffle(brands)
        self.owner_username = brands[0].lower().replace(" & ", "_").replace(" ", "")
        ids = self._ids(self.n_accounts, 9_500_000_000_000_000 + rng.randrange(10 ** 12), 10 ** 6, 10 ** 9)
        for i, acc_id in enumerate(ids):
            currency, countries = CURRENCIES[i % len(CURRENCIES)]
            country = countries[rng.randrange(len(countries))]
            created = self.today_epoch - (self.history_days + rng.randint(30, 700)) * DAY + rng.randrange(DAY)
            brand = brands[i % len(brands)]
            self.ad_accounts.append({
                "id": acc_id,
                "name": f"{brand} - {country}" if i < len(brands) else f"{brand} - {country} {i}",
                "owner": {"id": owner_id, "username": self.owner_username},
                "country": country,
                "currency": currency,
                "permissions": ["OWNER"] if i == 0 else [rng.choice(("ADMIN", "ANALYST", "CAMPAIGN_MANAGER"))],
                "created_time": created,
                "updated_time": self._between(created, self.today_epoch - 1) if rng.random() < 0.9 else None,
            })

    # ------------------------------------------------------------------ pins
    def _pin_id_base(self) -> int:
        if not self._next_pin_id:
            self._next_pin_id = 300_000_000_000_000_000 + self._rng.randrange(10 ** 15)
        return self._next_pin_id

    def _gen_pins(self, n: int) -> None:
        times = sorted(self._history_time() for _ in range(n))
        self.pins = [self.make_pin(t) for t in times]

    def make_pin(self, created: int) -> dict:
        """A new pin created at epoch second ``created`` (ids keep increasing)."""
        rng = self._rng
        self._next_pin_id = self._pin_id_base() + rng.randint(10 ** 6, 10 ** 10)
        pin_id = str(self._next_pin_id)
        subject = SUBJECTS[rng.randrange(len(SUBJECTS))]
        title = f"{ADJECTIVES[rng.randrange(len(ADJECTIVES))]} {subject} ideas"
        digest = f"{rng.getrandbits(128):032x}"
        images = {}
        for size, (w, h) in (("150x150", (150, 150)), ("400x300", (400, 300)), ("600x", (600, 900)),
                             ("1200x", (1200, 1800))):
            images[size] = {"width": w, "height": h,
                            "url": f"https://i.pinimg.com/{size}/{digest[:2]}/{digest[2:4]}/{digest[4:6]}/{digest}.jpg"}
        if rng.random() < 0.7:      # draws once spent on pin_metrics: kept, so the rest of the dataset stays the same
            rng.randint(0, 50_000), rng.randint(40, 400), rng.randint(20, 200)
            rng.randint(0, 50), rng.randint(0, 5000), rng.randint(0, 20), rng.randint(0, 80), rng.randint(0, 12)
        return {
            "id": pin_id,
            "created_at": dt.datetime.fromtimestamp(created, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            "title": title if rng.random() < 0.92 else None,
            "description": (f"{title}. Save this pin for later - our favourite {subject} picks for every budget."
                            if rng.random() < 0.85 else None),
            "link": f"https://shop.example.com/p/{subject.replace(' ', '-').replace(chr(39), '')}-{pin_id[-5:]}"
                    if rng.random() < 0.8 else None,
            "alt_text": f"Photo of a {subject}" if rng.random() < 0.5 else None,
            "board_id": str(BOARD_BASE + rng.randrange(BOARDS) * BOARD_STEP),
            "board_section_id": str(500_000_000_000_000_000 + rng.randrange(10 ** 12)) if rng.random() < 0.25
            else None,
            "board_owner": {"username": self.owner_username},
            "creative_type": "SHOPPING" if rng.random() < 0.15 else "REGULAR",
            "dominant_color": COLORS[rng.randrange(len(COLORS))] if rng.random() < 0.95 else None,
            "media": {"media_type": "image", "images": images},
            "parent_pin_id": str(100_000_000_000_000_000 + rng.randrange(10 ** 17)) if rng.random() < 0.15
            else None,
            "pin_metrics": None,          # filled from the analytics when asked for (pin_metrics=true)
            "has_been_promoted": False,
            "is_owner": rng.random() < 0.97,
            "is_standard": rng.random() < 0.9,
        }

    # ------------------------------------------------------------------ campaigns
    def _window(self, status: str, start: int, parent: tuple[int, int] | None,
                end_time: int | None) -> tuple[tuple[int, int], int | None]:
        """(first_day, last_day) of delivery and the day it stopped (paused/archived), if any."""
        rng = self._rng
        first = start // DAY
        last = self.today_ord
        stopped = None
        if status in ("DRAFT", "DELETED_DRAFT"):
            return (first, first - 1), None
        if status in ("PAUSED", "ARCHIVED"):
            stopped = self._between(first, self.today_ord - 1)
            last = stopped
        if end_time is not None:
            last = min(last, (end_time - 1) // DAY)
        if parent is not None:
            first, last = max(first, parent[0]), min(last, parent[1])
        if rng.random() < 0.04:   # some entities never delivered (budget too low, rejected, ...)
            last = first - 1
        return (first, last), stopped

    def _updated(self, created: int, stopped: int | None) -> int:
        if stopped is not None:
            return max(created, stopped * DAY + self._rng.randrange(DAY))
        return self._between(created, self.today_epoch - 1)

    def _gen_campaigns(self) -> None:
        rng = self._rng
        raw = []
        for acc in self.ad_accounts:
            for _ in range(self.campaigns_per_account):
                raw.append((self._history_time(), acc))
        raw.sort(key=lambda r: r[0])
        ids = self._ids(len(raw), 62_673_653_350_000_000 + rng.randrange(10 ** 12), 10 ** 5, 10 ** 8)
        statuses = _statuses(rng, len(raw))
        for (created, acc), cid, status in zip(raw, ids, statuses):
            objective = rng.choice(OBJECTIVES)
            start = created + rng.randrange(2 * DAY)
            end_time = start + rng.randint(14, 150) * DAY if rng.random() < 0.3 else None
            cbo = rng.random() < 0.2
            window, stopped = self._window(status, start, None, end_time)
            daily = lifetime = None
            if cbo or rng.random() < 0.5:
                if rng.random() < 0.6:
                    daily = rng.randint(20, 2000) * 1_000_000
                else:
                    lifetime = rng.randint(500, 50_000) * 1_000_000
            if status == "ACTIVE":
                summary = "COMPLETED" if end_time is not None and end_time < self.today_epoch else "RUNNING"
            else:
                summary = status
            theme = THEMES[rng.randrange(len(THEMES))]
            self.campaigns.append({
                "id": cid,
                "ad_account_id": acc["id"],
                "name": f"{theme} {from_ord(created // DAY).year} - {objective.replace('_', ' ').title()}",
                "status": status,
                "lifetime_spend_cap": lifetime,
                "daily_spend_cap": daily,
                "order_line_id": str(549_755_000_000 + rng.randrange(10 ** 6)) if rng.random() < 0.2 else None,
                "tracking_urls": self._tracking_urls(),
                "start_time": start,
                "end_time": end_time,
                "is_flexible_daily_budgets": rng.random() < 0.15 if rng.random() < 0.9 else None,
                "is_campaign_budget_optimization": cbo,
                "is_automated_campaign": rng.random() < 0.1,
                "is_performance_plus": rng.random() < 0.15,
                "bid_options": ({"app_type_multipliers": {"iphone": 1.2, "web": 0.9}, "audience_multipliers": {},
                                 "placement_multipliers": None} if rng.random() < 0.1 else None),
                "objective_type": objective,
                "created_time": created,
                "updated_time": self._updated(created, stopped),
                "type": "campaign",
                "summary_status": summary,
            })
            self.activity["campaign"][cid] = window

    # ------------------------------------------------------------------ ad groups
    def _gen_ad_groups(self) -> None:
        rng = self._rng
        raw = []
        for camp in self.campaigns:
            for _ in range(self.ad_groups_per_campaign):
                created = min(camp["created_time"] + rng.randrange(3 * DAY), self.today_epoch - 1)
                raw.append((created, camp))
        raw.sort(key=lambda r: r[0])
        accounts = {a["id"]: a for a in self.ad_accounts}
        ids = self._ids(len(raw), 26_800_607_040_000_000 + rng.randrange(10 ** 12), 10 ** 5, 10 ** 8)
        statuses = _statuses(rng, len(raw))
        for (created, camp), gid, status in zip(raw, ids, statuses):
            acc = accounts[camp["ad_account_id"]]
            objective = camp["objective_type"]
            start = max(created, camp["start_time"] or created)
            end_time = camp["end_time"] if camp["end_time"] and rng.random() < 0.5 else None
            window, stopped = self._window(status, start, self.activity["campaign"][camp["id"]], end_time)
            billable = {"AWARENESS": "IMPRESSION", "VIDEO_COMPLETION": "VIDEO_V_50_MRC"}.get(objective, "CLICKTHROUGH")
            cbo = camp["is_campaign_budget_optimization"]
            budget_type = "CBO_ADGROUP" if cbo else ("LIFETIME" if end_time and rng.random() < 0.5 else "DAILY")
            country = acc["country"]
            goal = None
            if objective == "WEB_CONVERSION" or (objective == "CATALOG_SALES" and rng.random() < 0.5):
                goal = {"conversion_tag_v3_goal_metadata": {
                    "attribution_windows": {"click_window_days": 30, "engagement_window_days": 30,
                                            "view_window_days": 1},
                    "conversion_event": rng.choice(CONVERSION_EVENTS),
                    "conversion_tag_id": str(2_614_000_000_000 + rng.randrange(10 ** 6)),
                    "cpa_goal_value_in_micro_currency": str(rng.randint(2, 60) * 1_000_000),
                    "is_roas_optimized": rng.random() < 0.2,
                    "learning_mode_type": rng.choice(("ACTIVE", "NOT_ACTIVE")),
                }}
            elif objective == "AWARENESS" and rng.random() < 0.3:
                goal = {"frequency_goal_metadata": {"frequency": rng.randint(2, 20), "timerange": "SEVEN_DAY"}}
            age_lo = rng.randrange(4)
            targeting = {
                "AGE_BUCKET": list(AGE_BUCKETS[age_lo:age_lo + rng.randint(2, 4)]),
                "APPTYPE": sorted(rng.sample(APP_TYPES, rng.randint(2, 6))),
                "GENDER": rng.choice((["female"], ["male"], ["female", "male", "unknown"])),
                "LOCALE": [LOCALES.get(country, "en-US")],
                "LOCATION": [country],
                "INTEREST": [str(900_000_000_000 + rng.randrange(10 ** 9)) for _ in range(rng.randint(0, 3))],
                "TARGETING_STRATEGY": [rng.choice(("CHOOSE_YOUR_OWN", "FIND_NEW_CUSTOMERS", "RECONNECT_WITH_USERS"))],
            }
            if rng.random() < 0.2:
                targeting["AUDIENCE_INCLUDE"] = [str(2_542_620_000_000 + rng.randrange(10 ** 6))]
            if rng.random() < 0.1:
                targeting["SHOPPING_RETARGETING"] = [{"lookback_window": 30, "exclusion_window": 14,
                                                      "tag_types": [0, 6]}]
            if status == "ACTIVE":
                summary = "COMPLETED" if end_time is not None and end_time < self.today_epoch else "RUNNING"
            else:
                summary = status
            self.ad_groups.append({
                "id": gid,
                "campaign_id": camp["id"],
                "ad_account_id": camp["ad_account_id"],
                "name": f"{AUDIENCES[rng.randrange(len(AUDIENCES))]} - {country} - {gid[-4:]}",
                "status": status,
                "budget_in_micro_currency": None if cbo else rng.randint(5, 500) * 1_000_000,
                "bid_in_micro_currency": rng.randint(1, 40) * 100_000 if rng.random() < 0.6 else None,
                "optimization_goal_metadata": goal,
                "budget_type": budget_type,
                "start_time": start,
                "end_time": end_time,
                "targeting_spec": targeting,
                "lifetime_frequency_cap": rng.randint(3, 20) if billable == "IMPRESSION" and rng.random() < 0.3 else 0,
                "tracking_urls": self._tracking_urls(),
                "auto_targeting_enabled": rng.random() < 0.6 if rng.random() < 0.95 else None,
                "placement_group": rng.choice(("ALL", "ALL", "ALL", "SEARCH", "BROWSE")),
                "pacing_delivery_type": "STANDARD" if cbo or rng.random() < 0.85 else "ACCELERATED",
                "conversion_learning_mode_type": (rng.choice(("ACTIVE", "NOT_ACTIVE")) if goal else None),
                "summary_status": summary,
                "feed_profile_id": str(626_736_000_000 + rng.randrange(10 ** 6)) if objective == "CATALOG_SALES"
                else "0",
                "billable_event": billable,
                "type": "adgroup",
                "bid_strategy_type": rng.choice(("AUTOMATIC_BID", "AUTOMATIC_BID", "MAX_BID", "TARGET_AVG")),
                "targeting_template_ids": [str(rng.randint(100, 9999))] if rng.random() < 0.05 else None,
                "is_creative_optimization": rng.random() < 0.1 if objective == "CATALOG_SALES" else False,
                "promotion_id": str(7_834_020_000_000 + rng.randrange(10 ** 6)) if rng.random() < 0.05 else None,
                "promotion_application_level": None,
                "bid_multiplier": round(rng.uniform(0.5, 3.0), 2) if rng.random() < 0.15 else None,
                "dca_assets": ({"titles": ["Shop the look"], "call_to_actions": ["SHOP_NOW"]}
                               if rng.random() < 0.05 else None),
                "created_time": created,
                "updated_time": self._updated(created, stopped),
            })
            g = self.ad_groups[-1]
            if g["promotion_id"] is not None:
                g["promotion_application_level"] = rng.choice(("ITEM", "AD_GROUP"))
            self.activity["ad_group"][gid] = window

    # ------------------------------------------------------------------ ads
    def _gen_ads(self) -> None:
        rng = self._rng
        raw = []
        for grp in self.ad_groups:
            for _ in range(self.ads_per_ad_group):
                created = min(grp["created_time"] + rng.randrange(2 * DAY), self.today_epoch - 1)
                raw.append((created, grp))
        raw.sort(key=lambda r: r[0])
        ids = self._ids(len(raw), 68_719_513_430_000_000 + rng.randrange(10 ** 12), 10 ** 5, 10 ** 7)
        statuses = _statuses(rng, len(raw))
        promotable = self.pins[: max(1, len(self.pins) * 3 // 10)] if self.pins else []
        for (created, grp), aid, status in zip(raw, ids, statuses):
            creative = _weighted(rng, AD_CREATIVES)
            window, stopped = self._window(status, max(created, grp["start_time"] or created),
                                           self.activity["ad_group"][grp["id"]], None)
            if promotable and rng.random() < 0.7:
                pin = promotable[rng.randrange(len(promotable))]
                pin["has_been_promoted"] = True
                pin_id = pin["id"]
            else:
                pin_id = str(700_000_000_000_000_000 + rng.randrange(10 ** 17))
            r = rng.random()
            review = "REJECTED" if r < 0.05 else ("PENDING" if r < 0.07 else "APPROVED")
            if status == "ACTIVE":
                summary = {"REJECTED": "REJECTED", "PENDING": "PENDING"}.get(review, "APPROVED")
            else:
                summary = status
            landing = f"https://shop.example.com/lp/{aid[-6:]}?utm_source=pinterest"
            carousel = creative == "CAROUSEL"
            n_cards = rng.randint(2, 5)
            quiz = None
            if creative == "QUIZ":
                quiz = {"questions": [{"question_id": q, "question_text": f"Question {q}?",
                                       "options": [{"id": o, "text": f"Option {o}"} for o in (1, 2, 3)]}
                                      for q in (1, 2, 3)],
                        "results": [{"organic_pin_id": pin_id, "android_deep_link": None, "ios_deep_link": None,
                                     "destination_url": landing, "result_id": k} for k in (1, 2, 3)],
                        "tie_breaker_type": "RANDOM", "tie_breaker_custom_result": None}
            self.ads.append({
                "ad_group_id": grp["id"],
                "android_deep_link": None if rng.random() < 0.9 else f"example://product/{aid[-6:]}",
                "carousel_android_deep_links": ([f"example://card/{k}" for k in range(n_cards)]
                                                if carousel else None),
                "carousel_destination_urls": [f"{landing}&card={k}" for k in range(n_cards)] if carousel else None,
                "carousel_ios_deep_links": [f"example://card/{k}" for k in range(n_cards)] if carousel else None,
                "click_tracking_url": "https://ad.tracker.example/click" if rng.random() < 0.2 else None,
                "creative_type": creative,
                "destination_url": landing if rng.random() < 0.95 else None,
                "ios_deep_link": None if rng.random() < 0.9 else f"example://product/{aid[-6:]}",
                "is_pin_deleted": rng.random() < 0.02,
                "is_removable": rng.random() < 0.5,
                "name": f"{creative.title()} ad {aid[-5:]}" if rng.random() < 0.95 else None,
                "status": status,
                "tracking_urls": self._tracking_urls(),
                "view_tracking_url": "https://ad.tracker.example/view" if rng.random() < 0.2 else None,
                "lead_form_id": str(1_000_000_000_000 + rng.randrange(10 ** 9)) if rng.random() < 0.05 else None,
                "grid_click_type": rng.choice(("CLOSEUP", "DIRECT_TO_DESTINATION")),
                "customizable_cta_type": rng.choice(CTAS) if rng.random() < 0.6 else None,
                "quiz_pin_data": quiz,
                "disclosure_type": None,
                "disclosure_url": None,
                "pin_id": pin_id,
                "ad_account_id": grp["ad_account_id"],
                "campaign_id": grp["campaign_id"],
                "collection_items_destination_url_template": (f"{landing}&item={{item_id}}"
                                                              if creative == "COLLECTION" else None),
                "created_time": created,
                "id": aid,
                "rejected_reasons": rng.sample(REJECTED_REASONS, rng.randint(1, 2)) if review == "REJECTED" else [],
                "rejection_labels": (["Landing page does not match the Pin"] if review == "REJECTED" else []),
                "review_status": review,
                "type": "pinpromotion",
                "updated_time": self._updated(created, stopped),
                "summary_status": summary,
            })
            self.activity["ad"][aid] = window

    # ------------------------------------------------------------------ keywords
    def _gen_keywords(self) -> None:
        rng = random.Random(f"pinsync-fake:{self.seed}:keywords")   # its own stream: nothing else moves
        cur = 541_000_000_000_000_000 + rng.randrange(10 ** 12)
        for grp in self.ad_groups:
            first, last = self.activity["ad_group"][grp["id"]]
            for _ in range(rng.randint(0, 3)):
                cur += rng.randint(10 ** 5, 10 ** 8)
                kid = str(cur)
                match = _weighted(rng, (("BROAD", 45), ("PHRASE", 30), ("EXACT", 20), ("EXACT_NEGATIVE", 3),
                                        ("PHRASE_NEGATIVE", 2)))
                value = f"{ADJECTIVES[rng.randrange(len(ADJECTIVES))].lower()} {SUBJECTS[rng.randrange(len(SUBJECTS))]}"
                self.keywords.append({"id": kid, "archived": grp["status"] == "ARCHIVED" or rng.random() < 0.05,
                                      "parent_id": grp["id"], "parent_type": "ad_group", "type": "keyword",
                                      "bid": None, "match_type": match, "value": value})
                window = (first + rng.randint(0, 5), last)
                if match.endswith("_NEGATIVE"):
                    window = (first, first - 1)
                self.activity["keyword"][kid] = window

    def _advertiser_windows(self) -> None:
        spans: dict[str, list[tuple[int, int]]] = {a["id"]: [] for a in self.ad_accounts}
        for c in self.campaigns:
            first, last = self.activity["campaign"][c["id"]]
            if first <= last:
                spans[c["ad_account_id"]].append((first, last))
        for acc_id, windows in spans.items():
            self.activity["advertiser"][acc_id] = ((min(f for f, _ in windows), max(la for _, la in windows))
                                                   if windows else (self.today_ord, self.today_ord - 1))

    # ------------------------------------------------------------------ other objects
    def _gen_objects(self) -> None:
        """Keywords of campaigns and accounts, audiences, customer lists, conversion tags, the
        user's account, boards, catalogs and product group promotions: each from a random
        stream of its own (nothing generated before changes)."""
        def rng(name: str) -> random.Random:
            return random.Random(f"pinsync-fake:{self.seed}:{name}")

        self._gen_parent_keywords(rng("parent-keywords"))
        self._gen_audiences(rng("audiences"))
        self._gen_conversion_tags(rng("conversion-tags"))
        self._gen_user_account(rng("user-account"))
        self._gen_boards(rng("boards"))
        self._gen_catalogs(rng("catalogs"))
        self._gen_promotions(rng("promotions"))

    def _epoch_before(self, rng: random.Random, days: int) -> int:
        return self.today_epoch - rng.randint(1, days) * DAY + rng.randrange(DAY)

    @staticmethod
    def _iso(epoch: int) -> str:
        return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")

    def _gen_parent_keywords(self, rng: random.Random) -> None:
        cur = 542_000_000_000_000_000 + rng.randrange(10 ** 12)
        parents = [("advertiser", a["id"], rng.randint(1, 3)) for a in self.ad_accounts]
        parents += [("campaign", c["id"], rng.randint(0, 2)) for c in self.campaigns]
        for parent_type, parent_id, n in parents:
            for _ in range(n):
                cur += rng.randint(10 ** 5, 10 ** 8)
                value = f"{ADJECTIVES[rng.randrange(len(ADJECTIVES))].lower()} {SUBJECTS[rng.randrange(len(SUBJECTS))]}"
                kid = str(cur)
                self.keywords.append({"id": kid, "archived": rng.random() < 0.1, "parent_id": parent_id,
                                      "parent_type": parent_type, "type": "keyword", "bid": None,
                                      "match_type": rng.choice(("EXACT_NEGATIVE", "PHRASE_NEGATIVE")),
                                      "value": value})
                self.activity["keyword"][kid] = (self.today_ord, self.today_ord - 1)   # negatives never deliver
        self.keywords.sort(key=lambda k: int(k["id"]))

    def _gen_audiences(self, rng: random.Random) -> None:
        self.audiences, self.customer_lists, self.audience_ownership = [], [], {}
        aud_id = 2_542_620_000_000 + rng.randrange(10 ** 6)
        list_id = 5_497_558_000_000 + rng.randrange(10 ** 6)
        companies = ("Northwind Data Co", "Blue Fern Media", "Harbor Analytics")
        for acc in self.ad_accounts:
            for _ in range(rng.randint(2, 4)):
                list_id += rng.randint(10, 10 ** 4)
                created = self._epoch_before(rng, self.history_days + 200)
                uploaded = rng.randint(80, 90_000)
                self.customer_lists.append({
                    "id": str(list_id), "ad_account_id": acc["id"], "type": "customerlist",
                    "name": f"{rng.choice(('Newsletter', 'Purchasers', 'Loyalty', 'Lapsed'))} list {list_id % 1000}",
                    "status": "TOO_SMALL" if uploaded < 100 else rng.choice(("READY", "READY", "PROCESSING")),
                    "num_batches": rng.randint(1, 12), "num_removed_user_records": rng.randint(0, uploaded // 10),
                    "num_uploaded_user_records": uploaded,
                    "exceptions": {} if rng.random() < 0.8 else {"code": 2, "message": "Some records had no match"},
                    "created_time": created, "updated_time": self._between_rng(rng, created, self.today_epoch - 1)})
            lists = [c["id"] for c in self.customer_lists if c["ad_account_id"] == acc["id"]]
            for ownership, n in (("OWNED", rng.randint(3, 6)), ("RECEIVED", rng.randint(1, 3))):
                for _ in range(n):
                    aud_id += rng.randint(10, 10 ** 5)
                    kind = rng.choice(("CUSTOMER_LIST", "VISITOR", "ENGAGEMENT", "ACTALIKE"))
                    rule = {"CUSTOMER_LIST": {"customer_list_id": rng.choice(lists)},
                            "VISITOR": {"visitor_source_id": [str(2_614_000_000_000 + rng.randrange(10 ** 6))],
                                        "retention_days": rng.choice((30, 90, 180)),
                                        "event_source": {"=": ["web", "mobile"]}, "ingestion_source": {"=": ["tag"]}},
                            "ENGAGEMENT": {"engagement_domain": ["www.example.com"], "engager_type": rng.randint(1, 2)},
                            "ACTALIKE": {"seed_id": [str(aud_id - 7)], "country": acc["country"],
                                         "percentage": str(rng.randint(1, 10))}}[kind]
                    created = self._epoch_before(rng, self.history_days + 100)
                    size = rng.choice((None, rng.randint(100, 5_000_000)))
                    self.audiences.append({
                        "id": str(aud_id), "ad_account_id": acc["id"], "audience_type": kind, "type": "audience",
                        "name": f"{AUDIENCES[rng.randrange(len(AUDIENCES))]} ({kind.lower().replace('_', ' ')})",
                        "description": rng.choice((None, "Built for retargeting", "Seed for lookalikes")),
                        "created_by_company_name": rng.choice(companies) if ownership == "RECEIVED" else None,
                        "rule": rule, "size": size,
                        "status": ("TOO_SMALL" if size is not None and size < 100
                                   else rng.choice(("READY", "READY", "INITIALIZING"))),
                        "created_timestamp": created,
                        "updated_timestamp": self._between_rng(rng, created, self.today_epoch - 1)})
                    self.audience_ownership[str(aud_id)] = ownership
        self.audiences.sort(key=lambda a: int(a["id"]))

    def _gen_conversion_tags(self, rng: random.Random) -> None:
        """Tags of each account; ARCHIVED ones are the deleted tags (``filter_deleted=true`` hides them)."""
        self.conversion_tags = []
        tag_id = 2_614_100_000_000 + rng.randrange(10 ** 6)
        for acc in self.ad_accounts:
            statuses = ["ACTIVE", "ARCHIVED"] + [rng.choice(("ACTIVE", "PAUSED", "ARCHIVED"))
                                                 for _ in range(rng.randint(0, 2))]
            for status in statuses:
                tag_id += rng.randint(10, 10 ** 5)
                fired = (self.today_epoch - rng.randrange(30 * DAY)) * 1000 + rng.randrange(1000)
                self.conversion_tags.append({
                    "id": str(tag_id), "ad_account_id": acc["id"], "name": f"{acc['name']} tag {tag_id % 1000}",
                    "code_snippet": f"<script type=text/javascript>pintrk('load', '{tag_id}');</script>",
                    "configs": {"aem_enabled": rng.random() < 0.5, "aem_db_enabled": False,
                                "aem_external_id_enabled": False, "aem_fnln_enabled": rng.random() < 0.3,
                                "aem_ge_enabled": False, "aem_loc_enabled": False, "aem_ph_enabled": rng.random() < 0.3,
                                "md_frequency": 1, "no_code_capi_domains": []},
                    "enhanced_match_status": rng.choice((None, "UNKNOWN", "VALIDATION_COMPLETE")),
                    "last_fired_time_ms": fired if status == "ACTIVE" or rng.random() < 0.5 else None,
                    "status": status, "version": "3"})

    def _gen_user_account(self, rng: random.Random) -> None:
        owner = self.ad_accounts[0]["owner"] if self.ad_accounts else {"id": "1", "username": self.owner_username}
        self.user_account = {
            "account_type": "BUSINESS", "id": owner["id"], "username": owner["username"],
            "business_name": self.ad_accounts[0]["name"].split(" - ")[0] if self.ad_accounts else None,
            "about": "Ideas for a home you love.", "profile_image": f"https://i.pinimg.com/600x/{rng.getrandbits(64):016x}.jpg",
            "website_url": "https://shop.example.com", "board_count": None, "pin_count": len(self.pins),
            "follower_count": rng.randint(500, 90_000), "following_count": rng.randint(10, 800),
            "monthly_views": rng.randint(10_000, 4_000_000)}
        # the account's first day: before its oldest pin and ad account
        self.user_created_ord = self.today_ord - self.history_days - 400

    def _gen_boards(self, rng: random.Random) -> None:
        self.boards, self.board_sections = [], {}
        ids = sorted({p["board_id"] for p in self.pins})
        extra = int(ids[-1]) if ids else 400_000_000_000_000_000
        ids += [str(extra + 1_000_003), str(extra + 2_000_011)]          # boards without pins
        section_names = ("Inspiration", "To buy", "Favourites", "Ideas", "Gift guide", "Seasonal")
        for i, board_id in enumerate(ids):
            pins = [p for p in self.pins if p["board_id"] == board_id]
            subject = SUBJECTS[i % len(SUBJECTS)]
            privacy = "SECRET" if board_id in SECRET_BOARDS or i == len(ids) - 1 else (
                "PROTECTED" if i == len(ids) - 2 else "PUBLIC")
            created = min([int(dt.datetime.fromisoformat(p["created_at"]).replace(tzinfo=dt.timezone.utc).timestamp())
                           for p in pins] or [self.today_epoch - self.history_days * DAY]) - rng.randint(1, 30) * DAY
            self.boards.append({
                "id": board_id, "name": f"{subject.title()} {rng.choice(('ideas', 'finds', 'board'))}",
                "description": rng.choice((None, "Things we love", f"Our favourite {subject} picks")),
                "owner": {"username": self.owner_username}, "privacy": privacy, "is_ads_only": privacy == "PROTECTED",
                "created_at": self._iso(created),
                "board_pins_modified_at": max([p["created_at"] for p in pins] or [self._iso(created)]),
                "collaborator_count": rng.choice((0, 0, 1, 3)), "follower_count": rng.randint(0, 5000),
                "pin_count": len(pins),
                "media": {"image_cover_url": (pins[0]["media"]["images"]["600x"]["url"] if pins else None),
                          "pin_thumbnail_urls": [p["media"]["images"]["150x150"]["url"] for p in pins[:5]]}})
            sections = sorted({p["board_section_id"] for p in pins if p["board_section_id"]}, key=int)
            if rng.random() < 0.4:
                sections.append(str(500_000_000_000_000_000 + 10 ** 12 + rng.randrange(10 ** 9)))
            self.board_sections[board_id] = [{"id": sid, "name": f"{section_names[k % len(section_names)]} {k + 1}"}
                                             for k, sid in enumerate(sections)]

    def _gen_catalogs(self, rng: random.Random) -> None:
        self.catalogs, self.catalog_feeds, self.catalog_product_groups, self.feed_passwords = [], [], [], []
        cat_id = 864_344_156_814_050_000 + rng.randrange(10 ** 6)
        feed_id = 2_680_059_592_000 + rng.randrange(10 ** 6)
        group_id = 443_727_193_000 + rng.randrange(10 ** 6)
        kinds = ("RETAIL", "RETAIL", "HOTEL", "CREATIVE_ASSETS")
        country = self.ad_accounts[0]["country"] if self.ad_accounts else "US"
        for i in range(self.n_catalogs):
            cat_id += rng.randint(10 ** 3, 10 ** 6)
            kind = kinds[i % len(kinds)]
            created = self._epoch_before(rng, self.history_days + 300)
            self.catalogs.append({"id": str(cat_id), "name": rng.choice((None, f"{kind.title()} catalog {i + 1}")),
                                  "catalog_type": kind, "created_at": self._iso(created),
                                  "updated_at": self._iso(self._between_rng(rng, created, self.today_epoch - 1))})
            for j in range(rng.randint(1, 2)):
                feed_id += rng.randint(10 ** 3, 10 ** 6)
                f_created = self._between_rng(rng, created, self.today_epoch - 1)
                password = None if rng.random() < 0.5 else f"feed-pass-{rng.getrandbits(48):012x}"
                if password:
                    self.feed_passwords.append(password)
                feed = {"id": str(feed_id), "name": f"{kind.lower()} feed {j + 1}", "catalog_type": kind,
                        "created_at": self._iso(f_created),
                        "updated_at": self._iso(self._between_rng(rng, f_created, self.today_epoch - 1)),
                        "credentials": {"username": "feeds", "password": password} if password else None,
                        "default_currency": rng.choice(("USD", "GBP", "EUR", None)), "default_locale": "en-US",
                        "format": rng.choice(("TSV", "CSV", "XML")),
                        "location": f"https://shop.example.com/feeds/{feed_id}.tsv",
                        "preferred_processing_schedule": (None if rng.random() < 0.5 else {
                            "time": f"{rng.randrange(24):02d}:00", "timezone": "Europe/London"}),
                        "status": rng.choice(("ACTIVE", "ACTIVE", "INACTIVE"))}
                if kind == "RETAIL":
                    feed.update(default_availability=rng.choice(("IN_STOCK", None)), default_country=country)
                else:
                    feed["catalog_id"] = str(cat_id)
                    if kind == "CREATIVE_ASSETS":
                        feed["default_country"] = country
                self.catalog_feeds.append(feed)
                for k in range(rng.randint(2, 4)):
                    group_id += rng.randint(10 ** 3, 10 ** 6)
                    g_created = self._between_rng(rng, f_created, self.today_epoch - 1)
                    group = {"id": str(group_id), "name": rng.choice(("Most popular", "Sale", "New in", "Bestsellers"))
                             + f" {k + 1}", "description": rng.choice((None, "Hand-picked products")),
                             "catalog_id": str(cat_id), "catalog_type": kind,
                             "filters": {"any_of": [{"PRODUCT_TYPE_0": {
                                 "values": [SUBJECTS[(k + j) % len(SUBJECTS)]]}}]},
                             "created_at": g_created,
                             "updated_at": self._between_rng(rng, g_created, self.today_epoch - 1)}
                    if kind == "RETAIL":
                        group.update(feed_id=str(feed_id),
                                     type=rng.choice(("MERCHANT_CREATED", "TOP_SELLERS", "NEW_ARRIVALS")),
                                     status=rng.choice(("ACTIVE", "INACTIVE")), country=rng.choice((country, None)),
                                     locale=rng.choice(("en-US", None)), is_featured=rng.random() < 0.2)
                    elif kind == "HOTEL":
                        group["type"] = rng.choice(("MERCHANT_CREATED", "ALL_LISTINGS"))
                    self.catalog_product_groups.append(group)
        self.catalog_feeds.sort(key=lambda f: int(f["id"]))
        self.catalog_product_groups.sort(key=lambda g: int(g["id"]))

    def _gen_promotions(self, rng: random.Random) -> None:
        """Product group promotions of the ad groups of CATALOG_SALES campaigns (none without catalogs)."""
        self.product_group_promotions = []
        retail = [g for g in self.catalog_product_groups if g["catalog_type"] == "RETAIL"]
        if not retail:
            return
        pid = 2_680_061_000_000 + rng.randrange(10 ** 6)
        objectives = {c["id"]: c["objective_type"] for c in self.campaigns}
        for grp in self.ad_groups:
            if objectives[grp["campaign_id"]] != "CATALOG_SALES":
                continue
            first, last = self.activity["ad_group"][grp["id"]]
            for pg in rng.sample(retail, min(len(retail), rng.randint(1, 3))):
                pid += rng.randint(10, 10 ** 5)
                status = grp["status"] if rng.random() < 0.8 else rng.choice(api.ENTITY_STATUSES)
                self.product_group_promotions.append({
                    "id": str(pid), "ad_group_id": grp["id"], "catalog_product_group_id": pg["id"],
                    "catalog_product_group_name": pg["name"], "status": status, "creative_type": "SHOPPING",
                    "bid_in_micro_currency": rng.choice((None, rng.randint(1, 40) * 100_000)),
                    "included": rng.random() < 0.9, "definition": f"*/product_type_0='{pg['name'].lower()}'",
                    "relative_definition": None, "parent_id": None, "collections_header_type": None,
                    "collections_hero_destination_url": None, "collections_hero_pin_id": None,
                    "customizable_cta_type": rng.choice((None, "SHOP_NOW")),
                    "grid_click_type": rng.choice(("CLOSEUP", "DIRECT_TO_DESTINATION")),
                    "is_mdl": None, "is_generate_background": rng.choice((None, False)),
                    "preferred_media_type": rng.choice((None, "IMAGE", "VIDEO")), "selected_image_tag": None,
                    "selected_video_tag": None, "slideshow_collections_description": None,
                    "slideshow_collections_title": None, "tracking_url": rng.choice((None, "https://ad.tracker.example/pg"))})
                window = (first + rng.randint(0, 3), last)
                if status in ("DRAFT", "DELETED_DRAFT"):
                    window = (first, first - 1)
                self.activity["product_group"][str(pid)] = window

    @staticmethod
    def _between_rng(rng: random.Random, lo: int, hi: int) -> int:
        return lo if hi <= lo else rng.randint(lo, hi)
