"""pinsync benchmark (issues #5, #12): a full sync, the next day's incremental run and an agency-sized
sync against the fake API, every figure against its floor.

    python bench/run.py [--latency 0.05] [--scale 20] [--workers 8] [--accounts 5] [--ads 1000]
                        [--pins 2000] [--days 90] [--out bench/results.json] [--only agency|organic]

What it does:

* builds a deterministic dataset (``--accounts`` ad accounts x ``--ads`` ads each, in campaigns of
  ``--ad-groups-per-campaign`` ad groups of ``--ads-per-ad-group`` ads, plus ``--pins`` pins; 120+ days of
  history; ``today`` = the real UTC date) and serves it with the fake API on 127.0.0.1, with
  ``--latency`` seconds per request and the published rate limits
  (:data:`pinsync.api.RATE_LIMITS_PER_MINUTE`) enforced per window of ``60/--scale`` seconds; pinsync is
  configured with the same limits and ``http.rate_limit_window_seconds = 60/--scale``;
* runs ``pinsync.run`` in a child process (all streams, ``start_date`` = ``--days`` back, DAY
  granularity; output and state in a new folder under ``--workdir``, default the system temp folder)
  and measures its wall time, CPU time (``wait4``) and peak RSS: the whole child process's maximum
  resident set as ``/usr/bin/time -f %M`` reports it (libraries included), from outside;
* computes the minimum number of requests per rate-limit category from the dataset, with pinsync's own
  rules (which ids it sends, batch sizes, windows), and the *request floor*
  ``max(max_c requests_c / limit_c x window, requests x latency / workers)``; also a *compute floor*:
  ``pl.read_json`` of the same response bodies plus one ``write_parquet`` per output file the run
  wrote (the same months of the same accounts), on one thread, divided by the CPU count; wall time is
  judged against the larger of the two;
* counts the files: a full run writes at most one per (stream, account, month) it touched; a next-day
  run at most two months per account and stream, and only those whose rows changed;
* times pinsync's transform (JSON body -> typed frame -> month files -> Parquet bytes) on real
  response bodies against a ``pl.read_json`` + ``write_parquet`` floor on the same bytes (and against
  the same floor writing the same month files);
* does it again for an incremental run "the next day" (by default the same dataset a day later,
  :meth:`Dataset.advance`: history unchanged, today's delivery goes on; ``--next-day shifted``: a
  dataset generated for ``today + 1``, where every re-fetched day differs,
  pinsync on the same output and state);
* runs an agency-sized sync (``--agency-accounts`` x ``--agency-ads``, ``--agency-days`` of history,
  default 50 x 200 x 730; ``--no-agency`` to skip): requests must equal the minimum in every category
  and the wall time stay within 1.1x the request floor. The last 89 days come from the synchronous
  endpoints, the older ones from asynchronous reports: one per level (campaign, ad group, ad), ad
  account and 186 days, each created once, polled ``--report-polls`` + 1 times (the fake answers
  IN_PROGRESS that many times first) and downloaded once. Creations and polls are ``ads_analytics``
  requests (in its minimum and rate floor); downloads come from the report host (no limit; counted
  against one per report). Polling waits (1 s growing to 30 s) are scaled like the rate-limit window
  (``60/--scale``), and the fake's report files are memoised like its bodies. It runs
  ``--agency-runs`` times (default 3; its wall time varies by 10-20 % from run to run on a
  shared 2-CPU machine): the run of median wall time is reported, the largest peak RSS judged;
* runs pin analytics for an app without the multi-pin beta (``--organic-pins`` pins, default 500;
  ``--no-organic`` to skip, ``--only organic`` alone): the pins listing and pin_analytics only, one
  ``org_analytics`` call per pin at the published 60 a minute. It reports the calls sent, the calls
  needed (the pins whose ``pin_metrics`` do not prove them silent over the window) and the share saved
  against one call per pin, and the wall time against its floor: the calls needed at that limit;
* measures peak RSS at 1x, 4x and 16x the rows, by ad accounts (``--days`` each) and by days
  (``--sweep-days`` x 1, 4, 16: 57, 228 and 912 days, reports included) (``--no-rss-sweep``): the
  largest must stay within 1.2x the smallest (``--only-sweep [--sweep days]``: only this, printed,
  nothing written);
* prints every figure as a ratio to its floor or target and writes everything to ``--out`` (JSON).

Rate limits: with the default dataset every category needs fewer requests than one window allows
(e.g. org_analytics 20 of 60), so the sliding windows never make pinsync wait at any ``--scale``; the
scale only sets how long the rate floor is (1 s at the default 20). A default run takes about 3
minutes on 2 CPUs (the peak-RSS sweep at 16x the accounts is most of it).

The fake computes analytics responses on the fly (tens to hundreds of ms of CPU per response) in this
process, on the same CPUs as pinsync. A real server's compute is part of its latency, so by default
every analytics response, report file and pins page's ``pin_metrics`` (10-40 ms a page, under the
fake's lock) is computed once in an untimed warm-up run (no latency, no limits, scratch output) and
served from memory in the timed run; ``--no-cache`` measures without that. The fake's time
under its lock and computing bodies are reported either way (``fake_busy_seconds``,
``fake_compute_seconds``).

``PINSYNC_BENCH_PROFILE=file.prof`` makes the pinsync child cProfile every thread into that file;
``PINSYNC_BENCH_TRACE=prefix`` writes a timeline of units, requests (with their rate-limit category),
each limiter's grants, the requests in flight, the CPU slots held and waited for, and writes, and the
resident size every 5 ms, beside it. ``--only agency`` runs the agency-sized sync alone (figures printed,
not written unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Polars sets its own allocator options in the environment when imported (this process imports
# it): the pinsync child must start with the environment a user's shell gives it instead.
_ALLOCATOR_ENV = os.environ.get("_RJEM_MALLOC_CONF")
TOKEN = "pina.bench-access-token"
SEED = 42
CATEGORIES = ("ads_read", "ads_analytics", "org_read", "org_analytics")
TARGET_REQUESTS = 1.05
TARGET_WALL = 1.3           # wall over the larger of the request floor and the compute floor
TARGET_AGENCY_WALL = 1.1    # the agency-sized run: wall over the request floor
TARGET_TRANSFORM = 1.5
TARGET_RSS_MB = 250.0
TARGET_RSS_FLAT = 1.2       # the largest peak RSS at 1x, 4x and 16x the rows over the smallest


# ======================================================================================== child
def child_main(spec_path: str) -> None:
    """Run pinsync once (in this process) and print its figures as JSON on the last stdout line."""
    import resource

    t_start = time.perf_counter()
    import logging

    import pinsync
    from pinsync.config import config_from_dict

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(spec_path).read_text())
    today = dt.date.fromisoformat(spec["today"])
    config = config_from_dict(spec["config"], env={}, today=today)
    scale = spec.get("report_time_scale")
    if scale:       # report polling waits (1 s -> 30 s) scaled like the rate-limit window
        from pinsync import sync as _sync_module
        real_extractor_for = _sync_module.extractor_for

        def scaled_extractor_for(client, cfg, **kw):
            kw["report_sleep"] = lambda seconds: client.cancelled.wait(seconds * scale)
            return real_extractor_for(client, cfg, **kw)
        _sync_module.extractor_for = scaled_extractor_for
    rss_ready = _vm_hwm_kb()
    profile = os.environ.get("PINSYNC_BENCH_PROFILE")      # debugging aid: cProfile every thread
    timer = (time.thread_time,) if os.environ.get("PINSYNC_BENCH_PROFILE_CPU") else ()   # CPU, not wall, time
    if profile:
        import cProfile
        import pstats
        profiles = []
        thread_run = threading.Thread.run

        def profiled_run(self):
            prof = cProfile.Profile(*timer)
            profiles.append(prof)
            prof.enable()
            try:
                thread_run(self)
            finally:
                prof.disable()
        threading.Thread.run = profiled_run
        main_prof = cProfile.Profile(*timer)
        profiles.append(main_prof)
        main_prof.enable()
    trace = os.environ.get("PINSYNC_BENCH_TRACE")       # debugging aid: a timeline of units and requests
    if trace:
        events = []
        from pinsync import client as _client, sync as _sync, frames as _frames

        def traced(cls, name, label):
            fn = getattr(cls, name)

            def wrapper(*a, **k):
                t, c = time.perf_counter(), time.thread_time()
                try:
                    return fn(*a, **k)
                finally:
                    events.append((label(a, k), threading.current_thread().name, t, time.perf_counter(),
                                   time.thread_time() - c))
            setattr(cls, name, wrapper)
        traced(_sync._Run, "listing_unit", lambda a, k: f"list {a[1]} {a[2]['id'][-4:] if len(a) > 2 and a[2] else ''}")
        traced(_sync._Run, "analytics_unit", lambda a, k: f"analytics {a[1].name} {a[2]['id'][-4:] if a[2] else ''}")
        # every request (its rate-limit category, or "download"), and each limiter's grants: how long
        # a request waited for its category's allowance
        traced(_client.PinterestClient, "_send",
               lambda a, k: f"  {a[1].lower()} {k.get('category') or 'download'} {k.get('tag')} {a[3][-40:]}")
        from pinsync import ratelimit as _ratelimit
        traced(_ratelimit.RateLimiter, "acquire", lambda a, k: f"  acquire {a[0].name}")
        from pinsync import memory as _memory

        class TracedSlots:      # the CPU slots: how long each step waited for one, and held it
            def __init__(self, slots, what="cpu slot"):
                self.slots, self.what, self.held = slots, what, threading.local()

            def __enter__(self):
                t = time.perf_counter()
                self.slots.__enter__()
                self.held.since = time.perf_counter()
                events.append((f"  {self.what} wait", threading.current_thread().name, t, self.held.since, 0.0))

            def __exit__(self, *exc):
                events.append((f"  {self.what} held", threading.current_thread().name, self.held.since,
                               time.perf_counter(), 0.0))
                return self.slots.__exit__(*exc)
        _memory._CPU_SLOTS = TracedSlots(_memory._CPU_SLOTS)
        client_init = _client.PinterestClient.__init__

        def traced_client_init(self, *a, **k):     # the requests in flight (the client's semaphore)
            client_init(self, *a, **k)
            self._inflight = TracedSlots(self._inflight, "in flight")
        _client.PinterestClient.__init__ = traced_client_init
        traced(_frames, "records_to_frame", lambda a, k: f"  type {k.get('stream')}")
        from pinsync import sink as _sink, state as _state
        traced(_frames, "read_json_array", lambda a, k: f"  read {k.get('stream')}")
        traced(_frames, "read_pin_payload", lambda a, k: "  read pin_analytics")
        traced(_sink.Sink, "replace_partitions", lambda a, k: f"  write {a[1]}")
        traced(_sink.Sink, "merge_months", lambda a, k: f"  merge {a[1]}")
        traced(_sink.Sink, "_merge_month", lambda a, k: f"    month {k.get('folder')}")
        traced(_sync, "fingerprint", lambda a, k: "  fingerprint")
        traced(_state.StateStore, "save", lambda a, k: "  save state")
        traced(_sync._Run, "entity_unit", lambda a, k: f"  entity_unit {a[1].name}")
    t_run = time.perf_counter()
    if trace:           # the resident size every 5 ms, beside the timeline
        samples, sampling = [], threading.Event()

        def sample():
            status = Path("/proc/self/status")
            while not sampling.wait(0.005):
                m = re.search(r"VmRSS:\s+(\d+)", status.read_text())
                samples.append((time.perf_counter() - t_run, int(m.group(1)) // 1024))
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    result = pinsync.run(config, today=today, raise_on_failure=False)
    run_seconds = time.perf_counter() - t_run
    if trace:
        sampling.set()
        Path(f"{trace}.{Path(spec_path).stem}.rss").write_text("\n".join(f"{t:7.3f} {mb}" for t, mb in samples))
    if profile:
        main_prof.disable()
        pstats.Stats(*profiles).dump_stats(profile)
    if trace:
        Path(f"{trace}.{Path(spec_path).stem}").write_text("\n".join(
            f"{a - t_run:7.3f} {b - t_run:7.3f} {b - a:6.3f} cpu {c:6.3f} {th:18s} {lbl}"
            for lbl, th, a, b, c in sorted(events, key=lambda e: e[2])))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "ok": result.ok,
        "run_id": result.run_id,
        "failures": result.failures,
        "seconds": result.seconds,
        "run_seconds": run_seconds,
        "startup_seconds": t_run - t_start,
        "requests_by_category": result.requests_by_category,
        "streams": {n: {"rows_fetched": s.rows_fetched, "rows_written": s.rows_written,
                        "files_written": s.files_written, "files_deleted": s.files_deleted,
                        "files_unchanged": s.files_unchanged,
                        "requests": s.requests, "seconds": round(s.seconds, 3)}
                    for n, s in result.streams.items()},
        "rss_ready_kb": rss_ready,
        "rss_peak_kb": _vm_hwm_kb(),
        "cpu_user": ru.ru_utime,
        "cpu_sys": ru.ru_stime,
    }))


def _vm_hwm_kb() -> int:
    """This process's peak RSS (VmHWM). Not ru_maxrss: a child started by vfork + exec inherits the
    parent's high-water mark in ru_maxrss, and the parent (dataset, cached bodies) is large."""
    m = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(m.group(1)) if m else 0


