"""The ``rivers.v1.codelocation.CodeLocation`` servicer: converts, then delegates.

This and :mod:`rivers_codeserver.evaluation` are the only modules of the code server that
touch generated ``*_pb2`` code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc

from rivers._convert.automation import schedule_error_to_proto, sensor_error_to_proto
from rivers._convert.definitions import snapshot_to_proto
from rivers._convert.events import event_to_proto
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers._proto.rivers.v1 import codelocation_pb2_grpc as pb_grpc
from rivers.storage import RunStatus, Storage
from rivers_codeserver.evaluation import (
    EVALUATION_TIMEOUT,
    WORKER_CRASHED,
    evaluate_async_sensor,
    failure,
)
from rivers_codeserver.evaluation_pool import EvaluationFailed, EvaluationPool
from rivers_codeserver.location import LoadedCode, Location
from rivers_codeserver.metrics import CodeServerMetrics
from rivers_codeserver.runs import RunWorkers
from rivers_codeserver.stream import follow_run

__all__ = ["SERVICE_NAME", "CodeLocationServicer", "Served", "add_to_server"]

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["CodeLocation"].full_name


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
    """Serves one code location: its identity, definitions, runs, sensors and schedules."""

    def __init__(
        self,
        *,
        served: Served,
        location: Location,
        workers: RunWorkers,
        storage: Storage,
        evaluations: EvaluationPool,
        evaluation_timeout: float,
        metrics: CodeServerMetrics,
    ) -> None:
        self.served = served
        self.location = location
        self.workers = workers
        self.storage = storage
        self.evaluations = evaluations
        self.evaluation_timeout = evaluation_timeout
        self.metrics = metrics

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
        """One sensor tick: async sensors here, sync ones in an evaluation worker."""
        sensor = self.served.code.repository.sensors.get(request.sensor_name)
        if sensor is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no sensor {request.sensor_name!r}")
            raise AssertionError("unreachable")  # abort raises
        started = time.perf_counter()
        cursor = request.cursor if request.HasField("cursor") else None
        last = request.last_tick_time if request.HasField("last_tick_time") else None
        if sensor.is_async:
            reply = await evaluate_async_sensor(
                sensor,
                cursor=cursor,
                last_tick_time=last,
                storage=self.storage,
                timeout=self.evaluation_timeout,
            )
        else:
            ask = {"kind": "sensor", "name": sensor.name, "cursor": cursor, "last_tick_time": last}
            try:
                data = await self.evaluations.evaluate(ask, self.evaluation_timeout)
                reply = pb.EvaluateSensorResponse.FromString(data)
            except EvaluationFailed as exc:
                reply = sensor_error_to_proto(failure(exc.error_type, exc.message))
        self._observe("sensor", reply, started)
        return reply

    async def EvaluateSchedule(
        self, request: pb.EvaluateScheduleRequest, context: grpc.aio.ServicerContext
    ) -> pb.EvaluateScheduleResponse:
        """One schedule tick, always in an evaluation worker (its functions are user code)."""
        schedule = self.served.code.repository.schedules.get(request.schedule_name)
        if schedule is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no schedule {request.schedule_name!r}")
            raise AssertionError("unreachable")  # abort raises
        started = time.perf_counter()
        ask = {"kind": "schedule", "name": schedule.name, "scheduled_time": request.scheduled_time}
        try:
            data = await self.evaluations.evaluate(ask, self.evaluation_timeout)
            reply = pb.EvaluateScheduleResponse.FromString(data)
        except EvaluationFailed as exc:
            reply = schedule_error_to_proto(failure(exc.error_type, exc.message))
        self._observe("schedule", reply, started)
        return reply

    def _observe(
        self,
        kind: str,
        reply: pb.EvaluateSensorResponse | pb.EvaluateScheduleResponse,
        started: float,
    ) -> None:
        error = reply.error.error_type if reply.HasField("error") else None
        outcome = {None: "ok", EVALUATION_TIMEOUT: "timeout", WORKER_CRASHED: "crash"}
        self.metrics.evaluations.labels(kind, outcome.get(error, "error")).inc()
        self.metrics.evaluation_seconds.labels(kind).observe(time.perf_counter() - started)


def add_to_server(servicer: CodeLocationServicer, server: grpc.aio.Server) -> None:
    """Register the servicer on a gRPC server."""
    pb_grpc.add_CodeLocationServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]  # generated
