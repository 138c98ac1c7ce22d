"""The ``pinsync`` command: a thin layer over the library.

Each command builds the library objects, calls one documented function, and renders the
result with rich. Every :class:`PinsyncError` becomes one red line and an exit code
(0 success, 1 sync failed, 2 bad usage or config); no traceback reaches the user.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pinsync import clock, errors
from pinsync.config import load_config
from pinsync.secrets import install_log_filter, redact
from pinsync.streams import DEFAULT_STREAMS, STREAMS



def _console(stderr: bool) -> Console:
    """A console on the current stdout/stderr; wide enough for the tables when not a terminal."""
    c = Console(stderr=stderr)
    if not c.is_terminal:
        c = Console(stderr=stderr, width=max(c.width, 140))
    return c


class _Lazy:
    def __init__(self, stderr: bool):
        self.stderr = stderr

    def __getattr__(self, name):
        return getattr(_console(self.stderr), name)


err_console = _Lazy(stderr=True)
out_console = _Lazy(stderr=False)


ISO_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _log_handler() -> logging.Handler:
    """Rich, coloured lines on a terminal; plain, unwrapped lines elsewhere (a file, a CI
    log, an orchestrator). Times are ISO 8601, UTC."""
    console = Console(stderr=True)
    if console.is_terminal:
        handler: logging.Handler = RichHandler(console=console, show_path=False, rich_tracebacks=False,
                                               markup=False, log_time_format=ISO_TIME, omit_repeated_times=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", ISO_TIME))
    handler.formatter.converter = time.gmtime
    return handler


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(_log_handler())
    root.setLevel(level)
    for noisy in ("urllib3", "botocore", "aiobotocore", "s3fs", "fsspec", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(level, logging.INFO))
    install_log_filter(root)


def _fail(message: str, code: int, *, as_json: bool = False, extra: dict | None = None) -> None:
    """One red line on stderr (and, with ``--json``, ``{"error", "exit_code"}`` on stdout), then exit."""
    message = redact(message)
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    if as_json:
        click.echo(json.dumps({**(extra or {}), "error": message, "exit_code": code}, indent=2))
    sys.exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: the run stops exactly as on Ctrl-C."""


_guarded = [0]   # guards active in this process: while > 0, SIGTERM stops the command cleanly


def _on_sigterm(signum, frame) -> None:
    if _guarded[0]:
        raise Terminated()
    os._exit(errors.EXIT_TERMINATED)   # after the command's work: nothing left to stop


def _stop(exc: KeyboardInterrupt, as_json: bool = False) -> None:
    """End the process after Ctrl-C (exit 130) or SIGTERM (exit 143) with one line."""
    code = errors.EXIT_TERMINATED if isinstance(exc, Terminated) else errors.EXIT_INTERRUPTED
    what = "terminated" if isinstance(exc, Terminated) else "interrupted"
    message = f"{what}: stopped; everything committed so far is consistent, re-run to continue"
    err_console.print(f"[yellow]{what}:[/]{message.partition(':')[2]}")
    if as_json:
        click.echo(json.dumps({"error": message, "exit_code": code}))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)   # don't wait for in-flight requests; writes are atomic, the lock is released


