"""The daemon's client of its code server: the one module that calls the ``CodeLocation`` stub.

Transport failures (UNAVAILABLE, DEADLINE_EXCEEDED on the cheap calls) are retried with
tenacity and then raised as :class:`CodeLocationUnreachable`, never as a raw
``grpc.RpcError``. User-code failures are not transport failures: they travel inside the
``EvaluateSensor`` / ``EvaluateSchedule`` replies and come back as :class:`Evaluation.error`.

The code server's address is either fixed (``--codeserver``) or the endpoint its code server
records in storage; in the latter case a lost connection re-reads it, so a code server that
restarted on another port is found again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from rivers import tracing
from rivers._convert.automation import (
    evaluation_error_from_proto,
    schedule_result_from_proto,
    sensor_result_from_proto,
)
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers._proto.rivers.v1 import codelocation_pb2_grpc as pb_grpc
from rivers.automation.requests import SensorResult
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.errors import RiversError
from rivers.execution.events import ErrorInfo

__all__ = [
    "CodeLocationUnreachable",
    "CodeServerClient",
    "Evaluation",
    "LaunchOutcome",
    "ServerId",
]

T = TypeVar("T")

#: Extra seconds a call's deadline gets over the evaluation timeout the code server enforces,
#: so its own timeout error (with the sensor's name) arrives before ours.
DEADLINE_MARGIN = 5.0
_QUICK_DEADLINE = 10.0  # GetServerId, GetDefinitions
_LAUNCH_DEADLINE = 30.0
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class CodeLocationUnreachable(RiversError):
    """The code server could not be reached (after retries), or answered for another location."""


@dataclass(frozen=True, slots=True)
class ServerId:
    """Which code server incarnation answers, for which location and snapshot."""

    server_id: str
    location_name: str
    location_identity: str
    snapshot_id: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A sensor or schedule evaluation: what user code asked for, or the error it raised."""

    result: SensorResult | None
    error: ErrorInfo | None


@dataclass(frozen=True, slots=True)
class LaunchOutcome:
    """Whether ``LaunchRun`` started the run, and the server's message if not."""

    launched: bool
    message: str


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in _RETRYABLE


