"""The storage host: one process owns an embedded store and serves it to the others.

The embedded engine can be opened by one process only (SURREALDB-NOTES.md). Its owner serves it
over SurrealDB's own WebSocket RPC protocol (CBOR frames on ``/rpc``), so every other process
connects with ``rs.Storage.connect("ws://...")`` exactly as to a SurrealDB server: one engine
session per connection, and a root user every client signs in as.

Use :class:`StorageHost` inside an event loop, :func:`start_in_thread` from synchronous code
and tests, and :func:`serve_forever` for ``rivers storage serve``.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from aiohttp import web
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from rivers.errors import StorageError
from rivers.storage._host_frames import build_map, decode_value
from rivers.storage._host_session import ClientSocket
from rivers.storage._host_thread import HostThread
from rivers.telemetry import get_logger

__all__ = ["HostThread", "StorageHost", "StorageHostSettings", "serve_forever", "start_in_thread"]

log = get_logger("rivers.storage.host")

# A step's event batch can be large; the SDK client sends frames of any size (max_size=None).
_MAX_FRAME = 256 * 1024 * 1024
# Pings find clients that vanished without closing, so their sessions get detached.
_HEARTBEAT = 30.0
_ENGINE_SETTLE = 0.1
_USERNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StorageHostSettings(BaseSettings):
    """Settings of ``rivers storage serve``; each also reads ``RIVERS_STORAGE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="RIVERS_STORAGE_", frozen=True)

    path: Path = Path(".rivers/storage")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    user: str = "root"
    password: SecretStr = SecretStr("root")


