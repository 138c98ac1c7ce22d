"""Tests for pinsync.client: retries, rate limits, auth refresh, errors and pagination.

Every HTTP exchange is mocked with ``responses``; waits go to a recorder, so nothing sleeps.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from pinsync.auth import StaticToken
from pinsync.client import PinterestClient, RetryPolicy
from pinsync.errors import ApiError, AuthError, RateLimitError
from pinsync.ratelimit import RateLimits

API = "https://api.example.test/v5"
PATH = "ad_accounts/549755885175/campaigns"
URL = f"{API}/{PATH}"
ENDPOINT = f"GET /{PATH}"
TOKEN = "pina_ACCESS-TOKEN-0123456789abcdef"
RATE_LIMITED = {"code": 8, "message": "This request exceeded a rate limit. This can happen if the client exceeds "
                                      "one of the published rate limits within a short time window."}


class FakeTokens:
    """A TokenProvider that hands out ``tokens`` in order, one per refresh."""

    def __init__(self, *tokens: str):
        self._tokens = list(tokens)
        self.current = self._tokens.pop(0)
        self.refreshed: list[str] = []

    def token(self) -> str:
        return self.current

    def refresh(self, rejected: str) -> str | None:
        self.refreshed.append(rejected)
        if not self._tokens:
            return None
        self.current = self._tokens.pop(0)
        return self.current


class Sleeps(list):
    """Records requested waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def rsps():
    with responses.RequestsMock(registry=OrderedRegistry) as r:
        yield r


def make_client(sleeps, tokens=None, **policy) -> PinterestClient:
    return PinterestClient(API, tokens or FakeTokens(TOKEN), policy=RetryPolicy(**policy), sleep=sleeps)


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# -- 429 -------------------------------------------------------------------------------


def test_429_waits_for_x_ratelimit_reset_then_returns_the_body(rsps, sleeps):
    rsps.get(URL, status=429, json=RATE_LIMITED, headers={"x-ratelimit-reset": "7"})
    rsps.get(URL, json={"items": [{"id": "1"}], "bookmark": None})
    assert make_client(sleeps).get_json(PATH) == {"items": [{"id": "1"}], "bookmark": None}
    assert sleeps == [7]
    assert len(rsps.calls) == 2


def test_429_waits_for_retry_after(rsps, sleeps):
    rsps.get(URL, status=429, json=RATE_LIMITED, headers={"Retry-After": "3"})
    rsps.get(URL, json={"ok": True})
    assert make_client(sleeps).get_json(PATH) == {"ok": True}
    assert sleeps == [3]


def test_429_server_wait_is_capped_at_max_wait(rsps, sleeps, caplog):
    rsps.get(URL, status=429, json=RATE_LIMITED, headers={"x-ratelimit-reset": "86400"})
    rsps.get(URL, json={"ok": True})
    assert make_client(sleeps, max_wait=30).get_json(PATH) == {"ok": True}
    assert sleeps == [30]
    assert any("capped" in r.getMessage() for r in caplog.records)


def test_429_without_headers_backs_off_exponentially(rsps, sleeps):
    for _ in range(2):
        rsps.get(URL, status=429, json=RATE_LIMITED)
    rsps.get(URL, json={"ok": True})
    assert make_client(sleeps, backoff_base=0.5).get_json(PATH) == {"ok": True}
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 0.5 * 1.25
    assert 1.0 <= sleeps[1] <= 1.0 * 1.25


# -- transient failures ------------------------------------------------------------------


def test_5xx_are_retried_with_exponential_backoff(rsps, sleeps):
    for status in (500, 502, 503):
        rsps.get(URL, status=status, body="<html>Bad gateway</html>", content_type="text/html")
    rsps.get(URL, json={"ok": True})
    assert make_client(sleeps, backoff_base=0.5).get_json(PATH) == {"ok": True}
    assert len(rsps.calls) == 4
    assert len(sleeps) == 3
    for i, s in enumerate(sleeps):
        base = 0.5 * 2 ** i
        assert base <= s <= base * 1.25, sleeps
    assert sleeps[0] < sleeps[1] < sleeps[2]


def test_connection_errors_and_timeouts_are_retried(rsps, sleeps):
    rsps.get(URL, body=requests.ConnectionError("connection reset by peer"))
    rsps.get(URL, body=requests.ReadTimeout("read timed out"))
    rsps.get(URL, body=requests.ConnectTimeout("connect timed out"))
    rsps.get(URL, json={"ok": True})
    client = make_client(sleeps)
    assert client.get_json(PATH) == {"ok": True}
    assert len(rsps.calls) == 4
    assert len(sleeps) == 3
    assert client.retries_used == 3