# ======================================================================================== the fake
def make_fake_class():
    import dataclasses

    from pinsync.fake import FakePinterest
    from pinsync.fake.router import ROUTES, Reply

    compiled = [(re.compile(f"^{p}$"), cat) for _, p, _, cat in ROUTES]
    can_cache = "compute" in {f.name for f in dataclasses.fields(Reply)}

    class BenchFake(FakePinterest):
        """The fake, plus: memoised analytics bodies (and report files, and the pins' pin_metrics),
        time under its lock and computing bodies, statuses per rate-limit category."""

        def __init__(self, *args, cache: bool = True, **kwargs):
            super().__init__(*args, **kwargs)
            if cache and not can_cache:
                print("warning: this fake has no Reply.compute hook: running without the response cache")
            self.cache_enabled = cache and can_cache
            self._cache: dict = {}
            self._bench_lock = threading.Lock()
            self.cache_hits = 0
            self.busy = 0.0              # under the fake's lock (serialized)
            self.compute_seconds = 0.0   # computing analytics bodies (outside the lock, in parallel)
            self.statuses: Counter = Counter()
            build = self.reports.build      # report files: memoised by account and request, like bodies
            self.reports.build = lambda account, q, state=None: self._body(
                ("report", account, repr(q)), lambda: build(account, q, state))
            # a pins page's pin_metrics (each pin's daily values summed since it was created: 10-40 ms
            # a page, under the fake's lock): memoised by page, like bodies
            pin_metrics = self._pins.pin_metrics
            self._pins.pin_metrics = lambda pins, state=None: self._body(
                ("pin_metrics", tuple(p["id"] for p in pins),
                 repr((sorted(state.versions.items()), sorted(state.blank))) if state else ""),
                lambda: pin_metrics(pins, state))

        def reset_bench(self) -> None:
            with self.lock:
                self.reset_counters()
                self.downloads.clear()
                self.cache_hits = 0
                self.busy = self.compute_seconds = 0.0
                self.statuses.clear()

        def _dispatch(self, method, path, query, headers, body, **kwargs):
            t = time.perf_counter()
            reply = super()._dispatch(method, path, query, headers, body, **kwargs)
            self.busy += time.perf_counter() - t
            cat = next((c for rx, c in compiled if rx.match(path)), "other")
            self.statuses[(cat, reply.status)] += 1
            return reply

        def _respond(self, route, method, params, query, headers, body, category, allowed, *args, **kwargs):
            reply = super()._respond(route, method, params, query, headers, body, category, allowed, *args, **kwargs)
            compute = getattr(reply, "compute", None)
            if compute is not None:
                key = (route, tuple(sorted(params.items())), tuple(sorted((k, tuple(v)) for k, v in query.items())))
                reply.compute = lambda: self._body(key, compute)
            return reply

        def _body(self, key, compute) -> bytes:
            if self.cache_enabled:
                with self._bench_lock:
                    hit = self._cache.get(key)
                    if hit is not None:
                        self.cache_hits += 1
                        return hit
            t = time.perf_counter()
            body = compute()
            with self._bench_lock:
                self.compute_seconds += time.perf_counter() - t
                if self.cache_enabled:
                    self._cache[key] = body
            return body

    return BenchFake


# ======================================================================================== expectations
def pages(n: int, size: int = 250) -> int:
    """Requests to list ``n`` items: the fake's last page has a null bookmark, even when ``n`` is an
    exact multiple of ``size`` (so no empty trailing page); an empty list still costs one request."""
    return max(1, math.ceil(n / size))


def n_windows(start: dt.date, end: dt.date, span: int = 90) -> int:
    return 0 if start > end else math.ceil(((end - start).days + 1) / span)


def analytics_range(today: dt.date, start_date: dt.date, bookmark: dt.date | None, lookback: int):
    """The documented fetch rule: first run from start_date, later runs from min(bookmark + 1,
    today - lookback); never before today - 89 (what the API serves, with a day of margin); end
    yesterday."""
    end = today - dt.timedelta(days=1)
    start = start_date if bookmark is None else max(
        min(bookmark + dt.timedelta(days=1), today - dt.timedelta(days=lookback)), start_date)
    start = max(start, today - dt.timedelta(days=89))
    return start, end


def report_counts(ds, today: dt.date, start_date: dt.date, polls_in_progress: int, levels: int = 3) -> dict:
    """The fewest report requests for the days older than the synchronous endpoints serve
    (``start_date`` .. ``today`` - 90): one report per level (campaign, ad group, ad), ad account
    and 186 days; each created once, polled ``polls_in_progress`` times IN_PROGRESS (the fake's
    setting) and once FINISHED, and downloaded once."""
    days = max(0, (today - dt.timedelta(days=90) - start_date).days + 1)
    reports = levels * len(ds.ad_accounts) * math.ceil(days / 186)
    return {"days": days, "reports": reports, "creations": reports, "polls": reports * (polls_in_progress + 1),
            "downloads": reports}


def minimum_requests(ds, today: dt.date, ads_range, pins_range, reports: dict | None = None) -> dict:
    """The fewest requests per category for pinsync's job on ``ds``, from the dataset itself.

    Entity lists: every status, 250 a page. Ads analytics: the ids pinsync sends (entities created
    before the end of the window: later ones cannot have metrics in it), 250 a call, one call per
    90-day window. Pin analytics: the pins created before the end of the window whose pin_metrics
    (as the fake lists them) do not prove them silent over it, 100 a call (the multi-pin endpoint),
    per window. pinsync's one-pin capability probe is *not* in the minimum.
    """
    from pinsync.config import DEFAULT_PIN_METRIC_TYPES
    from pinsync.fake.analytics import AnalyticsState, PinAnalytics
    from pinsync.streams.analytics import pins_to_ask

    accounts = [a["id"] for a in ds.ad_accounts]
    ads_read = pages(len(accounts))
    ads_analytics = 0
    detail = {"ad_accounts": len(accounts), "per_account": {}}
    a_start, a_end = ads_range
    a_windows = n_windows(a_start, a_end)
    cutoff = dt.datetime.combine(a_end + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc).timestamp()
    for acct in accounts:
        row = {}
        for kind in ("campaigns", "ad_groups", "ads"):
            items = [e for e in ds.items(kind) if e["ad_account_id"] == acct]
            live = [e for e in items if e.get("created_time") is None or e["created_time"] < cutoff]
            ads_read += pages(len(items))
            ads_analytics += math.ceil(len(live) / 250) * a_windows
            row[kind] = {"listed": len(items), "sent_to_analytics": len(live)}
        detail["per_account"][acct] = row
    p_start, p_end = pins_range
    p_windows = n_windows(p_start, p_end)
    pin_cutoff = (p_end + dt.timedelta(days=1)).isoformat()
    live_pins = [p for p in ds.pins if p["created_at"] is None or p["created_at"][:10] < pin_cutoff]
    pin_metrics = PinAnalytics(ds, AnalyticsState()).pin_metrics(live_pins)
    asked = pins_to_ask([(p["id"], json.dumps(pin_metrics[p["id"]])) for p in live_pins], p_start, p_end, today,
                        DEFAULT_PIN_METRIC_TYPES)
    detail.update(pins=len(ds.pins), pins_created_by_the_window_end=len(live_pins), pins_sent_to_analytics=len(asked),
                  ads_window=[a_start.isoformat(), a_end.isoformat(), a_windows],
                  pins_window=[p_start.isoformat(), p_end.isoformat(), p_windows])
    if reports:         # creations and polls count against ads_analytics; downloads are not rate-limited
        detail["reports"] = reports
        ads_analytics += reports["creations"] + reports["polls"]
    return {"by_category": {"ads_read": ads_read, "ads_analytics": ads_analytics, "org_read": pages(len(ds.pins)),
                            "org_analytics": math.ceil(len(asked) / 100) * p_windows},
            "detail": detail}


