"""Subprocess side of the benchmark protocol (stdlib only: both interpreters import it).

A workload module calls :func:`main` with its workloads. ``python workloads_x.py NAME N``
runs workload ``NAME`` with ``N`` assets once and prints one JSON object on stdout::

    {"metrics": {"define": 0.41, ...}, "errors": {"plan": "RecursionError: ..."}, "info": {...}}

Metrics are seconds. A stage that raises is recorded under ``errors`` and ends the workload,
so later stages are simply absent (``run.py`` reports them as not reached).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

WORK = Path(__file__).resolve().parent / ".work"


class Recorder:
    """Collects stage timings, the first error, and informational values of one workload."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.info: dict[str, Any] = {}
        self.stage = "setup"

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        """Time the block as ``stage``; an exception propagates and is blamed on ``stage``."""
        self.stage = stage
        start = time.perf_counter()
        yield
        self.metrics[stage] = time.perf_counter() - start
        self.stage = "setup"


Workload = Callable[[Recorder, int], None]


def main(workloads: dict[str, Workload]) -> None:
    """Run ``sys.argv[1]`` with ``int(sys.argv[2])`` assets and print the JSON record."""
    name, n = sys.argv[1], int(sys.argv[2])
    rec = Recorder()
    try:
        workloads[name](rec, n)
    except BaseException as exc:  # every failure is data to report
        message = str(exc).splitlines()[0][:300] if str(exc) else ""
        rec.errors[rec.stage] = f"{type(exc).__name__}: {message}".rstrip(": ")
    sys.stdout.flush()
    sys.stdout.write(json.dumps({"metrics": rec.metrics, "errors": rec.errors, "info": rec.info}))
    sys.stdout.write("\n")
