"""Tracing overhead: ``.venv/bin/python benchmarks/tracing_bench.py``.

Materializes 500 trivial assets inline (a layered graph, in-process executor, in-memory
store) in fresh processes, with and without ``OTEL_EXPORTER_OTLP_ENDPOINT`` (pointing at a
real OTLP/HTTP receiver started here, which decodes every export), and prints the median
materialize time of each and the overhead. Target: ≤ 10 % slower with tracing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.observability.otlp_receiver import OtlpReceiver  # noqa: E402

TARGET = 0.10

_WORKLOAD = """
import json, sys, time
sys.path.insert(0, {bench!r})
import rivers as rs
from rivers import tracing
from shapes import layered

assets = []
for name, deps in layered({count}):
    def body(**inputs: object) -> int:
        return 1
    body.__name__ = name
    assets.append(rs.Asset(name=name, deps=[rs.AssetDef.input(d) for d in deps])(body))
repo = rs.CodeRepository(name="bench", assets=assets)
tracing.setup("bench")
repo.materialize()  # warm: imports, caches
start = time.perf_counter()
result = repo.materialize()
elapsed = time.perf_counter() - start
tracing.shutdown()
assert result.success
print(json.dumps({{"seconds": elapsed}}))
"""


def _once(count: int, endpoint: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    code = _WORKLOAD.format(bench=str(REPO / "benchmarks"), count=count)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    receiver = OtlpReceiver()
    try:
        off: list[float] = []
        on: list[float] = []
        for i in range(args.repeat):  # interleaved: load changes hit both alike
            off.append(_once(args.assets, None))
            on.append(_once(args.assets, receiver.endpoint))
            sys.stderr.write(f"repetition {i + 1}/{args.repeat}: {off[-1]:.3f}s / {on[-1]:.3f}s\n")
        spans = len(receiver.spans())
    finally:
        receiver.close()
    base, traced = statistics.median(off), statistics.median(on)
    overhead = traced / base - 1
    sys.stdout.write(
        f"inline materialize of {args.assets} assets: {base * 1000:.0f} ms without tracing, "
        f"{traced * 1000:.0f} ms with OTLP tracing ({overhead:+.1%}; target <= +{TARGET:.0%}: "
        f"{'met' if overhead <= TARGET else 'MISSED'}); {spans} spans received\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