class CodeServerClient:
    """Calls the location's code server over one gRPC channel.

    Args:
        address: ``host:port`` to dial, or ``None`` to ask ``resolve``.
        resolve: returns the address the code server recorded in storage (blocking is fine:
            it runs in a thread).
        evaluation_timeout: seconds an evaluation may take (the call deadline adds a margin).
        attempts: tries of a call before the code location counts as unreachable.
    """

    def __init__(
        self,
        address: str | None,
        *,
        resolve: Callable[[], str | None] | None = None,
        evaluation_timeout: float = 60.0,
        attempts: int = 4,
    ) -> None:
        if address is None and resolve is None:
            raise ValueError("a code server address or a way to resolve it is needed")
        self._fixed = address
        self._resolve = resolve
        self.evaluation_timeout = evaluation_timeout
        self.attempts = attempts
        self.address: str | None = address
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None
        self._lock = asyncio.Lock()

    async def _get_stub(self) -> Any:
        async with self._lock:
            if self._stub is not None:
                return self._stub
            address = self._fixed
            if address is None:
                assert self._resolve is not None
                address = await asyncio.to_thread(self._resolve)
                if not address:
                    raise CodeLocationUnreachable(
                        "code location unreachable: its code server has not recorded an "
                        "endpoint in storage yet (is `rivers serve` running?)"
                    )
            self.address = address
            self._channel = grpc.aio.insecure_channel(
                address, interceptors=tracing.grpc_client_interceptors()
            )
            self._stub = pb_grpc.CodeLocationStub(self._channel)  # type: ignore[no-untyped-call]  # generated
            return self._stub

    async def _forget_channel(self) -> None:
        # Only a resolved address can change; a fixed one keeps its (reconnecting) channel.
        if self._fixed is not None:
            return
        async with self._lock:
            channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            with contextlib.suppress(Exception):
                await channel.close()

    async def _call(
        self, name: str, call: Callable[[Any], Awaitable[T]], *, retry: bool = True
    ) -> T:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient),
                stop=stop_after_attempt(self.attempts if retry else 1),
                wait=wait_exponential(multiplier=0.1, max=1.0),
                reraise=True,
            ):
                with attempt:
                    return await call(await self._get_stub())
        except grpc.aio.AioRpcError as exc:
            if _transient(exc):
                await self._forget_channel()
            raise CodeLocationUnreachable(
                f"code location unreachable at {self.address}: {name}: "
                f"{exc.code().name}: {exc.details()}"
            ) from None
        raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover

    # --- calls ---------------------------------------------------------------------------

    async def server_id(self) -> ServerId:
        """Which incarnation serves the location now (changes on restart and reload)."""
        reply = await self._call(
            "GetServerId",
            lambda stub: stub.GetServerId(pb.GetServerIdRequest(), timeout=_QUICK_DEADLINE),
        )
        return ServerId(
            server_id=reply.server_id,
            location_name=reply.location_name,
            location_identity=reply.location_identity,
            snapshot_id=reply.snapshot_id,
        )

    async def definitions(self) -> DefinitionsSnapshot:
        """The definitions snapshot being served."""
        reply = await self._call(
            "GetDefinitions",
            lambda stub: stub.GetDefinitions(pb.GetDefinitionsRequest(), timeout=_QUICK_DEADLINE),
        )
        return await asyncio.to_thread(DefinitionsSnapshot.from_proto, reply.snapshot)

    @property
    def _evaluation_deadline(self) -> float:
        return self.evaluation_timeout + DEADLINE_MARGIN

    def _timed_out(self, what: str) -> Evaluation:
        return Evaluation(
            None,
            ErrorInfo(
                error_type="SensorTimeout" if what.startswith("sensor") else "ScheduleTimeout",
                message=f"{what} did not finish within {self.evaluation_timeout:g} s",
            ),
        )

    async def evaluate_sensor(
        self, name: str, *, cursor: str | None, last_tick_time: float | None
    ) -> Evaluation:
        """Evaluate one sensor tick in the code server (user code runs there)."""
        request = pb.EvaluateSensorRequest(
            sensor_name=name, cursor=cursor, last_tick_time=last_tick_time
        )
        deadline = self._evaluation_deadline
        try:
            # Not retried: a sensor that timed out once would only time out again, and
            # the next tick retries anyway.
            reply = await self._call(
                "EvaluateSensor",
                lambda stub: stub.EvaluateSensor(request, timeout=deadline),
                retry=False,
            )
        except CodeLocationUnreachable as exc:
            if "DEADLINE_EXCEEDED" in str(exc):
                return self._timed_out(f"sensor {name!r}")
            raise
        error = evaluation_error_from_proto(reply)
        if error is not None:
            return Evaluation(None, error)
        return Evaluation(sensor_result_from_proto(reply), None)

    async def evaluate_schedule(self, name: str, scheduled_time: float) -> Evaluation:
        """Evaluate one schedule tick in the code server (its function, or callables)."""
        request = pb.EvaluateScheduleRequest(schedule_name=name, scheduled_time=scheduled_time)
        deadline = self._evaluation_deadline
        try:
            reply = await self._call(
                "EvaluateSchedule",
                lambda stub: stub.EvaluateSchedule(request, timeout=deadline),
                retry=False,
            )
        except CodeLocationUnreachable as exc:
            if "DEADLINE_EXCEEDED" in str(exc):
                return self._timed_out(f"schedule {name!r}")
            raise
        error = evaluation_error_from_proto(reply)
        if error is not None:
            return Evaluation(None, error)
        return Evaluation(schedule_result_from_proto(reply), None)

    async def launch_run(self, run_id: str) -> LaunchOutcome:
        """Start a claimed run in one of the code server's run workers."""
        request = pb.LaunchRunRequest(run_id=run_id)
        reply = await self._call(
            "LaunchRun", lambda stub: stub.LaunchRun(request, timeout=_LAUNCH_DEADLINE)
        )
        return LaunchOutcome(launched=reply.launched, message=reply.message)

    async def close(self) -> None:
        """Close the channel (idempotent)."""
        async with self._lock:
            channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close()

    def __repr__(self) -> str:
        return f"CodeServerClient({self.address!r})"
