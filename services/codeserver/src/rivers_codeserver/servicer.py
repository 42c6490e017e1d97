"""The ``rivers.v1.codelocation.CodeLocation`` servicer: converts, then delegates.

This and :mod:`rivers_codeserver.queue` are the only modules of the code server that touch
generated ``*_pb2`` code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc

from rivers._convert.definitions import snapshot_to_proto
from rivers._convert.events import event_to_proto
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers._proto.rivers.v1 import codelocation_pb2_grpc as pb_grpc
from rivers.storage import RunStatus, Storage
from rivers_codeserver.location import LoadedCode, Location
from rivers_codeserver.runs import RunWorkers
from rivers_codeserver.stream import follow_run

__all__ = ["SERVICE_NAME", "CodeLocationServicer", "Served", "add_to_server"]

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["CodeLocation"].full_name
_NOT_YET = "sensors and schedules arrive with the daemon milestone"


@dataclass(frozen=True, slots=True)
class Served:
    """What the server answers with now; replaced as a whole when the code reloads."""

    code: LoadedCode
    definitions: pb.GetDefinitionsResponse

    @staticmethod
    def of(code: LoadedCode) -> Served:
        """Encode the snapshot once per load: every GetDefinitions sends the same message."""
        return Served(code, pb.GetDefinitionsResponse(snapshot=snapshot_to_proto(code.snapshot)))


class CodeLocationServicer(pb_grpc.CodeLocationServicer):
    """Serves one code location: its identity, definitions, and runs."""

    def __init__(
        self, *, served: Served, location: Location, workers: RunWorkers, storage: Storage
    ) -> None:
        self.served = served
        self.location = location
        self.workers = workers
        self.storage = storage

    async def GetServerId(
        self, request: pb.GetServerIdRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetServerIdResponse:
        """Which incarnation answers, for which location and snapshot."""
        return pb.GetServerIdResponse(
            server_id=self.location.server_id,
            location_name=self.location.name,
            location_identity=self.location.identity,
            snapshot_id=self.location.snapshot_id,
        )

    async def GetDefinitions(
        self, request: pb.GetDefinitionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDefinitionsResponse:
        """The definitions snapshot being served."""
        return self.served.definitions

    async def LaunchRun(
        self, request: pb.LaunchRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.LaunchRunResponse:
        """Start a stored QUEUED or STARTING run in a worker; returns once it started."""
        outcome = await self.workers.launch_run(request.run_id)
        return pb.LaunchRunResponse(launched=outcome.ok, message=outcome.message)

    async def ExecuteRun(
        self, request: pb.ExecuteRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ExecuteRunResponse]:
        """Launch the run if it waits, then stream its events until it has ended."""
        record = await asyncio.to_thread(self.storage.get_run, request.run_id)
        if record is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no run {request.run_id!r}")
            return
        if record.location_id != self.location.identity:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"run {request.run_id} belongs to another code location",
            )
            return
        # Launch only what nobody else holds: a queued run, or one this incarnation claimed
        # (a STARTING run claimed elsewhere is executed there; it is only followed here).
        ours = record.status is RunStatus.STARTING and record.worker == self.location.server_id
        if (record.status is RunStatus.QUEUED or ours) and not self.workers.is_active(
            record.run_id
        ):
            await self.workers.launch_run(record.run_id)
        async for event in follow_run(self.storage, record.run_id, after_seq=request.after_seq):
            yield pb.ExecuteRunResponse(event=event_to_proto(event))

    async def CancelRun(
        self, request: pb.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelRunResponse:
        """Ask a run to stop (its worker is terminated if it does not, after the grace)."""
        outcome = await self.workers.cancel_run(request.run_id)
        return pb.CancelRunResponse(canceled=outcome.ok, message=outcome.message)

    async def EvaluateSensor(
        self, request: pb.EvaluateSensorRequest, context: grpc.aio.ServicerContext
    ) -> pb.EvaluateSensorResponse:
        """Not yet: sensors are evaluated from the daemon milestone on."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET)
        raise AssertionError("unreachable")  # abort raises

    async def EvaluateSchedule(
        self, request: pb.EvaluateScheduleRequest, context: grpc.aio.ServicerContext
    ) -> pb.EvaluateScheduleResponse:
        """Not yet: schedules are evaluated from the daemon milestone on."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET)
        raise AssertionError("unreachable")  # abort raises


def add_to_server(servicer: CodeLocationServicer, server: grpc.aio.Server) -> None:
    """Register the servicer on a gRPC server."""
    pb_grpc.add_CodeLocationServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]  # generated
