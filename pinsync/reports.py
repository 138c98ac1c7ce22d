"""Asynchronous ads reports: the history the synchronous analytics endpoints no longer serve.

The synchronous endpoints serve 90 days back (HOUR: 8). Older days, up to 914 days back,
come from ``POST /ad_accounts/{id}/reports``. For a stream's history pinsync asks for the
same columns, granularity, attribution windows and conversion report time as its
synchronous calls, in the fewest reports: one per level, ad account and span of at most
186 days (HOUR: 3 days, within 8 back; WEEK and MONTH spans hold whole buckets), see
:func:`report_spans`. Each report is then

1. created, and its token handed to the caller at once (``on_token``), before the first
   poll: a run stopped while waiting (Ctrl-C, a crash) polls the same report next time
   (``tokens``) instead of creating another;
2. polled (``GET /ad_accounts/{id}/reports?token=``) after waits growing from 1 s to 30 s,
   for at most :attr:`ReportPolicy.timeout` seconds of waiting; each poll is a request of
   the ``ads_analytics`` rate-limit category. ``EXPIRED``, ``FAILED``, ``CANCELLED`` and
   ``DOES_NOT_EXIST`` create it again, at most :attr:`ReportPolicy.max_creations` times;
3. downloaded from its pre-signed link (:meth:`PinterestClient.download`: no credentials;
   streamed to a temp file, never held in memory whole; a truncated or unparsable file is
   fetched again; an expired link is replaced by polling once more);
4. read as it arrives by the caller's ``read`` (the extractor types the file with the very
   function that types synchronous answers, :func:`pinsync.frames.read_json_array`, which
   reads the file keyed by entity id a block at a time, without decoding it into Python
   objects).

Several reports of one call are in flight at once (:attr:`ReportPolicy.in_flight`): the
creations, and the polls of the reports that are due (earliest due first), go out together on
the request pool, each through the ``ads_analytics`` limiter; the finished ones are then
downloaded and read one at a time by the calling thread, each handed over before the next
is fetched (one file held at a time, as far as the order allows). The waits happen in the
calling thread between polls, so no worker of the request pool sleeps. Failures name the ad
account, the level and the span.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import BinaryIO

from pinsync import api, frames
from pinsync.client import PinterestClient
from pinsync.errors import ApiError, Cancelled, PayloadError
from pinsync.streams.analytics import align_start, date_windows, next_bucket

log = logging.getLogger("pinsync.reports")
DAY = dt.timedelta(days=1)


FIRST_WAIT_ENV = "PINSYNC_REPORT_FIRST_WAIT"   # seconds before a new report's first poll (default 1)


def _seconds_from_env(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class ReportPolicy:
    """How long and how often to wait for reports.

    Attributes:
        first_wait: seconds before the first poll of a new report; each wait doubles.
        max_wait: the longest wait between two polls.
        timeout: seconds of waiting for one report before its unit fails (the next run
            polls the same report again, if it is still valid).
        max_creations: reports created for one span (a report that ends EXPIRED, FAILED,
            CANCELLED or DOES_NOT_EXIST is created again) before its unit fails.
        max_links: refused download links for one report before its unit fails.
        in_flight: reports of one call created and polled at once.
        sleep: waits this long (tests); None waits on the client's cancel event, so a
            stopped run stops waiting at once.
    """

    first_wait: float = field(default_factory=lambda: _seconds_from_env(FIRST_WAIT_ENV, 1.0))
    max_wait: float = 30.0
    timeout: float = 1800.0
    max_creations: int = 3
    max_links: int = 3
    in_flight: int = 4
    sleep: Callable[[float], None] | None = None


    def most_polls(self) -> int:
        """The most polls of one report before its unit fails (waits growing from
        ``first_wait`` to ``max_wait`` within ``timeout``; a resumed report is polled at once)."""
        polls, waited, wait = 1, 0.0, 0.0
        while waited < self.timeout:
            wait = min(self.max_wait, wait * 2) if wait else self.first_wait
            waited += wait
            polls += 1
        return polls


# -- what to ask for ------------------------------------------------------------------------

def report_floor(today: dt.date, granularity: str = "DAY") -> dt.date:
    """The oldest day reports serve, with a day of margin (the server's "today" is UTC)."""
    back = api.REPORT_HOUR_SAFE_DAYS_BACK if granularity == "HOUR" else api.REPORT_SAFE_DAYS_BACK
    return today - dt.timedelta(days=back)


def report_spans(start: dt.date, end: dt.date, granularity: str, today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The report spans covering ``[start, end]``: the fewest, in date order.

    The days are first cut to what reports serve (from :func:`report_floor` to yesterday);
    spans hold at most 186 days (HOUR: 3). WEEK and MONTH spans start on a bucket start
    and hold whole buckets only, like the synchronous windows, so no stored bucket is a
    partial sum.
    """
    floor = report_floor(today, granularity)
    start, end = max(start, floor), min(end, today - DAY)
    if granularity in ("WEEK", "MONTH"):
        aligned = align_start(start, granularity)
        start = aligned if aligned >= floor else next_bucket(aligned, granularity)
        end = align_start(end + DAY, granularity) - DAY       # the last bucket that ends by `end`
    if start > end:
        return []
    span = api.REPORT_HOUR_MAX_SPAN_DAYS if granularity == "HOUR" else api.REPORT_MAX_SPAN_DAYS
    return date_windows(start, end, granularity, span)


def report_requests(start: dt.date, end: dt.date, granularity: str, today: dt.date, *, levels: int = 1,
                    accounts: int = 1) -> int:
    """How many reports cover ``[start, end]`` for ``levels`` streams of ``accounts`` ad
    accounts (each costs a creation, at least one poll and a download)."""
    return len(report_spans(start, end, granularity, today)) * levels * accounts


def report_key(ad_account_id: str, body: dict) -> str:
    """The name a report's token is saved under: the account, level and span, and a digest of
    the whole request, so a token is only reused for exactly the same request."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return f"{ad_account_id}:{body['level']}:{body['start_date']}..{body['end_date']}:{digest}"


def report_unsupported(report_level: str) -> tuple[str, ...]:
    """The synchronous columns a report of ``report_level`` cannot carry (null on its days)."""
    if report_level.endswith("_TARGETING"):
        return api.REPORT_UNSUPPORTED_COLUMNS + api.REPORT_TARGETING_UNSUPPORTED_COLUMNS
    return api.REPORT_UNSUPPORTED_COLUMNS


def flatten_report(data: object, id_key: str, stream: str, *, targeting: bool = False) -> bytes:
    """A report file (``{"<id>": [row, ...]}``) in the synchronous endpoints' shape, each row
    carrying its entity id under ``id_key`` (ids stay strings, :func:`pinsync.frames.flatten_report`):
    a flat JSON array, or for a targeting report (rows with ``TARGETING_TYPE`` and
    ``TARGETING_VALUE``) the targeting endpoints' ``{"data": [{"targeting_type",
    "targeting_value", "metrics"}]}``, the value kept as the report sent it."""
    rows = frames.flatten_report(data, id_key, stream)
    if targeting:
        for r in rows:
            if any(r.get(k) is None for k in _TARGETING_MEMBERS):
                raise PayloadError(f"{stream}: a targeting report row of {r[id_key]!r} has no TARGETING_TYPE or "
                                   "TARGETING_VALUE")
        rows = {"data": [{"targeting_type": r["TARGETING_TYPE"], "targeting_value": r["TARGETING_VALUE"],
                          "metrics": {k: v for k, v in r.items() if k not in _TARGETING_MEMBERS}} for r in rows]}
    return json.dumps(rows, separators=(",", ":")).encode()


_TARGETING_MEMBERS = ("TARGETING_TYPE", "TARGETING_VALUE")


# -- create, poll, download -----------------------------------------------------------------

@dataclass
class ReportJob:
    """One report to obtain: its saved-token key, request body and a label for messages."""

    key: str
    body: dict
    label: str
    token: str | None = None
    created: int = 0        # reports created for it by this call
    links: int = 0          # refused download links
    started: float = 0.0    # when its current report was created or adopted (seconds waited so far)
    wait: float = 0.0       # the last wait between polls
    due: float = 0.0        # when to poll next

    @property
    def span(self) -> tuple[dt.date, dt.date]:
        """The days the report covers."""
        return dt.date.fromisoformat(self.body["start_date"]), dt.date.fromisoformat(self.body["end_date"])


class ReportRunner:
    """Creates, polls and downloads reports through one :class:`PinterestClient`.

    ``read(job, file)`` turns a downloaded file (a binary file at its start: see
    :meth:`PinterestClient.download`) into what :meth:`run` yields (default: the decoded
    JSON object); a ``ValueError`` from it (not JSON) fetches the file again. With a ``pool``
    (the run's request pool), the creations and polls of one step go out together; without
    one, one after another.
    """

    def __init__(self, client: PinterestClient, policy: ReportPolicy | None = None,
                 read: Callable[[ReportJob, BinaryIO], object] | None = None, pool: Executor | None = None):
        self.client = client
        self.policy = policy or ReportPolicy()
        self.read = read
        self.pool = pool

    def run(self, path: str, jobs: list[ReportJob], *, tag: str, tokens: dict[str, str] | None = None,
            on_token: Callable[[str, str], None] | None = None) -> Iterator[tuple[ReportJob, object]]:
        """``(job, file)`` for each job, in the order given: the file as the runner's ``read``
        returns it (default: the decoded JSON object).

        Args:
            path: the reports endpoint of the ad account.
            jobs: the reports to obtain.
            tag: the stream, for request counts.
            tokens: tokens saved by an earlier run, by job key: polled instead of creating.
            on_token: called with ``(key, token)`` as soon as a report is created, before it
                is first polled.
        """
        p = self.policy
        tokens = tokens or {}
        on_token = on_token or (lambda key, token: None)
        todo = deque(jobs)
        active: list[ReportJob] = []
        ready: dict[str, object] = {}
        order = [j.key for j in jobs]
        by_key = {j.key: j for j in jobs}
        done = 0
        now = 0.0           # seconds waited: the clock of this call
        while done < len(order):
            fresh: list[ReportJob] = []
            while todo and len(active) + len(fresh) + len(ready) < max(1, p.in_flight):
                job = todo.popleft()
                job.token = tokens.get(job.key)
                if job.token is None:
                    fresh.append(job)
                else:
                    job.started, job.wait, job.due = now, 0.0, now      # resumed: poll at once
                    active.append(job)
            due = sorted((j for j in active if j.due <= now), key=lambda j: j.due)
            links = self._together([partial(self._create, path, j, tag, on_token, now) for j in fresh]
                                   + [partial(self._step, path, j, tag, on_token, now) for j in due])[len(fresh):]
            active.extend(fresh)
            for job, url in zip(due, links):
                data = self._fetch(job, url, tag, now) if url is not None else None
                if data is not None:
                    active.remove(job)
                    ready[job.key] = data
                    del data
                while done < len(order) and order[done] in ready:     # handed over at once: few files held
                    key = order[done]
                    done += 1
                    yield by_key[key], ready.pop(key)
            if active and done < len(order):
                pause = max(0.0, min(j.due for j in active) - now)
                if pause:
                    self._wait(pause)
                    now += pause

    def _together(self, calls: list[Callable[[], object]]) -> list[object]:
        """Each call's result, in order: run at once on the pool (one after another without
        one). A failure is raised once none of them is running any more."""
        if self.pool is None or len(calls) <= 1:
            return [call() for call in calls]
        futures = [self.pool.submit(call) for call in calls]
        wait(futures)
        return [f.result() for f in futures]

    def _create(self, path: str, job: ReportJob, tag: str, on_token: Callable[[str, str], None],
                now: float) -> None:
        answer = self.client.post_json(path, job.body, category="ads_analytics", tag=tag)
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError(f"{job.label}: the report was not created ({answer.get('message') or 'no token'})")
        job.token = token
        job.created += 1
        on_token(job.key, token)
        job.started, job.wait, job.due = now, self.policy.first_wait, now + self.policy.first_wait

    def _step(self, path: str, job: ReportJob, tag: str, on_token, now: float) -> str | None:
        """Poll ``job`` once: its download link when done, else None (its next poll is scheduled)."""
        p = self.policy
        answer = self.client.get_json(path, {"token": job.token}, category="ads_analytics", tag=tag)
        status = answer.get("report_status") if isinstance(answer, dict) else None
        if status == "FINISHED":
            url = answer.get("url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise ApiError(f"{job.label}: the finished report has no download link")
            return url
        if status == "IN_PROGRESS":
            if now - job.started >= p.timeout:
                raise ApiError(f"{job.label}: the report was not ready after {p.timeout:.0f} s of waiting; the next "
                               "run polls the same report again while it is valid")
            job.wait = min(p.max_wait, job.wait * 2) if job.wait else p.first_wait
            job.due = now + job.wait
            return None
        if status in api.REPORT_GONE_STATUSES:
            if job.created >= p.max_creations:
                raise ApiError(f"{job.label}: the report ended {status} after {job.created} creations; giving up "
                               "(re-run later)")
            log.warning("%s: the report ended %s; creating it again", job.label, status)
            self._create(path, job, tag, on_token, now)
            return None
        raise ApiError(f"{job.label}: unexpected report status {status!r}")

    def _fetch(self, job: ReportJob, url: str, tag: str, now: float) -> object | None:
        """Download and read a finished report's file; None when its link was refused (it is
        polled again at once for a new one)."""
        try:
            read = self.read and (lambda file: self.read(job, file))
            return self.client.download(url, tag=tag, read=read)
        except ApiError as e:
            if e.status is None or not 400 <= e.status < 500:
                raise
            job.links += 1
            if job.links >= self.policy.max_links:
                raise ApiError(f"{job.label}: the report's download link was refused {job.links} times "
                               f"(last: {e})") from None
            log.info("%s: the download link was refused (HTTP %s); asking for a new one", job.label, e.status)
            job.due = now
            return None

    def _wait(self, seconds: float) -> None:
        if self.policy.sleep is not None:
            self.policy.sleep(seconds)
        else:
            self.client.cancelled.wait(seconds)
        if self.client.cancelled.is_set():
            raise Cancelled("the run was stopped")
