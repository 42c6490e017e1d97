"""The raw layer: every stub call of the client goes through :class:`RawClient`.

It owns the channel, retries transport failures (``UNAVAILABLE``, and ``DEADLINE_EXCEEDED`` for
calls that are safe to repeat) with tenacity within a bound, resumes a dropped ``WatchRun``
stream from the last sequence number it delivered, and turns every ``grpc.RpcError`` into a
:class:`~rivers.client.errors.ClientError`. Nothing above this module sees grpc.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from rivers._proto.rivers.v1 import api_pb2, api_pb2_grpc
from rivers.client.errors import (
    ClientError,
    InvalidRequestError,
    NotFoundError,
    UnavailableError,
)

__all__ = ["RawClient", "map_error"]

# Reconnect quickly after a gateway restart: gRPC's default backoff grows to two minutes.
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]
_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
# A watch stream that ends with one of these was cut off, not finished: resume it.
_RESUMABLE = (*_TRANSIENT, grpc.StatusCode.CANCELLED)
_INVALID = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.ALREADY_EXISTS,
)
#: Trailing metadata key the gateway sets on errors it raised itself (vs. transport errors).
ERROR_ORIGIN_KEY = "rivers-error"


def map_error(exc: grpc.RpcError, address: str) -> ClientError:
    """The rivers error for a failed call to the gateway at ``address``."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(code.name)
    metadata = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    answered = any(key == ERROR_ORIGIN_KEY for key, _ in metadata or ())
    name = str(code.name)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(details, code=name)
    if code in _INVALID:
        return InvalidRequestError(details, code=name)
    if code in _TRANSIENT:
        if answered:
            return UnavailableError(f"{details} (reported by the gateway at {address})", code=name)
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return UnavailableError(f"the gateway at {address} did not answer in time", code=name)
        return UnavailableError(f"gateway unreachable at {address}: {details}", code=name)
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return ClientError(
            f"the gateway at {address} does not implement this call (an older version?)",
            code=name,
        )
    return ClientError(f"the gateway at {address} failed: {name}: {details}", code=name)


def _code(exc: BaseException) -> Any:
    return exc.code() if isinstance(exc, grpc.RpcError) and hasattr(exc, "code") else None


class RawClient:
    """Stub calls with bounded retries and error mapping.

    Args:
        address: ``host:port`` of the gateway's gRPC API.
        timeout: deadline of each unary call, in seconds; also how long a dropped watch
            stream keeps trying to resume.
        retries: retries of a call that failed with a transient error (0: none).
    """

    def __init__(self, address: str, *, timeout: float, retries: int) -> None:
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self._channel = grpc.insecure_channel(address, options=_CHANNEL_OPTIONS)
        self._closed = False
        self._stub = api_pb2_grpc.ApiStub(self._channel)  # type: ignore[no-untyped-call]  # generated, untyped

    def close(self) -> None:
        """Close the channel (calls in flight are cancelled); safe to call twice."""
        self._closed = True
        self._channel.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientError(f"this client of {self.address} is closed")

    def call(self, method: str, request: Any, *, idempotent: bool = True) -> Any:
        """Call the unary ``method``; transient failures are retried.

        A call that may have taken effect (``DEADLINE_EXCEEDED`` of a launch) is not
        repeated unless ``idempotent``; ``UNAVAILABLE`` always is (the gateway answers it
        only before doing anything, and transport failures mean the call never arrived).

        Raises:
            ClientError: the call failed (a subclass says how).
        """
        self._check_open()
        retryable = _TRANSIENT if idempotent else (grpc.StatusCode.UNAVAILABLE,)
        stub_method = getattr(self._stub, method)
        try:
            for attempt in Retrying(
                retry=retry_if_exception(lambda exc: _code(exc) in retryable),
                stop=stop_after_attempt(self.retries + 1),
                wait=wait_random_exponential(multiplier=0.1, max=2.0),
                reraise=True,
            ):
                with attempt:
                    return stub_method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise map_error(exc, self.address) from None
        except ValueError:  # grpc's "Cannot invoke RPC on closed channel!" (closed meanwhile)
            self._check_open()
            raise
        raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover

    def watch_run(
        self, run_id: str, after_seq: int, *, deadline: float | None = None
    ) -> Iterator[Any]:
        """The run's events after ``after_seq`` (wire messages) until the run has finished.

        A stream cut off by a transport failure or a gateway restart is resumed after the
        last delivered sequence number, for up to ``timeout`` seconds without progress.

        Args:
            run_id: the run.
            after_seq: start after this sequence number.
            deadline: ``time.monotonic()`` value after which to give up.

        Raises:
            ClientError: the call failed for good.
            TimeoutError: ``deadline`` passed.
        """
        last = after_seq
        give_up_at: float | None = None
        failures = 0
        while True:
            self._check_open()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"run {run_id} did not finish in time")
            call = self._stub.WatchRun(
                api_pb2.WatchRunRequest(run_id=run_id, after_seq=last), timeout=remaining
            )
            try:
                for message in call:
                    give_up_at, failures = None, 0
                    if message.event.HasField("seq"):
                        last = max(last, message.event.seq)
                    yield message.event
                return
            except grpc.RpcError as exc:
                self._check_open()  # closed by another thread: not a failure to resume from
                code = _code(exc)
                now = time.monotonic()
                expired = deadline is not None and now >= deadline - 0.05
                if code == grpc.StatusCode.DEADLINE_EXCEEDED and expired:
                    raise TimeoutError(f"run {run_id} did not finish in time") from None
                if give_up_at is None:
                    give_up_at = now + self.timeout
                if code not in _RESUMABLE or now >= give_up_at:
                    raise map_error(exc, self.address) from None
                failures += 1
                time.sleep(min(0.05 * 2**failures, 1.0))
            finally:
                call.cancel()