def floors(requests: dict[str, int], limits: dict[str, float], window: float, latency: float, workers: int) -> dict:
    """The issue's floor, plus a burst-aware variant (a sliding window admits ``limit`` at once)."""
    rate = {c: requests.get(c, 0) / limits[c] * window for c in limits}
    burst = {c: (max(0, math.ceil(requests.get(c, 0) / limits[c]) - 1) * window) for c in limits}
    total = sum(requests.values())
    lat = total * latency / workers
    return {"rate_by_category": {c: round(v, 3) for c, v in rate.items()}, "rate": max(rate.values()),
            "latency": lat, "floor": max(max(rate.values()), lat),
            "summed_floor": max(sum(rate.values()), lat),
            "burst_aware_floor": max(max(burst.values()) + latency, lat)}


def critical_path(minimum: dict, latency: float, workers: int) -> dict:
    """The longest chain of requests that wait for one another, with pinsync's order: the ad
    accounts' pages, then an account's longest listing (its pages are serial: each needs the
    last one's bookmark), then one round of its analytics calls; the pins' pages, then their
    analytics calls ``workers`` at a time (they start once the pins are listed). At
    ``latency`` a request and with unlimited CPU, no run can end sooner."""
    d = minimum["detail"]
    accounts = pages(d["ad_accounts"])
    listing = max((max(pages(row[k]["listed"]) for k in row) for row in d["per_account"].values()), default=0)
    ads_chain = accounts + listing + (1 if listing else 0)
    pin_calls = minimum["by_category"].get("org_analytics", 0)
    pins_chain = pages(d["pins"]) + math.ceil(pin_calls / workers)
    chain = max(ads_chain, pins_chain)
    return {"requests": chain, "seconds": round(chain * latency, 3), "ads_chain_requests": ads_chain,
            "pins_chain_requests": pins_chain}


# ======================================================================================== transform
class _StubClient:
    """Hands pinsync's Extractor recorded bodies instead of talking HTTP."""

    def __init__(self, bodies: dict[str, bytes]):
        self.bodies = bodies

    def get_bytes(self, path, params=None, *, category=None, tag="", expect="any") -> bytes:
        key = params.get("pin_ids") or next(v for k, v in params.items() if k.endswith("_ids"))
        return self.bodies[key]

    def request_line_length(self, path, params=None) -> int:
        return 0        # the recorded requests were answered: they fit

    def get_json(self, path, params=None, *, category=None, tag=""):
        return json.loads(self.get_bytes(path, params, category=category, tag=tag))


def transform_bench(fake, ds, today: dt.date, days: int, repeat: int, settings) -> dict:
    """pinsync's transform vs a read_json + write_parquet floor, on the same response bodies.

    Ads: every ad-level body of the first two ad accounts (250 ads x ``days`` days each; one
    "unit" per account, as the sync does). Pins: 5 multi-pin bodies (100 pins x ``days`` days).
    pinsync: what a sync unit does - ``Extractor.ads_analytics_batches`` /
    ``pin_analytics_batches`` (``frames.read_json_array`` / ``frames.read_pin_payload``: typing),
    then ``sync.write_batches`` (buffer, dedupe, one month file at a time: sort, hash, encode)
    to an in-memory filesystem.
    Floor: ``pl.read_json(BytesIO(body))`` + ``write_parquet(BytesIO)`` per body (pins: plus the
    unpivot/explode/unnest that turns the nested object into rows).
    """
    import importlib

    import polars as pl

    from pinsync.config import DEFAULT_PIN_METRIC_TYPES
    from pinsync.sink import Sink
    from pinsync.storage import Location
    from pinsync.streams import STREAMS

    extract = importlib.import_module("pinsync.extractor")
    from pinsync.config import _SCHEMA
    from pinsync.sync import units_at_once, write_batches
    # a unit's share of the default buffer_mb with the default max_workers, as in a sync
    buffer_bytes = _SCHEMA["buffer_mb"][0] * 2**20 // units_at_once(_SCHEMA["max_workers"][0])
    start, end = today - dt.timedelta(days=days), today - dt.timedelta(days=1)
    hdr = {"Authorization": f"Bearer {TOKEN}"}
    out: dict = {"days": days, "window": [start.isoformat(), end.isoformat()]}

    # ---- ads analytics bodies (the exact requests pinsync makes)
    spec = STREAMS["ad_analytics"]
    base = settings.params("ad")
    units = []
    for acct in [a["id"] for a in ds.ad_accounts[:2]]:
        ids = sorted(a["id"] for a in ds.ads if a["ad_account_id"] == acct)
        bodies = {}
        for i in range(0, len(ids), 250):
            batch = ",".join(ids[i:i + 250])
            q = {k: [str(v)] for k, v in {**base, "ad_ids": batch, "start_date": start.isoformat(),
                                          "end_date": end.isoformat()}.items()}
            status, _, body = fake.handle("GET", f"/v5/ad_accounts/{acct}/ads/analytics", q, hdr)
            assert status == 200, body[:200]
            bodies[batch] = body
        units.append((acct, ids, bodies))

    # ---- multi-pin bodies
    pspec = STREAMS["pin_analytics"]
    metric_types = tuple(DEFAULT_PIN_METRIC_TYPES)      # pinsync's default pin_analytics.metric_types
    pin_ids = sorted(p["id"] for p in ds.pins)[:500]
    pin_bodies = {}
    for i in range(0, len(pin_ids), 100):
        batch = ",".join(pin_ids[i:i + 100])
        q = {"pin_ids": [batch], "start_date": [start.isoformat()], "end_date": [end.isoformat()],
             "metric_types": [",".join(metric_types)]}
        status, _, body = fake.handle("GET", "/v5/pins/analytics", q, hdr)
        assert status == 200, body[:200]
        pin_bodies[batch] = body

    def pinsync_ads():
        ex = extract.Extractor(_StubClient({k: v for _, _, b in units for k, v in b.items()}), settings=settings)
        sink = Sink(Location(f"memory://pinsync-bench-{time.monotonic_ns()}"), "bench")
        rows = files = 0
        t_parse = t_write = 0.0
        for acct, ids, _ in units:
            t0 = time.perf_counter()
            batches = list(ex.ads_analytics_batches(spec, acct, ids, start, end, currency="USD"))
            t1 = time.perf_counter()
            covers = [{"ad_account_id": acct, "date": start + dt.timedelta(days=d)} for d in range(days)]
            w = write_batches(sink, spec, batches, covers, buffer_bytes)
            del batches
            t_parse += t1 - t0
            t_write += time.perf_counter() - t1
            rows += w.rows_written
            files += w.files_written
        return rows, files, t_parse, t_write

    def floor_ads():
        rows = 0
        for _, _, bodies in units:
            for body in bodies.values():
                df = pl.read_json(io.BytesIO(body))
                df.write_parquet(io.BytesIO())
                rows += df.height
        return rows

    def pinsync_pins():
        ex = extract.Extractor(_StubClient(pin_bodies), pin_metric_types=metric_types)
        ex._multi_pin = True          # the capability probe is a request, not transform work
        sink = Sink(Location(f"memory://pinsync-bench-{time.monotonic_ns()}"), "bench")
        t0 = time.perf_counter()
        batches = list(ex.pin_analytics_batches(pin_ids, start, end))
        t1 = time.perf_counter()
        covers = [{"date": start + dt.timedelta(days=d)} for d in range(days)]
        w = write_batches(sink, pspec, batches, covers, buffer_bytes)
        return w.rows_written, w.files_written, t1 - t0, time.perf_counter() - t1

    def pin_rows(body: bytes) -> pl.DataFrame:
        df = pl.read_json(io.BytesIO(body))
        return (df.select(pl.all().struct.field("all").struct.field("daily_metrics").name.keep())
                .unpivot(variable_name="pin_id").explode("value").unnest("value"))

    def floor_pins():
        rows = 0
        for body in pin_bodies.values():
            df = pin_rows(body)
            df.write_parquet(io.BytesIO())
            rows += df.height
        return rows

    def write_months(df: pl.DataFrame, date: str) -> None:
        for _, part in df.group_by(pl.col(date).str.slice(0, 7), maintain_order=True):
            part.write_parquet(io.BytesIO())

    def layout_ads():      # the floor with pinsync's layout: one file per (ad account, month)
        rows = 0
        for _, _, bodies in units:
            df = pl.concat([pl.read_json(io.BytesIO(b)) for b in bodies.values()], how="diagonal_relaxed")
            write_months(df, "DATE")
            rows += df.height
        return rows

    def layout_pins():     # one file per month
        df = pl.concat([pin_rows(b) for b in pin_bodies.values()], how="diagonal_relaxed")
        write_months(df, "date")
        return df.height

    def best(fn):
        times, res = [], None
        for _ in range(repeat):
            t = time.perf_counter()
            res = fn()
            times.append(time.perf_counter() - t)
        return min(times), res

    for name, mine, floor, layout, nbodies, nbytes in (
            ("ad_analytics", pinsync_ads, floor_ads, layout_ads, sum(len(b) for _, _, b in units),
             sum(len(x) for _, _, b in units for x in b.values())),
            ("pin_analytics", pinsync_pins, floor_pins, layout_pins, len(pin_bodies),
             sum(len(x) for x in pin_bodies.values()))):
        t_mine, (rows, files, t_parse, t_write) = best(mine)
        t_floor, floor_rows = best(floor)
        t_layout, _ = best(layout)
        out[name] = {
            "bodies": nbodies, "mb": round(nbytes / 1e6, 2), "rows": rows, "files": files,
            "pinsync_seconds": round(t_mine, 4), "pinsync_parse_seconds": round(t_parse, 4),
            "pinsync_write_seconds": round(t_write, 4), "floor_seconds": round(t_floor, 4), "floor_rows": floor_rows,
            "pinsync_rows_per_s": round(rows / t_mine), "floor_rows_per_s": round(rows / t_floor),
            "ratio": round(t_mine / t_floor, 3),
            "same_layout_floor_seconds": round(t_layout, 4), "ratio_to_same_layout_floor": round(t_mine / t_layout, 3),
        }
    return out