@pytest.mark.parametrize("body, content_type", [
    ("<!DOCTYPE html><html><body>502 Bad Gateway (proxy)</body></html>", "text/html"),
    ("", "application/json"),
    ('{"items": [{"id": "1"}, {"id": "2"', "application/json"),
    ('{"items": [{"id": "1"}], "bookmark": nul}', "application/json"),
])
def test_unreadable_200_bodies_are_retried_never_returned(rsps, sleeps, body, content_type):
    rsps.get(URL, body=body, content_type=content_type)
    rsps.get(URL, json={"items": [], "bookmark": None})
    assert make_client(sleeps).get_json(PATH) == {"items": [], "bookmark": None}
    assert len(rsps.calls) == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("expect, bad, good", [
    ("array", '[{"DATE": "2025-06-01"}, {"DATE": "2025-06-02"', '[{"DATE": "2025-06-01"}]'),
    ("array", '{"code": 1, "message": "an object where an array belongs"}', "[]"),
    ("object", '[{"id": "1"}]', '{"items": [], "bookmark": null}'),
])
def test_get_bytes_retries_bodies_of_the_wrong_shape(rsps, sleeps, expect, bad, good):
    rsps.get(URL, body=bad, content_type="application/json")
    rsps.get(URL, body=good, content_type="application/json")
    assert make_client(sleeps).get_bytes(PATH, expect=expect) == good.encode()
    assert len(rsps.calls) == 2


# -- giving up -----------------------------------------------------------------------------


def test_5xx_beyond_max_retries_is_an_api_error_naming_the_endpoint(rsps, sleeps):
    for _ in range(3):
        rsps.get(URL, status=503, json={"code": 4197, "message": "ramped down"})
    with pytest.raises(ApiError) as exc:
        make_client(sleeps, max_retries=2).get_json(PATH)
    assert not isinstance(exc.value, RateLimitError)
    assert ENDPOINT in str(exc.value)
    assert "503" in str(exc.value)
    assert len(rsps.calls) == 3
    assert len(sleeps) == 2


def test_persistent_429_is_a_rate_limit_error_naming_the_endpoint(rsps, sleeps):
    for _ in range(3):
        rsps.get(URL, status=429, json=RATE_LIMITED, headers={"x-ratelimit-reset": "1"})
    with pytest.raises(RateLimitError) as exc:
        make_client(sleeps, max_retries=2).get_json(PATH)
    assert isinstance(exc.value, ApiError)
    assert exc.value.status == 429
    assert ENDPOINT in str(exc.value)
    assert len(rsps.calls) == 3


def test_retry_budget_is_shared_by_all_requests_of_a_run(sleeps):
    other = f"{API}/ad_accounts/549755885175/ad_groups"
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        rsps.get(URL, status=503)
        rsps.get(URL, status=503)
        rsps.get(URL, json={"ok": True})
        rsps.get(other, status=503)
        client = make_client(sleeps, max_retries=5, retry_budget=2)
        assert client.get_json(PATH) == {"ok": True}     # uses the whole budget
        with pytest.raises(ApiError) as exc:
            client.get_json("ad_accounts/549755885175/ad_groups")
        assert len(rsps.calls) == 4                      # the second request was not retried at all
    assert "budget" in str(exc.value)
    assert "GET /ad_accounts/549755885175/ad_groups" in str(exc.value)
    assert client.retries_used == 2
    assert len(sleeps) == 2


# -- other 4xx -----------------------------------------------------------------------------


@pytest.mark.parametrize("status, code, message", [
    (400, 1, "Invalid parameters."),
    (403, 29, "You are not permitted to access that resource."),
    (404, 50, "Pin not found."),
])
def test_client_errors_carry_pinterest_details_and_are_never_retried(rsps, sleeps, status, code, message):
    rsps.get(URL, status=status, json={"code": code, "message": message},
             headers={"x-pinterest-rid": "8675309abc"})
    with pytest.raises(ApiError) as exc:
        make_client(sleeps).get_json(PATH)
    err = exc.value
    assert (err.status, err.code, err.endpoint, err.request_id) == (status, code, ENDPOINT, "8675309abc")
    text = str(err)
    for part in (str(status), str(code), message, ENDPOINT, "8675309abc"):
        assert part in text
    assert len(rsps.calls) == 1
    assert sleeps == []


