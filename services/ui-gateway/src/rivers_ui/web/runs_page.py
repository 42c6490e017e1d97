"""The runs pages: ``/runs`` (filtered, paged list) and ``/runs/{run_id}`` (one run).

- ``GET /runs?status=&status=&asset_key=&tag=KEY=VALUE&location=&page_token=&prev=``: the
  list, newest first, with the filter bar reflected in the query. ``page_token`` is the
  cursor of ``rivers_ui.runs.list_runs``; ``prev`` holds the tokens of the earlier pages
  (``.``-separated, the first page as the empty token) so "Previous" needs no server state.
  Live region ``runs`` (re-rendered on ``run_status``).
- ``GET /runs/{run_id}``: header (live region ``header``), step timeline and event log, both
  drawn by ``static/run.js`` from ``/api/runs/{id}/events`` pages and the SSE stream.
- ``POST /api/runs/{run_id}/cancel`` → ``{"canceled": bool, "run": RunRecord}`` (as gRPC
  ``CancelRun``: ``canceled`` is false when the run had already finished).
- ``POST /api/runs/{run_id}/reexecute`` ``{"from_failure": bool}`` → the new queued run, 201.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from rivers import tracing
from rivers.storage.records import RunRecord, RunStatus
from rivers_ui import runs
from rivers_ui.errors import InvalidArgument, NotFound
from rivers_ui.reexecute import PARENT_RUN_TAG, ROOT_RUN_TAG, reexecute_run
from rivers_ui.state import STATE
from rivers_ui.web.render import json_body, render

__all__ = ["routes"]

#: Run statuses in the filter bar, in lifecycle order.
STATUSES = [s.value for s in RunStatus]
#: Assets a list row names before "+N more".
_SHOWN_ASSETS = 3


def routes(app: web.Application) -> None:
    """Register this module's pages and JSON endpoints on ``app``."""
    app.router.add_get("/runs", runs_list)
    app.router.add_get("/runs/{run_id}", run_page)
    app.router.add_post("/api/runs/{run_id}/cancel", cancel)
    app.router.add_post("/api/runs/{run_id}/reexecute", reexecute)


def _seconds(run: RunRecord, now: float) -> float | None:
    if run.start_time is None:
        return None
    return (run.end_time if run.end_time is not None else now) - run.start_time


def _row(run: RunRecord, names: dict[str, str], now: float) -> dict[str, Any]:
    keys = list(run.asset_keys)
    return {
        "run": run,
        "location": names.get(run.location_id, run.location_id[:8]),
        "assets": keys[:_SHOWN_ASSETS],
        "more": max(0, len(keys) - _SHOWN_ASSETS),
        "seconds": _seconds(run, now),
        "tags": _shown_tags(run),
    }


def _shown_tags(run: RunRecord) -> list[tuple[str, str]]:
    """The run's tags as chips, without the trace context it carries for tracing."""
    return sorted((k, v) for k, v in run.tags.items() if k != tracing.TRACE_TAG)


def _filters(request: web.Request) -> dict[str, Any]:
    query = request.query
    return {
        "statuses": [s.upper() for s in query.getall("status", []) if s],
        "asset_key": query.get("asset_key", "").strip(),
        "tags": [t for t in query.getall("tag", []) if t.strip()],
        "location": query.get("location", ""),
        "page_token": query.get("page_token", ""),
        "prev": query.get("prev"),
    }


def _query(filters: dict[str, Any], token: str, prev: str | None) -> str:
    """``/runs?...``: the filters, the page's token and the earlier pages' tokens."""
    pairs: list[tuple[str, str]] = [("status", s) for s in filters["statuses"]]
    if filters["asset_key"]:
        pairs.append(("asset_key", filters["asset_key"]))
    pairs += [("tag", t) for t in filters["tags"]]
    if filters["location"]:
        pairs.append(("location", filters["location"]))
    if token:
        pairs.append(("page_token", token))
    if prev is not None:
        pairs.append(("prev", prev))
    return "/runs" + ("?" + urlencode(pairs) if pairs else "")