def written_files(out: Path, run_id: str) -> list[tuple[str, str, str]]:
    """The analytics month files the run ``run_id`` wrote, as (stream, ad account or "", month),
    from the run id in each file's Parquet metadata."""
    import polars as pl

    found = []
    for path in sorted(out.rglob("month=*/data.parquet")):
        if pl.read_parquet_metadata(path).get("pinsync.run_id") == run_id:
            rel = path.relative_to(out).parts
            keys = dict(p.split("=", 1) for p in rel[1:-1])
            found.append((rel[0], keys.get("ad_account_id", ""), keys["month"]))
    return found


def file_counts(written: list[tuple[str, str, str]], res: dict) -> dict:
    """Files written against the (stream, account, month) units they belong to."""
    per_unit = Counter((stream, acct) for stream, acct, _ in written)
    analytics = [n for n in res["streams"] if n.endswith("_analytics")]
    return {"analytics_files_written": len(written),
            "analytics_files_unchanged": sum(res["streams"][n].get("files_unchanged", 0) for n in analytics),
            "distinct_stream_account_months": len(set(written)),
            "most_months_written_per_account_and_stream": max(per_unit.values(), default=0),
            "files_written_all_streams": sum(s["files_written"] for s in res["streams"].values())}


def compute_floor(fake, cpus: int, written: list[tuple[str, str, str]]) -> dict | None:
    """The least CPU work that turns this run's analytics bodies into the files it wrote: every
    body the fake served (its cache) through ``pl.read_json`` -> one frame per (stream, ad account)
    -> one ``write_parquet`` (BytesIO) per (stream, account, month) file the run wrote, on one
    thread; divided by the CPU count for a (generous) lower bound on wall time. Report files
    (keyed by entity id) are read the same way, then unpivoted into rows. Entity lists are
    left out (small)."""
    import polars as pl

    if not fake._cache:
        return None
    wanted = set(written)
    ads: dict = {}
    pin_bodies = []
    report_streams = {"CAMPAIGN": "campaign_analytics", "AD_GROUP": "ad_group_analytics", "PIN_PROMOTION": "ad_analytics"}
    for (route, params, query), body in fake._cache.items():
        if route == "report":           # a report file: (account, the request's repr)
            level = re.search(r"level='(\w+)'", query).group(1)
            if level in report_streams:
                ads.setdefault((report_streams[level], params), []).append(("report", body))
        elif route.endswith("pin_analytics"):
            pin_bodies.append(body)
        elif route in ("campaign_analytics", "ad_group_analytics", "ad_analytics"):
            ads.setdefault((route, dict(params).get("account", "")), []).append(body)
    t = time.perf_counter()
    files = rows = 0
    for (stream, acct), bodies in ads.items():
        frames = [pl.read_json(io.BytesIO(b[1])).unpivot(variable_name="ID").explode("value").unnest("value")
                  if isinstance(b, tuple) else pl.read_json(io.BytesIO(b))
                  for b in bodies if (b[1] if isinstance(b, tuple) else b).strip() not in (b"[]", b"{}")]
        if not frames:
            continue
        df = pl.concat(frames, how="diagonal_relaxed")
        rows += df.height
        for (month,), part in df.group_by(pl.col("DATE").str.slice(0, 7), maintain_order=True):
            if (stream, acct, month) in wanted:
                part.write_parquet(io.BytesIO())
                files += 1
    if pin_bodies:
        parts = []
        for b in pin_bodies:
            df = pl.read_json(io.BytesIO(b))
            parts.append(df.select(pl.all().struct.field("all").struct.field("daily_metrics").name.keep())
                         .unpivot(variable_name="pin_id").explode("value").unnest("value")
                         .filter(~pl.col("data_status").str.starts_with("BEFORE_")))
        df = pl.concat(parts, how="diagonal_relaxed")
        rows += df.height
        for (month,), part in df.group_by(pl.col("date").str.slice(0, 7), maintain_order=True):
            if ("pin_analytics", "", month) in wanted:
                part.write_parquet(io.BytesIO())
                files += 1
    single = time.perf_counter() - t
    return {"single_thread_seconds": round(single, 3), "cpus": cpus, "floor": round(single / cpus, 3),
            "rows": rows, "files": files, "bodies": len(fake._cache)}


def sweep_sizes(args) -> list[tuple[str, int, int]]:
    """(scaled by, ad accounts, days) at 1x, 4x and 16x the ads rows: by ad accounts from the
    benchmark's size up (``--days``), and by days from ``--sweep-days`` up (default 57: 57, 228
    and 912 days, the longest that reports serve, 913 back; the days older than 89 go through
    asynchronous reports). Pins stay as they are: they belong to the user, not to the ad accounts."""
    a, d, d1 = args.accounts, args.days, args.sweep_days
    return ([("accounts", a * k, d) for k in (1, 4, 16) if args.sweep in ("both", "accounts")]
            + [("days", a, d1 * k) for k in (1, 4, 16) if args.sweep in ("both", "days")])


def rss_sweep(args, shape: dict, today: dt.date, workdir: Path, server_cls, fake_cls) -> list[dict]:
    """Peak RSS of a full sync at other sizes (no latency, no limits, no cache: only memory matters)."""
    from pinsync.fake import Dataset

    out = []
    for by, accounts, days in sweep_sizes(args):
        ds = Dataset(today=today, **{**shape, "accounts": accounts, "history_days": max(120, days + 30)})
        fake = fake_cls(ds, access_tokens=(TOKEN,), cache=False)
        fake.reports.polls_in_progress = args.report_polls
        label = f"sweep-{accounts}a-{days}d"
        with server_cls(fake) as srv:
            cfg = config_for(srv.url, workdir / label, today - dt.timedelta(days=days), args.workers, 60.0, {},
                             args.lookback)
            cfg.pop("rate_limits")
            res = run_child({"today": today.isoformat(), "report_time_scale": 1 / args.scale, "config": cfg}, workdir,
                            label, args.malloc_conf)
        shutil.rmtree(workdir / label, ignore_errors=True)
        row = {"scaled_by": by, "accounts": accounts, "ads": len(ds.ads), "pins": len(ds.pins), "days": days,
               "rows": sum(s["rows_fetched"] for s in res["streams"].values()),
               "ads_analytics_rows": sum(s["rows_fetched"] for n, s in res["streams"].items()
                                         if n.endswith("_analytics") and n != "pin_analytics"),
               "peak_rss_mb": round(peak_kb(res) / 1024, 1),
               "peak_rss_anon_mb": round(res["child_rss_anon_peak_poll_kb"] / 1024, 1),
               "reports": len(fake.reports.by_token),
               "run_seconds": round(res["run_seconds"], 2)}
        print(f"  {accounts:>3} accounts {len(ds.ads):>6} ads {len(ds.pins):>6} pins {days:>3} days "
              f"({row['reports']} reports): {row['rows']:>9,} rows, peak RSS {row['peak_rss_mb']:.0f} MB "
              f"(anonymous {row['peak_rss_anon_mb']:.0f} MB)", flush=True)
        out.append(row)
    return out


def peak_kb(res: dict) -> int:
    """The child's peak RSS: ``/usr/bin/time -f %M`` where it exists, else its own VmHWM (the
    largest of several timed runs' when there were several)."""
    return res.get("rss_peak_kb_max") or res.get("time_maxrss_kb") or res["rss_peak_kb"]


# ======================================================================================== runs
def run_child(spec: dict, workdir: Path, label: str, malloc_conf: str | None = None) -> dict:
    spec_path = workdir / f"{label}.spec.json"
    spec_path.write_text(json.dumps(spec))
    err_path = workdir / f"{label}.stderr.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    env.pop("_RJEM_MALLOC_CONF", None)
    if malloc_conf or _ALLOCATOR_ENV:
        env["_RJEM_MALLOC_CONF"] = malloc_conf or _ALLOCATOR_ENV     # polars' jemalloc reads it when it loads
    t0 = time.perf_counter()
    with open(err_path, "wb") as err:
        pyspy = os.environ.get("PINSYNC_BENCH_PYSPY")
        pre = ["py-spy", "record", "-r", "250", "--format", "raw", "-o", f"{pyspy}.{label}", "--"] if pyspy else []
        wrap = os.environ.get("PINSYNC_BENCH_WRAP")     # debugging aid: e.g. "perf stat -e ... -o {label}.perf"
        if wrap:
            pre = wrap.format(label=label).split() + pre
        time_file = workdir / f"{label}.maxrss"
        if Path("/usr/bin/time").exists():       # the whole process's peak RSS, measured from outside
            pre = ["/usr/bin/time", "-f", "%M", "-o", str(time_file), *pre]
        p = subprocess.Popen(pre + [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
                             stdout=subprocess.PIPE, stderr=err, env=env)
        hwm = [0, 0]
        stop = threading.Event()

        def poll():   # VmHWM while it runs (a cross-check of the child's own figure) and peak RssAnon
            pid = p.pid
            while pre and not stop.wait(0.005):    # the python process below /usr/bin/time (or py-spy)
                try:
                    pid = int(Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()[0])
                    break
                except (OSError, IndexError, ValueError):
                    continue
            status = Path(f"/proc/{pid}/status")
            while not stop.wait(0.02):
                try:
                    text = status.read_text()
                except OSError:
                    return
                for i, field in enumerate(("VmHWM", "RssAnon")):
                    m = re.search(field + r":\s+(\d+)", text)
                    if m:
                        hwm[i] = max(hwm[i], int(m.group(1)))
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        stdout = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{label}: pinsync child failed (exit {p.returncode}); see {err_path}:\n"
                         + err_path.read_text()[-3000:])
    res = json.loads([ln for ln in stdout.decode().splitlines() if ln.startswith("{")][-1])
    res["time_maxrss_kb"] = int(time_file.read_text().split()[-1]) if time_file.exists() else None
    res.update(child_wall_seconds=wall, wait4_maxrss_kb=ru.ru_maxrss, child_vmhwm_poll_kb=hwm[0],
               child_rss_anon_peak_poll_kb=hwm[1],
               child_cpu_seconds=ru.ru_utime + ru.ru_stime)
    if not res["ok"]:
        raise SystemExit(f"{label}: pinsync reported failures: {res['failures']}")
    return res