class StorageHost:
    """Serves the embedded store at ``path`` over SurrealDB's WebSocket RPC protocol.

    Args:
        path: the store's directory (created if missing).
        host: interface to bind; keep the loopback default unless the network is trusted.
        port: TCP port; 0 picks a free one (see :attr:`port` after :meth:`start`).
        username: the root user clients sign in as (defined on the engine at start-up).
        password: that user's password (reset to this value at every start).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "root",
        password: str = "root",  # noqa: S107 - the local default, as SurrealDB's own docs use
    ) -> None:
        if not _USERNAME.match(username):
            raise StorageError(f"invalid storage user name {username!r}: use letters, digits, _")
        self.path = Path(path).resolve()
        self.host = host
        self._requested_port = port
        self._username = username
        self._password = password
        self._engine: Any = None
        self._runner: web.AppRunner | None = None
        self._clients: dict[ClientSocket, asyncio.Task[Any]] = {}
        self._port: int | None = None
        self._stopping = False
        self._grace = 5.0
        self.engine_version = ""

    @property
    def port(self) -> int:
        """The bound TCP port (known once started)."""
        if self._port is None:
            raise StorageError("the storage host is not started")
        return self._port

    @property
    def url(self) -> str:
        """The address clients pass to ``Storage.connect``, e.g. ``ws://127.0.0.1:8000``."""
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> None:
        """Open the engine, define the root user and start listening.

        Raises:
            StorageError: the store is locked by another process, or the port is unavailable.
        """
        await self._open_engine()
        try:
            self.engine_version = str(await self._root_rpc("version"))
            await self._define_root_user()
            app = web.Application(client_max_size=_MAX_FRAME)
            app.router.add_get("/rpc", self._serve_rpc)
            app.router.add_get("/health", self._health)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.host, self._requested_port)
            try:
                await site.start()
            except OSError as exc:
                raise StorageError(
                    f"cannot listen on {self.host}:{self._requested_port}: {exc}"
                ) from exc
            self._port = int(self._runner.addresses[0][1])
        except BaseException:
            await self._shutdown(grace=0.0)
            raise
        log.info("storage_host.started", url=self.url, path=str(self.path))

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, close every client socket, then close the engine (idempotent).

        Args:
            grace: seconds in-flight requests get to finish before they are cancelled.
        """
        if self._stopping:
            return
        log.info("storage_host.stopping", url=self.url if self._port else None)
        await self._shutdown(grace)
        log.info("storage_host.stopped", path=str(self.path))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- internals --------------------------------------------------------------------------

    async def _open_engine(self) -> None:
        # Imported here: the Rust extension loads only in the process that owns a store.
        from surrealdb_embedded import AsyncEmbeddedDB

        self.path.mkdir(parents=True, exist_ok=True)
        try:
            engine = AsyncEmbeddedDB(f"surrealkv://{self.path}")
            await engine.connect()
        except Exception as exc:
            hint = ""
            if "lock" in str(exc).lower():
                hint = " (another process owns this store: connect to its host instead)"
            raise StorageError(f"cannot open storage at {self.path}: {exc}{hint}") from exc
        self._engine = engine

    async def _root_rpc(self, method: str, *params: Any) -> Any:
        # The engine's default session is privileged; only the host itself ever uses it.
        from surrealdb.data.cbor import encode

        pairs = {"id": encode("host"), "method": encode(method), "params": encode(list(params))}
        response = decode_value(await self._engine.execute(build_map(pairs)))
        if response.get("error") is not None:
            raise StorageError(f"storage engine refused {method}: {response['error']}")
        return response.get("result")

    async def _define_root_user(self) -> None:
        # PASSWORD takes a literal only. OVERWRITE: the password given at start-up is the one
        # that works, even if an earlier start defined another.
        literal = "'" + self._password.replace("\\", "\\\\").replace("'", "\\'") + "'"
        statement = (
            f"DEFINE USER OVERWRITE {self._username} ON ROOT PASSWORD {literal} ROLES OWNER;"
        )
        (result,) = await self._root_rpc("query", statement, {})
        if result.get("status") != "OK":
            raise StorageError(f"cannot define the storage user: {result.get('result')}")

    async def _execute(self, frame: bytes) -> bytes:
        if self._engine is None:
            raise StorageError("the storage engine is closed")
        response: bytes = await self._engine.execute(frame)
        return response

    async def _serve_rpc(self, request: web.Request) -> web.StreamResponse:
        if self._stopping:
            return web.Response(status=503, text="storage host stopping")
        ws = web.WebSocketResponse(
            protocols=("cbor",), compress=False, max_msg_size=_MAX_FRAME, heartbeat=_HEARTBEAT
        )
        if ws.can_prepare(request).protocol != "cbor":
            return web.Response(
                status=400, text="rivers storage host: request the 'cbor' WebSocket subprotocol"
            )
        await ws.prepare(request)
        client = ClientSocket(ws, self._execute, peer=str(request.remote))
        current = asyncio.current_task()
        assert current is not None
        self._clients[client] = current
        log.debug("storage_host.client_connected", peer=client.peer)
        try:
            await client.serve(lambda: self._grace)
        except Exception as exc:  # e.g. the engine refused the session: drop just this client
            log.warning("storage_host.client_failed", peer=client.peer, error=str(exc))
            await client.close()
        finally:
            self._clients.pop(client, None)
            log.debug("storage_host.client_disconnected", peer=client.peer)
        return ws

    async def _health(self, request: web.Request) -> web.Response:
        if self._engine is None or self._stopping:
            return web.json_response({"status": "stopping"}, status=503)
        return web.json_response({"status": "ok", "engine": self.engine_version})

    async def _shutdown(self, grace: float) -> None:
        self._stopping = True
        self._grace = grace
        handlers = list(self._clients.values())
        for client in list(self._clients):
            await client.close()
        if handlers:
            # Each handler finishes its in-flight requests and detaches its sessions.
            await asyncio.wait(handlers, timeout=grace + 1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        engine, self._engine = self._engine, None
        if engine is not None:
            try:
                await engine.close()
            except Exception as exc:
                log.warning("storage_host.close_failed", path=str(self.path), error=str(exc))
            del engine
            # The engine's runtime winds down a moment after close() returns; an interpreter
            # exiting meanwhile aborts with a Rust panic (exit 134) in about 1 of 5 runs
            # (measured). Waiting that moment out made it 0 in 150.
            await asyncio.sleep(_ENGINE_SETTLE)


def start_in_thread(
    path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    username: str = "root",
    password: str = "root",  # noqa: S107 - the local default, as SurrealDB's own docs use
    timeout: float = 30.0,
) -> HostThread:
    """Start a :class:`StorageHost` on its own event loop in a background thread.

    Returns once it listens; ``handle.url`` is its address and ``handle.stop()`` stops it (so
    does interpreter exit).

    Raises:
        StorageError: the host could not start (store locked, port taken, ...).
    """
    server = StorageHost(path, host=host, port=port, username=username, password=password)
    return HostThread.start(server, timeout=timeout)


def serve_forever(
    settings: StorageHostSettings, *, on_ready: Callable[[StorageHost], None] | None = None
) -> None:
    """Serve the store until SIGINT or SIGTERM, then shut down gracefully.

    Args:
        settings: where the store is, where to listen, and the root credentials.
        on_ready: called once the host listens (e.g. to tell the user its URL).

    Raises:
        StorageError: the host could not start.
    """
    asyncio.run(_serve(settings, on_ready))


async def _serve(
    settings: StorageHostSettings, on_ready: Callable[[StorageHost], None] | None
) -> None:
    server = StorageHost(
        settings.path,
        host=settings.host,
        port=settings.port,
        username=settings.user,
        password=settings.password.get_secret_value(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        # Installed before start-up and kept during shutdown: a signal at any point stops
        # the host gracefully, never with the engine open.
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        if on_ready is not None and not stop.is_set():
            on_ready(server)
        await stop.wait()
    finally:
        await server.stop()
        for sig in signals:
            loop.remove_signal_handler(sig)
