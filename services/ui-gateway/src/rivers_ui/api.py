"""The public gRPC API (``rivers.v1.api.Api``): decode a request, delegate, encode the reply.

The work happens in plain modules (``catalog``, ``runs``, ``backfills``, ``pools``,
``instigators``, ``watch``); this servicer only converts and maps their errors to status
codes with the error's own message, never a traceback: NOT_FOUND, INVALID_ARGUMENT,
FAILED_PRECONDITION, UNAVAILABLE (planner or store unreachable, gateway shutting down),
INTERNAL for anything unexpected (logged with its traceback). Errors the gateway raises
itself carry the trailing metadata key ``rivers-error`` so clients can tell them from
transport failures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import grpc

from rivers._convert.common import json_object_from_proto
from rivers._convert.events import event_to_proto
from rivers._convert.partitions import backfill_from_proto
from rivers._convert.runs import (
    backfill_to_proto,
    pool_holder_to_proto,
    pool_info_to_proto,
    run_to_proto,
    selection_from_proto,
    status_from_proto,
    tick_status_from_proto,
    tick_to_proto,
)
from rivers._proto.rivers.v1 import api_pb2 as pb
from rivers._proto.rivers.v1 import api_pb2_grpc
from rivers.client._convert import (
    asset_summary_to_proto,
    instigator_info_to_proto,
    location_info_to_proto,
)
from rivers.client._raw import ERROR_ORIGIN_KEY
from rivers.errors import RiversError, StorageError
from rivers.partitions import BackfillStrategy
from rivers.partitions.spec import selection_to_json
from rivers.telemetry import get_logger
from rivers_ui import backfills, instigators, pools, runs
from rivers_ui.errors import (
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from rivers_ui.state import GatewayState
from rivers_ui.watch import watch_run

__all__ = ["SERVICE_NAME", "ApiServicer"]

log = get_logger("rivers.ui")

#: The full gRPC service name, as health checks and reflection know it.
SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["Api"].full_name

_CODES: tuple[tuple[type[GatewayError], grpc.StatusCode], ...] = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
)


class ApiServicer(api_pb2_grpc.ApiServicer):
    """Serves the public API from a :class:`~rivers_ui.state.GatewayState`."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state

    # --- locations and assets ------------------------------------------------------------

    async def ListCodeLocations(
        self, request: pb.ListCodeLocationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCodeLocationsResponse:
        """Every registered code location with its liveness."""
        async with _Status(context, "ListCodeLocations"):
            infos = await asyncio.to_thread(self.state.catalog.locations)
        return pb.ListCodeLocationsResponse(locations=[location_info_to_proto(i) for i in infos])

    async def ListAssets(
        self, request: pb.ListAssetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAssetsResponse:
        """Assets of one location or all, with their latest materialization."""
        async with _Status(context, "ListAssets"):
            location = request.location if request.HasField("location") else None
            assets = await asyncio.to_thread(self.state.catalog.assets, location)
        return pb.ListAssetsResponse(assets=[asset_summary_to_proto(a) for a in assets])

    async def GetAsset(
        self, request: pb.GetAssetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAssetResponse:
        """One asset and its materialization history."""
        async with _Status(context, "GetAsset"):
            location = request.location if request.HasField("location") else None
            details = await asyncio.to_thread(self.state.catalog.asset, request.asset_key, location)
        return pb.GetAssetResponse(
            asset=asset_summary_to_proto(details.summary),
            materializations=[event_to_proto(e) for e in details.materializations],
        )

    # --- runs ----------------------------------------------------------------------------

    async def LaunchRun(
        self, request: pb.LaunchRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.LaunchRunResponse:
        """Validate a run with the planner and queue it."""
        async with _Status(context, "LaunchRun"):
            run = await runs.launch_run(
                self.state.storage,
                self.state.catalog,
                self.state.planner,
                location=request.location if request.HasField("location") else None,
                selection=list(request.selection),
                job=request.job_name if request.HasField("job_name") else None,
                partitions=_partitions(request),
                config=_config(request),
                tags={e.key: e.value for e in request.tags},
            )
        return pb.LaunchRunResponse(run=run_to_proto(run))

    async def GetRun(
        self, request: pb.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRunResponse:
        """The run as stored."""
        async with _Status(context, "GetRun"):
            run = await asyncio.to_thread(runs.get_run, self.state.storage, request.run_id)
        return pb.GetRunResponse(run=run_to_proto(run))

    async def WatchRun(
        self, request: pb.WatchRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchRunResponse]:
        """The run's events after ``after_seq`` until it has finished."""
        async with _Status(context, "WatchRun"):
            if not request.run_id:
                raise InvalidArgument("run_id is required")
            events = watch_run(
                self.state.storage, self.state.tail, request.run_id, request.after_seq
            )
            async for event in events:
                yield pb.WatchRunResponse(event=event_to_proto(event))

    async def CancelRun(
        self, request: pb.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelRunResponse:
        """Ask a queued or running run to stop."""
        async with _Status(context, "CancelRun"):
            canceled = await asyncio.to_thread(runs.cancel_run, self.state.storage, request.run_id)
        return pb.CancelRunResponse(canceled=canceled)

    async def ListRuns(
        self, request: pb.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRunsResponse:
        """A page of runs, newest first, filtered."""
        async with _Status(context, "ListRuns"):
            try:
                statuses = [status_from_proto(s) for s in request.statuses]
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
            page = await asyncio.to_thread(
                runs.list_runs,
                self.state.storage,
                self.state.catalog,
                location=request.location if request.HasField("location") else None,
                statuses=statuses,
                tags={e.key: e.value for e in request.tags},
                asset_key=request.asset_key if request.HasField("asset_key") else None,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        return pb.ListRunsResponse(
            runs=[run_to_proto(r) for r in page.runs], next_page_token=page.next_page_token
        )

    # --- backfills -----------------------------------------------------------------------

    async def LaunchBackfill(
        self, request: pb.LaunchBackfillRequest, context: grpc.aio.ServicerContext
    ) -> pb.LaunchBackfillResponse:
        """Validate a backfill with the planner and store it for its location."""
        async with _Status(context, "LaunchBackfill"):
            backfill = await backfills.launch_backfill(
                self.state.storage,
                self.state.catalog,
                self.state.planner,
                location=request.location if request.HasField("location") else None,
                selection=list(request.selection),
                partitions=_partitions(request),
                strategy=_strategy(request),
                config=_config(request),
                tags={e.key: e.value for e in request.tags},
            )
        return pb.LaunchBackfillResponse(backfill=backfill_to_proto(backfill))

    async def GetBackfill(
        self, request: pb.GetBackfillRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBackfillResponse:
        """The backfill and its progress."""
        async with _Status(context, "GetBackfill"):
            backfill = await asyncio.to_thread(
                backfills.get_backfill, self.state.storage, request.backfill_id
            )
        return pb.GetBackfillResponse(backfill=backfill_to_proto(backfill))

    async def CancelBackfill(
        self, request: pb.CancelBackfillRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelBackfillResponse:
        """Cancel the backfill and its queued runs; its running runs are asked to stop."""
        async with _Status(context, "CancelBackfill"):
            backfill = await asyncio.to_thread(
                backfills.cancel_backfill, self.state.storage, request.backfill_id
            )
        return pb.CancelBackfillResponse(backfill=backfill_to_proto(backfill))

    async def RetryBackfillFailures(
        self, request: pb.RetryBackfillFailuresRequest, context: grpc.aio.ServicerContext
    ) -> pb.RetryBackfillFailuresResponse:
        """A new backfill of the partitions that failed in a finished one."""
        async with _Status(context, "RetryBackfillFailures"):
            backfill = await backfills.retry_backfill_failures(
                self.state.storage, self.state.catalog, self.state.planner, request.backfill_id
            )
        return pb.RetryBackfillFailuresResponse(backfill=backfill_to_proto(backfill))

    # --- schedules, sensors, automation ---------------------------------------------------

    async def ListInstigators(
        self, request: pb.ListInstigatorsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListInstigatorsResponse:
        """Schedules, sensors and automation of one location or all, with their state."""
        async with _Status(context, "ListInstigators"):
            infos = await asyncio.to_thread(
                instigators.list_instigators,
                self.state.storage,
                self.state.catalog,
                request.location if request.HasField("location") else None,
            )
        return pb.ListInstigatorsResponse(instigators=[instigator_info_to_proto(i) for i in infos])

    async def SetInstigatorStatus(
        self, request: pb.SetInstigatorStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetInstigatorStatusResponse:
        """Switch a schedule, sensor or the automation conditions on or off."""
        async with _Status(context, "SetInstigatorStatus"):
            info = await asyncio.to_thread(
                instigators.set_instigator_status,
                self.state.storage,
                self.state.catalog,
                location=request.location if request.HasField("location") else None,
                name=request.name,
                running=request.running,
            )
        return pb.SetInstigatorStatusResponse(instigator=instigator_info_to_proto(info))

    async def ListTicks(
        self, request: pb.ListTicksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTicksResponse:
        """The newest ticks, filtered by location, instigator and status."""
        async with _Status(context, "ListTicks"):
            try:
                statuses = [tick_status_from_proto(s) for s in request.statuses]
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
            ticks = await asyncio.to_thread(
                instigators.list_ticks,
                self.state.storage,
                self.state.catalog,
                location=request.location if request.HasField("location") else None,
                instigator=request.instigator if request.HasField("instigator") else None,
                statuses=statuses,
                limit=request.limit,
                before=request.before if request.HasField("before") else None,
            )
        return pb.ListTicksResponse(ticks=[tick_to_proto(t) for t in ticks])

    # --- pools ---------------------------------------------------------------------------

    async def ListPools(
        self, request: pb.ListPoolsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPoolsResponse:
        """Every pool with a limit, a holder or a waiter."""
        async with _Status(context, "ListPools"):
            infos = await asyncio.to_thread(pools.list_pools, self.state.storage)
        return pb.ListPoolsResponse(pools=[pool_info_to_proto(i) for i in infos])

    async def GetPool(
        self, request: pb.GetPoolRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPoolResponse:
        """One pool and its slot holders."""
        async with _Status(context, "GetPool"):
            details = await asyncio.to_thread(pools.get_pool, self.state.storage, request.name)
        return pb.GetPoolResponse(
            pool=pool_info_to_proto(details.info),
            holders=[pool_holder_to_proto(h) for h in details.holders],
        )

    async def SetPoolLimit(
        self, request: pb.SetPoolLimitRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetPoolLimitResponse:
        """Set or clear a pool's operator limit."""
        async with _Status(context, "SetPoolLimit"):
            limit = request.limit if request.HasField("limit") else None
            info = await asyncio.to_thread(
                pools.set_pool_limit, self.state.storage, request.name, limit
            )
        return pb.SetPoolLimitResponse(pool=pool_info_to_proto(info))


# --- request decoding -------------------------------------------------------------------------


def _partitions(request: pb.LaunchRunRequest | pb.LaunchBackfillRequest) -> dict[str, Any] | None:
    """The requested partitions' JSON form (``{"all": true}`` for all; ``None``: none given)."""
    if not request.HasField("partitions"):
        return None
    which = request.partitions.WhichOneof("selection")
    if which is None:
        return None
    if which == "all":
        return {"all": True}
    try:
        return selection_to_json(selection_from_proto(request.partitions))
    except (RiversError, ValueError) as exc:
        raise InvalidArgument(f"invalid partitions: {exc}") from None


def _config(request: pb.LaunchRunRequest | pb.LaunchBackfillRequest) -> dict[str, Any] | None:
    if not request.HasField("config"):
        return None
    try:
        return json_object_from_proto(request.config) or None
    except ValueError as exc:
        raise InvalidArgument(f"invalid run config: {exc}") from None


def _strategy(request: pb.LaunchBackfillRequest) -> BackfillStrategy | None:
    if not request.HasField("strategy"):
        return None
    try:
        return backfill_from_proto(request.strategy)
    except (RiversError, ValueError) as exc:
        raise InvalidArgument(f"invalid backfill strategy: {exc}") from None


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
        if not isinstance(exc, Exception) or isinstance(exc, grpc.aio.AbortError):
            return  # success, cancellation, or an abort already under way
        code, message = _status_of(exc, self._method)
        await self._context.abort(code, message, trailing_metadata=((ERROR_ORIGIN_KEY, code.name),))


def _status_of(exc: Exception, method: str) -> tuple[grpc.StatusCode, str]:
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code, str(exc)
    if isinstance(exc, GatewayError):
        log.error("ui.call_failed", method=method, error=str(exc))
        return grpc.StatusCode.INTERNAL, str(exc)
    if isinstance(exc, StorageError):
        log.warning("ui.storage_error", method=method, error=str(exc))
        return grpc.StatusCode.UNAVAILABLE, f"the gateway's store failed: {exc}"
    if isinstance(exc, RiversError):  # partitions, selections and the like, raised while decoding
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    log.error("ui.call_failed", method=method, exc_info=exc)
    return (
        grpc.StatusCode.INTERNAL,
        f"the gateway failed: {type(exc).__name__} (details in the gateway's log)",
    )