def config_for(url: str, out: Path, start_date: dt.date, workers: int, window: float, limits: dict,
               lookback: int = 30) -> dict:
    return {
        "api_url": url,
        "auth": {"access_token": TOKEN},
        "start_date": start_date.isoformat(),
        "output": {"url": str(out / "out")},
        "state": {"url": str(out / "state" / "state.json")},
        "max_workers": workers,
        "analytics": {"lookback_days": lookback},
        "rate_limits": dict(limits),
        "http": {"rate_limit_window_seconds": window},
        **EXTRA_CONFIG,
    }


EXTRA_CONFIG: dict = {}     # --config: more pinsync settings for every run (e.g. {"buffer_mb": 16})


def timed_run(fake, server_cls, *, label: str, today: dt.date, start_date: dt.date, workdir: Path, target: Path,
              args, limits: dict, window: float, warm_from: Path | None, runs: int = 1) -> dict:
    """A warm-up run (fills the fake's cache; no latency, no limits, scratch copy), then the timed
    run. With ``runs`` > 1 (each from an empty ``target/run-N``), the run of median wall time,
    with every run's wall time, CPU and peak RSS beside it (``runs``) and the largest peak RSS
    of them (``rss_peak_kb_max``); ``target`` is where its output is (``res["target"]``)."""
    with server_cls(fake) as srv:
        if fake.cache_enabled:
            scratch = workdir / f"warm-{label}"
            if warm_from is not None:
                shutil.copytree(warm_from, scratch)
                state_file = scratch / "state" / "state.json"       # the copy's state vouches for the copy
                state = json.loads(state_file.read_text())
                state["output"] = str(scratch / "out")
                state_file.write_text(json.dumps(state))
            fake.latency, fake.rate_limits = 0.0, None
            t = time.perf_counter()
            run_child({"today": today.isoformat(), "report_time_scale": window / 60,
                       "config": config_for(srv.url, scratch, start_date, args.workers, window, limits,
                                            args.lookback)},
                      workdir, f"warm-{label}", args.malloc_conf)
            print(f"  [{label}] warm-up (fills the fake's response cache): {time.perf_counter() - t:.1f}s", flush=True)
            shutil.rmtree(scratch, ignore_errors=True)
        fake.latency, fake.rate_limits = args.latency, dict(limits)
        if runs > 1:
            every = [_one_timed_run(fake, srv.url, label=label, today=today, start_date=start_date, workdir=workdir,
                                    target=target / f"run-{i + 1}", args=args, limits=limits, window=window)
                     for i in range(runs)]
            res = sorted(every, key=lambda r: r["run_seconds"])[runs // 2]
            res["runs"] = [{"run_seconds": r["run_seconds"], "child_cpu_seconds": r["child_cpu_seconds"],
                            "rss_peak_kb": peak_kb(r), "loadavg_1min_at_start": r["loadavg_1min_at_start"]}
                           for r in every]
            res["rss_peak_kb_max"] = max(peak_kb(r) for r in every)
            print(f"  [{label}] timed runs: " + ", ".join(f"{r['run_seconds']:.2f}s" for r in every)
                  + f" (median {res['run_seconds']:.2f}s)", flush=True)
        else:
            res = _one_timed_run(fake, srv.url, label=label, today=today, start_date=start_date, workdir=workdir,
                                 target=target, args=args, limits=limits, window=window)
            print(f"  [{label}] timed run: {res['run_seconds']:.2f}s", flush=True)
        return res


def _one_timed_run(fake, url: str, *, label: str, today: dt.date, start_date: dt.date, workdir: Path,
                   target: Path, args, limits: dict, window: float, settings: dict | None = None) -> dict:
    """One timed run against the fake (already warm, with latency and limits); ``settings``:
    more pinsync settings for this run (e.g. its streams)."""
    fake.reset_bench()
    reports_before = len(fake.reports.by_token)
    load = os.getloadavg()[0]
    cpu = time.process_time()
    # the fake's dataset and cached responses (about 150,000 objects) are left out of this process's
    # cyclic garbage collector while the child runs: its full collections (40-100 ms each, finding
    # nothing to free) paused every request the fake was serving, which a real server does not do
    gc.collect()
    gc.freeze()
    try:
        res = run_child({"today": today.isoformat(), "report_time_scale": window / 60,
                         "config": {**config_for(url, target, start_date, args.workers, window, limits,
                                                 args.lookback), **(settings or {})}},
                        workdir, label, args.malloc_conf)
    finally:
        gc.unfreeze()
    res["target"] = str(target)
    res["loadavg_1min_at_start"] = load
    res["fake_cpu_seconds"] = round(time.process_time() - cpu, 3)     # this process while the child ran
    res["fake_busy_seconds"] = round(fake.busy, 3)
    res["fake_compute_seconds"] = round(fake.compute_seconds, 3)
    res["fake_cache_hits"] = fake.cache_hits
    res["reports_created"] = len(fake.reports.by_token) - reports_before
    res["report_downloads"] = sum(1 for d in fake.downloads if d[0] == "GET")
    res["fake_requests_by_category"] = {}
    res["fake_429_by_category"] = {}
    for (cat, status), n in sorted(fake.statuses.items()):
        res["fake_requests_by_category"][cat] = res["fake_requests_by_category"].get(cat, 0) + n
        if status == 429:
            res["fake_429_by_category"][cat] = n
    return res


def organic_run(args, shape: dict, today: dt.date, start_date: dt.date, workdir: Path, server_cls, fake_cls,
                limits: dict, window: float) -> dict:
    """Pin analytics for an app without the multi-pin beta (one ``org_analytics`` call per pin, at
    60 a minute): the pins listing and pin_analytics alone, for ``--organic-pins`` pins. The
    calls needed are the pins whose ``pin_metrics`` do not prove them silent over the window
    (pinsync's rule, from the dataset); the floor is those calls at the published limit."""
    from pinsync.fake import Dataset

    ds = Dataset(today=today, **{**shape, "accounts": 1, "pins": args.organic_pins})
    fake = fake_cls(ds, access_tokens=(TOKEN,), latency=args.latency, rate_limits=dict(limits),
                    rate_limit_window=window, multi_pin_analytics=False, cache=False)
    p_range = analytics_range(today, start_date, None, args.lookback)
    detail = minimum_requests(ds, today, p_range, p_range)["detail"]
    needed = detail["pins_sent_to_analytics"] * detail["pins_window"][2]       # one call per pin and window
    one_per_pin = detail["pins_created_by_the_window_end"] * detail["pins_window"][2]
    with server_cls(fake) as srv:
        res = _one_timed_run(fake, srv.url, label="organic", today=today, start_date=start_date, workdir=workdir,
                             target=workdir / "organic", args=args, limits=limits, window=window,
                             settings={"streams": ["pins", "pin_analytics"]})
    shutil.rmtree(workdir / "organic", ignore_errors=True)
    print(f"  [organic] timed run: {res['run_seconds']:.2f}s", flush=True)
    sent = res["requests_by_category"].get("org_analytics", 0)
    floor = needed / limits["org_analytics"] * window
    return {
        "pins": len(ds.pins), "window": detail["pins_window"],
        "calls_one_per_pin": one_per_pin, "calls_needed": needed, "calls_sent": sent,
        "calls_saved_share": round(1 - needed / one_per_pin, 3) if one_per_pin else 0.0,
        "floor_seconds": round(floor, 3), "wall_seconds": round(res["run_seconds"], 3),
        "wall_over_floor": round(res["run_seconds"] / floor, 3) if floor else None,
        "wall_pass": res["run_seconds"] <= TARGET_WALL * floor,
        # the first call asks for a batch of pins: the multi-pin beta's check (answered 401 code 7 without it)
        "requests_pass": sent <= needed + 1,
        "rows_fetched": res["streams"].get("pin_analytics", {}).get("rows_fetched", 0),
        "peak_rss_mb": round(peak_kb(res) / 1024, 1),
        "note": "calls needed: one per pin whose pin_metrics do not prove it silent over the window, per window; "
                "floor: those calls / the org_analytics limit x the window; pinsync also makes one multi-pin "
                "call first, the check that the app has the beta",
    }


def assess(res: dict, minimum: dict, fl: dict, cf: dict | None, files: dict, *,
           wall_target: float = TARGET_WALL, with_compute: bool = True, cp: dict | None = None,
           cpus: int = 1) -> dict:
    """A run's figures against their floors: requests against the minimum per category, wall time
    against the larger of the request floor and the compute floor (or the request floor alone),
    peak RSS against its target."""
    sent = {c: res["requests_by_category"].get(c, 0) for c in CATEGORIES}
    total, total_min = sum(sent.values()), sum(minimum["by_category"].values())
    rows = sum(s["rows_fetched"] for s in res["streams"].values())
    per_cat = {c: {"requests": sent[c], "minimum": minimum["by_category"][c],
                   "ratio": round(sent[c] / minimum["by_category"][c], 3) if minimum["by_category"][c] else None}
               for c in CATEGORIES}
    wall = res["run_seconds"]
    bound = max(fl["floor"], cf["floor"]) if cf and with_compute else fl["floor"]
    peak = peak_kb(res) / 1024
    return {
        "requests": per_cat,
        "requests_total": {"requests": total, "minimum": total_min, "ratio": round(total / total_min, 3)},
        "requests_pass": all(v["ratio"] is None or v["ratio"] <= TARGET_REQUESTS for v in per_cat.values()),
        "floor": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in fl.items()},
        "compute_floor": cf,
        "critical_path": cp,
        "child_cpu_over_cpus_seconds": round(res["child_cpu_seconds"] / cpus, 3),
        "bound_seconds": round(bound, 3),
        "wall_seconds": round(wall, 3),
        "runs": [{**r, "wall_over_bound": round(r["run_seconds"] / bound, 3)} for r in res.get("runs", ())],
        "child_wall_seconds": round(res["child_wall_seconds"], 3),
        "wall_over_floor": round(wall / fl["floor"], 3),
        "wall_over_summed_floor": round(wall / fl["summed_floor"], 3),
        "wall_over_bound": round(wall / bound, 3),
        "wall_target": wall_target,
        "wall_pass": wall <= wall_target * bound,
        "files": files,
        "rows_fetched": rows,
        "rows_per_second": round(rows / wall),
        "peak_rss_mb": round(peak, 1),
        "peak_rss_vmhwm_mb": round(res["rss_peak_kb"] / 1024, 1),
        "rss_after_imports_mb": round(res["rss_ready_kb"] / 1024, 1),
        "rss_pass": peak < TARGET_RSS_MB,
        "child_cpu_seconds": round(res["child_cpu_seconds"], 2),
        "fake_busy_seconds": res["fake_busy_seconds"],
        "fake_compute_seconds": res["fake_compute_seconds"],
        "fake_cpu_seconds": res.get("fake_cpu_seconds"),
        "fake_429": res["fake_429_by_category"],
    }


