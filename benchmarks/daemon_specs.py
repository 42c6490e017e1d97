"""Parameters of the daemon workloads (stdlib only), and what Dagster users report for them.

None of these workloads has a Dagster counterpart that runs here without a Dagster daemon, a
Postgres-backed instance and hours of wall time, so the table quotes Dagster's issue tracker
(``QUOTES``, shown in the Dagster column with the sources in the notes).

The sensor and schedule workloads run the whole stack, ``rivers dev`` on a generated module
(:func:`sensors_module`, :func:`schedule_module`), and read the daemon's ticks back through
the public API (``ListTicks``, served from ``storage.get_ticks``).
"""

from __future__ import annotations

import datetime as dt

# backfill: 2,000 daily partitions of a 10-asset chain, one run per partition
BACKFILL_PARTITIONS = 2_000
BACKFILL_ASSETS = 10
BACKFILL_START = dt.date(2015, 1, 1)
BACKFILL_END = BACKFILL_START + BACKFILL_PARTITIONS * dt.timedelta(days=1)
BACKFILL_CHUNK = 500

# automation: 1,000 assets (layered shape, 20 layers), each with 365 daily partitions, every
# one materialized once; every asset has AutomationCondition.eager()
AUTOMATION_ASSETS = 1_000
AUTOMATION_START = dt.date(2023, 1, 1)
AUTOMATION_DAYS = 365
AUTOMATION_END = AUTOMATION_START + AUTOMATION_DAYS * dt.timedelta(days=1)
#: the tick's clock: just after the last partition's window closed
AUTOMATION_NOW = dt.datetime(2024, 1, 1, 0, 1, tzinfo=dt.UTC).timestamp()
#: bumped when the seeded store's contents change (it is cached under .work/)
SEED_VERSION = 1

# sensors: 200 sensors ticking every second, one of which hangs (holds an evaluation worker
# until the code server's evaluation timeout, then again on its next tick)
SENSORS = 200
SENSOR_INTERVAL = 1.0  # minimum_interval of every sensor, seconds
SENSOR_WARMUP = 5.0  # seconds after the stack is up before the measured window opens
SENSOR_WINDOW = 20.0  # seconds of ticks measured
SENSOR_ASYNC_SHARE = 2  # the mixed variant: every 2nd healthy sensor is async
HANG = "hang"  # the hanging sensor's name (sync: it holds a worker of the evaluation pool)
#: environment of the stack: the evaluation timeout (code server and daemon) and pool size
SENSOR_ENV = {"RIVERS_EVALUATION_TIMEOUT": "5"}

# schedule: one RUNNING schedule on a 6-field cron, each tick a 1-asset run
SCHEDULE_CRON = "*/2 * * * * *"  # every 2 seconds
SCHEDULE_TICKS = 10  # ticks measured per process
SCHEDULE_TIMEOUT = 120.0  # seconds the ticks (and their runs) get
ROW_TIMEOUT = 300.0  # seconds a whole sensor or schedule process gets (start, measure, stop)


def sensor_names() -> list[str]:
    """The healthy sensors' names, ``s000`` ... (``SENSORS - 1`` of them)."""
    return [f"s{i:03d}" for i in range(SENSORS - 1)]


def sensors_module(mixed: bool) -> str:
    """``SENSORS - 1`` healthy sensors (each returns nothing: a SKIPPED tick) and ``HANG``.

    Every sensor is sync (evaluated in the code server's evaluation pool), or with ``mixed``
    every ``SENSOR_ASYNC_SHARE``-th healthy one is async (evaluated on the code server's event
    loop). ``HANG`` is always sync and sleeps for good.
    """
    lines = ['"""Generated sensors (benchmarks/daemon_specs.py)."""', ""]
    lines += ["import time", "", "import rivers as rs", "", "", "@rs.Asset", "def target() -> int:"]
    lines += ["    return 1", ""]
    sensor = (
        f'@rs.Sensor(target="target", minimum_interval={SENSOR_INTERVAL:g}, '
        'default_status="RUNNING")'
    )
    for i, name in enumerate(sensor_names()):
        asynchronous = mixed and i % SENSOR_ASYNC_SHARE == 1
        prefix = "async def" if asynchronous else "def"
        lines += ["", sensor, f"{prefix} {name}(context: rs.SensorContext) -> None:"]
        lines += ["    return None", ""]
    lines += ["", sensor, f"def {HANG}() -> None:", "    time.sleep(10**6)", ""]
    return "\n".join(lines)


def schedule_module() -> str:
    """One asset and one RUNNING schedule of it on ``SCHEDULE_CRON`` (no function)."""
    return "\n".join(
        [
            '"""A generated schedule (benchmarks/daemon_specs.py)."""',
            "",
            "import rivers as rs",
            "",
            "",
            "@rs.Asset",
            "def target() -> int:",
            "    return 1",
            "",
            "",
            f'every = rs.Schedule(name="every", cron="{SCHEDULE_CRON}", target="target", '
            'default_status="RUNNING")',
            "",
        ]
    )


QUOTES = {
    "daemon-backfill": (
        "≈ 1 runs/s (users)",
        "dagster-io/dagster#28998: a user's backfill daemon enqueues about 1 run per second "
        "(0.9-1.5 runs/s measured over hours, with pgBouncer; 0.5 runs/s without); "
        "#16138: backfills of thousands of runs take a long time to be enqueued",
    ),
    "daemon-automation": (
        "minutes (users)",
        "dagster-io/dagster#17429: 35 assets x ~2,000 daily partitions, the asset daemon is "
        "killed after 5 minutes per tick; #10760: almost a minute for one two-year daily "
        "asset; #27857: ticks of 45 minutes after a partitions change",
    ),
    "daemon-sensors": (
        ">= 5 s (daemon loop)",
        "dagster-io/dagster#23243 (diff of dagster/_daemon/sensor.py: MIN_INTERVAL_LOOP_TIME = 5; "
        "the sensor daemon evaluates its sensors in a loop that runs at most every 5 s, so "
        "minimum_interval_seconds=1 gives 5 s at best); #8642: sensors are evaluated one after "
        "another unless the daemon's thread pool (sensors: use_threads) is switched on; #20618: "
        "a 30 s sensor evaluated only every 8-10 minutes on a CPU-starved code location; #20484: "
        "all sensors of an iteration evaluate at once and may all exceed their timeout",
    ),
    "daemon-schedule": (
        "1-6 s to submission (users)",
        "dagster-io/dagster#10881: a single every-minute schedule on an empty cluster, its runs "
        "submitted 1-6 s after the scheduled time (drifting in ~18-minute cycles), measured to "
        "the run's PIPELINE_STARTING event, before any step; #10886: the scheduler's 5 s loop "
        "sleep, the cause; #26373: a 01:30 schedule queued and started at 01:36 (ECS)",
    ),
}
