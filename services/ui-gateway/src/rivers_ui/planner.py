"""The gateway's client of the planner service (``rivers.v1.planner.Planner``).

Planner answers become plain results or gateway errors: the planner's refusals (unknown
selection, invalid partitions, missing snapshot) are :class:`InvalidArgument` with the
planner's message; a planner that cannot be reached is :class:`Unavailable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from rivers import tracing
from rivers._convert.partitions import backfill_from_proto, backfill_to_proto
from rivers._convert.runs import selection_to_proto
from rivers._proto.rivers.v1 import planner_pb2, planner_pb2_grpc, runs_pb2
from rivers.partitions import BackfillStrategy
from rivers.partitions.spec import selection_from_json
from rivers_ui.errors import GatewayError, InvalidArgument, Unavailable

__all__ = ["BackfillPlan", "PlannerClient", "RunPlan"]

_REFUSED = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
)
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What the planner made of a run request."""

    selection: tuple[str, ...]
    asset_keys: tuple[str, ...]
    partition_keys: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    """What the planner made of a backfill request."""

    selection: tuple[str, ...]
    asset_keys: tuple[str, ...]
    requested: int
    run_count: int
    strategy: BackfillStrategy


class PlannerClient:
    """Calls the planner at ``address`` (a ``grpc.aio`` channel; create it inside the loop).

    Args:
        address: ``host:port`` of the planner.
        timeout: deadline of one call, in seconds.
        attempts: tries of a call that finds the planner unreachable.
    """

    def __init__(self, address: str, *, timeout: float = 30.0, attempts: int = 3) -> None:
        self.address = address
        self.timeout = timeout
        self.attempts = attempts
        self._channel = grpc.aio.insecure_channel(
            address, options=_CHANNEL_OPTIONS, interceptors=tracing.grpc_client_interceptors()
        )
        self._stub = planner_pb2_grpc.PlannerStub(self._channel)  # type: ignore[no-untyped-call]  # generated, untyped

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def plan_run(
        self, snapshot_id: str, selection: list[str], partitions: dict[str, Any] | None
    ) -> RunPlan:
        """Plan and validate a run (selection and partitions, in their JSON form).

        Raises:
            InvalidArgument: the planner refused it.
            Unavailable: the planner cannot be reached.
        """
        request = planner_pb2.PlanRunRequest(
            snapshot_id=snapshot_id, selection=selection, partitions=_selection(partitions)
        )
        reply = await self._call(self._stub.PlanRun, request)
        plan = reply.plan
        keys = tuple(reply.partition_keys) if reply.partition_keys else None
        return RunPlan(tuple(plan.selection), tuple(plan.asset_keys), keys)

    async def plan_backfill(
        self,
        snapshot_id: str,
        selection: list[str],
        partitions: dict[str, Any] | None,
        strategy: BackfillStrategy | None,
    ) -> BackfillPlan:
        """Plan and validate a backfill of the snapshot (partitions in their JSON form).

        Raises:
            InvalidArgument: the planner refused it.
            Unavailable: the planner cannot be reached.
        """
        request = planner_pb2.PlanBackfillRequest(
            snapshot_id=snapshot_id,
            selection=selection,
            partitions=_selection(partitions),
            strategy=None if strategy is None else backfill_to_proto(strategy),
        )
        reply = await self._call(self._stub.PlanBackfill, request)
        return BackfillPlan(
            selection=tuple(reply.plan.selection),
            asset_keys=tuple(reply.plan.asset_keys),
            requested=int(reply.requested),
            run_count=int(reply.run_count),
            strategy=backfill_from_proto(reply.strategy),
        )

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_unreachable),
                stop=stop_after_attempt(self.attempts),
                wait=wait_random_exponential(multiplier=0.05, max=0.5),
                reraise=True,
            ):
                with attempt:
                    return await method(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc) from None
        raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover

    def _error(self, exc: grpc.aio.AioRpcError) -> GatewayError:
        code, details = exc.code(), exc.details() or ""
        if code in _REFUSED:
            return InvalidArgument(details)
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return Unavailable(f"planner at {self.address} did not answer in {self.timeout:g} s")
        if code == grpc.StatusCode.UNAVAILABLE:
            return Unavailable(f"planner unreachable at {self.address}: {details}")
        return GatewayError(f"the planner failed: {code.name}: {details}")


def _selection(data: dict[str, Any] | None) -> runs_pb2.PartitionSelection | None:
    """The wire form of a partition selection's JSON form (``{"all": true}`` included)."""
    if data is None:
        return None
    if data.get("all"):
        return runs_pb2.PartitionSelection(all=True)
    return selection_to_proto(selection_from_json(data))


def _unreachable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() == grpc.StatusCode.UNAVAILABLE
