"""How a run overlaps its work: no unit thread waits for a parent, and a listing's pages are
typed while the next page is on its way (the serial pages are a run's critical path)."""

from __future__ import annotations

import sys
import threading

import pinsync
from pinsync import frames, sync
from pinsync.fake import Dataset, FakePinterest, FakeServer
from tests.conftest import TODAY, TOKEN, read_table


def test_a_unit_starts_only_once_its_parents_are_done(make_config, fake, monkeypatch):
    """With two unit threads, pin_analytics (submitted right after pins) used to take the
    second thread and sit waiting for the pins listing; now no unit is started before every
    parent unit has finished, so the threads go to units that can work."""
    fake.latency = 0.02
    seen: list[tuple[str, bool]] = []
    parents = sync._Run._parents

    def spy(self, spec, key, futures):
        seen.append((spec.name, all(f.done() for f in futures.values())))
        return parents(self, spec, key, futures)
    monkeypatch.setattr(sync._Run, "_parents", spy)
    result = pinsync.run(make_config(max_workers=2), today=TODAY)
    assert result.ok
    children = {"pin_analytics", "campaign_analytics", "ad_group_analytics", "ad_analytics"}
    assert children <= {name for name, _ in seen}
    assert [name for name, ready in seen if not ready] == []


def test_a_page_is_typed_while_the_next_one_is_asked_for(tmp_path, monkeypatch):
    """Typing the first page of pins is held until the fake has received the request for the
    second page: that only happens if the pages are asked for while earlier ones are typed."""
    ds = Dataset(seed=6, accounts=1, campaigns_per_account=1, ad_groups_per_campaign=1, ads_per_ad_group=1,
                 pins=600, today=TODAY, history_days=150)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    second_page_asked = threading.Event()
    serve = fake.serve

    def watch(method, path, query=None, *a, **kw):
        if path.rstrip("/").endswith("/pins") and "bookmark" in (query or {}):
            second_page_asked.set()
        return serve(method, path, query, *a, **kw)
    fake.serve = watch
    typed_before_the_second_page = []
    to_frame = frames.records_to_frame

    def slow_typing(records, columns, *, stream, **kw):
        if stream == "pins" and not typed_before_the_second_page:
            typed_before_the_second_page.append(second_page_asked.wait(timeout=10))
        return to_frame(records, columns, stream=stream, **kw)
    monkeypatch.setattr(frames, "records_to_frame", slow_typing)
    with FakeServer(fake) as srv:
        config = pinsync.config_from_dict({
            "api_url": srv.url, "auth": {"access_token": TOKEN}, "streams": ["pins"],
            "start_date": TODAY.isoformat(), "output": {"url": str(tmp_path / "out")},
            "state": {"url": str(tmp_path / "state.json")}}, env={}, today=TODAY)
        assert pinsync.run(config, today=TODAY).ok
    assert typed_before_the_second_page == [True]
    assert sorted(read_table(tmp_path / "out", "pins")["id"].to_list()) == sorted(p["id"] for p in ds.pins)


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