class _Group(click.Group):
    """A SIGTERM that lands while a guard is closing (after the command's summary) still ends
    the process with exit 143, not click's "Aborted!" and exit 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Terminated as exc:
            _stop(exc)


class _Guard:
    """Turn library errors, Ctrl-C and SIGTERM into one message and an exit code (see
    :mod:`pinsync.errors`). SIGTERM is handled like Ctrl-C while the guard is active: the run
    stops at its next request or commit, commits nothing partial and releases its lock."""

    def __init__(self, as_json: bool = False):
        self.as_json = as_json

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_sigterm)
        _guarded[0] += 1
        return self

    def __exit__(self, etype, exc, tb):
        _guarded[0] -= 1
        if exc is None:
            return False
        if isinstance(exc, KeyboardInterrupt):
            _stop(exc, self.as_json)
        if isinstance(exc, errors.PinsyncError):
            _fail(str(exc), exc.exit_code, as_json=self.as_json)
        if isinstance(exc, (click.exceptions.Exit, click.ClickException, SystemExit)):
            return False
        _fail(f"unexpected error: {type(exc).__name__}: {exc} (please report this)", errors.EXIT_SYNC_FAILED,
              as_json=self.as_json)
        return False


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        k, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise click.BadParameter("use K/N, e.g. 1/4") from None
    if n < 1 or not 1 <= k <= n:
        raise click.BadParameter(f"shard {value} does not exist: K must be 1..N")
    return k - 1, n


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _selected(config_path, streams: str | None, start_date: str | None, ad_accounts: str | None,
              shard: str | None, *, output: str | None = None):
    """The config with the command line's selection applied, and the shard as (K-1, N)."""
    overrides = {"streams": _split(streams), "start_date": start_date or None, "output.url": output or None,
                 "ad_account_ids": _split(ad_accounts)}
    try:
        shard_t = _parse_shard(shard)
    except click.BadParameter as e:
        raise errors.ConfigError(f"--shard: {e.message}") from None
    return load_config(config_path, overrides={k: v for k, v in overrides.items() if v}, today=_today()), shard_t


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pinsync")
@click.option("--today", metavar="YYYY-MM-DD", envvar=clock.ENV, show_envvar=True,
              help="Run as if today (UTC) were this date: which days are complete, the default start date.")
@click.pass_context
def main(ctx: click.Context, today: str | None) -> None:
    """pinsync: Pinterest ads and organic data to hive-partitioned Parquet, incrementally."""
    with _Guard():
        ctx.obj = {"today": clock.parse_today(today, "--today") if today else None}