def _list(state: Any, filters: dict[str, Any]) -> tuple[runs.RunPage, dict[str, str]]:
    try:
        statuses = [RunStatus(s) for s in filters["statuses"]]
    except ValueError as exc:
        raise InvalidArgument(f"unknown run status: {exc}") from None
    tags: dict[str, str] = {}
    for item in filters["tags"]:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"tag filters are KEY=VALUE, not {item!r}")
        tags[key] = value
    page = runs.list_runs(
        state.storage,
        state.catalog,
        location=filters["location"] or None,
        statuses=statuses,
        tags=tags,
        asset_key=filters["asset_key"] or None,
        page_token=filters["page_token"],
    )
    return page, state.catalog.location_names()


async def runs_list(request: web.Request) -> web.Response:
    """``/runs``: the filter bar, a page of runs, next and previous."""
    state = request.app[STATE]
    filters = _filters(request)
    error = None
    try:
        page, names = await asyncio.to_thread(_list, state, filters)
    except (InvalidArgument, NotFound) as exc:
        error = str(exc)
        page, names = runs.RunPage([], ""), await asyncio.to_thread(state.catalog.location_names)
    now = time.time()
    stack = None if filters["prev"] is None else filters["prev"].split(".")
    previous = None
    if stack is not None:
        earlier = ".".join(stack[:-1]) if len(stack) > 1 else None
        previous = _query(filters, stack[-1], earlier)
    following = None
    if page.next_page_token:
        here = filters["page_token"]
        trail = here if stack is None else ".".join([*stack, here])
        following = _query(filters, page.next_page_token, trail)
    context = {
        "rows": [_row(r, names, now) for r in page.runs],
        "filters": filters,
        "statuses": STATUSES,
        "locations": sorted(set(names.values())),
        "error": error,
        "next_url": following,
        "prev_url": previous,
        "page_number": 1 if stack is None else len(stack) + 1,
    }
    return render(request, "runs.html", context, status=400 if error else 200)


def _steps(state: Any, run: RunRecord) -> list[str]:
    """The run's planned steps, in plan order (from its snapshot; empty when it is gone)."""
    snapshot = state.catalog.snapshot(run.snapshot_id) if run.snapshot_id else None
    if snapshot is None:
        return list(run.asset_keys)
    assets = snapshot.assets_by_key
    steps: dict[str, None] = {}
    for key in run.asset_keys:
        asset = assets.get(key)
        steps[asset.step_key if asset is not None else key] = None
    return list(steps)


def _run_context(state: Any, run_id: str) -> dict[str, Any]:
    run = runs.get_run(state.storage, run_id)
    location = state.storage.get_location(run.location_id)
    parent = run.tags.get(PARENT_RUN_TAG)
    root = run.tags.get(ROOT_RUN_TAG)
    return {
        "run": run,
        "location": location.name if location is not None else run.location_id,
        "seconds": _seconds(run, time.time()),
        "tags": _shown_tags(run),
        "parent": parent,
        "root": root if root != parent else None,
        "steps": _steps(state, run),
        "finished": run.status.is_finished,
        "active": run.status in (RunStatus.QUEUED, RunStatus.STARTING, RunStatus.STARTED),
    }


async def run_page(request: web.Request) -> web.Response:
    """``/runs/{run_id}``: one run, its step timeline and its live event log."""
    state = request.app[STATE]
    run_id = request.match_info["run_id"]
    try:
        context = await asyncio.to_thread(_run_context, state, run_id)
    except NotFound:
        return render(request, "run.html", {"missing": run_id}, status=404)
    return render(request, "run.html", {"missing": None, **context})


async def cancel(request: web.Request) -> web.Response:
    """Cancel a queued run, or ask a running one to stop (as gRPC ``CancelRun``)."""
    state = request.app[STATE]
    run_id = request.match_info["run_id"]
    canceled = await asyncio.to_thread(runs.cancel_run, state.storage, run_id)
    run = await asyncio.to_thread(runs.get_run, state.storage, run_id)
    return web.json_response({"canceled": canceled, "run": run.model_dump(mode="json")})


async def reexecute(request: web.Request) -> web.Response:
    """Queue a re-execution of a finished run: from failure, or all of it."""
    state = request.app[STATE]
    body = await json_body(request)
    from_failure = body.get("from_failure", False)
    if not isinstance(from_failure, bool):
        raise InvalidArgument("'from_failure' must be true or false")
    record = await reexecute_run(
        state.storage,
        state.catalog,
        state.planner,
        request.match_info["run_id"],
        from_failure=from_failure,
    )
    return web.json_response(record.model_dump(mode="json"), status=201)
