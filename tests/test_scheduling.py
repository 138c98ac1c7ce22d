"""How a run overlaps its work: no unit thread waits for a parent, and a listing's pages are
typed while the next page is on its way (the serial pages are a run's critical path)."""

from __future__ import annotations

import datetime as dt
import sys
import threading
from collections import Counter

import pytest

import pinsync
from pinsync import frames, sync
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.streams import STREAMS
from tests.conftest import TODAY, TOKEN, read_table


def test_a_unit_starts_only_once_its_parents_are_done(make_config, fake, monkeypatch):
    """With two unit threads, pin_analytics (submitted right after pins) used to take the
    second thread and sit waiting for the pins listing; now no unit is started before every
    parent unit has finished, so the threads go to units that can work - except pin
    analytics, which follow the pins listing's pages on a thread of their own, so that at
    most two other units run at once all the same."""
    fake.latency = 0.02
    seen: list[tuple[str, bool]] = []
    parents = sync._Run._parents
    lock, running, most = threading.Lock(), Counter(), []

    def spy(self, spec, key, futures):
        seen.append((spec.name, all(f.done() for f in futures.values())))
        return parents(self, spec, key, futures)
    monkeypatch.setattr(sync._Run, "_parents", spy)

    def counted(unit):
        def run(self, spec, account, futures):
            follower = spec.name == "pin_analytics"
            with lock:
                running[follower] += 1
                most.append(running[False])
            try:
                return unit(self, spec, account, futures)
            finally:
                with lock:
                    running[follower] -= 1
        return run
    monkeypatch.setattr(sync._Run, "listing_unit", counted(sync._Run.listing_unit))
    monkeypatch.setattr(sync._Run, "analytics_unit", counted(sync._Run.analytics_unit))
    result = pinsync.run(make_config(max_workers=2), today=TODAY)
    assert result.ok
    children = {"campaign_analytics", "ad_group_analytics", "ad_analytics"}
    assert children <= {name for name, _ in seen}
    assert [name for name, ready in seen if not ready] == []
    assert "pin_analytics" not in {name for name, _ in seen}       # it followed the pins' pages
    assert max(most) == 2


def test_a_page_is_typed_while_the_next_one_is_asked_for(tmp_path, monkeypatch):
    """Typing the first page of pins is held until the fake has received the request for the
    second page: that only happens if the pages are asked for while earlier ones are typed."""
    ds = Dataset(seed=6, accounts=1, campaigns_per_account=1, ad_groups_per_campaign=1, ads_per_ad_group=1,
                 pins=600, today=TODAY, history_days=150)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    second_page_asked = threading.Event()

    def watch(path, query):
        if path.rstrip("/").endswith("/pins") and "bookmark" in (query or {}):
            second_page_asked.set()
    _watch_requests(fake, watch)
    typed_before_the_second_page = _hold_first_typing(monkeypatch, "records_to_frame", "pins", second_page_asked)
    with FakeServer(fake) as srv:
        config = pinsync.config_from_dict({
            "api_url": srv.url, "auth": {"access_token": TOKEN}, "streams": ["pins"],
            "start_date": TODAY.isoformat(), "output": {"url": str(tmp_path / "out")},
            "state": {"url": str(tmp_path / "state.json")}}, env={}, today=TODAY)
        assert pinsync.run(config, today=TODAY).ok
    assert typed_before_the_second_page == [True]
    assert sorted(read_table(tmp_path / "out", "pins")["id"].to_list()) == sorted(p["id"] for p in ds.pins)


def test_an_account_s_analytics_start_before_the_next_accounts_are_listed(tmp_path):
    """Units start in order as threads free up: once an account's campaigns are listed, its
    campaign analytics go before the listing of an account further down (the analytics
    requests, which the rate limits hold back most, start as early as their ids are known)."""
    ds = Dataset(seed=6, accounts=4, campaigns_per_account=2, ad_groups_per_campaign=1, ads_per_ad_group=1,
                 pins=1, today=TODAY, history_days=120)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    with FakeServer(fake) as srv:
        config = pinsync.config_from_dict({       # max_workers 1: two units at a time (units_at_once)
            "api_url": srv.url, "auth": {"access_token": TOKEN}, "streams": ["campaigns", "campaign_analytics"],
            "start_date": (TODAY - dt.timedelta(days=5)).isoformat(), "max_workers": 1,
            "output": {"url": str(tmp_path / "out")}, "state": {"url": str(tmp_path / "state.json")}},
            env={}, today=TODAY)
        assert pinsync.run(config, today=TODAY).ok
    order = [p.rsplit("/", 2)[-2:] for m, p, q in fake.requests if "/campaigns" in p]
    first_analytics = next(i for i, p in enumerate(order) if p[-1] == "analytics")
    last_listing = max(i for i, p in enumerate(order) if p[-1] == "campaigns")
    assert sum(p[-1] == "campaigns" for p in order) == 4
    assert first_analytics < last_listing, order


