"""The ``rivers.v1.planner.Planner`` gRPC servicer: decode, delegate to the planner, encode.

Errors become status codes with rivers' own message, never a traceback: an unknown snapshot or
asset is NOT_FOUND; an invalid selection, partition, definition or request field is
INVALID_ARGUMENT; an unreachable store is UNAVAILABLE; anything else is INTERNAL (and logged).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import grpc

from rivers._convert.partitions import backfill_from_proto, backfill_to_proto
from rivers._convert.runs import selection_from_proto
from rivers._proto.rivers.v1 import planner_pb2 as pb
from rivers._proto.rivers.v1 import planner_pb2_grpc, runs_pb2
from rivers.errors import DefinitionError, SelectionError, StorageError
from rivers.partitions import BackfillStrategy, PartitionError
from rivers.telemetry import get_logger
from rivers_planner.planning import (
    ALL_PARTITIONS,
    NotFoundError,
    Planner,
    RequestError,
    encode_page_token,
)

__all__ = ["PlannerServicer"]

log = get_logger("rivers.planner")

_INVALID = (SelectionError, PartitionError, DefinitionError, RequestError)


class PlannerServicer(planner_pb2_grpc.PlannerServicer):
    """Serves a :class:`~rivers_planner.planning.Planner` over gRPC (grpc.aio)."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    async def PlanRun(
        self, request: pb.PlanRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.PlanRunResponse:
        """Plan a run of a selection, with its partition keys when partitioned."""
        async with _Status(context, "PlanRun"):
            partitions = _run_partitions(request)
            run = await self.planner.plan_run(request.snapshot_id, request.selection, partitions)
        return pb.PlanRunResponse(plan=run.target.plan_proto, partition_keys=run.partition_keys)

    async def PlanBackfill(
        self, request: pb.PlanBackfillRequest, context: grpc.aio.ServicerContext
    ) -> pb.PlanBackfillResponse:
        """Plan a backfill: the plan each run executes, partitions requested, runs made."""
        async with _Status(context, "PlanBackfill"):
            partitions = _run_partitions(request)
            strategy = _strategy(request)
            backfill = await self.planner.plan_backfill(
                request.snapshot_id, request.selection, partitions, strategy
            )
        return pb.PlanBackfillResponse(
            plan=backfill.target.plan_proto,
            requested=backfill.requested,
            run_count=backfill.run_count,
            strategy=backfill_to_proto(backfill.strategy),
        )

    async def ListPartitionKeys(
        self, request: pb.ListPartitionKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPartitionKeysResponse:
        """A page of an asset's partition keys and how many there are in all."""
        async with _Status(context, "ListPartitionKeys"):
            page = await self.planner.partition_keys(
                request.snapshot_id, request.asset_key, request.page_size, request.page_token
            )
        token = "" if page.next_offset is None else encode_page_token(page.next_offset)
        return pb.ListPartitionKeysResponse(keys=page.keys, total=page.total, next_page_token=token)


def _run_partitions(request: pb.PlanRunRequest | pb.PlanBackfillRequest) -> Any:
    """``None`` when absent, :data:`ALL_PARTITIONS` for ``all``, else the spec it describes."""
    if not request.HasField("partitions"):
        return None
    msg: runs_pb2.PartitionSelection = request.partitions
    which = msg.WhichOneof("selection")
    if which is None:
        return None
    if which == "all":
        return ALL_PARTITIONS
    return selection_from_proto(msg)


def _strategy(request: pb.PlanBackfillRequest) -> BackfillStrategy | None:
    if not request.HasField("strategy"):
        return None
    try:
        return backfill_from_proto(request.strategy)
    except ValueError as exc:  # an unspecified or unknown kind
        raise RequestError(str(exc)) from None


class _Status:
    """Turns an error raised inside the block into the call's status code and message."""

    __slots__ = ("_context", "_method")

    def __init__(self, context: grpc.aio.ServicerContext, method: str) -> None:
        self._context = context
        self._method = method

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not isinstance(exc, Exception):  # success, or cancellation: nothing to report
            return
        if isinstance(exc, NotFoundError):
            code, message = grpc.StatusCode.NOT_FOUND, str(exc)
        elif isinstance(exc, _INVALID):
            code, message = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        elif isinstance(exc, StorageError):
            log.warning("planner.storage_error", method=self._method, error=str(exc))
            code, message = grpc.StatusCode.UNAVAILABLE, f"the planner's store failed: {exc}"
        else:
            log.error("planner.failed", method=self._method, exc_info=exc)
            code = grpc.StatusCode.INTERNAL
            message = f"the planner failed: {type(exc).__name__} (details in the planner's log)"
        await self._context.abort(code, message)