def _today() -> "dt.date | None":
    """The ``--today`` given to the command line (None: the real UTC date)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx else None
    return (obj or {}).get("today")


config_option = click.option("--config", "-c", "config_path", default="pinsync.yaml", show_default=True,
                             type=click.Path(dir_okay=False), help="The configuration file.")
verbose_option = click.option("--verbose", "-v", count=True, help="More logging (-v info, -vv debug).")


@main.command("run")
@config_option
@click.option("--streams", help="Comma-separated streams to sync, or 'all' (default: the config's, else the "
                                "default selection; see `pinsync streams`).")
@click.option("--start-date", help="YYYY-MM-DD; overrides start_date.")
@click.option("--output", help="Output folder or URL; overrides output.url.")
@click.option("--ad-accounts", help="Comma-separated ad account ids; overrides ad_account_ids.")
@click.option("--shard", help="K/N: sync only the ad accounts in shard K of N (stable hash of the id).")
@click.option("--full-refresh", is_flag=True, help="Ignore bookmarks: fetch everything the API serves again.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
@verbose_option
def run_cmd(config_path, streams, start_date, output, ad_accounts, shard, full_refresh, as_json, verbose):
    """Sync the configured streams into the output, incrementally."""
    from pinsync.sync import run

    _setup_logging(verbose)
    with _Guard(as_json):
        config, shard_t = _selected(config_path, streams, start_date, ad_accounts, shard, output=output)
        result = _run_with_progress(run, config, full_refresh=full_refresh, shard=shard_t, quiet=as_json,
                                    today=_today())
        if result.failures:
            _fail(str(errors.SyncFailed(result.failures)), result.exit_code, as_json=as_json,
                  extra=_result_json(result))
        if as_json:
            click.echo(json.dumps(_result_json(result), indent=2))


class RunProgress:
    """Progress of a run from its events: per stream, units done of those planned (a unit is
    a stream of one ad account, or of the user; more are planned as accounts are listed),
    rows and pages fetched. On a terminal it draws one bar per stream and removes them when
    the run ends (the summary table takes their place): no ghost lines."""

    def __init__(self, console: Console, *, disable: bool = False):
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(bar_width=None),
                                 TextColumn("{task.fields[text]}"), TimeElapsedColumn(), console=console,
                                 transient=True, disable=disable)
        self.streams: dict[str, dict] = {}

    def text(self, stream: str) -> str:
        """``3/10 units  1,234 rows  12 pages`` (``, 1 failed`` when some failed)."""
        s = self.streams[stream]
        failed = f", {s['failed']} failed" if s["failed"] else ""
        return (f"{s['done'] + s['failed']}/{s['planned']} units{failed}  {s['rows']:,} rows  "
                f"{s['pages']:,} pages")

    def on_event(self, e) -> None:
        s = self.streams.get(e.stream)
        if s is None:
            s = self.streams[e.stream] = {"planned": 0, "done": 0, "failed": 0, "rows": 0, "pages": 0,
                                          "task": self.progress.add_task(e.stream, total=None, text="")}
        if e.kind == "planned":
            s["planned"] += 1
        elif e.kind == "rows":
            s["rows"] += e.rows
            s["pages"] += 1
        elif e.kind == "done":
            s["done"] += 1
        elif e.kind in ("failed", "warning"):
            s["failed"] += 1
            colour = "red" if e.kind == "failed" else "yellow"
            self.progress.update(s["task"], description=f"[{colour}]{e.stream}")
        s["planned"] = max(s["planned"], s["done"] + s["failed"])
        self.progress.update(s["task"], total=s["planned"] or None, completed=s["done"] + s["failed"],
                             text=self.text(e.stream))

    def __enter__(self) -> "RunProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)


@main.command("plan")
@config_option
@click.option("--streams", help="Comma-separated streams to plan, or 'all' (default: the config's).")
@click.option("--start-date", help="YYYY-MM-DD; overrides start_date.")
@click.option("--ad-accounts", help="Comma-separated ad account ids; overrides ad_account_ids.")
@click.option("--shard", help="K/N: plan only the ad accounts in shard K of N.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
@verbose_option
def plan_cmd(config_path, streams, start_date, ad_accounts, shard, as_json, verbose):
    """What the next run would fetch: days and path per stream and account, requests per
    rate-limit category. Lists entities; makes no analytics or report request; writes nothing."""
    from pinsync.plan import plan

    _setup_logging(verbose)
    with _Guard(as_json):
        config, shard_t = _selected(config_path, streams, start_date, ad_accounts, shard)
        result = plan(config, today=_today(), shard=shard_t)
        if as_json:
            click.echo(json.dumps(result.as_dict(), indent=2))
        else:
            _plan_table(result)
        if result.failures:
            _fail(str(errors.SyncFailed(result.failures)), errors.EXIT_SYNC_FAILED)


def _days(fetches) -> str:
    return "\n".join(f"{f.start}..{f.end} {f.path} ({(f.end - f.start).days + 1} d)" for f in fetches) or "-"


def _plan_table(result) -> None:
    """The plan: a line per stream and account, then the requests per rate-limit category."""
    table = Table(title=f"next run (today {result.today}, start_date {result.start_date})", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False)
    for col in ("stream", "ad account", "days (path)", "category", "listing", "sync\ncalls", "reports",
                "polls", "downloads"):
        table.add_column(col, justify="left" if col in ("stream", "ad account", "days (path)", "category") else "right",
                         no_wrap=True, min_width=max(map(len, col.split("\n"))))
    for line in result.lines:
        sync = f"{line.calls:,}" + (f"-{line.calls_most:,}" if line.calls_most != line.calls else "")
        polls = line.reports + line.resumed
        table.add_row(line.stream, line.ad_account_id or "*", _days(line.fetches), line.category,
                      f"{line.listing:,}", sync, f"{line.reports:,}" + (f" (+{line.resumed} resumed)" if line.resumed
                                                                        else ""),
                      f"{polls:,}-{line.polls_most:,}" if polls else "0", f"{line.downloads:,}")
    # never cut a figure or a header: a narrow terminal wraps the lines instead
    width = out_console.width
    out_console.width = max(width, Measurement.get(out_console, out_console.options.update(width=10_000), table).maximum)
    try:
        out_console.print(table)
    finally:
        out_console.width = width
    totals = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for col in ("rate-limit category", "requests", "at most"):
        totals.add_column(col, justify="left" if col == "rate-limit category" else "right")
    least, most = result.requests, result.requests_most
    for cat in least:
        totals.add_row(cat, f"{least[cat]:,}", f"{most[cat]:,}")
    totals.add_section()
    totals.add_row("total", f"{sum(least.values()):,}", f"{sum(most.values()):,}")
    totals.add_row("report downloads (not rate-limited)", f"{result.downloads:,}", f"{result.downloads:,}")
    out_console.print(totals)
    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)


def _run_with_progress(run, config, *, quiet: bool = False, **kwargs):
    console = _console(True)
    with RunProgress(console, disable=quiet or not console.is_terminal) as progress:
        result = run(config, on_event=progress.on_event, raise_on_failure=False, **kwargs)
    if not quiet:
        _summary(result)
    return result


SUMMARY_COLUMNS = ("stream", "rows\nfetched", "rows\nwritten", "files\nwritten", "files\nkept", "API\ncalls",
                   "seconds")


def _summary(result) -> None:
    """The run's summary table: fits 80 columns with the longest stream name (no borders
    between columns, headers on two lines); a ``skipped`` column (pins gone or private)
    only when some were."""
    table = Table(title=f"pinsync run {result.run_id}", title_justify="left", box=box.SIMPLE_HEAD,
                  padding=0, show_edge=False)
    skipped = any(s.skipped for s in result.streams.values())
    for col in SUMMARY_COLUMNS[:5] + (("skipped",) if skipped else ()) + SUMMARY_COLUMNS[5:]:
        table.add_column(col, justify="left" if col == "stream" else "right", no_wrap=True)
    for st in result.streams.values():
        name = st.stream if not st.failed else f"[red]{st.stream} (failed)"
        table.add_row(name, f"{st.rows_fetched:,}", f"{st.rows_written:,}", f"{st.files_written:,}",
                      f"{st.files_unchanged:,}", *((f"{st.skipped:,}",) if skipped else ()), f"{st.requests:,}",
                      f"{st.seconds:.1f}")
    table.add_section()
    total = result.streams.values()
    table.add_row("total", f"{sum(s.rows_fetched for s in total):,}", f"{sum(s.rows_written for s in total):,}",
                  f"{sum(s.files_written for s in total):,}", f"{sum(s.files_unchanged for s in total):,}",
                  *((f"{sum(s.skipped for s in total):,}",) if skipped else ()), f"{result.requests:,}",
                  f"{result.seconds:.1f}")
    err_console.print(table)


def _result_json(result) -> dict:
    return {
        "run_id": result.run_id,
        "ok": result.ok,
        "seconds": round(result.seconds, 3),
        "requests_by_category": result.requests_by_category,
        "failures": result.failures,
        "warnings": result.warnings,
        "streams": {n: {k: v for k, v in vars(s).items() if k != "stream"} for n, s in result.streams.items()},
    }


@main.command("streams")
def streams_cmd():
    """List the streams: in the default selection (*), key, cursor, parent, partitioning,
    endpoint, the scopes a token needs and the rate-limit category."""
    table = Table(caption=escape("* in the default selection (`streams: []`); `streams: [all]` selects every stream"),
                  caption_justify="left")
    table.add_column("stream", no_wrap=True)      # names whole, whatever the width; the rest folds
    for col in ("key", "cursor", "parent", "partitioned by", "endpoint", "scope", "rate limit"):
        table.add_column(col, overflow="fold")
    for s in STREAMS.values():
        mark = "*" if s.name in DEFAULT_STREAMS else " "
        table.add_row(f"{mark} {s.name}", ", ".join(s.primary_key), s.cursor or "-", s.parent or "-",
                      "/".join(f"{p}=" for p in s.partition_by) or "-", f"GET /{s.path}", " ".join(s.scopes),
                      s.category)
    out_console.print(table)


@main.command("login")
@config_option
@click.option("--port", default=8085, show_default=True, help="Port of the one-shot listener on 127.0.0.1.")
@click.option("--no-browser", is_flag=True, help="Only print the consent URL (headless machines).")
@click.option("--code", help="Finish with an authorization code copied from another machine's browser.")
@click.option("--client-id", help="The app id (default: auth.client_id / PINTEREST_CLIENT_ID).")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for the browser.")
@verbose_option
def login_cmd(config_path, port, no_browser, code, client_id, timeout, verbose):
    """Authorise pinsync for your Pinterest app (OAuth) and keep the tokens in the token store."""
    from pinsync.login import login, redirect_uri

    _setup_logging(verbose)
    with _Guard():
        config = load_config(config_path, require_credentials=False, today=_today(),
                             overrides={"auth.client_id": client_id} if client_id else None)
        err_console.print(f"Register this redirect URI on your app (developers.pinterest.com/apps): "
                          f"[bold]{redirect_uri(port)}[/]", highlight=False)

        def show(url: str) -> None:
            err_console.print("Open this URL, sign in and approve" + (" (from any machine's browser; then run "
                              "`pinsync login --code CODE` with the code= value of the address it lands on)"
                              if no_browser else "") + ":", highlight=False)
            click.echo(url, err=True)
            err_console.print(f"waiting for the browser on 127.0.0.1:{port} ...", highlight=False)

        result = login(config, port=port, open_browser=not no_browser, code=code, timeout=timeout, on_url=show)
        days = result.refresh_token_days
        err_console.print(f"[green]authorised.[/] Tokens saved to {result.token_store} (mode 0600).\n"
                          f"  scopes asked:    {', '.join(result.scopes_asked)}\n"
                          f"  scopes granted:  {', '.join(result.scopes_granted) or '-'}\n"
                          f"  refresh token:   valid {days if days is not None else '?'} days; every run "
                          "renews it", highlight=False)
        if result.missing:
            raise errors.AuthError(f"the selected streams need scopes that were not granted: "
                                   f"{', '.join(result.missing)}; add them to the app and run `pinsync login` again")
        err_console.print("Next: `pinsync check`, then `pinsync run`.", highlight=False)


@main.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON on stdout.")
@verbose_option
def check_cmd(config_path, as_json, verbose):
    """Will my run work? Config, locations, credentials, scopes, accounts and rate limits."""
    from pinsync.check import check, exit_code

    _setup_logging(verbose)
    with _Guard(as_json):
        config = load_config(config_path, today=_today())
        checks = check(config)
        code = exit_code(checks)
        if as_json:
            click.echo(json.dumps({"ok": code == 0, "exit_code": code, "checks": [c.as_dict() for c in checks]},
                                  indent=2))
        else:
            for c in checks:
                mark = "[green]ok[/]  " if c.ok else "[bold red]FAIL[/]"
                err_console.print(f"{mark} {c.name:<12} {escape(c.detail)}", highlight=False)
        if code:
            sys.exit(code)


@main.command("init")
@click.option("--path", "path", default=".", show_default=True, type=click.Path(),
              help="Folder (or file name) to write pinsync.yaml to.")
def init_cmd(path):
    """Write an annotated pinsync.yaml (every key with its default); never overwrites."""
    from pinsync.config import init_config

    with _Guard():
        written = init_config(path)
        err_console.print(f"wrote {written}: edit it, then `pinsync login`, `pinsync check` and `pinsync run`",
                          highlight=False)


@main.group("state")
def state_group():
    """Read and repair the state (bookmarks per stream and ad account)."""


state_option = click.option("--state", "state_url", help="A state file's path or URL (default: the config's state.url).")


def _state_store(config_path: str, state_url: str | None):
    from pinsync.state import StateStore

    if state_url:
        return StateStore(state_url)
    config = load_config(config_path, require_credentials=False, today=_today())
    return StateStore(config.state.url, config.state.storage_options)


@state_group.command("show")
@config_option
@state_option
@click.option("--json", "as_json", is_flag=True, help="Print the raw state file as JSON.")
def state_show(config_path, state_url, as_json):
    """Summarise the state per stream and ad account (days held, bookmark, pending days, last run)."""
    from pinsync.state import summarize

    _setup_logging(0)
    with _Guard(as_json):
        store = _state_store(config_path, state_url)
        state = store.load()
        if as_json:
            click.echo(json.dumps(state.as_dict(), indent=2))
            return
        rows = summarize(state, _today() or clock.today())
        if not rows:
            out_console.print(f"{store.url}: no bookmarks yet (the next run starts from start_date)")
            return
        table = Table(title=store.url, title_justify="left")
        for col in ("stream", "ad account", "days held", "bookmark", "pending days", "rows", "last run"):
            table.add_column(col, justify="right" if col in ("pending days", "rows") else "left")
        for r in rows:
            held = f"{r['held_from'] or '?'}..{r['bookmark']}" if r["held_from"] or r["pending_days"] is not None else "-"
            table.add_row(r["stream"], r["ad_account_id"] or "-", held, str(r["bookmark"] or "-"),
                          "-" if r["pending_days"] is None else str(r["pending_days"]),
                          "-" if r["rows"] is None else f"{r['rows']:,}", r["last_run"] or "-")
        out_console.print(table)


@state_group.command("reset")
@click.argument("stream")
@config_option
@state_option
@click.option("--ad-account", "ad_account", help="Forget only this ad account's bookmark.")
def state_reset(stream, config_path, state_url, ad_account):
    """Forget STREAM's bookmarks: the next run fetches it again from start_date."""
    from pinsync.state import reset
    from pinsync.sync import new_run_id

    _setup_logging(0)
    with _Guard():
        if stream not in STREAMS:
            raise errors.ConfigError(f"unknown stream {stream!r}; see `pinsync streams`")
        store = _state_store(config_path, state_url)
        n = reset(store, stream, ad_account, owner=new_run_id())
        what = f"{stream}" + (f" (ad account {ad_account})" if ad_account else "")
        err_console.print(f"forgot {n} bookmark{'s' if n != 1 else ''} of {what}" if n else
                          f"the state holds no bookmark of {what}; nothing to forget", highlight=False)


