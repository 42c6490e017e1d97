"""rivers vs Dagster, side by side: ``make bench`` (``.venv/bin/python benchmarks/run.py``).

Every repetition of every workload runs in a fresh subprocess: ``workloads_rivers.py`` under
the repo's ``.venv`` python, ``workloads_dagster.py`` under ``benchmarks/.dagster-venv``
(created on demand). Medians are printed as one table on stdout and written to
``benchmarks/.work/results.json``; progress goes to stderr. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import daemon_specs as dmn
import executor_specs as ex
import service_specs as svc
from dagster_env import ensure_dagster
from report import Cell, Row, Sample, met, one_line, ratio, render, target_text

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
RIVERS_PYTHON = REPO / ".venv" / "bin" / "python"
SCRIPTS = {"rivers": HERE / "workloads_rivers.py", "dagster": HERE / "workloads_dagster.py"}

ROWS = [
    Row("define-layered", "define+resolve layered 5000", "layered", 5000, "define", "s", 0.5),
    Row("define-chain", "define+resolve chain 5000", "chain", 5000, "define", "s"),
    Row("define-wide", "define+resolve wide 5000", "wide", 5000, "define", "s"),
    Row("plan-cold", "plan all layered 5000 (cold)", "layered", 5000, "plan_cold", "ms", 50),
    Row("plan-repeat", "plan all layered 5000 (repeat)", "layered", 5000, "plan_repeat", "ms", 1),
    Row("plan-chain", "plan chain 5000", "chain", 5000, "plan_cold", "ms", None, "plans"),
    Row("materialize", "materialize layered 500 inline", "materialize_fs", 500, "materialize",
        "ms/asset", 2),
    Row("materialize-mem", "materialize layered 500 inline, in-memory IO", "materialize_mem",
        500, "materialize", "ms/asset", dagster=False),
    Row("import", "import", "import", 0, "import", "s", 0.3),
    Row("import-heavy", "import loads grpc/surrealdb/otel.sdk", "import", 0, "heavy_loaded",
        "modules", None, "none"),
    Row("partitions-count", "partitions count daily x 50 static", "partitions_count", 50,
        "count", "µs", 1000, "O(1): < 1 ms", group="partitions"),
    Row("partitions-enumerate", "partitions enumerate 490k keys", "partitions_enumerate", 50,
        "enumerate", "s", 1, group="partitions"),
    Row("partitions-enumerate-mem", "partitions enumerate 490k keys, peak extra RSS",
        "partitions_enumerate", 50, "enumerate_mem", "MiB", 100, group="partitions"),
    Row("partitions-count-4d", "partitions count 4 dims (~2.1M keys)", "partitions_count_4d", 4,
        "count", "ms", 10, group="partitions"),
    Row("mapping", "mapping time_window offset -1, 1,000 keys", "mapping", 1000, "mapping", "ms",
        5, group="partitions"),
    Row("mapping-repeat", "mapping time_window offset -1, 1,000 keys (repeat call)", "mapping",
        1000, "mapping_repeat", "ms", group="partitions"),
    Row("backfill-plan", "plan multi-run backfill 10,000 partitions x 10 assets", "backfill",
        10000, "backfill", "s", 0.5, group="partitions"),
    # Dagster takes minutes per process on these, so it runs once unless --dagster-repeat
    Row("executor-parallel", "parallel executor, 200 independent trivial sync assets, 2 workers",
        "executor_parallel", ex.PARALLEL_ASSETS, "parallel", "ms/step", 5, group="executors",
        dagster_repeat=1),
    Row("executor-map", ".map() over 5,000 items + collect, in-process executor", "executor_map",
        ex.MAP_ITEMS, "map", "s", 10, group="executors", timeout=ex.MAP_TIMEOUT,
        dagster_repeat=1),
    Row("executor-map-parallel", ".map() over 5,000 items + collect, parallel executor (2 workers)",
        "executor_map_parallel", ex.MAP_ITEMS, "map", "s", 10, group="executors", dagster=False),
    Row("executor-async", "100 async assets each awaiting asyncio.sleep(1), "
        "max_async_concurrent=100", "executor_async", ex.ASYNC_ASSETS, "async", "s", 2,
        group="executors", dagster_repeat=1),
    # a whole tool as a subprocess on a generated 100-asset module (service_specs.py)
    Row("dev-cold-start", "dev server cold start, 100 assets listed (rivers dev / dagster dev)",
        "dev_cold_start", svc.ASSETS, "cold_start", "s", 3, group="services"),
    Row("dev-cold-start-rss", "dev server cold start, RSS of the process tree",
        "dev_cold_start", svc.ASSETS, "rss", "MiB", 250, group="services"),
    Row("queued-run", f"queued run: launch -> first step started ({svc.RUNS} runs, "
        f"{svc.RUN_PAUSE:g} s apart)", "dev_runs", svc.ASSETS, "launch_to_step", "ms", 300,
        group="services", dagster_repeat=3),
    Row("queued-run-burst", f"queued run: launch -> first step started ({svc.RUNS} runs, "
        "back to back)", "dev_runs", svc.ASSETS, "launch_to_step_burst", "ms",
        group="services", dagster_repeat=3),
    Row("watch-run", "WatchRun latency: event written -> received, median", "dev_runs",
        svc.ASSETS, "watch_p50", "ms", 50, group="services", dagster_repeat=3),
    Row("watch-run-p95", "WatchRun latency: event written -> received, p95", "dev_runs",
        svc.ASSETS, "watch_p95", "ms", group="services", dagster_repeat=3),
    # the location's daemon; Dagster's figures are quoted from its issue tracker (daemon_specs)
    Row("daemon-backfill", f"backfill {dmn.BACKFILL_PARTITIONS:,} partitions (multi-run): "
        "runs enqueued/s", "daemon_backfill", dmn.BACKFILL_PARTITIONS, "enqueue", "runs/s", 200,
        dagster=False, group="daemon", dagster_quote=dmn.QUOTES["daemon-backfill"][0]),
    Row("daemon-automation", f"automation tick, {dmn.AUTOMATION_ASSETS:,} assets x "
        f"{dmn.AUTOMATION_DAYS} daily partitions (50 upstream updated)", "daemon_automation",
        dmn.AUTOMATION_ASSETS, "tick", "s", 2, dagster=False, group="daemon",
        dagster_quote=dmn.QUOTES["daemon-automation"][0]),
    Row("daemon-automation-idle", "automation tick, same, nothing changed", "daemon_automation",
        dmn.AUTOMATION_ASSETS, "tick_idle", "s", dagster=False, group="daemon"),
    Row("daemon-automation-cold", "automation tick, same, first after a daemon start "
        "(loads 365,000 records)", "daemon_automation", dmn.AUTOMATION_ASSETS, "tick_first", "s",
        dagster=False, group="daemon"),
    # rivers dev on a generated module; ticks read back from its store (daemon_specs)
    Row("daemon-sensors", f"{dmn.SENSORS} sync sensors, minimum_interval=1 s, 1 hanging: "
        "max interval between ticks of the others (rivers dev)", "daemon_sensors", dmn.SENSORS,
        "sensor_max", "s", 1.5, dagster=False, group="daemon", timeout=dmn.ROW_TIMEOUT,
        dagster_quote=dmn.QUOTES["daemon-sensors"][0]),
    Row("daemon-sensors-p95", "same, p95 interval", "daemon_sensors", dmn.SENSORS, "sensor_p95",
        "s", dagster=False, group="daemon", timeout=dmn.ROW_TIMEOUT),
    Row("daemon-sensors-mixed", "same, every 2nd healthy sensor async: max interval",
        "daemon_sensors_mixed", dmn.SENSORS, "sensor_max", "s", 1.5, dagster=False,
        group="daemon", timeout=dmn.ROW_TIMEOUT),
    Row("daemon-sensors-mixed-p95", "same, mixed: p95 interval", "daemon_sensors_mixed",
        dmn.SENSORS, "sensor_p95", "s", dagster=False, group="daemon", timeout=dmn.ROW_TIMEOUT),
    Row("daemon-schedule", f"schedule due -> run's first step started (cron every 2 s, "
        f"{dmn.SCHEDULE_TICKS} ticks), median (rivers dev)", "daemon_schedule", 1,
        "schedule_p50", "ms", 1000, dagster=False, group="daemon", timeout=dmn.ROW_TIMEOUT,
        dagster_quote=dmn.QUOTES["daemon-schedule"][0]),
    Row("daemon-schedule-p95", "same, p95", "daemon_schedule", 1, "schedule_p95", "ms",
        dagster=False, group="daemon", timeout=dmn.ROW_TIMEOUT),
    Row("daemon-schedule-max", "same, max",
        "daemon_schedule", 1, "schedule_max", "ms", dagster=False, group="daemon",
        timeout=dmn.ROW_TIMEOUT),
]  # fmt: skip

Records = dict[tuple[str, str], list[dict[str, Any]]]
# info values both tools report and must agree on (counts, first/last keys, run shapes)
CHECKED = ("assets", "steps", "value", "partitions", "first", "last", "runs")
CHECKED += ("partitions_per_run", "assets_per_run")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="rivers vs Dagster benchmarks")
    parser.add_argument("--skip-dagster", action="store_true", help="run rivers only")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="row id, group (partitions, executors, services, daemon) or part of a title "
        "(repeatable)",
    )
    parser.add_argument("--repeat", type=int, help="fresh-process repetitions (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 repetitions instead of 5")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per process")
    parser.add_argument(
        "--dagster-repeat",
        type=int,
        metavar="N",
        help="Dagster repetitions of every workload, also those capped to 1 (executors)",
    )
    args = parser.parse_args()
    args.repeat = args.repeat or (2 if args.quick else 5)
    if args.dagster_repeat is not None and args.dagster_repeat < 1:
        parser.error("--dagster-repeat must be at least 1 (--skip-dagster runs none)")
    return args


def select(only: list[str] | None) -> list[Row]:
    if not only:
        return ROWS
    wanted = [w.lower() for w in only]
    rows = [r for r in ROWS if any(w in (r.id, r.group) or w in r.title.lower() for w in wanted)]
    if not rows:
        groups = sorted({r.group for r in ROWS if r.group})
        sys.exit(
            f"--only {only} matches no row; row ids: {', '.join(r.id for r in ROWS)}; "
            f"groups: {', '.join(groups)}"
        )
    return rows


def child_env() -> dict[str, str]:
    """Bytecode caches for both tools (kept under .work/), and a Dagster home under .work/."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache")
    env["DAGSTER_HOME"] = str(WORK / "dagster-home")
    (WORK / "dagster-home").mkdir(parents=True, exist_ok=True)
    return env


