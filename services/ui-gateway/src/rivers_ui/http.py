"""The HTTP front: a small server-rendered home page and a JSON API.

``/`` lists the code locations (status, asset count) and the latest runs; the full UI is a
later milestone. The JSON endpoints use the same functions as the gRPC API:

- ``GET /api/locations``
- ``GET /api/assets?location=NAME``
- ``GET /api/runs?location=&status=&tag=KEY=VALUE&asset_key=&page_size=&page_token=``
- ``GET /api/runs/{run_id}``
- ``GET /api/runs/{run_id}/events?after_seq=&limit=``
- ``GET /api/instigators?location=``
- ``GET /api/ticks?location=&instigator=&status=&limit=&before=``
- ``GET /api/graph?location=`` (``rivers_ui.graph``)
- ``GET /api/events?run_id=&after_seq=`` (Server-Sent Events, ``rivers_ui.sse``)

Errors are ``{"error": message}`` with 400, 404, 409, 503 or 500.
"""

from __future__ import annotations

import asyncio
import html
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from rivers.errors import StorageError
from rivers.storage.records import RunRecord, RunStatus, TickStatus
from rivers.telemetry import get_logger
from rivers_ui import graph, instigators, runs, sse
from rivers_ui.errors import (
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from rivers_ui.state import GatewayState

__all__ = ["build_app"]

log = get_logger("rivers.ui")

_STATE: web.AppKey[GatewayState] = web.AppKey("state", GatewayState)
_HTTP_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404),
    (InvalidArgument, 400),
    (FailedPrecondition, 409),
    (Unavailable, 503),
    (StorageError, 503),
    (GatewayError, 500),
)
_LATEST_RUNS = 20

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(state: GatewayState) -> web.Application:
    """The aiohttp application (the service runtime adds /metrics, /healthz, /readyz)."""
    app = web.Application(middlewares=[_errors])
    app[_STATE] = state
    app.router.add_get("/", _home)
    app.router.add_get("/api/locations", _locations)
    app.router.add_get("/api/assets", _assets)
    app.router.add_get("/api/runs", _runs)
    app.router.add_get("/api/runs/{run_id}", _run)
    app.router.add_get("/api/runs/{run_id}/events", _events)
    app.router.add_get("/api/instigators", _instigators)
    app.router.add_get("/api/ticks", _ticks)
    app.router.add_get("/api/graph", _graph)
    app.router.add_get("/api/events", _sse)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        for kind, status in _HTTP_STATUS:
            if isinstance(exc, kind):
                if status >= 500:
                    log.warning("ui.http_error", path=request.path, error=str(exc))
                return web.json_response({"error": str(exc)}, status=status)
        log.error("ui.http_failed", path=request.path, exc_info=exc)
        return web.json_response(
            {"error": f"the gateway failed: {type(exc).__name__} (details in its log)"},
            status=500,
        )


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument(f"query parameter {name!r} must be an integer, not {raw!r}") from None


def _float(request: web.Request, name: str) -> float | None:
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


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json")


# --- JSON --------------------------------------------------------------------------------------