def test_client_error_with_a_non_json_body_still_says_what_happened(rsps, sleeps):
    rsps.get(URL, status=400, body="Bad Request: page_size out of range", content_type="text/plain")
    with pytest.raises(ApiError) as exc:
        make_client(sleeps).get_json(PATH)
    assert exc.value.status == 400
    assert "page_size out of range" in str(exc.value)
    assert len(rsps.calls) == 1


# -- 401 -------------------------------------------------------------------------------------


def test_401_refreshes_the_token_once_and_repeats_the_request(rsps, sleeps):
    tokens = FakeTokens("pina_OLD-0000000000", "pina_NEW-1111111111")
    rsps.get(URL, status=401, json={"code": 2, "message": "Authentication failed."})
    rsps.get(URL, json={"ok": True})
    assert make_client(sleeps, tokens).get_json(PATH) == {"ok": True}
    assert tokens.refreshed == ["pina_OLD-0000000000"]
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer pina_OLD-0000000000"
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer pina_NEW-1111111111"
    assert sleeps == []


def test_401_after_a_refresh_is_an_auth_error(rsps, sleeps):
    tokens = FakeTokens("pina_OLD-0000000000", "pina_NEW-1111111111", "pina_NEWER-2222222222")
    rsps.get(URL, status=401, json={"code": 2, "message": "Authentication failed."})
    rsps.get(URL, status=401, json={"code": 2, "message": "Authentication failed."})
    with pytest.raises(AuthError) as exc:
        make_client(sleeps, tokens).get_json(PATH)
    assert len(tokens.refreshed) == 1
    assert len(rsps.calls) == 2
    text = str(exc.value)
    assert ENDPOINT in text
    assert "pina_OLD" not in text and "pina_NEW" not in text


def test_401_with_a_static_token_tells_the_user_to_replace_it_without_showing_the_token(rsps, sleeps):
    static = "pina_STATIC-deadbeefcafe0123456789"
    # even if the server echoes the token back, it must not reach the message
    rsps.get(URL, status=401, json={"code": 2, "message": f"Authentication failed for token {static}"})
    with pytest.raises(AuthError) as exc:
        make_client(sleeps, StaticToken(static)).get_json(PATH)
    text = str(exc.value)
    assert "set a new auth.access_token" in text
    assert "401" in text
    assert static not in text
    assert len(rsps.calls) == 1


def test_401_code_7_is_the_endpoints_refusal_not_the_tokens_no_refresh(rsps, sleeps):
    """multi_pins/analytics answers 401 code 7 "Not authorized to access board or Pin." to an
    app without the beta (or for a pin it may not read): refreshing the token cannot help."""
    tokens = FakeTokens("pina_OLD-0000000000", "pina_NEW-1111111111")
    rsps.get(URL, status=401, json={"code": 7, "message": "Not authorized to access board or Pin."})
    with pytest.raises(ApiError) as exc:
        make_client(sleeps, tokens).get_json(PATH)
    assert not isinstance(exc.value, AuthError)
    assert (exc.value.status, exc.value.code) == (401, 7)
    assert tokens.refreshed == [] and len(rsps.calls) == 1


# code 3 (a scope the token lacks) is no token problem: a ScopeError at once, failing only the
# streams that need the scope (tests/test_coverage_extract.py)
@pytest.mark.parametrize("code", [2, None])
def test_a_401_about_the_token_is_refreshed_once_then_an_auth_error_carrying_the_code(rsps, sleeps, code):
    tokens = FakeTokens("pina_OLD-0000000000", "pina_NEW-1111111111", "pina_NEWER-2222222222")
    body = {"code": code, "message": "Authentication failed."} if code else {"message": "Unauthorized"}
    rsps.get(URL, status=401, json=body)
    rsps.get(URL, status=401, json=body)
    with pytest.raises(AuthError) as exc:
        make_client(sleeps, tokens).get_json(PATH)
    assert len(tokens.refreshed) == 1 and exc.value.code == code


# -- pagination --------------------------------------------------------------------------------


def page(items, bookmark):
    return {"items": [{"id": str(i)} for i in items], "bookmark": bookmark}


def q(**params):
    return [matchers.query_param_matcher({k: str(v) for k, v in params.items()})]


