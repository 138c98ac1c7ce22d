"""Every code block of the README runs, in the README's order, as a newcomer would run them:
shell commands (``pinsync …``) against the fake API with ``--today`` set, the Python and
SQL snippets against what ``pinsync demo`` wrote, YAML blocks as configuration, the layout
block against the demo's files. A block that cannot run here (it installs from the
internet, or needs another tool) carries ``<!-- not-run: reason -->`` on the line before it."""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from pinsync.cli import main
from pinsync.config import config_from_dict
from tests.conftest import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TODAY

README = Path(__file__).resolve().parents[1] / "README.md"
LANGUAGES = {"bash", "console", "python", "sql", "yaml", "text"}
BLOCK = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>\S*)\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S)
NOT_RUN = re.compile(r"<!--\s*not-run:(?P<reason>.*?)-->\s*$")
# what `export NAME=...` means here: the fake API's app
PLACEHOLDERS = {"PINTEREST_CLIENT_ID": CLIENT_ID, "PINTEREST_CLIENT_SECRET": CLIENT_SECRET}


@dataclass
class Block:
    lang: str
    body: str
    line: int
    not_run: str | None     # the reason, when marked


def blocks(text: str) -> list[Block]:
    out = []
    for m in BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        mark = NOT_RUN.fullmatch(before)
        out.append(Block(m["lang"], dedent(m["body"]), line, mark["reason"].strip() if mark else None))
    return out


def test_every_block_is_run_or_says_why_not():
    found = blocks(README.read_text())
    assert len(found) >= 10
    for b in found:
        assert b.lang in LANGUAGES, f"README line {b.line}: a block in {b.lang!r}, which this test cannot run"
        if b.not_run is not None:
            assert len(b.not_run) >= 10, f"README line {b.line}: not-run needs a reason"
    skipped = [b for b in found if b.not_run is not None]
    assert len(skipped) <= 4, [b.line for b in skipped]      # keep those few
    # a mark is only ever right before a block
    marks = len(re.findall(r"(?m)^\s*<!--\s*not-run:", README.read_text()))
    assert marks == len(skipped)


def test_the_readme_parser_sees_marks_and_indented_blocks():
    text = "1. step\n   ```bash\n   pinsync init\n   ```\n\n<!-- not-run: needs the internet -->\n```bash\npip x\n```\n"
    got = blocks(text)
    assert [(b.lang, b.body, b.not_run) for b in got] == [("bash", "pinsync init\n", None),
                                                         ("bash", "pip x\n", "needs the internet")]


def _shell(block: Block, sandbox: Path, api_url: str, monkeypatch) -> str:
    """Run a shell block's commands: ``pinsync …`` through the CLI, ``export`` into the
    environment; anything else must be marked not-run. Returns the last command's output."""
    output = ""
    for line in block.body.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for command in (c.strip() for c in line.split("&&")):
            args = shlex.split(command)
            if args[0] == "export":
                for pair in args[1:]:
                    name, _, value = pair.partition("=")
                    monkeypatch.setenv(name, PLACEHOLDERS.get(name, value) if value == "..." else value)
                continue
            assert args[0] == "pinsync", f"README line {block.line}: {command!r} is not a pinsync command: mark it"
            res = CliRunner().invoke(main, ["--today", TODAY.isoformat(), *args[1:]])
            assert res.exit_code == 0, f"README line {block.line}: {command}\n{res.output}"
            output = res.output
            if args[1:2] == ["init"]:
                # the only step a newcomer does differently: their config points at Pinterest,
                # this one at the fake, authorised like `auth.refresh_token` / PINTEREST_REFRESH_TOKEN
                cfg = sandbox / "pinsync.yaml"
                cfg.write_text(re.sub(r"(?m)^api_url: \S+", f"api_url: {api_url}", cfg.read_text()))
                monkeypatch.setenv("PINTEREST_REFRESH_TOKEN", REFRESH_TOKEN)
    return output


def _transcript(block: Block, sandbox: Path, api_url: str, monkeypatch) -> None:
    """A console block: ``$ command`` then what it printed. The command runs, and the first
    line shown (the table's header) is in what it prints now (the figures are an account's)."""
    lines = block.body.splitlines()
    assert lines and lines[0].startswith("$ "), f"README line {block.line}: a console block starts with $ command"
    output = _shell(Block("bash", lines[0][2:] + "\n", block.line, None), sandbox, api_url, monkeypatch)
    header = next((line.split() for line in lines[1:] if line.strip()), [])
    assert header and all(word in output.split() for word in header), \
        f"README line {block.line}: {lines[0]} no longer prints {' '.join(header)!r}:\n{output}"


def _layout(block: Block, sandbox: Path) -> None:
    """Each path of a layout block exists in the demo's output (any account id)."""
    for line in block.body.splitlines():
        pattern = re.sub(r"ad_account_id=\d+", "ad_account_id=*", line.strip().replace("{output}/", ""))
        assert list((sandbox / "demo-data").glob(pattern)), f"README line {block.line}: no {line.strip()}"


def test_every_readme_block_runs(tmp_path, server, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("PINTEREST_ACCESS_TOKEN", "PINTEREST_CLIENT_ID", "PINTEREST_CLIENT_SECRET",
                 "PINTEREST_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    ran = {lang: 0 for lang in LANGUAGES}
    for block in blocks(README.read_text()):
        if block.not_run is not None:
            continue
        if block.lang == "bash":
            _shell(block, tmp_path, server.url, monkeypatch)
        elif block.lang == "console":
            _transcript(block, tmp_path, server.url, monkeypatch)
        elif block.lang == "python":
            exec(compile(block.body, f"README.md:{block.line}", "exec"), {"__name__": "readme"})
        elif block.lang == "sql":
            rows = duckdb.sql(block.body).fetchall()
            assert rows, f"README line {block.line}: no rows"
        elif block.lang == "yaml":
            config_from_dict(yaml.safe_load(block.body), base_dir=tmp_path, today=TODAY, require_credentials=False,
                             env={"PINSYNC_STATE": "s3://my-lake/_pinsync/shard-1.json"})
        elif block.lang == "text":
            _layout(block, tmp_path)
        ran[block.lang] += 1
    # the demo ran, then the way to an account (init, check, run) against the fake
    assert (tmp_path / "demo-data" / "campaigns").is_dir() and (tmp_path / "data" / "campaigns").is_dir()
    assert all(ran.values()), ran


@pytest.mark.parametrize("old, new, expect", [
    ('pl.col("date")', 'pl.col("day")', '"day"'),                             # a column a snippet reads
    ("pinsync state show --state demo-data", "pinsync state show --stat demo-data", "--stat"),   # an option
    ("where date >= DATE", "where day >= DATE", "day"),                        # the SQL's column
    ("url: s3://my-lake/pinterest", "url: 42", "output.url"),                  # a config key's value
    ("ad_analytics/ad_account_id=549755885175/month=2026-11", "ad_analytics/account=549755885175/month=2026-11",
     "no {output}/ad_analytics/account="),                                     # the layout
])
def test_a_broken_snippet_fails_the_run(old, new, expect, tmp_path, server, monkeypatch):
    """The checks above catch a snippet that no longer works."""
    text = README.read_text()
    assert old in text
    broken = tmp_path / "README.md"
    broken.write_text(text.replace(old, new))
    monkeypatch.setattr(sys.modules[__name__], "README", broken)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(Exception) as err:
        test_every_readme_block_runs(work, server, monkeypatch)
    assert expect in str(err.value)