def run_once(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """One fresh process; its JSON record (last stdout line), or ``{"crash": why}``.

    The child leads its own process group, so a timeout also stops the processes it started
    (executor workers, Dagster's step processes).
    """
    with subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"crash": f"> {timeout:g} s (timeout): the process was stopped"}
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        record: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " / ".join(stderr.strip().splitlines()[-3:])
        return {"crash": f"Crash: exit {proc.returncode}, no JSON record; stderr: {tail}"}
    return record


def setup_tools(skip_dagster: bool) -> tuple[dict[str, Path], str, str | None]:
    """Interpreters by tool, what to show for Dagster if it is absent, and its version."""
    rivers = RIVERS_PYTHON if RIVERS_PYTHON.exists() else Path(sys.executable)
    pythons = {"rivers": rivers}
    if skip_dagster:
        return pythons, "skipped", None
    try:
        pythons["dagster"], version = ensure_dagster()
    except RuntimeError as exc:
        log(f"Dagster unavailable, continuing with rivers only: {exc}")
        return pythons, "not installed", None
    return pythons, "", version


def collect(rows: list[Row], pythons: dict[str, Path], args: argparse.Namespace) -> Records:
    """Run each needed (workload, tool) ``--repeat`` times, interleaving tools per repetition."""
    env = child_env()
    for tool, python in pythons.items():
        log(f"warming the bytecode cache for {tool} (untimed)")
        run_once([str(python), "-c", f"import {tool}"], env, args.timeout)
    if any(r.group == "services" for r in rows):
        # the dev servers import far more than the package (web server, gRPC, services)
        for tool, python in pythons.items():
            log(f"warming the bytecode cache for {tool}'s dev server: one untimed start")
            cmd = [str(python), str(SCRIPTS[tool]), "dev_cold_start", str(svc.ASSETS)]
            run_once(cmd, env, args.timeout)
    workloads = list(dict.fromkeys((r.workload, r.n) for r in rows))
    tools = {
        w: [t for t in pythons if t == "rivers" or any(r.dagster for r in rows if r.workload == w)]
        for w, _ in workloads
    }
    repeats = {
        (w, tool): repeat_count(rows, w, tool, args) for w, _ in workloads for tool in tools[w]
    }
    timeouts = {
        w: min([args.timeout] + [r.timeout for r in rows if r.workload == w and r.timeout])
        for w, _ in workloads
    }
    total = sum(repeats.values())
    log(f"{total} fresh processes to run; Dagster's share takes several minutes at --repeat 5")
    records: Records = {}
    done = 0
    for workload, n in workloads:
        for rep in range(1, max(repeats[(workload, t)] for t in tools[workload]) + 1):
            for tool in tools[workload]:
                if rep > repeats[(workload, tool)]:
                    continue
                done += 1
                start = time.perf_counter()
                cmd = [str(pythons[tool]), str(SCRIPTS[tool]), workload, str(n)]
                record = run_once(cmd, env, timeouts[workload])
                records.setdefault((tool, workload), []).append(record)
                failed = record.get("crash") or "; ".join(record.get("errors", {}).values())
                status = f"  FAILED: {failed[:80]}" if failed else ""
                log(
                    f"({done}/{total}) {tool:<7} {workload} n={n} "
                    f"rep {rep}/{repeats[(workload, tool)]}: "
                    f"{time.perf_counter() - start:.1f} s{status}"
                )
    return records


