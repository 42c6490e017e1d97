"""Subprocess side of the benchmark protocol (stdlib only: both interpreters import it).

A workload module calls :func:`main` with its workloads. ``python workloads_x.py NAME N``
runs workload ``NAME`` with ``N`` assets once and prints one JSON object on stdout::

    {"metrics": {"define": 0.41, ...}, "errors": {"plan": "RecursionError: ..."}, "info": {...},
     "na": {"count": "n/a: ..."}}

Metrics are seconds, or bytes for stages timed with :meth:`Recorder.memory`. A stage that raises
is recorded under ``errors`` and ends the workload, so later stages are simply absent (``run.py``
reports them as not reached). ``na`` holds stages the tool cannot do at all, with the reason.
"""

from __future__ import annotations

import gc
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
        self.na: dict[str, str] = {}
        self.stage = "setup"

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        """Time the block as ``stage``; an exception propagates and is blamed on ``stage``."""
        self.stage = stage
        start = time.perf_counter()
        yield
        self.metrics[stage] = time.perf_counter() - start
        self.stage = "setup"

    @contextmanager
    def setup(self, stage: str) -> Iterator[None]:
        """Untimed preparation whose failure (e.g. a missing API) is blamed on ``stage``."""
        self.stage = stage
        yield
        self.stage = "setup"

    def expect(self, key: str, value: Any, expected: Any) -> None:
        """Report ``value`` under ``info[key]``; a wrong one is an error of stage ``check``.

        Called after the timed stages, so a wrong result is reported without losing the timing.
        """
        self.info[key] = value
        if value != expected:
            self.errors["check"] = f"WrongResult: {key} = {value!r}, expected {expected!r}"

    @contextmanager
    def memory(self, stage: str) -> Iterator[None]:
        """Record the block's peak extra resident memory, in bytes, as ``stage``.

        Linux only: the kernel's high-water mark (``VmHWM``) is reset through
        ``/proc/self/clear_refs`` just before the block, and the peak is taken relative to the
        resident size (``VmRSS``) at that moment, so the figure covers every allocation (Python
        objects, native extensions, allocator slack) without slowing the block down, and can be
        taken around a timed block. Elsewhere the stage is recorded as not applicable.
        """
        gc.collect()
        base: int | None = None
        try:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")
            base = _status_bytes("VmRSS")
        except OSError as exc:
            self.na[stage] = f"n/a: needs Linux\npeak RSS needs /proc/self/clear_refs: {exc}"
        yield
        if base is not None:
            self.metrics[stage] = _status_bytes("VmHWM") - base


def _status_bytes(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def pure_compute(n: int) -> float:
    """Seconds ``n`` trivial asset bodies take when simply called (about 0).

    The body is the one every benchmark asset has, ``1 + sum(inputs)``, here without inputs:
    what a run of ``n`` independent such assets computes, without any orchestration.
    """

    def body(**inputs: int) -> int:
        return 1 + sum(inputs.values())

    start = time.perf_counter()
    for _ in range(n):
        body()
    return time.perf_counter() - start


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
    record = {"metrics": rec.metrics, "errors": rec.errors, "info": rec.info, "na": rec.na}
    sys.stdout.write(json.dumps(record))
    sys.stdout.write("\n")