async def _locations(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    infos = await asyncio.to_thread(state.catalog.locations)
    return web.json_response([_dump(i) for i in infos])


async def _assets(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    assets = await asyncio.to_thread(state.catalog.assets, request.query.get("location") or None)
    return web.json_response([_dump(a) for a in assets])


async def _runs(request: web.Request) -> web.Response:
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
        page_size=_int(request, "page_size", 0),
        page_token=request.query.get("page_token", ""),
    )
    return web.json_response(
        {"runs": [_dump(r) for r in page.runs], "next_page_token": page.next_page_token}
    )


async def _run(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    run = await asyncio.to_thread(runs.get_run, state.storage, request.match_info["run_id"])
    return web.json_response(_dump(run))


async def _events(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    events = await asyncio.to_thread(
        runs.run_events,
        state.storage,
        request.match_info["run_id"],
        after_seq=_int(request, "after_seq", 0),
        limit=_int(request, "limit", runs.MAX_EVENTS_PAGE),
    )
    last = events[-1].seq if events else None
    return web.json_response({"events": [_dump(e) for e in events], "last_seq": last})


async def _instigators(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    infos = await asyncio.to_thread(
        instigators.list_instigators,
        state.storage,
        state.catalog,
        request.query.get("location") or None,
    )
    return web.json_response([_dump(i) for i in infos])


async def _ticks(request: web.Request) -> web.Response:
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
        limit=_int(request, "limit", 0),
        before=_float(request, "before"),
    )
    return web.json_response([_dump(t) for t in ticks])


async def _graph(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    body = await asyncio.to_thread(
        graph.asset_graph, state.catalog, request.query.get("location") or None
    )
    return web.json_response(body)


async def _sse(request: web.Request) -> web.StreamResponse:
    return await sse.stream_events(request, request.app[_STATE])


# --- the home page -----------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rivers</title>
<meta http-equiv="refresh" content="5">
<style>
body{{font:14px system-ui,sans-serif;margin:2rem;color:#222}}
table{{border-collapse:collapse;margin-bottom:2rem}}
th,td{{text-align:left;padding:.3rem .8rem;border-bottom:1px solid #ddd}}
.available,.SUCCESS{{color:#17803d}} .unavailable,.FAILURE{{color:#b42318}}
.QUEUED,.STARTING,.STARTED,.CANCELING{{color:#175cd3}} .CANCELED{{color:#667085}}
code{{font-size:12px}}
</style></head><body>
<h1>rivers</h1>
<h2>Code locations</h2>
<table><tr><th>name</th><th>status</th><th>assets</th><th>last heartbeat</th></tr>
{locations}</table>
<h2>Latest runs</h2>
<table><tr><th>run</th><th>location</th><th>status</th><th>created</th><th>assets</th></tr>
{runs}</table>
<p>JSON: <a href="/api/locations">/api/locations</a> · <a href="/api/assets">/api/assets</a>
· <a href="/api/runs">/api/runs</a> · <a href="/api/instigators">/api/instigators</a>
· <a href="/api/ticks">/api/ticks</a> · <a href="/metrics">/metrics</a></p>
</body></html>
"""


def _ago(moment: float | None, now: float) -> str:
    if moment is None:
        return "never"
    seconds = max(now - moment, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))


def _home_html(state: GatewayState) -> str:
    now = time.time()
    catalog = state.catalog
    locations = catalog.locations()
    names = {loc.identity: loc.name for loc in locations}
    location_rows = []
    for loc in locations:
        snapshot = catalog.snapshot(loc.snapshot_id) if loc.snapshot_id else None
        count = "-" if snapshot is None else str(len(snapshot.assets))
        location_rows.append(
            f"<tr><td>{html.escape(loc.name)}</td>"
            f'<td class="{loc.status}">{loc.status}</td><td>{count}</td>'
            f"<td>{_ago(loc.last_heartbeat, now)}</td></tr>"
        )
    latest: list[RunRecord] = state.storage.get_runs(limit=_LATEST_RUNS)
    run_rows = []
    for run in latest:
        keys = ", ".join(run.asset_keys[:5]) + (" …" if len(run.asset_keys) > 5 else "")
        run_rows.append(
            f'<tr><td><a href="/api/runs/{html.escape(run.run_id)}"><code>'
            f"{html.escape(run.run_id[:12])}</code></a></td>"
            f"<td>{html.escape(names.get(run.location_id, run.location_id))}</td>"
            f'<td class="{run.status}">{run.status}</td>'
            f"<td>{_ago(run.created_at, now)}</td><td>{html.escape(keys)}</td></tr>"
        )
    empty = '<tr><td colspan="5">none yet</td></tr>'
    return _PAGE.format(locations="".join(location_rows) or empty, runs="".join(run_rows) or empty)


async def _home(request: web.Request) -> web.Response:
    page = await asyncio.to_thread(_home_html, request.app[_STATE])
    return web.Response(text=page, content_type="text/html")