def test_paginate_walks_bookmarks_until_a_null_bookmark(rsps, sleeps):
    rsps.get(URL, json=page([1, 2], "b1"), match=q(page_size=250))
    rsps.get(URL, json=page([3, 4], "b2"), match=q(page_size=250, bookmark="b1"))
    rsps.get(URL, json=page([5], None), match=q(page_size=250, bookmark="b2"))
    pages = list(make_client(sleeps).paginate(PATH))
    assert [[i["id"] for i in p.items] for p in pages] == [["1", "2"], ["3", "4"], ["5"]]
    assert [p.bookmark for p in pages] == ["b1", "b2", None]
    assert len(rsps.calls) == 3
    assert all(query(c)["page_size"] == ["250"] for c in rsps.calls)


@pytest.mark.parametrize("last", [{"items": [], "bookmark": ""}, {"items": [{"id": "9"}]}])
def test_paginate_stops_on_a_missing_bookmark(rsps, sleeps, last):
    rsps.get(URL, json=page([1], "b1"), match=q(page_size=250))
    rsps.get(URL, json=last, match=q(page_size=250, bookmark="b1"))
    pages = list(make_client(sleeps).paginate(PATH))
    assert len(pages) == 2
    assert len(rsps.calls) == 2


def test_paginate_follows_a_bookmark_past_an_empty_page(rsps, sleeps):
    rsps.get(URL, json=page([1], "b1"), match=q(page_size=250))
    rsps.get(URL, json=page([], "b2"), match=q(page_size=250, bookmark="b1"))
    rsps.get(URL, json=page([3], None), match=q(page_size=250, bookmark="b2"))
    pages = list(make_client(sleeps).paginate(PATH))
    assert [[i["id"] for i in p.items] for p in pages] == [["1"], [], ["3"]]


def test_paginate_passes_params_through_on_every_page(rsps, sleeps):
    rsps.get(URL, json=page([1], "b1"))
    rsps.get(URL, json=page([2], None))
    list(make_client(sleeps).paginate(PATH, {"entity_statuses": ["ACTIVE", "ARCHIVED"], "order": "ASCENDING"}))
    for call in rsps.calls:
        assert query(call)["entity_statuses"] == ["ACTIVE", "ARCHIVED"]
        assert query(call)["order"] == ["ASCENDING"]
    assert "bookmark" not in query(rsps.calls[0])
    assert query(rsps.calls[1])["bookmark"] == ["b1"]


@pytest.mark.parametrize("bookmarks", [["b1", "b1"], ["b1", "b2", "b1"]])
def test_a_repeated_bookmark_is_an_error_not_an_endless_loop(sleeps, bookmarks):
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        for n, b in enumerate(bookmarks):
            rsps.get(URL, json=page([n], b))
        with pytest.raises(ApiError) as exc:
            list(make_client(sleeps).paginate(PATH))
        assert len(rsps.calls) == len(bookmarks)
    assert ENDPOINT in str(exc.value)
    assert "bookmark" in str(exc.value)


def test_a_rejected_page_size_is_halved_and_the_same_page_asked_again(rsps, sleeps, caplog):
    too_big = {"code": 1, "message": "Invalid parameter: page_size must be less than or equal to 100"}
    rsps.get(URL, json=page([1, 2], "b1"), match=q(page_size=250))
    rsps.get(URL, status=400, json=too_big, match=q(page_size=250, bookmark="b1"))
    rsps.get(URL, status=400, json=too_big, match=q(page_size=125, bookmark="b1"))
    rsps.get(URL, json=page([3], "b2"), match=q(page_size=62, bookmark="b1"))
    rsps.get(URL, json=page([4], None), match=q(page_size=62, bookmark="b2"))
    pages = list(make_client(sleeps).paginate(PATH))
    assert [i["id"] for p in pages for i in p.items] == ["1", "2", "3", "4"]
    assert len(rsps.calls) == 5
    assert any("page_size" in r.getMessage() for r in caplog.records)


def test_a_400_about_something_else_is_not_mistaken_for_page_size(rsps, sleeps):
    rsps.get(URL, status=400, json={"code": 1, "message": "Invalid parameters."})
    with pytest.raises(ApiError) as exc:
        list(make_client(sleeps).paginate(PATH))
    assert exc.value.status == 400
    assert len(rsps.calls) == 1


def test_a_page_without_an_items_list_is_an_error(rsps, sleeps):
    rsps.get(URL, json={"data": [], "bookmark": None})
    with pytest.raises(ApiError):
        list(make_client(sleeps).paginate(PATH))


