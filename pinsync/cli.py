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
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pinsync import clock, errors
from pinsync.config import load_config
from pinsync.secrets import install_log_filter, redact
from pinsync.streams import STREAMS



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


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = RichHandler(console=_console(stderr=True), show_path=False, rich_tracebacks=False, markup=False)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "botocore", "aiobotocore", "s3fs", "fsspec", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(level, logging.INFO))
    install_log_filter(root)


def _fail(message: str, code: int) -> None:
    err_console.print(f"[bold red]error:[/] {redact(message)}", highlight=False, markup=True, soft_wrap=True)
    sys.exit(code)


class _Guard:
    """Turn library errors and Ctrl-C into one message and an exit code."""

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if exc is None:
            return False
        if isinstance(exc, KeyboardInterrupt):
            err_console.print("[yellow]interrupted:[/] stopped; everything committed so far is consistent, "
                              "re-run to continue")
            sys.stderr.flush()
            os._exit(130)   # don't wait for in-flight requests; writes are atomic, the lock is released
        if isinstance(exc, errors.PinsyncError):
            _fail(str(exc), exc.exit_code)
        if isinstance(exc, (click.exceptions.Exit, click.ClickException, SystemExit)):
            return False
        _fail(f"unexpected error: {type(exc).__name__}: {exc} (please report this)", errors.EXIT_SYNC_FAILED)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--streams", help="Comma-separated streams to sync (default: the config's, else all).")
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
    with _Guard():
        overrides = {}
        if streams:
            overrides["streams"] = _split(streams)
        if start_date:
            overrides["start_date"] = start_date
        if output:
            overrides["output.url"] = output
        if ad_accounts:
            overrides["ad_account_ids"] = _split(ad_accounts)
        try:
            shard_t = _parse_shard(shard)
        except click.BadParameter as e:
            raise errors.ConfigError(f"--shard: {e.message}") from None
        config = load_config(config_path, overrides=overrides, today=_today())
        result = _run_with_progress(run, config, full_refresh=full_refresh, shard=shard_t, quiet=as_json,
                                    today=_today())
        if as_json:
            click.echo(json.dumps(_result_json(result), indent=2))
        if result.failures:
            _fail(str(errors.SyncFailed(result.failures)), errors.EXIT_SYNC_FAILED)


def _run_with_progress(run, config, *, quiet: bool = False, **kwargs):
    from pinsync.sync import Event

    progress = Progress(SpinnerColumn(), TextColumn("{task.description:<20}"), BarColumn(bar_width=None),
                        TextColumn("{task.fields[rows]:>10,} rows {task.fields[pages]:>6,} pages"), TimeElapsedColumn(), console=_console(True),
                        transient=False, disable=quiet)
    tasks: dict[str, int] = {}

    def on_event(e: Event) -> None:
        if e.stream not in tasks:
            tasks[e.stream] = progress.add_task(e.stream, total=None, rows=0, pages=0)
        t = tasks[e.stream]
        if e.kind == "rows":
            fields = progress.tasks[t].fields
            progress.update(t, advance=e.rows, rows=fields["rows"] + e.rows, pages=fields["pages"] + 1)
        elif e.kind == "failed":
            progress.update(t, description=f"[red]{e.stream}")

    with progress:
        result = run(config, on_event=on_event, raise_on_failure=False, **kwargs)
        for t in tasks.values():
            progress.update(t, total=progress.tasks[t].completed or 1, completed=progress.tasks[t].completed or 1)
    if not quiet:
        _summary(result)
    return result


def _summary(result) -> None:
    table = Table(title=f"pinsync run {result.run_id}", title_justify="left")
    skipped = any(s.skipped for s in result.streams.values())     # pins gone or private: a column only then
    for col in ("stream", "rows fetched", "rows written", "files written", "files unchanged",
                *(("skipped",) if skipped else ()), "requests", "seconds"):
        table.add_column(col, justify="left" if col == "stream" else "right")
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
        "streams": {n: {k: v for k, v in vars(s).items() if k != "stream"} for n, s in result.streams.items()},
    }


@main.command("streams")
def streams_cmd():
    """List the streams with their key, cursor, parent and partitioning."""
    table = Table()
    for col in ("stream", "key", "cursor", "parent", "partitioned by", "endpoint"):
        table.add_column(col)
    for s in STREAMS.values():
        table.add_row(s.name, ", ".join(s.primary_key), s.cursor or "-", s.parent or "-",
                      "/".join(f"{p}=" for p in s.partition_by) or "-", f"GET /{s.path}")
    out_console.print(table)


@main.group("state")
def state_group():
    """Inspect the state file."""


@state_group.command("show")
@config_option
def state_show(config_path):
    """Print the state file (bookmarks per stream and ad account)."""
    from pinsync.state import StateStore

    _setup_logging(0)
    with _Guard():
        config = load_config(config_path, require_credentials=False, today=_today())
        click.echo(json.dumps(StateStore(config.state.url, config.state.storage_options).describe(), indent=2))


@main.command("accounts")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (for orchestrators).")
@verbose_option
def accounts_cmd(config_path, as_json, verbose):
    """List the ad accounts the token can read (with their shard-friendly ids)."""
    from pinsync.api_ops import list_accounts

    _setup_logging(verbose)
    with _Guard():
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
@verbose_option
def demo_cmd(output, accounts, verbose):
    """Sync a fake Pinterest account (served on 127.0.0.1) into ./demo-data: no credentials needed."""
    from pinsync.demo import run_demo

    _setup_logging(verbose)
    with _Guard():
        out = Path(output).resolve()
        err_console.print(f"Starting pinsync's fake Pinterest API on 127.0.0.1 and syncing into {out} ...")
        result = run_demo(out, accounts=accounts, today=_today(),
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
