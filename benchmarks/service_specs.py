"""The services rows: generated code locations and process-tree helpers (stdlib only).

Both interpreters import this module. The services rows start a whole tool as a subprocess
(``rivers dev MODULE``; ``dagster dev -f FILE``), wait until its HTTP server lists the assets of
a generated module, measure the resident memory of its process tree, use it (runs, event
streams), and always stop the whole tree afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import shapes

ASSETS = 100  # assets of the generated code location (shapes.layered: 20 layers of 5)
RUNS = 10  # queued 1-asset runs per process and pattern (launch -> first step started)
RUN_PAUSE = 2.0  # seconds between one run's end and the next launch ("spaced" pattern)
RUN_ASSET = "l0_0"  # the asset those runs materialize (no inputs)
WATCH_LAYERS = 3  # the WatchRun row materializes the first 3 layers: 15 assets, ~50 events
READY_TIMEOUT = 180.0  # seconds a tool gets to list the assets
RUN_TIMEOUT = 120.0  # seconds a run gets to finish
POLL = 0.02  # seconds between readiness probes
MODULE = "bench_services_assets"  # name of the generated module (file MODULE.py)


def shape() -> shapes.Shape:
    """The generated location's graph: ``shapes.layered(ASSETS)``."""
    return shapes.build("layered", ASSETS)


def watch_selection() -> list[str]:
    """The assets of the WatchRun row's run: every asset of the first ``WATCH_LAYERS`` layers."""
    layers = tuple(f"l{i}_" for i in range(WATCH_LAYERS))
    return [name for name, _ in shape() if name.startswith(layers)]


def module_source(tool: str) -> str:
    """The generated code location's source for ``tool`` (``rivers`` or ``dagster``).

    The same 100 functions for both tools, only the decorator differs. Every asset takes its
    upstream assets as parameters (matched by name in both) and returns ``1 + sum(inputs)``,
    as everywhere in the benchmarks.
    """
    header = {
        "rivers": ("import rivers as rs", "@rs.Asset"),
        "dagster": ("import dagster as dg", "@dg.asset"),
    }
    imports, decorator = header[tool]
    lines = [f'"""{ASSETS} generated assets (benchmarks/service_specs.py)."""', "", imports, ""]
    for name, ups in shape():
        params = ", ".join(f"{u}: int" for u in ups)
        body = " + ".join(["1", *ups])
        lines += ["", decorator, f"def {name}({params}) -> int:", f"    return {body}", ""]
    return "\n".join(lines)


def write_module(tool: str, directory: Path) -> Path:
    """Write the generated module into ``directory`` (created); return the file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{MODULE}.py"
    path.write_text(module_source(tool))
    return path


def free_port() -> int:
    """A TCP port nothing listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the process tree ---------------------------------------------------------------------


def start(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start ``cmd`` as the leader of a new process group, output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _parents() -> dict[int, int]:
    """``pid -> parent pid`` of every process (Linux ``/proc``)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # the command name (2nd field) is in parentheses and may contain spaces
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(entry)] = int(fields[1])
    return parents


def tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (``VmRSS``), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(root: int) -> tuple[int, int]:
    """Summed ``VmRSS`` of ``root`` and its descendants, and how many processes that is."""
    pids = tree(root)
    return sum(rss_bytes(pid) for pid in pids), len(pids)


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the whole tree, whatever state it is in.

    SIGTERM to the process group first (a graceful stop, up to ``grace`` seconds), then SIGKILL
    to the group and to every descendant seen before, in case one started a session of its own.
    """
    pids = tree(proc.pid) if proc.poll() is None else []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def log_tail(log: Path, lines: int = 5) -> str:
    """The last lines of a tool's output, for error messages."""
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " / ".join(text[-lines:])


# --- the measurements of the runs rows, whatever the tool -------------------------------------

Events = list[tuple[str, float, float]]  # (kind, event timestamp, receive time), time.time()


def launch_latencies(rec: Any, launch_to_step: Callable[[], float]) -> None:
    """Queued runs: ``RUNS`` launches spaced ``RUN_PAUSE`` apart, then ``RUNS`` back to back.

    ``launch_to_step()`` launches a 1-asset run, waits until it has ended and returns the
    seconds from the launch call to its first step's start. Spaced launches are what one
    person launching runs sees; back-to-back ones (each as the previous run ends) show what
    a tool has to set up again between runs. Metrics ``launch_to_step`` and
    ``launch_to_step_burst`` (medians); every sample goes to ``info``.
    """
    for metric, pause in (("launch_to_step", RUN_PAUSE), ("launch_to_step_burst", 0.0)):
        samples = []
        with rec.setup(metric):
            for _ in range(RUNS):
                time.sleep(pause)
                samples.append(launch_to_step())
        rec.metrics[metric] = statistics.median(samples)
        rec.info[f"{metric}_samples"] = [round(sample, 4) for sample in samples]


def watch_latencies(rec: Any, watch_run: Callable[[], tuple[Events, float]]) -> None:
    """Event delivery: from an event's timestamp to its arrival at a watching client.

    ``watch_run()`` launches the WatchRun row's run and streams its events to the end; it
    returns them and when the stream was requested. Events written before that are history,
    not latency, and are left out. Metrics ``watch_p50`` and ``watch_p95``.
    """
    with rec.setup("watch_p50"):
        events, opened = watch_run()
        latencies = [got - stamp for _, stamp, got in events if stamp >= opened]
    rec.metrics["watch_p50"] = statistics.median(latencies)
    rec.metrics["watch_p95"] = percentile(latencies, 95)
    rec.info.update(watch_events=len(events), watch_measured=len(latencies))


# --- HTTP ---------------------------------------------------------------------------------


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    """GET (or POST ``body`` as JSON) and decode the JSON answer; raises on non-2xx."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether ``GET url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError):
        return False


def wait_ready(proc: subprocess.Popen, ready: Callable[[], bool], log: Path, what: str) -> None:
    """Poll ``ready()`` every ``POLL`` s until it is true.

    Raises:
        RuntimeError: the process exited, or ``READY_TIMEOUT`` passed.
    """
    deadline = time.perf_counter() + READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"exited {proc.returncode} before {what}: {log_tail(log)}")
        try:
            if ready():
                return
        except (OSError, ValueError):  # not listening yet, or a partial answer
            pass
        if time.perf_counter() > deadline:
            raise RuntimeError(f"no {what} after {READY_TIMEOUT:g} s: {log_tail(log)}")
        time.sleep(POLL)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolated like ``statistics.quantiles``."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]