@pytest.mark.parametrize("room,free,expected", [
    ({"ads_read": 5, "ads_analytics": 5}, 3, [0, 1, 2]),       # every one can go: in order
    ({"ads_read": 0, "ads_analytics": 5}, 2, [1, 3]),          # listings would wait: analytics first
    ({"ads_read": 0, "ads_analytics": 5}, 3, [1, 3, 0]),       # ... then, with threads to spare, the rest
    ({"ads_read": 1, "ads_analytics": 5}, 3, [0, 1, 3]),       # room for one listing: the other waits
    ({}, 2, [0, 1]),                                           # not limited
    ({"ads_read": 5}, 0, []),
])
def test_units_that_would_wait_for_their_rate_limit_go_after_those_that_can_start(room, free, expected):
    ready = [STREAMS["campaigns"], STREAMS["campaign_analytics"], STREAMS["ad_groups"], STREAMS["ad_analytics"]]
    assert sync.units_to_start(ready, free, room.get) == expected


def test_an_answer_being_typed_does_not_keep_the_next_request_from_going_out(tmp_path, monkeypatch):
    """One request in flight at a time (max_workers 1) and two accounts' ads analytics, each
    several calls: typing the first answer is held until the fake has received a call of the
    other account. The request threads outnumber the requests in flight, so a thread typing
    an answer leaves the next request free to go out."""
    ds = Dataset(seed=6, accounts=2, campaigns_per_account=4, ad_groups_per_campaign=10, ads_per_ad_group=10,
                 pins=1, today=TODAY, history_days=120)          # 400 ads an account: calls of at most 250 ids
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    asked = []
    both_asked = threading.Event()

    def watch(path, query):
        if path.rstrip("/").endswith("/ads/analytics"):
            asked.append(path.split("/ad_accounts/")[1].split("/")[0])
            if len(set(asked)) == 2:
                both_asked.set()
    _watch_requests(fake, watch)
    first_typed_after_both = _hold_first_typing(monkeypatch, "read_json_array", "ad_analytics", both_asked)
    with FakeServer(fake) as srv:
        config = pinsync.config_from_dict({
            "api_url": srv.url, "auth": {"access_token": TOKEN}, "streams": ["ads", "ad_analytics"],
            "start_date": (TODAY - dt.timedelta(days=5)).isoformat(), "max_workers": 1,
            "output": {"url": str(tmp_path / "out")}, "state": {"url": str(tmp_path / "state.json")}},
            env={}, today=TODAY)
        assert pinsync.run(config, today=TODAY).ok
    per_account = Counter(asked)
    assert len(per_account) == 2 and min(per_account.values()) >= 2       # several calls an account
    assert first_typed_after_both == [True]


def test_a_parent_finishing_just_after_the_scheduler_looked_still_lets_its_children_start(make_config, monkeypatch):
    """The scheduler looks at the parents of the waiting units, then at what still runs: a
    parent that finished between the two looks (on a busy machine) left its children waiting
    with nothing running, and the run died with "units without their parents". Here every
    unit is finished when it is handed back by the pool, but the first time the scheduler
    looks at it as a parent, it is not yet."""
    from concurrent.futures import ThreadPoolExecutor, wait

    class LateToSay(ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            future = super().submit(fn, *args, **kwargs)
            if getattr(fn, "__name__", "") in ("listing_unit", "analytics_unit"):
                wait([future])
                real, looked = future.done, []

                def done():
                    caller = sys._getframe(1)
                    while caller is not None and caller.f_code.co_name.startswith("<"):
                        caller = caller.f_back           # out of the comprehension
                    if caller is not None and caller.f_code.co_name == "submit_ready" and not looked:
                        looked.append(True)
                        return False
                    return real()
                future.done = done
            return future
    monkeypatch.setattr(sync, "ThreadPoolExecutor", LateToSay)
    result = pinsync.run(make_config(max_workers=2), today=TODAY)
    assert result.ok, result.failures
    assert result.streams["campaign_analytics"].units == 2 and result.streams["pin_analytics"].units == 1


def _watch_requests(fake, seen) -> None:
    """Call ``seen(path, query)`` for every request the fake serves, before serving it."""
    serve = fake.serve

    def watch(method, path, query=None, *a, **kw):
        seen(path, query)
        return serve(method, path, query, *a, **kw)
    fake.serve = watch


def _hold_first_typing(monkeypatch, reader: str, of_stream: str, until: threading.Event) -> list[bool]:
    """Hold the first call of ``frames.<reader>`` for ``of_stream`` until ``until`` is set (10 s
    at most); the list returned gets whether it was set in time."""
    held: list[bool] = []
    read = getattr(frames, reader)

    def slow(data, columns, *, stream: str, **kw):
        if stream == of_stream and not held:
            held.append(until.wait(timeout=10))
        return read(data, columns, stream=stream, **kw)
    monkeypatch.setattr(frames, reader, slow)
    return held
