"""The planning engine: pure functions over definitions snapshots.

The planner service serves these over gRPC; inline ``repo.materialize()`` calls them directly.
"""

from rivers.planning.backfill import BackfillPlan, plan_backfill
from rivers.planning.graph import AssetGraph
from rivers.planning.plan import ExecutionPlan, PlanStep, build_plan
from rivers.planning.selection import resolve_selection

__all__ = [
    "AssetGraph",
    "BackfillPlan",
    "ExecutionPlan",
    "PlanStep",
    "build_plan",
    "plan_backfill",
    "resolve_selection",
]
