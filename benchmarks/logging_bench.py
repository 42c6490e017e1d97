"""What logging costs a run: one step logging N lines vs the same step logging nothing.

Run on demand (not part of ``benchmarks/run.py``)::

    .venv/bin/python benchmarks/logging_bench.py [--lines 10000] [--repeat 5] [--storage DIR]

For each executor (in-process, parallel) and each source (``context.log``, ``print``) it
times whole ``materialize`` calls (events durable in storage included) with and without the
lines, prints the medians and the added time, and checks that every line reached the event
log, in order. The target is ≤ 0.5 s added for 10,000 lines.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import rivers as rs
from rivers.execution.runlogs import filter_logs

LINES = 10_000


def _assets(lines: int, source: str) -> list[Any]:
    @rs.Asset
    def upstream() -> int:
        return 1

    @rs.Asset
    def quiet(context: rs.AssetExecutionContext, upstream: int) -> int:
        return upstream

    @rs.Asset
    def chatty(context: rs.AssetExecutionContext, upstream: int) -> int:
        for i in range(lines):
            if source == "log":
                context.log.info("processed row %d of the batch", i)
            else:
                print(f"processed row {i} of the batch")
        return upstream

    return [upstream, quiet, chatty]


def _time(repo: rs.CodeRepository, target: str, executor: rs.Executor) -> tuple[float, Any]:
    started = time.perf_counter()
    result = repo.materialize(["upstream", target], executor=executor)
    elapsed = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"run of {target} failed")
    return elapsed, result


def _check(result: Any, lines: int) -> None:
    logs = [e for e in filter_logs(result.events, step="chatty") if e.message.startswith("proc")]
    expected = [f"processed row {i} of the batch" for i in range(lines)]
    if [e.message for e in logs] != expected:
        raise SystemExit(f"lines missing or out of order: got {len(logs)} of {lines}")
    seqs = [e.seq for e in logs]
    if seqs != sorted(seqs):
        raise SystemExit("lines stored out of order")


def main(argv: list[str] | None = None) -> int:
    """Print the medians per executor and source; exit 1 when over the 0.5 s budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=LINES)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--storage", type=Path, default=None, help="embedded store directory")
    args = parser.parse_args(argv)
    over = False
    out = sys.__stdout__ or sys.stdout
    out.write(f"{'executor':<12} {'source':<7} {'quiet s':>8} {'chatty s':>9} {'added s':>8}\n")
    with tempfile.TemporaryDirectory() as tmp:
        for name, executor in (
            ("in_process", rs.Executor.in_process()),
            ("parallel", rs.Executor.parallel(max_workers=2)),
        ):
            for source in ("log", "print"):
                storage = rs.Storage.embedded(args.storage or Path(tmp) / f"{name}-{source}")
                repo = rs.CodeRepository(assets=_assets(args.lines, source), storage=storage)
                _time(repo, "chatty", executor)  # warm-up: imports, worker start-up
                quiet, chatty = [], []
                for _ in range(args.repeat):
                    quiet.append(_time(repo, "quiet", executor)[0])
                    elapsed, result = _time(repo, "chatty", executor)
                    _check(result, args.lines)
                    chatty.append(elapsed)
                q, c = statistics.median(quiet), statistics.median(chatty)
                over = over or c - q > 0.5
                out.write(f"{name:<12} {source:<7} {q:>8.3f} {c:>9.3f} {c - q:>8.3f}\n")
                storage.close()
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
