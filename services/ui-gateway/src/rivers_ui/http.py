"""The HTTP front: the web UI's pages (``rivers_ui.web``) and the JSON API behind them.

The JSON endpoints use the same functions as the gRPC API:

- ``GET /api/locations``
- ``GET /api/assets?location=NAME``
- ``GET /api/runs?location=&status=&tag=KEY=VALUE&asset_key=&page_size=&page_token=``
- ``GET /api/runs/{run_id}``
- ``GET /api/runs/{run_id}/events?after_seq=&limit=``
- ``GET /api/runs/{run_id}/logs?step=&stream=`` → ``{"lines": [{seq, timestamp, level, step_key,
  stream, message, metadata}]}``: log lines and captured output, one per line, in order
- ``GET /api/instigators?location=``
- ``GET /api/ticks?location=&instigator=&status=&limit=&before=``
- ``GET /api/graph?location=`` (``rivers_ui.graph``)
- ``GET /api/events?run_id=&after_seq=`` (Server-Sent Events, ``rivers_ui.sse``)
- ``POST /api/runs`` ``{location, selection, job, partitions, config, tags}`` → the queued run
- ``POST /api/backfills`` ``{location, selection, partitions, strategy, config, tags}`` → the
  stored backfill

The pages add their own endpoints (``rivers_ui.web``).

Errors are ``{"error": message}`` with 400, 404, 409, 503 or 500.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web as aioweb

from rivers.errors import RiversError, StorageError
from rivers.partitions.backfill import BackfillStrategy
from rivers.storage.records import RunStatus, TickStatus
from rivers.telemetry import get_logger
from rivers_ui import backfills, graph, instigators, runs, sse, web
from rivers_ui.errors import (
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from rivers_ui.state import STATE, GatewayState
from rivers_ui.web.render import dump, json_body, query_int

__all__ = ["build_app"]

log = get_logger("rivers.ui")

_STATE = STATE
_HTTP_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404),
    (InvalidArgument, 400),
    (FailedPrecondition, 409),
    (Unavailable, 503),
    (StorageError, 503),
    (GatewayError, 500),
)
Handler = Callable[[aioweb.Request], Awaitable[aioweb.StreamResponse]]


def build_app(state: GatewayState) -> aioweb.Application:
    """The aiohttp application (the service runtime adds /metrics, /healthz, /readyz)."""
    app = aioweb.Application(middlewares=[_errors])
    app[_STATE] = state
    app.router.add_get("/api/locations", _locations)
    app.router.add_get("/api/assets", _assets)
    app.router.add_get("/api/runs", _runs)
    app.router.add_get("/api/runs/{run_id}", _run)
    app.router.add_get("/api/runs/{run_id}/events", _events)
    app.router.add_get("/api/runs/{run_id}/logs", _logs)
    app.router.add_get("/api/instigators", _instigators)
    app.router.add_get("/api/ticks", _ticks)
    app.router.add_get("/api/graph", _graph)
    app.router.add_get("/api/events", _sse)
    app.router.add_post("/api/runs", _launch_run)
    app.router.add_post("/api/backfills", _launch_backfill)
    web.add_routes(app)
    return app


@aioweb.middleware
async def _errors(request: aioweb.Request, handler: Handler) -> aioweb.StreamResponse:
    try:
        return await handler(request)
    except aioweb.HTTPException:
        raise
    except Exception as exc:
        for kind, status in _HTTP_STATUS:
            if isinstance(exc, kind):
                if status >= 500:
                    log.warning("ui.http_error", path=request.path, error=str(exc))
                return aioweb.json_response({"error": str(exc)}, status=status)
        log.error("ui.http_failed", path=request.path, exc_info=exc)
        return aioweb.json_response(
            {"error": f"the gateway failed: {type(exc).__name__} (details in its log)"},
            status=500,
        )


def _float(request: aioweb.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidArgument(f"query parameter {name!r} must be a number, not {raw!r}")
    return value


# --- JSON --------------------------------------------------------------------------------------


async def _locations(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    infos = await asyncio.to_thread(state.catalog.locations)
    return aioweb.json_response([dump(i) for i in infos])


async def _assets(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    assets = await asyncio.to_thread(state.catalog.assets, request.query.get("location") or None)
    return aioweb.json_response([dump(a) for a in assets])


async def _runs(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    try:
        statuses = [RunStatus(s.upper()) for s in request.query.getall("status", [])]
    except ValueError as exc:
        raise InvalidArgument(f"unknown run status: {exc}") from None
    tags: dict[str, str] = {}
    for item in request.query.getall("tag", []):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"tag filters are KEY=VALUE, not {item!r}")
        tags[key] = value
    page = await asyncio.to_thread(
        runs.list_runs,
        state.storage,
        state.catalog,
        location=request.query.get("location") or None,
        statuses=statuses,
        tags=tags,
        asset_key=request.query.get("asset_key") or None,
        page_size=query_int(request, "page_size", 0),
        page_token=request.query.get("page_token", ""),
    )
    return aioweb.json_response(
        {"runs": [dump(r) for r in page.runs], "next_page_token": page.next_page_token}
    )


async def _run(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    run = await asyncio.to_thread(runs.get_run, state.storage, request.match_info["run_id"])
    return aioweb.json_response(dump(run))


async def _events(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    events = await asyncio.to_thread(
        runs.run_events,
        state.storage,
        request.match_info["run_id"],
        after_seq=query_int(request, "after_seq", 0),
        limit=query_int(request, "limit", runs.MAX_EVENTS_PAGE),
    )
    last = events[-1].seq if events else None
    return aioweb.json_response({"events": [dump(e) for e in events], "last_seq": last})


async def _logs(request: aioweb.Request) -> aioweb.Response:
    from rivers.execution.runlogs import log_stream, read_run_logs

    state = request.app[_STATE]
    run_id = request.match_info["run_id"]
    stream = request.query.get("stream") or None
    if stream not in (None, "log", "stdout", "stderr"):
        raise InvalidArgument(f"stream must be log, stdout or stderr, not {stream!r}")
    await asyncio.to_thread(runs.get_run, state.storage, run_id)  # 404 for an unknown run
    lines = await asyncio.to_thread(
        read_run_logs, state.storage, run_id, step=request.query.get("step") or None, stream=stream
    )
    return aioweb.json_response(
        {
            "lines": [
                {
                    "seq": e.seq,
                    "timestamp": e.timestamp,
                    "level": e.level,
                    "step_key": e.step_key,
                    "stream": log_stream(e),
                    "message": e.message,
                    "metadata": {k: v.value for k, v in e.metadata.items() if k != "stream"},
                }
                for e in lines
            ]
        }
    )


async def _instigators(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    infos = await asyncio.to_thread(
        instigators.list_instigators,
        state.storage,
        state.catalog,
        request.query.get("location") or None,
    )
    return aioweb.json_response([dump(i) for i in infos])


async def _ticks(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    try:
        statuses = [TickStatus(s.upper()) for s in request.query.getall("status", [])]
    except ValueError as exc:
        raise InvalidArgument(f"unknown tick status: {exc}") from None
    ticks = await asyncio.to_thread(
        instigators.list_ticks,
        state.storage,
        state.catalog,
        location=request.query.get("location") or None,
        instigator=request.query.get("instigator") or None,
        statuses=statuses,
        limit=query_int(request, "limit", 0),
        before=_float(request, "before"),
    )
    return aioweb.json_response([dump(t) for t in ticks])


async def _graph(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    body = await asyncio.to_thread(
        graph.asset_graph, state.catalog, request.query.get("location") or None
    )
    return aioweb.json_response(body)


async def _sse(request: aioweb.Request) -> aioweb.StreamResponse:
    return await sse.stream_events(request, request.app[_STATE])


# --- launching -----------------------------------------------------------------------------


def _strings(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{name!r} must be a list of strings")
    return value


def _object(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{name!r} must be a JSON object")
    return value


def _tags(body: Mapping[str, Any]) -> dict[str, str]:
    tags = _object(body, "tags") or {}
    if not all(isinstance(v, str) for v in tags.values()):
        raise InvalidArgument("tag values must be strings")
    return tags


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{name!r} must be a string")
    return value or None


async def _launch_run(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    body = await json_body(request)
    record = await runs.launch_run(
        state.storage,
        state.catalog,
        state.planner,
        location=_optional_str(body, "location"),
        selection=_strings(body, "selection"),
        job=_optional_str(body, "job"),
        partitions=_object(body, "partitions"),
        config=_object(body, "config"),
        tags=_tags(body),
    )
    return aioweb.json_response(dump(record), status=201)


async def _launch_backfill(request: aioweb.Request) -> aioweb.Response:
    state = request.app[_STATE]
    body = await json_body(request)
    raw_strategy = _object(body, "strategy")
    strategy: BackfillStrategy | None = None
    if raw_strategy is not None:
        try:
            strategy = BackfillStrategy.model_validate(raw_strategy)
        except (RiversError, ValueError) as exc:
            raise InvalidArgument(f"invalid backfill strategy: {exc}") from None
    record = await backfills.launch_backfill(
        state.storage,
        state.catalog,
        state.planner,
        location=_optional_str(body, "location"),
        selection=_strings(body, "selection"),
        partitions=_object(body, "partitions"),
        strategy=strategy,
        config=_object(body, "config"),
        tags=_tags(body),
    )
    return aioweb.json_response(dump(record), status=201)