@main.command("accounts")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (for orchestrators).")
@verbose_option
def accounts_cmd(config_path, as_json, verbose):
    """List the ad accounts the token can read (with their shard-friendly ids)."""
    from pinsync.api_ops import list_accounts

    _setup_logging(verbose)
    with _Guard(as_json):
        config = load_config(config_path, today=_today())
        accounts = list_accounts(config)
        if as_json:
            click.echo(json.dumps(accounts, indent=2))
            return
        table = Table()
        for col in ("id", "name", "currency", "country"):
            table.add_column(col)
        for a in accounts:
            table.add_row(a["id"], a.get("name") or "", a.get("currency") or "", a.get("country") or "")
        out_console.print(table)


@main.command("demo")
@click.option("--output", default="demo-data", show_default=True, help="Where to write the demo tables.")
@click.option("--accounts", default=2, show_default=True, help="Ad accounts in the fake account.")
@click.option("--streams", "streams_", metavar="A,B|all",
              help="Streams to sync (default: the default selection; `all`: every stream).")
@verbose_option
def demo_cmd(output, accounts, streams_, verbose):
    """Sync a fake Pinterest account (served on 127.0.0.1) into ./demo-data: no credentials needed."""
    from pinsync.demo import run_demo

    _setup_logging(verbose)
    with _Guard():
        out = Path(output).resolve()
        err_console.print(f"Starting pinsync's fake Pinterest API on 127.0.0.1 and syncing into {out} ...")
        result = run_demo(out, accounts=accounts, today=_today(), streams=_split(streams_),
                          runner=lambda run, cfg: _run_with_progress(run, cfg))
        out_console.print(_demo_help(out))
        if result.failures:
            _fail(str(errors.SyncFailed(result.failures)), errors.EXIT_SYNC_FAILED)


def _demo_help(out: Path) -> str:
    return f"""
[bold]Done.[/] Read the tables with Polars:

  python -c "import pinsync; print(pinsync.scan('campaign_analytics', output='{out}').collect())"

or directly:

  import polars as pl
  pl.scan_parquet('{out}/campaigns/', hive_partitioning=True).collect()

or DuckDB:

  duckdb -c "select * from read_parquet('{out}/ad_analytics/**/*.parquet', hive_partitioning=false) limit 5"
"""


if __name__ == "__main__":   # pragma: no cover
    main()
