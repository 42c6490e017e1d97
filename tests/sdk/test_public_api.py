"""The public surface of `import rivers as rs` is pinned, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import rivers as rs

EXPECTED = [
    "AddDynamicPartitionsRequest",
    "Asset",
    "AssetDef",
    "AssetExecutionContext",
    "AssetRecord",
    "AutomationCondition",
    "BackfillRequest",
    "BackfillState",
    "BackfillStatus",
    "BackfillStrategy",
    "BashTask",
    "CodeRepository",
    "DefinitionError",
    "DeleteDynamicPartitionsRequest",
    "ErrorInfo",
    "EventKind",
    "Executor",
    "IOHandler",
    "InputContext",
    "Job",
    "Materialization",
    "MaterializeResult",
    "MetadataValue",
    "MultiAsset",
    "Output",
    "OutputContext",
    "PartitionError",
    "PartitionKey",
    "PartitionKeyRange",
    "PartitionKeys",
    "PartitionMapping",
    "PartitionStatus",
    "PartitionsDefinition",
    "RetryPolicy",
    "RiversError",
    "RunConfigError",
    "RunEvent",
    "RunRecord",
    "RunRequest",
    "RunStatus",
    "Schedule",
    "ScheduleContext",
    "SelectionError",
    "SelfDependency",
    "Sensor",
    "SensorContext",
    "SensorResult",
    "SkipReason",
    "Storage",
    "StorageError",
    "Task",
    "TimeWindow",
    "UserCodeError",
    "__version__",
]


def test_public_names_are_pinned():
    """__all__ is sorted and exactly the pinned list; every name resolves."""
    assert rs.__all__ == EXPECTED
    assert sorted(rs.__all__) == rs.__all__
    for name in rs.__all__:
        assert getattr(rs, name) is not None


def test_import_does_not_load_heavy_runtimes():
    """`import rivers` loads neither grpc, the SurrealDB SDK, nor the OpenTelemetry SDK."""
    code = (
        "import sys, rivers\n"
        "heavy = [m for m in ('grpc', 'surrealdb', 'surrealdb_embedded', 'opentelemetry.sdk',"
        " 'networkx', 'structlog', 'tenacity') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
