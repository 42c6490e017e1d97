"""rivers: an asset-graph data orchestrator.

Import it as ``import rivers as rs``; everything public is re-exported here.
"""

from rivers.automation import (
    AddDynamicPartitionsRequest,
    AutomationCondition,
    BackfillRequest,
    DeleteDynamicPartitionsRequest,
    RunRequest,
    Schedule,
    ScheduleContext,
    Sensor,
    SensorContext,
    SensorResult,
    SkipReason,
)
from rivers.definitions.asset import Asset
from rivers.definitions.asset_def import AssetDef
from rivers.definitions.job import Job
from rivers.definitions.metadata import MetadataValue
from rivers.definitions.multi import MultiAsset
from rivers.definitions.output import Materialization, Output
from rivers.definitions.repository import CodeRepository
from rivers.definitions.retry import RetryPolicy
from rivers.definitions.task import BashTask, Task
from rivers.errors import (
    DefinitionError,
    RiversError,
    RunConfigError,
    SelectionError,
    StorageError,
    UserCodeError,
)
from rivers.execution.backfill import BackfillStatus
from rivers.execution.context import AssetExecutionContext, SelfDependency
from rivers.execution.events import ErrorInfo, EventKind, RunEvent
from rivers.execution.executor import Executor
from rivers.execution.io import InputContext, IOHandler, OutputContext
from rivers.execution.result import MaterializeResult
from rivers.execution.status import PartitionStatus
from rivers.partitions import (
    BackfillStrategy,
    PartitionError,
    PartitionKey,
    PartitionKeyRange,
    PartitionKeys,
    PartitionMapping,
    PartitionsDefinition,
    TimeWindow,
)
from rivers.storage import AssetRecord, BackfillState, RunRecord, RunStatus, Storage

__version__ = "0.1.0"

__all__ = [
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