def repeat_count(rows: list[Row], workload: str, tool: str, args: argparse.Namespace) -> int:
    """Repetitions of ``workload`` for ``tool``: ``--repeat``, Dagster's capped by its rows."""
    if tool != "dagster":
        return args.repeat
    if args.dagster_repeat is not None:
        return args.dagster_repeat
    caps = [r.dagster_repeat for r in rows if r.workload == workload and r.dagster_repeat]
    return min([args.repeat, *caps])


def sample(row: Row, record: dict[str, Any]) -> Sample:
    """The row's value from one record, or why there is none."""
    if "crash" in record:
        return str(record["crash"])
    metrics, errors = record["metrics"], record["errors"]
    if row.metric in metrics:
        return row.convert(metrics[row.metric])
    if row.metric in record.get("na", {}):
        return str(record["na"][row.metric])
    if row.metric in record["info"]:
        return list(record["info"][row.metric])
    if row.metric in errors:
        return str(errors[row.metric])
    if errors:
        stage, error = next(iter(errors.items()))
        return f"not reached: stage {stage!r} failed with {error}"
    return f"missing: {row.metric!r} not reported"


def unshown_errors(rows: list[Row], records: Records) -> list[str]:
    """Errors of stages that no selected row displays (e.g. a repeat plan after a cold one)."""
    shown = {(r.workload, r.metric) for r in rows}
    seen: dict[str, int] = {}
    for (tool, workload), recs in records.items():
        for rec in recs:
            for stage, error in rec.get("errors", {}).items():
                if (workload, stage) not in shown:
                    key = f"{tool}, {workload} stage {stage!r} (no row): {error}"
                    seen[key] = seen.get(key, 0) + 1
    return [f"{key} ({count} runs)" for key, count in seen.items()]