# ======================================================================================== report
def print_run(title: str, a: dict, res: dict) -> None:
    print(f"\n== {title}")
    print(f"  {'category':<15}{'requests':>9}{'minimum':>9}{'ratio':>8}   (target <= {TARGET_REQUESTS})")
    for c, v in a["requests"].items():
        print(f"  {c:<15}{v['requests']:>9}{v['minimum']:>9}{(v['ratio'] or 0):>8.3f}")
    t = a["requests_total"]
    print(f"  {'total':<15}{t['requests']:>9}{t['minimum']:>9}{t['ratio']:>8.3f}   "
          f"{'PASS' if a['requests_pass'] else 'FAIL'}; 429s seen by the fake: {a['fake_429'] or 'none'}")
    if a.get("reports"):
        r = a["reports"]
        m = r["minimum"]
        print(f"  reports ({m['days']} days older than the synchronous window): created {r['created']} (minimum "
              f"{m['creations']}), polls in ads_analytics (minimum {m['polls']}), downloaded {r['downloads']} "
              f"(minimum {m['downloads']}; the report host is not rate-limited)")
    f, c = a["floor"], a["compute_floor"]
    print(f"  request floor {f['floor']:.2f}s = max(rate {f['rate']:.2f}s, latency {f['latency']:.2f}s); rate by "
          f"category {f['rate_by_category']}; categories summed {f['summed_floor']:.2f}s")
    if c:
        print(f"  compute floor {c['floor']:.2f}s = read_json of the same {c['bodies']} bodies + write_parquet of the "
              f"same {c['files']} files: {c['single_thread_seconds']:.2f}s on one thread / {c['cpus']} CPUs")
    if a.get("critical_path"):
        cp = a["critical_path"]
        print(f"  critical path {cp['seconds']:.2f}s = {cp['requests']} requests that wait for one another x latency "
              f"(ads: {cp['ads_chain_requests']}, pins: {cp['pins_chain_requests']}); the child's CPU time / "
              f"CPUs {a['child_cpu_over_cpus_seconds']:.2f}s (incl. start-up and imports)")
    print(f"  wall {a['wall_seconds']:.2f}s (pinsync.run; child process incl. start-up {a['child_wall_seconds']:.2f}s): "
          f"{a['wall_over_floor']:.2f}x the request floor, {a['wall_over_bound']:.2f}x the bound "
          f"{a['bound_seconds']:.2f}s (target <= {a['wall_target']}) {'PASS' if a['wall_pass'] else 'FAIL'}")
    if a.get("runs"):
        print(f"  {len(a['runs'])} timed runs (the median reported, the largest peak RSS judged): wall "
              + ", ".join(f"{r['run_seconds']:.2f}s ({r['wall_over_bound']:.2f}x)" for r in a["runs"])
              + "; child CPU " + ", ".join(f"{r['child_cpu_seconds']:.1f}s" for r in a["runs"])
              + "; peak RSS " + ", ".join(f"{r['rss_peak_kb'] / 1024:.0f}" for r in a["runs"]) + " MB")
    fc = a["files"]
    print(f"  analytics files written {fc['analytics_files_written']} (distinct (stream, account, month) "
          f"{fc['distinct_stream_account_months']}; at most {fc['most_months_written_per_account_and_stream']} "
          f"month(s) per account and stream), left alone as unchanged {fc['analytics_files_unchanged']}")
    print(f"  rows fetched {a['rows_fetched']:,} ({a['rows_per_second']:,} rows/s end to end); "
          f"child CPU {a['child_cpu_seconds']:.1f}s; the fake: {a['fake_busy_seconds']:.2f}s under its lock, "
          f"{a['fake_compute_seconds']:.2f}s computing bodies, {a['fake_cpu_seconds']:.1f}s of CPU in all")
    print(f"  peak RSS {a['peak_rss_mb']:.0f} MB (/usr/bin/time -f %M; VmHWM {a['peak_rss_vmhwm_mb']:.0f} MB, after "
          f"imports {a['rss_after_imports_mb']:.0f} MB): {a['peak_rss_mb'] / TARGET_RSS_MB:.2f}x the target "
          f"{TARGET_RSS_MB:.0f} MB {'PASS' if a['rss_pass'] else 'FAIL'}")
    print("  " + "  ".join(f"{n}:{s['rows_fetched']}r/{s['requests']}q/{s['files_written']}w/"
                           f"{s.get('files_unchanged', 0)}u/{s['seconds']}s" for n, s in res["streams"].items()))
    print("  (per stream: rows fetched / requests / files written / files unchanged, not rewritten / seconds)")


def print_transform(tr: dict) -> None:
    print(f"\n== transform ({tr['days']} days a body; best of the repeats)")
    for name in ("ad_analytics", "pin_analytics"):
        v = tr[name]
        print(f"  {name:<14} {v['bodies']} bodies {v['mb']} MB -> {v['rows']:,} rows, {v['files']} files: "
              f"pinsync {v['pinsync_seconds']:.3f}s (typing {v['pinsync_parse_seconds']:.3f}s + month files "
              f"{v['pinsync_write_seconds']:.3f}s) = {v['pinsync_rows_per_s']:,} rows/s; floor {v['floor_seconds']:.3f}s "
              f"= {v['floor_rows_per_s']:,} rows/s; ratio {v['ratio']:.2f}x (target <= {TARGET_TRANSFORM}) "
              f"{'PASS' if v['ratio'] <= TARGET_TRANSFORM else 'FAIL'}; floor with the same month files "
              f"({v['files']} files) {v['same_layout_floor_seconds']:.3f}s: {v['ratio_to_same_layout_floor']:.2f}x")


def print_summary(results: dict, transform: dict) -> None:
    runs = [r for r in ("full", "incremental", "agency") if r in results]
    if not runs:
        return
    print("\n== summary" + " " * 27 + "".join(f"{r:>24}" for r in runs) + "   target")

    def row(label, cells, target=""):
        print(f"  {label:<35}" + "".join(f"{c:>24}" for c in cells) + f"   {target}")

    a = {r: results[r]["assessment"] for r in runs}
    for c in CATEGORIES:
        row(f"requests {c}", [f"{a[r]['requests'][c]['requests']}/{a[r]['requests'][c]['minimum']} = "
                             f"{a[r]['requests'][c]['ratio']:.2f}x" for r in runs], f"<= {TARGET_REQUESTS}x")
    row("request floor", [f"{a[r]['floor']['floor']:.2f}s" for r in runs])
    row("compute floor", [f"{a[r]['compute_floor']['floor']:.2f}s" if a[r]["compute_floor"] else "-" for r in runs])
    row("critical path (serial requests)", [f"{a[r]['critical_path']['seconds']:.2f}s" for r in runs])
    row("child CPU time / CPUs", [f"{a[r]['child_cpu_over_cpus_seconds']:.2f}s" for r in runs])
    row("wall / request floor", [f"{a[r]['wall_seconds']:.2f}s = {a[r]['wall_over_floor']:.2f}x" for r in runs])
    row("wall / max(request, compute floor)", [f"{a[r]['wall_over_bound']:.2f}x (<= {a[r]['wall_target']})"
                                                for r in runs], f"<= {TARGET_WALL}x; agency <= {TARGET_AGENCY_WALL}x")
    row("analytics files written / unchanged", [f"{a[r]['files']['analytics_files_written']} / "
                                                f"{a[r]['files']['analytics_files_unchanged']}" for r in runs])
    row("  most months per account & stream", [str(a[r]["files"]["most_months_written_per_account_and_stream"])
                                               for r in runs], "full: 1 per month; next day <= 2")
    row("rows/s end to end", [f"{a[r]['rows_per_second']:,}" for r in runs])
    for k in ("ad_analytics", "pin_analytics"):
        row(f"transform {k} / floor", [f"{transform[r][k]['ratio']:.2f}x" if r in transform else "-" for r in runs],
            f"<= {TARGET_TRANSFORM}x")
        row("  ... / same-files floor", [f"{transform[r][k]['ratio_to_same_layout_floor']:.2f}x" if r in transform
                                         else "-" for r in runs])
    row("peak RSS", [f"{a[r]['peak_rss_mb']:.0f} MB = {a[r]['peak_rss_mb'] / TARGET_RSS_MB:.2f}x" for r in runs],
        f"< {TARGET_RSS_MB:.0f} MB")
    if "rss_sweep" in results:
        s = results["rss_flat"]
        row("peak RSS, largest / smallest size", [f"{s['ratio']:.2f}x ({s['smallest_mb']:.0f}-{s['largest_mb']:.0f} MB)"],
            f"<= {TARGET_RSS_FLAT}x")


