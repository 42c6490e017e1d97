"""Conversions of execution plans (``rivers/v1/plan.proto``)."""

from __future__ import annotations

from rivers._gc import gc_paused
from rivers._proto.rivers.v1 import plan_pb2 as pb
from rivers.planning.plan import ExecutionPlan, PlanStep

__all__ = ["plan_from_proto", "plan_to_proto", "step_from_proto", "step_to_proto"]


def step_to_proto(step: PlanStep) -> pb.PlanStep:
    """Encode one plan step."""
    return pb.PlanStep(
        key=step.key,
        asset_keys=step.asset_keys,
        upstream=step.upstream,
        is_async=step.is_async,
        executor=step.executor,
        pools=step.pools,
        pool_slots=step.pool_slots,
        kind=step.kind,
        graph=step.graph,
        node=step.node,
        streams=step.streams,
        max_concurrency=step.max_concurrency,
    )


def step_from_proto(msg: pb.PlanStep) -> PlanStep:
    """Decode one plan step."""
    return PlanStep(
        msg.key,
        tuple(msg.asset_keys),
        tuple(msg.upstream),
        msg.is_async,
        msg.executor if msg.HasField("executor") else None,
        tuple(msg.pools),
        msg.pool_slots or 1,
        kind=msg.kind or "asset",
        graph=msg.graph if msg.HasField("graph") else None,
        node=msg.node if msg.HasField("node") else None,
        streams=tuple(msg.streams),
        max_concurrency=msg.max_concurrency if msg.HasField("max_concurrency") else None,
    )


def plan_to_proto(plan: ExecutionPlan) -> pb.ExecutionPlan:
    """Encode an execution plan.

    Args:
        plan: the plan to send.

    Returns:
        The wire message.
    """
    with gc_paused():
        msg = pb.ExecutionPlan(
            snapshot_id=plan.snapshot_id, selection=plan.selection, asset_keys=plan.asset_keys
        )
        add = msg.steps.add
        for s in plan.steps:
            add(
                key=s.key,
                asset_keys=s.asset_keys,
                upstream=s.upstream,
                is_async=s.is_async,
                executor=s.executor,
                pools=s.pools,
                pool_slots=s.pool_slots,
                kind=s.kind,
                graph=s.graph,
                node=s.node,
                streams=s.streams,
                max_concurrency=s.max_concurrency,
            )
        return msg


def plan_from_proto(msg: pb.ExecutionPlan) -> ExecutionPlan:
    """Decode an execution plan.

    Args:
        msg: the wire message.

    Returns:
        The plan (validated; steps are plain dataclasses, as the planner builds them).
    """
    with gc_paused():
        return ExecutionPlan.model_validate(
            {
                "snapshot_id": msg.snapshot_id,
                "selection": tuple(msg.selection),
                "asset_keys": tuple(msg.asset_keys),
                "steps": tuple(step_from_proto(s) for s in msg.steps),
            }
        )