def cross_check(records: Records) -> list[str]:
    """Both tools must agree on what they computed (asset counts, plan sizes, final values)."""
    notes = []
    for tool, workload in sorted(records):
        if tool != "rivers" or ("dagster", workload) not in records:
            continue
        for key in CHECKED:
            seen = {
                t: sorted({str(r["info"][key]) for r in recs if key in r.get("info", {})})
                for t in ("rivers", "dagster")
                for recs in [records[(t, workload)]]
            }
            if seen["rivers"] and seen["dagster"]:
                verdict = "agree" if seen["rivers"] == seen["dagster"] else "DISAGREE"
                notes.append(f"check {workload} {key}: {verdict} {seen}")
    return notes


def publish(rows: list[Row], records: Records, dagster_absent: str, meta: dict[str, Any]) -> None:
    """Print the table (and notes) on stdout, and write it to .work/results.json."""
    header = ["workload", "rivers", "Dagster", "ratio (D/r)", "target", "met?"]
    table, out_rows, notes = [], [], []
    for row in rows:
        cells = {
            tool: Cell([sample(row, r) for r in records[(tool, row.workload)]])
            for tool in ("rivers", "dagster")
            if (tool, row.workload) in records and (tool == "rivers" or row.dagster)
        }
        rivers, dagster = cells["rivers"], cells.get("dagster")
        repeat = meta["repeat"]
        d_text = (
            dagster.text(row.unit, repeat) if dagster else dagster_absent if row.dagster else "n/a"
        )
        if row.dagster_quote:
            d_text = row.dagster_quote
            notes.append(f"Dagster, {row.title}: quoted, {dmn.QUOTES[row.id][1]}")
        line = [row.title, rivers.text(row.unit, repeat), d_text, ratio(rivers, dagster)]
        line += [target_text(row), met(row, rivers)]
        table.append(line)
        out_rows.append(
            {"id": row.id, "unit": row.unit, "table": dict(zip(header, line, strict=True))}
        )
        out_rows[-1].update({tool: cell.to_json() for tool, cell in cells.items()})
        for tool, cell in cells.items():
            for failure in dict.fromkeys(cell.failures):
                count = f"{cell.failures.count(failure)}/{len(cell.samples)} runs"
                notes.append(f"{tool}, {row.title}: {one_line(failure)} ({count})")
    notes += unshown_errors(rows, records) + cross_check(records)
    version = meta["dagster_version"] or dagster_absent
    print(
        f"\nrivers vs Dagster {version}: median of {meta['repeat']} fresh processes per cell; "
        f"{meta['cpus']} CPUs, load average {meta['load_average'][0]:.2f} at the end\n"
    )
    print(render(header, table))
    if notes:
        print("\nnotes:\n" + "\n".join(f"  - {n}" for n in notes))
    result = WORK / "results.json"
    raw = {f"{tool} {workload}": recs for (tool, workload), recs in records.items()}
    out = {"meta": meta, "rows": out_rows, "notes": notes, "records": raw}
    result.write_text(json.dumps(out, indent=2))
    log(f"wrote {result.relative_to(REPO)}")


def main() -> None:
    args = parse_args()
    rows = select(args.only)
    WORK.mkdir(exist_ok=True)
    pythons, dagster_absent, dagster_version = setup_tools(args.skip_dagster)
    records = collect(rows, pythons, args)
    meta = {
        "repeat": args.repeat,
        "dagster_version": dagster_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    publish(rows, records, dagster_absent, meta)


if __name__ == "__main__":
    main()