# ======================================================================================== main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds the fake waits per request (default 0.05)")
    ap.add_argument("--scale", type=float, default=20.0,
                    help="rate-limit windows last 60/scale seconds, for the fake and pinsync (default 20)")
    ap.add_argument("--workers", type=int, default=8, help="pinsync max_workers (default 8)")
    ap.add_argument("--accounts", type=int, default=5)
    ap.add_argument("--ads", type=int, default=1000, help="ads per ad account (default 1000)")
    ap.add_argument("--ad-groups-per-campaign", type=int, default=5)
    ap.add_argument("--ads-per-ad-group", type=int, default=10)
    ap.add_argument("--pins", type=int, default=2000)
    ap.add_argument("--days", type=int, default=89,
                    help="start_date this many days back (older days need asynchronous reports)")
    ap.add_argument("--lookback", type=int, default=30, help="analytics.lookback_days (pinsync's default 30)")
    ap.add_argument("--repeat", type=int, default=3, help="transform timings: best of N (default 3)")
    ap.add_argument("--no-cache", action="store_true", help="let the fake compute every response in the timed run")
    ap.add_argument("--no-incremental", action="store_true", help="skip the next-day run")
    ap.add_argument("--next-day", choices=("same-world", "shifted"), default="same-world",
                    help="the next day's data: the same world a day later (default: history stays, today's "
                         "delivery goes on), or a world generated for today + 1 (every day's rows differ: the "
                         "worst case, where every re-fetched partition must be rewritten)")
    ap.add_argument("--keep", action="store_true", help="keep the output folder")
    ap.add_argument("--workdir", help="where the output and state go (default: a new temporary folder on disk)")
    ap.add_argument("--no-rss-sweep", action="store_true", help="skip the peak-RSS runs at other sizes")
    ap.add_argument("--no-agency", action="store_true", help="skip the agency-sized run")
    ap.add_argument("--only", choices=("agency", "organic"),
                    help="run only the agency-sized sync (e.g. with PINSYNC_BENCH_TRACE to study its timeline), or "
                         "only the organic pin analytics run")
    ap.add_argument("--no-organic", action="store_true", help="skip the organic pin analytics run (no multi-pin beta)")
    ap.add_argument("--organic-pins", type=int, default=500,
                    help="pins in the organic pin analytics run (one call each at 60 a minute; default 500)")
    ap.add_argument("--agency-runs", type=int, default=3,
                    help="timed agency-sized runs (after one warm-up); the one of median wall time is reported, "
                         "the largest peak RSS of them judged (default 3)")
    ap.add_argument("--agency-accounts", type=int, default=50)
    ap.add_argument("--agency-ads", type=int, default=200, help="ads per ad account in the agency-sized run")
    ap.add_argument("--agency-days", type=int, default=730,
                    help="days of history in the agency-sized run (default 730; the synchronous endpoints serve "
                         "89, older days go through asynchronous reports)")
    ap.add_argument("--report-polls", type=int, default=1,
                    help="polls the fake answers IN_PROGRESS before a report is FINISHED (default 1)")
    ap.add_argument("--sweep", choices=("both", "accounts", "days"), default="both",
                    help="the peak-RSS sweep by ad accounts, by days or both (default)")
    ap.add_argument("--only-sweep", action="store_true",
                    help="run only the peak-RSS sweep (see --sweep, --sweep-days) and print it; --out is not written")
    ap.add_argument("--sweep-days", type=int, default=57,
                    help="the peak-RSS sweep by days runs 1x, 4x and 16x this many days (default 57: up to 912)")
    ap.add_argument("--malloc-conf", help="_RJEM_MALLOC_CONF for the pinsync child, e.g. "
                                          "'dirty_decay_ms:0,muzzy_decay_ms:0' (polars' allocator)")
    ap.add_argument("--config", type=json.loads, default={},
                    help='more pinsync settings, as JSON, for every run (e.g. \'{"buffer_mb": 16}\')')
    ap.add_argument("--out", help="where the figures go as JSON (default bench/results.json; with --only: not "
                    "written unless given)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    EXTRA_CONFIG.update(args.config)
    if args.child:
        child_main(args.child)
        return

    import polars as pl

    import pinsync
    from pinsync import api
    from pinsync.config import DEFAULT_ANALYTICS_COLUMNS
    from pinsync.extractor import AnalyticsSettings
    from pinsync.fake import Dataset, FakeServer

    t_all = time.perf_counter()
    today = dt.datetime.now(dt.timezone.utc).date()
    start_date = today - dt.timedelta(days=args.days)
    window = 60.0 / args.scale
    limits = dict(api.RATE_LIMITS_PER_MINUTE)
    per_campaign = args.ad_groups_per_campaign * args.ads_per_ad_group
    campaigns = max(1, math.ceil(args.ads / per_campaign))
    shape = dict(seed=SEED, accounts=args.accounts, campaigns_per_account=campaigns,
                 ad_groups_per_campaign=args.ad_groups_per_campaign, ads_per_ad_group=args.ads_per_ad_group,
                 pins=args.pins, history_days=max(120, args.days + 30))
    BenchFake = make_fake_class()
    workdir = Path(tempfile.mkdtemp(prefix="pinsync-bench-", dir=args.workdir))
    target = workdir / "sync"

    print(f"pinsync benchmark: {args.accounts} ad accounts x {campaigns * per_campaign} ads "
          f"({campaigns} campaigns x {args.ad_groups_per_campaign} ad groups x {args.ads_per_ad_group} ads), "
          f"{args.pins} pins, start_date {start_date} ({args.days} days back), today {today} (UTC)")
    print(f"latency {args.latency * 1000:.0f} ms/request; rate limits {limits} per {window:g}s window "
          f"(scale {args.scale:g}); max_workers {args.workers}; fake response cache "
          f"{'off' if args.no_cache else 'on (warm-up run first)'}; output {target}", flush=True)

    ds = Dataset(today=today, **shape)
    fake = BenchFake(ds, access_tokens=(TOKEN,), latency=args.latency, rate_limits=limits, rate_limit_window=window,
                     multi_pin_analytics=True, cache=not args.no_cache)
    results: dict = {
        "issue": 12,
        "command": " ".join([Path(sys.executable).name, "bench/run.py", *sys.argv[1:]]),
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "polars": pl.__version__, "pinsync": pinsync.__version__, "git": _git_rev(),
                    "loadavg_at_start": os.getloadavg()},
        "parameters": {**vars(args), "today": today.isoformat(), "start_date": start_date.isoformat(),
                       "rate_limits_per_window": limits, "window_seconds": window, "dataset": shape},
        "targets": {"requests_ratio_max": TARGET_REQUESTS, "wall_over_bound_max": TARGET_WALL,
                    "agency_wall_over_request_floor_max": TARGET_AGENCY_WALL, "transform_ratio_max": TARGET_TRANSFORM,
                    "peak_rss_mb_max": TARGET_RSS_MB, "peak_rss_largest_over_smallest_max": TARGET_RSS_FLAT},
        "dataset": repr(ds),
        "notes": [
            "minimum requests: computed from the dataset with pinsync's rules; entity lists at 250 a page "
            "(the fake's last page has a null bookmark even when a count is an exact multiple of 250, so no "
            "empty trailing page; the real API may spend one more call there); ads analytics: ids created "
            "before the window's end, 250 a call, per 90-day window; pin analytics: pins created before the "
            "window's end, 100 a call. pinsync's one-pin probe of the multi-pin endpoint is counted as overhead.",
            "request floor: max(max over categories of requests/limit x window, requests x latency / workers); "
            "summed_floor shows the rate terms summed over categories instead.",
            "compute floor: read_json of every body the run was served plus one write_parquet per analytics "
            "file the run wrote (the same (stream, account, month) groups), on one thread, divided by the CPUs.",
            "wall: seconds inside pinsync.run in the child (child_wall_seconds adds interpreter start-up and "
            "imports); judged against max(request floor, compute floor), the agency run against the request floor.",
            "peak RSS: /usr/bin/time -f %M of the pinsync child (the whole process, libraries included); the "
            "child starts with the allocator settings a shell would give it (the bench's own Polars import "
            "sets _RJEM_MALLOC_CONF in its environment, which is not passed on).",
            "the fake runs in this (parent) process and shares the machine's CPUs with pinsync; "
            "fake_busy_seconds: its time under its lock; fake_compute_seconds: computing analytics bodies "
            "(0 when served from the warm-up cache); fake_cpu_seconds: the bench process's CPU time (the fake "
            "serving) while the child ran.",
        ],
    }
    cpus = os.cpu_count() or 1
    if args.only_sweep:
        print("\npeak RSS at 1x, 4x and 16x the rows (no latency, no limits) ...", flush=True)
        peaks: dict[str, list[float]] = {}
        for r in rss_sweep(args, shape, today, workdir, FakeServer, BenchFake):
            peaks.setdefault(r["scaled_by"], []).append(r["peak_rss_mb"])
        for by, p in peaks.items():
            print(f"  by {by}: {', '.join(f'{x:.0f}' for x in p)} MB: largest / smallest {max(p) / min(p):.2f}x "
                  f"(target <= {TARGET_RSS_FLAT}x, every run < {TARGET_RSS_MB:.0f} MB)")
        shutil.rmtree(workdir, ignore_errors=True)
        return

    transform: dict = {}
    if args.only:       # one part alone
        args.no_incremental = True
        args.no_agency = args.only != "agency"
        args.no_organic = args.only != "organic"
        args.no_rss_sweep = True

    # ---- full run
    if not args.only:
        print("\nfull run ...", flush=True)
        full = timed_run(fake, FakeServer, label="full", today=today, start_date=start_date, workdir=workdir,
                         target=target, args=args, limits=limits, window=window, warm_from=None)
        ads_range = analytics_range(today, start_date, None, args.lookback)
        minimum_full = minimum_requests(ds, today, ads_range, ads_range)
        fl_full = floors(minimum_full["by_category"], limits, window, args.latency, args.workers)
        written = written_files(target / "out", full["run_id"])
        results["full"] = {"assessment": assess(full, minimum_full, fl_full, compute_floor(fake, cpus, written),
                                                file_counts(written, full), cpus=cpus,
                                                cp=critical_path(minimum_full, args.latency, args.workers)),
                           "minimum": minimum_full, "raw": full}

        # ---- transform
        print("\ntransform ...", flush=True)
        settings = AnalyticsSettings(tuple(DEFAULT_ANALYTICS_COLUMNS))
        transform = {"full": transform_bench(fake, ds, today, ads_range[1].toordinal() - ads_range[0].toordinal() + 1,
                                             args.repeat, settings)}

    # ---- the next day
    if not args.no_incremental:
        print("\nincremental run (today + 1) ...", flush=True)
        today2 = today + dt.timedelta(days=1)
        ds2 = (Dataset(today=today, **shape).advance(1) if args.next_day == "same-world"
               else Dataset(today=today2, **shape))
        fake2 = BenchFake(ds2, access_tokens=(TOKEN,), latency=args.latency, rate_limits=limits,
                          rate_limit_window=window, multi_pin_analytics=True, cache=not args.no_cache)
        state = json.loads((target / "state" / "state.json").read_text())
        inc = timed_run(fake2, FakeServer, label="incremental", today=today2, start_date=start_date, workdir=workdir,
                        target=target, args=args, limits=limits, window=window, warm_from=target)
        ads_bm = _bookmark(state, "ad_analytics")
        pin_bm = _bookmark(state, "pin_analytics")
        minimum_inc = minimum_requests(ds2, today2, analytics_range(today2, start_date, ads_bm, args.lookback),
                                       analytics_range(today2, start_date, pin_bm, args.lookback))
        fl_inc = floors(minimum_inc["by_category"], limits, window, args.latency, args.workers)
        written = written_files(target / "out", inc["run_id"])
        results["incremental"] = {"assessment": assess(inc, minimum_inc, fl_inc, compute_floor(fake2, cpus, written),
                                                       file_counts(written, inc), cpus=cpus,
                                                       cp=critical_path(minimum_inc, args.latency, args.workers)),
                                  "minimum": minimum_inc, "raw": inc,
                                  "bookmarks_before": {"ad_analytics": str(ads_bm), "pin_analytics": str(pin_bm)}}
        inc_days = analytics_range(today2, start_date, ads_bm, args.lookback)
        transform["incremental"] = transform_bench(fake2, ds2, today2, (inc_days[1] - inc_days[0]).days + 1,
                                                   args.repeat, settings)
        del fake2, ds2
    results["transform"] = transform

    # ---- an agency: many accounts, the days the synchronous endpoints serve
    if not args.no_agency:
        print(f"\nagency-sized run ({args.agency_accounts} accounts x {args.agency_ads} ads) ...", flush=True)
        per_agency = max(1, math.ceil(args.agency_ads / per_campaign))
        agency_shape = {**shape, "accounts": args.agency_accounts, "campaigns_per_account": per_agency,
                        "history_days": max(120, args.agency_days + 30)}
        ds3 = Dataset(today=today, **agency_shape)
        fake3 = BenchFake(ds3, access_tokens=(TOKEN,), latency=args.latency, rate_limits=limits,
                          rate_limit_window=window, multi_pin_analytics=True, cache=not args.no_cache)
        fake3.reports.polls_in_progress = args.report_polls
        agency_start = today - dt.timedelta(days=args.agency_days)
        ag = timed_run(fake3, FakeServer, label="agency", today=today, start_date=agency_start, workdir=workdir,
                       target=workdir / "agency", args=args, limits=limits, window=window, warm_from=None,
                       runs=args.agency_runs)
        ag_range = analytics_range(today, agency_start, None, args.lookback)
        reports_ag = report_counts(ds3, today, agency_start, args.report_polls)
        minimum_ag = minimum_requests(ds3, today, ag_range, ag_range, reports_ag)
        written = written_files(Path(ag["target"]) / "out", ag["run_id"])
        a = assess(ag, minimum_ag, floors(minimum_ag["by_category"], limits, window, args.latency, args.workers),
                   compute_floor(fake3, cpus, written), file_counts(written, ag), wall_target=TARGET_AGENCY_WALL,
                   with_compute=False, cpus=cpus, cp=critical_path(minimum_ag, args.latency, args.workers))
        a["reports"] = {"created": ag["reports_created"], "downloads": ag["report_downloads"],
                        "minimum": reports_ag}
        a["requests_pass"] = (all(v["requests"] == v["minimum"] for v in a["requests"].values())
                              and ag["reports_created"] == reports_ag["creations"]
                              and ag["report_downloads"] == reports_ag["downloads"])
        results["agency"] = {"assessment": a, "minimum": minimum_ag, "raw": ag, "dataset": repr(ds3),
                             "shape": agency_shape, "days": args.agency_days,
                             "note": "the synchronous endpoints serve 89 days; the older days go through "
                                     "asynchronous reports: one per level, ad account and 186 days, each created "
                                     f"once, polled {args.report_polls + 1} times (the fake answers IN_PROGRESS "
                                     f"{args.report_polls} times) and downloaded once; creations and polls count "
                                     "against ads_analytics, so they are in its minimum and rate floor; polling "
                                     "waits (1 s growing to 30 s) are scaled like the rate-limit window"}
        shutil.rmtree(workdir / "agency", ignore_errors=True)
        del fake3, ds3

    if not args.no_organic:
        print(f"\norganic pin analytics without the multi-pin beta ({args.organic_pins} pins) ...", flush=True)
        results["organic"] = organic_run(args, shape, today, start_date, workdir, FakeServer, BenchFake, limits,
                                         window)

    if not args.no_rss_sweep:
        print("\npeak RSS at 1x, 4x and 16x the rows, by ad accounts and by days (no latency, no limits) ...",
              flush=True)
        sweep = rss_sweep(args, shape, today, workdir, FakeServer, BenchFake)
        peaks = [r["peak_rss_mb"] for r in sweep]
        results["rss_sweep"] = sweep
        results["rss_flat"] = {"smallest_mb": min(peaks), "largest_mb": max(peaks),
                               "ratio": round(max(peaks) / min(peaks), 3),
                               "by": {by: round(max(r["peak_rss_mb"] for r in sweep if r["scaled_by"] == by)
                                                / min(r["peak_rss_mb"] for r in sweep if r["scaled_by"] == by), 3)
                                      for by in ("accounts", "days") if any(r["scaled_by"] == by for r in sweep)}}
    results["machine"]["loadavg_at_end"] = os.getloadavg()

    # ---- report
    if "full" in results:
        print_run(f"full run: {ads_range[0]} .. {ads_range[1]}", results["full"]["assessment"], full)
        print_transform(transform["full"])
    if "incremental" in results:
        r = results["incremental"]
        w = r["minimum"]["detail"]["ads_window"]
        print_run(f"incremental run the next day: {w[0]} .. {w[1]}", r["assessment"], r["raw"])
        print_transform(transform["incremental"])
    if "agency" in results:
        r = results["agency"]
        print_run(f"agency-sized run: {args.agency_accounts} accounts x {args.agency_ads} ads, "
                  f"{r['minimum']['detail']['ads_window'][0]} .. {r['minimum']['detail']['ads_window'][1]} "
                  f"(requests must equal the minimum)", r["assessment"], r["raw"])
    if "organic" in results:
        o = results["organic"]
        print(f"\n== organic pin analytics without the multi-pin beta: {o['pins']} pins, {o['window'][0]} .. "
              f"{o['window'][1]}")
        print(f"  calls: {o['calls_sent']} sent, {o['calls_needed']} needed (+1: the beta check), "
              f"{o['calls_one_per_pin']} at one per pin: {o['calls_saved_share']:.0%} saved; "
              f"{o['rows_fetched']:,} rows")
        print(f"  wall {o['wall_seconds']:.2f}s = {o['wall_over_floor']:.2f}x the floor {o['floor_seconds']:.2f}s "
              f"(calls needed / {limits['org_analytics']} per {window:g}s window; target <= {TARGET_WALL}) "
              f"{'PASS' if o['wall_pass'] else 'FAIL'}; peak RSS {o['peak_rss_mb']:.0f} MB")
    verdict = {}
    for run in ("full", "incremental", "agency"):
        if run in results:
            a = results[run]["assessment"]
            verdict[run] = {"requests": a["requests_pass"], "wall": a["wall_pass"], "rss": a["rss_pass"]}
            if run in transform:
                verdict[run]["transform"] = all(transform[run][k]["ratio"] <= TARGET_TRANSFORM
                                                for k in ("ad_analytics", "pin_analytics"))
    if "rss_sweep" in results:
        flat = results["rss_flat"]
        print(f"\n== peak RSS by size (target < {TARGET_RSS_MB:.0f} MB; largest <= {TARGET_RSS_FLAT}x the smallest)")
        for r in results["rss_sweep"]:
            print(f"  {r['scaled_by']:<8} {r['accounts']:>3} accounts {r['ads']:>6} ads {r['pins']:>6} pins "
                  f"{r['days']:>3} days: {r['ads_analytics_rows']:>9,} ads analytics rows ({r['rows']:,} in all) -> "
                  f"{r['peak_rss_mb']:.0f} MB (anonymous {r['peak_rss_anon_mb']:.0f} MB; "
                  f"{r['peak_rss_mb'] / flat['smallest_mb']:.2f}x the smallest)")
        print(f"  largest / smallest: {flat['ratio']:.2f}x (" + ", ".join(f"by {by} {v:.2f}x" for by, v in
                                                                        flat["by"].items()) + ")")
        for run in verdict:
            verdict[run]["rss_at_all_sizes"] = flat["largest_mb"] < TARGET_RSS_MB
            verdict[run]["rss_flat"] = flat["ratio"] <= TARGET_RSS_FLAT
    if "organic" in results:        # the sweep is about the ads runs: not part of this verdict
        verdict["organic"] = {"requests": results["organic"]["requests_pass"], "wall": results["organic"]["wall_pass"]}
    load = (results["machine"]["loadavg_at_start"][0], results["machine"]["loadavg_at_end"][0])
    if max(load) > cpus:
        print(f"\nnote: the machine was busy (1-min load average {load[0]:.1f} at the start, {load[1]:.1f} at the end, "
              f"{cpus} CPUs): wall times are inflated")
    print_summary(results, transform)
    results["pass"] = verdict
    results["bench_seconds"] = round(time.perf_counter() - t_all, 1)
    print(f"\npass/fail: {json.dumps(verdict)}; benchmark took {results['bench_seconds']:.0f}s")
    if args.out or not args.only:       # one part alone does not replace the whole benchmark's figures
        out = Path(args.out or ROOT / "bench" / "results.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"wrote {out}")
    if args.keep:
        print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def _bookmark(state: dict, stream: str) -> dt.date | None:
    """The earliest ``last_complete_date`` pinsync saved for ``stream`` (over its keys)."""
    found = [dt.date.fromisoformat(v["last_complete_date"])
             for v in state.get("bookmarks", {}).get(stream, {}).values() if v.get("last_complete_date")]
    return min(found) if found else None


def _git_rev() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


if __name__ == "__main__":
    main()
