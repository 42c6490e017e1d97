"""``/backfills`` and ``/backfills/{id}``: progress, counts, failed partitions, cancel, re-run.

JSON endpoints (the same functions as the gRPC ``GetBackfill``, ``CancelBackfill`` and
``RetryBackfillFailures``):

- ``GET /api/backfills?location=&limit=`` → ``[backfill]``, newest first;
- ``GET /api/backfills/{id}`` → ``backfill`` plus ``runs`` (``run_id``, ``status``,
  ``partitions``, timings);
- ``POST /api/backfills/{id}/cancel`` → the canceled backfill;
- ``POST /api/backfills/{id}/retry-failed`` → the new backfill of the failed partitions, 201.

A ``backfill`` is the stored record plus ``location`` (its name), ``in_progress`` (partitions
neither succeeded nor failed) and ``progress`` (finished partitions / requested, 0..1).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rivers.storage.records import BackfillRecord
from rivers_ui import backfills
from rivers_ui.errors import NotFound
from rivers_ui.state import STATE
from rivers_ui.web.ops_common import partitions_label
from rivers_ui.web.render import dump, query_int, render

if TYPE_CHECKING:
    from rivers.storage import Storage
    from rivers_ui.catalog import Catalog

__all__ = ["backfill_detail", "backfill_view", "list_backfills", "routes"]

#: Backfills the list shows by default, and at most.
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Runs of one backfill the page lists (newest first).
MAX_RUNS = 200


def backfill_view(record: BackfillRecord, names: dict[str, str]) -> dict[str, Any]:
    """The record's JSON with its location's name, in-progress count and progress."""
    done = record.succeeded + record.failed
    return {
        **dump(record),
        "location": names.get(record.location_id, record.location_id),
        "in_progress": record.in_progress,
        "progress": min(done / record.requested, 1.0) if record.requested else 1.0,
        "partitions_label": partitions_label(record.partitions),
    }


def list_backfills(
    storage: Storage, catalog: Catalog, *, location: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest backfills (of one location or all), as :func:`backfill_view` shows them.

    Raises:
        NotFound: no location has that name.
    """
    location_id = catalog.location(location).identity if location else None
    records = storage.get_backfills(location_id=location_id, limit=min(limit, MAX_LIMIT))
    names = catalog.location_names()
    return [backfill_view(r, names) for r in records]


def backfill_detail(storage: Storage, catalog: Catalog, backfill_id: str) -> dict[str, Any]:
    """One backfill with its runs (newest first).

    Raises:
        NotFound: no such backfill.
    """
    record = backfills.get_backfill(storage, backfill_id)
    statuses = storage.get_backfill_run_statuses(backfill_id)
    runs: list[dict[str, Any]] = []
    for run_id in list(statuses)[:MAX_RUNS]:
        run = storage.get_run(run_id)
        if run is None:
            continue
        runs.append(
            {
                "run_id": run.run_id,
                "status": str(run.status),
                "partitions": partitions_label(run.partitions),
                "created_at": run.created_at,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "duration": run.duration,
            }
        )
    # Newest first; the runs a backfill queues at once, by partition.
    runs.sort(key=lambda r: (-round(r["created_at"]), r["partitions"], r["run_id"]))
    view = backfill_view(record, catalog.location_names())
    view["runs"] = runs
    return view


# --- pages -------------------------------------------------------------------------------------


async def _list_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    location = request.query.get("location") or None
    items = await asyncio.to_thread(
        list_backfills,
        state.storage,
        state.catalog,
        location=location,
        limit=query_int(request, "limit", DEFAULT_LIMIT, minimum=1),
    )
    return render(request, "backfills.html", {"backfills": items, "location": location})


async def _page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    backfill_id = request.match_info["backfill_id"]
    try:
        item = await asyncio.to_thread(backfill_detail, state.storage, state.catalog, backfill_id)
    except NotFound as exc:
        return render(request, "backfill.html", {"backfill": None, "error": str(exc)}, status=404)
    return render(request, "backfill.html", {"backfill": item, "error": None})


# --- JSON --------------------------------------------------------------------------------------


async def _list(request: web.Request) -> web.Response:
    state = request.app[STATE]
    items = await asyncio.to_thread(
        list_backfills,
        state.storage,
        state.catalog,
        location=request.query.get("location") or None,
        limit=query_int(request, "limit", DEFAULT_LIMIT, minimum=1),
    )
    return web.json_response(items)


async def _get(request: web.Request) -> web.Response:
    state = request.app[STATE]
    item = await asyncio.to_thread(
        backfill_detail, state.storage, state.catalog, request.match_info["backfill_id"]
    )
    return web.json_response(item)


async def _cancel(request: web.Request) -> web.Response:
    state = request.app[STATE]
    record = await asyncio.to_thread(
        backfills.cancel_backfill, state.storage, request.match_info["backfill_id"]
    )
    names = await asyncio.to_thread(state.catalog.location_names)
    return web.json_response(backfill_view(record, names))


async def _retry(request: web.Request) -> web.Response:
    state = request.app[STATE]
    record = await backfills.retry_backfill_failures(
        state.storage, state.catalog, state.planner, request.match_info["backfill_id"]
    )
    names = await asyncio.to_thread(state.catalog.location_names)
    return web.json_response(backfill_view(record, names), status=201)


def routes(app: web.Application) -> None:
    """Register the backfill pages and their JSON endpoints."""
    app.router.add_get("/backfills", _list_page)
    app.router.add_get("/backfills/{backfill_id}", _page)
    app.router.add_get("/api/backfills", _list)
    app.router.add_get("/api/backfills/{backfill_id}", _get)
    app.router.add_post("/api/backfills/{backfill_id}/cancel", _cancel)
    app.router.add_post("/api/backfills/{backfill_id}/retry-failed", _retry)