def test_list_params_encode_as_repeated_keys_and_booleans_lowercase(rsps, sleeps):
    rsps.get(URL, json={"ok": True})
    make_client(sleeps).get_json(PATH, {"entity_statuses": ["ACTIVE", "PAUSED"], "pin_metrics": True,
                                        "campaign_ids": ("1", "2", "3"), "skip": None})
    url = rsps.calls[0].request.url
    assert "entity_statuses=ACTIVE&entity_statuses=PAUSED" in url
    params = query(rsps.calls[0])
    assert params["pin_metrics"] == ["true"]
    assert params["campaign_ids"] == ["1", "2", "3"]
    assert "skip" not in params


# -- rate limiter integration ------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_the_third_request_in_a_window_waits_for_the_category_limit(rsps):
    clock = FakeClock()
    limits = RateLimits({"ads_analytics": 2}, window=60, clock=clock, sleep=clock.sleep)
    client = PinterestClient(API, FakeTokens(TOKEN), rate_limits=limits, sleep=clock.sleep)
    rsps.get(URL, json=[])
    rsps.get(URL, json=[])
    rsps.get(f"{API}/pins", json={"items": [], "bookmark": None})
    rsps.get(URL, json=[])
    client.get_json(PATH, category="ads_analytics")
    client.get_json(PATH, category="ads_analytics")
    assert clock.sleeps == []
    client.get_json("pins", category="org_read")          # another category: not held back
    assert clock.sleeps == []
    client.get_json(PATH, category="ads_analytics")
    assert sum(clock.sleeps) == pytest.approx(60)
    assert client.requests_by_category["ads_analytics"] == 3


def test_a_429_holds_the_category_back_once_not_twice(rsps):
    clock = FakeClock()
    limits = RateLimits({"ads_analytics": 100}, window=60, clock=clock, sleep=clock.sleep)
    client = PinterestClient(API, FakeTokens(TOKEN), rate_limits=limits, sleep=clock.sleep)
    rsps.get(URL, status=429, json=RATE_LIMITED, headers={"x-ratelimit-reset": "7"})
    rsps.get(URL, json=[])
    rsps.get(URL, json=[])
    client.get_json(PATH, category="ads_analytics")
    client.get_json(PATH, category="ads_analytics")
    assert sum(clock.sleeps) == pytest.approx(7)


def test_a_429_holds_back_other_requests_of_the_category_meanwhile(rsps):
    clock = FakeClock()
    limits = RateLimits({"ads_analytics": 100}, window=60, clock=clock, sleep=clock.sleep)
    waiting, go_on = threading.Event(), threading.Event()

    def client_sleep(seconds):      # the rate-limited request waits here until released
        waiting.set()
        assert go_on.wait(5)
        clock.now += seconds

    client = PinterestClient(API, FakeTokens(TOKEN), rate_limits=limits, sleep=client_sleep)
    other = f"{API}/ad_accounts/549755885175/ad_groups/analytics"
    rsps.get(URL, status=429, json=RATE_LIMITED, headers={"x-ratelimit-reset": "7"})
    rsps.get(other, json=[])
    rsps.get(URL, json=[])
    results = []
    first = threading.Thread(target=lambda: results.append(client.get_json(PATH, category="ads_analytics")))
    first.start()
    try:
        assert waiting.wait(5)
        client.get_json("ad_accounts/549755885175/ad_groups/analytics", category="ads_analytics")
        assert sum(clock.sleeps) == pytest.approx(7)     # held back until the 429's reset
    finally:
        go_on.set()
        first.join(5)
    assert results == [[]]


def test_server_reported_exhaustion_holds_the_next_request_back(rsps):
    clock = FakeClock()
    limits = RateLimits({"ads_analytics": 100}, window=60, clock=clock, sleep=clock.sleep)
    client = PinterestClient(API, FakeTokens(TOKEN), rate_limits=limits, sleep=clock.sleep)
    rsps.get(URL, json=[], headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9"})
    rsps.get(URL, json=[])
    client.get_json(PATH, category="ads_analytics")
    assert clock.sleeps == []
    client.get_json(PATH, category="ads_analytics")
    assert sum(clock.sleeps) == pytest.approx(9)


def test_responses_are_json_decoded(rsps, sleeps):
    body = {"items": [{"id": "1", "name": "Été ☀"}], "bookmark": None}
    rsps.get(URL, body=json.dumps(body, ensure_ascii=False).encode(), content_type="application/json")
    assert make_client(sleeps).get_json(PATH) == body
