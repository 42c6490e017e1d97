"""One client WebSocket of the storage host: its engine sessions and in-flight requests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from surrealdb.data.cbor import encode
from surrealdb.data.types.null import NullType

from rivers.storage._host_frames import (
    FrameError,
    build_map,
    decode_value,
    error_frame,
    replace_trailing_session,
    split_map,
)
from rivers.telemetry import get_logger

__all__ = ["ClientSocket", "Execute"]

log = get_logger("rivers.storage.host")

#: Runs one RPC frame on the engine and returns its response frame.
Execute = Callable[[bytes], Awaitable[bytes]]

# Requests of one socket run concurrently (the SDK correlates replies by id, as a real server
# answers them); past this many the socket is not read until one finishes: back-pressure.
_IN_FLIGHT = 64

# JSON-RPC style codes, as the engine uses them.
_PARSE_ERROR = -32700
_INVALID_PARAMS = -32603
_SESSION_ERROR = -32000


class ClientSocket:
    """Serves one WebSocket: every request runs in this socket's own engine session.

    The engine's default session is fully privileged and shared; clients never reach it. Each
    socket gets a fresh attached (anonymous) session, so ``use``, ``let`` and ``signin`` stay
    per connection exactly as on a SurrealDB server. Sessions a client attaches itself
    (``attach`` with its own id) are mapped to further engine sessions of this socket.
    """

    def __init__(self, ws: web.WebSocketResponse, execute: Execute, peer: str) -> None:
        self.ws = ws
        self._execute = execute
        self.peer = peer
        self._default = uuid.uuid4()
        self._named: dict[str, uuid.UUID] = {}
        self._send_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, grace: Callable[[], float]) -> None:
        """Attach the session, answer frames until the socket closes, then detach.

        Args:
            grace: how long in-flight requests may still run once the socket closed (asked
                then, as a host that is stopping may have shortened it).
        """
        await self._rpc("attach", self._default)
        try:
            async for msg in self.ws:
                if msg.type is WSMsgType.BINARY:
                    await self._slots.acquire()
                    task = asyncio.create_task(self._handle(msg.data))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif msg.type is WSMsgType.TEXT:
                    # A real server would speak JSON here; this host speaks CBOR only.
                    await self.ws.close(
                        code=WSCloseCode.UNSUPPORTED_DATA,
                        message=b"rivers storage host: send CBOR (binary) frames",
                    )
                    break
                else:  # ERROR: the transport failed; nothing more will arrive
                    break
        finally:
            await self._finish(grace())

    async def close(self) -> None:
        """Close the socket (the host is shutting down); :meth:`serve` then finishes."""
        with contextlib.suppress(Exception):
            await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"storage host stopping")

    async def _finish(self, grace: float) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
        for session in [self._default, *self._named.values()]:
            with contextlib.suppress(Exception):  # best effort: the engine may be closing
                await self._rpc("detach", session)
        self._named.clear()

    async def _rpc(self, method: str, session: uuid.UUID) -> dict[str, Any]:
        frame = build_map(
            {"id": encode(f"host-{method}"), "method": encode(method), "session": encode(session)}
        )
        response = decode_value(await self._execute(frame))
        if not isinstance(response, dict) or response.get("error") is not None:
            raise RuntimeError(f"engine refused {method}: {response!r}")
        return response

    async def _handle(self, frame: bytes) -> None:
        try:
            reply = await self._answer(frame)
        except Exception as exc:  # the engine failed (e.g. it is closing): tell the caller
            log.warning("storage_host.request_failed", peer=self.peer, error=str(exc))
            reply = error_frame(_raw_id(frame), _SESSION_ERROR, "Internal", str(exc))
        finally:
            self._slots.release()
        async with self._send_lock:
            if not self.ws.closed:
                with contextlib.suppress(ConnectionError):  # the client went away
                    await self.ws.send_bytes(reply)

    async def _answer(self, frame: bytes) -> bytes:
        try:
            pairs = split_map(frame)
            method = decode_value(pairs.get("method"))
            client = decode_value(pairs.get("session"))
        except (FrameError, ValueError) as exc:
            return error_frame(None, _PARSE_ERROR, "Serialization", f"Parse error: {exc}")
        raw_id = pairs.get("id")
        key = None if client is None or isinstance(client, NullType) else str(client)
        if method in ("attach", "detach"):
            if key is None:
                return error_frame(raw_id, _INVALID_PARAMS, "Validation", "Expected a session ID")
            return await self._attach_or_detach(method, key, pairs)
        session = self._default if key is None else self._named.get(key)
        if session is None:
            return error_frame(raw_id, _SESSION_ERROR, "NotFound", f"Session not found: {key}")
        return await self._forward(pairs, session)

    async def _attach_or_detach(self, method: str, key: str, pairs: dict[str, bytes]) -> bytes:
        if method == "detach":
            session = self._named.pop(key, None)
            if session is None:
                return error_frame(
                    pairs.get("id"), _SESSION_ERROR, "NotFound", f"Session not found: {key}"
                )
            return await self._forward(pairs, session)
        if key in self._named:
            return error_frame(
                pairs.get("id"), _SESSION_ERROR, "AlreadyExists", f"Session already exists: {key}"
            )
        session = self._named[key] = uuid.uuid4()
        try:
            response = await self._forward(pairs, session)
            failed = decode_value(response).get("error") is not None
        except BaseException:
            self._named.pop(key, None)
            raise
        if failed:
            self._named.pop(key, None)
        return response

    async def _forward(self, pairs: dict[str, bytes], session: uuid.UUID) -> bytes:
        """Run the request in ``session``; the reply echoes the client's own session id."""
        raw_client = pairs.get("session")
        # Rebuilt from the checked pairs, with this socket's engine session as the only one.
        pairs["session"] = encode(session)
        response = await self._execute(build_map(pairs))
        return replace_trailing_session(response, session, raw_client)


def _raw_id(frame: bytes) -> bytes | None:
    with contextlib.suppress(FrameError):
        return split_map(frame).get("id")
    return None
