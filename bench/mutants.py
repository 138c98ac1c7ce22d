"""A small mutation check: does the test suite notice when the code is subtly wrong?

Each mutant changes one thing in one function (a comparison flipped, ``and``/``or``
swapped, a ``not`` dropped, an integer one higher, ``+``/``-`` or ``min``/``max`` swapped, a
boolean inverted), is written over the module, and a fast test subset chosen for that
module runs against it (``-x``, time-limited). A mutant the subset does not fail
*survives*; one that runs past the time limit counts as killed (printed ``timeout``).
The file is restored after every mutant (and on Ctrl-C).

    python bench/mutants.py                  # every target below, then a summary
    python bench/mutants.py --only frames    # targets whose module contains "frames"
    python bench/mutants.py --list           # the mutants, without running anything
    python bench/mutants.py --again run.log  # only those a previous run (its output) left alive

Run it from a clean checkout (it rewrites files under ``pinsync/`` while it runs).
A full pass (about 150 mutants) takes 30-50 minutes on 2 busy CPUs.
"""

from __future__ import annotations

import argparse
import ast
import copy
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module -> (functions to mutate, the test subset that should notice)
TARGETS = {
    "pinsync/streams/analytics.py": (
        ("batched", "fetch_range", "date_windows"),
        ["tests/test_windows.py"]),
    "pinsync/frames.py": (
        ("_typed", "_place_hours", "_widened"),
        ["tests/test_frames.py", "tests/test_pin_payload.py"]),
    "pinsync/sink.py": (
        ("replace_partitions",),
        ["tests/test_unchanged.py", "tests/test_buffer.py"]),
    "pinsync/sync.py": (
        ("accounts", "analytics_range", "_partitions_bookmark", "_ids_created_by", "_buckets"),
        ["tests/test_shards.py", "tests/test_unchanged.py", "tests/test_buffer.py",
         "tests/test_sync_analytics.py", "-k", "not four_streams and not restatement and not several_pages"]),
    "pinsync/extractor.py": (
        ("dedupe", "ads_analytics_batches"),
        ["tests/test_sync_analytics.py", "-k",
         "duplicate or fewest_calls_whose or 2_53 or exactly_8_kb or granularities or without_its_key"]),
}

_FLIP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
         ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


def _sites(fn: ast.AST):
    """(node, description, mutate(node) -> replacement) for every mutation site in ``fn``."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _FLIP:
                    def flip(n, i=i):
                        n.ops[i] = _FLIP[type(n.ops[i])]()
                        return n
                    yield node, f"{type(op).__name__} -> {_FLIP[type(op)].__name__}", flip
        elif isinstance(node, ast.BoolOp):
            yield node, "and <-> or", lambda n: ast.BoolOp(ast.Or() if isinstance(n.op, ast.And) else ast.And(),
                                                          n.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "drop not", lambda n: n.operand
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            yield node, "+ <-> -", lambda n: ast.BinOp(n.left, ast.Sub() if isinstance(n.op, ast.Add) else ast.Add(),
                                                        n.right)
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield node, f"{node.value} -> {node.value + 1}", lambda n: ast.Constant(n.value + 1)
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            yield node, f"{node.value} -> {not node.value}", lambda n: ast.Constant(not n.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            def swap(n):
                n.func = ast.Name("max" if n.func.id == "min" else "min", ast.Load())
                return n
            yield node, f"{node.func.id} -> {'max' if node.func.id == 'min' else 'min'}", swap


def mutants(module: str, functions: tuple[str, ...]):
    """(description, mutated source) for every site in the named functions of ``module``."""
    tree = ast.parse((ROOT / module).read_text())
    for fn in ast.walk(tree):
        if not (isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name in functions):
            continue
        for k, (node, what, _) in enumerate(list(_sites(fn))):
            mutated = copy.deepcopy(tree)
            target_fn = next(f for f in ast.walk(mutated) if isinstance(f, type(fn)) and f.name == fn.name
                             and f.lineno == fn.lineno)
            site, _, change = list(_sites(target_fn))[k]
            _replace(target_fn, site, change(site))
            yield f"{module}:{node.lineno} {fn.name}: {what}", ast.unparse(ast.fix_missing_locations(mutated))


def _replace(root: ast.AST, old: ast.AST, new: ast.AST) -> None:
    if new is old:
        return
    for parent in ast.walk(root):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                value[[i for i, v in enumerate(value) if v is old][0]] = new
                return


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run the targets whose module path contains this")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--again", metavar="LOG", help="run only the mutants a previous run's output lists as survived")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))      # kill: restore the file (finally) first
    survived, killed, timeouts, t0 = [], 0, 0, time.monotonic()
    again = None
    if args.again:
        again = {line.split("SURVIVED ", 1)[1].strip() for line in Path(args.again).read_text().splitlines()
                 if line.startswith("SURVIVED ")}
    for module, (functions, tests) in TARGETS.items():
        if args.only not in module or (again is not None and not any(m.startswith(module + ":") for m in again)):
            continue
        path = ROOT / module
        original = path.read_text()
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
        if not args.list:       # the subset must pass as it is; a mutant 3x slower hangs (counts as killed)
            t = time.monotonic()
            if subprocess.run(command, cwd=ROOT, capture_output=True).returncode != 0:
                sys.exit(f"the tests for {module} fail without any mutation")
            timeout = 3 * (time.monotonic() - t) + 10
        try:
            for what, source in mutants(module, functions):
                if again is not None and what not in again:
                    continue
                if args.list:
                    print(what)
                    continue
                path.write_text(source)
                try:
                    rc = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=timeout).returncode
                except subprocess.TimeoutExpired:
                    rc = -1
                if rc == 0:
                    survived.append(what)
                    print("SURVIVED", what, flush=True)
                else:
                    killed += 1
                    timeouts += rc == -1
                    print("timeout " if rc == -1 else "killed  ", what, flush=True)
        finally:
            path.write_text(original)
    if not args.list:
        total = killed + len(survived)
        print(f"\n{killed}/{total} killed ({100 * killed / max(1, total):.0f}%; {timeouts} of them by timeout), "
              f"{len(survived)} survived, {time.monotonic() - t0:.0f} s")
        for s in survived:
            print("  survived:", s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
