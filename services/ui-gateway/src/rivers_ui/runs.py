"""Launching, reading, cancelling and listing runs.

A launched run is validated by the planner and stored ``QUEUED`` with everything its
location's code server needs to execute it later (selection, snapshot, config, partitions);
the code server dequeues it. Nothing here imports user code.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jsonschema

from rivers import tracing
from rivers.definitions.keys import key_name
from rivers.errors import RunConfigError
from rivers.execution.events import EventKind, RunEvent
from rivers.planning import targets
from rivers.planning.targets import queued_run_record
from rivers.storage.records import RunRecord, RunStatus
from rivers_ui.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.storage import Storage
    from rivers_ui.catalog import Catalog
    from rivers_ui.planner import PlannerClient

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "RunPage",
    "cancel_run",
    "check_config",
    "get_run",
    "launch_run",
    "list_runs",
    "run_events",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
#: Runs one ListRuns call examines at most; a page may come back short (even empty) with a
#: next_page_token when filters the store cannot apply (tags, asset) match few runs.
MAX_SCANNED = 5000
_BATCH = 200


async def launch_run(
    storage: Storage,
    catalog: Catalog,
    planner: PlannerClient,
    *,
    location: str | None,
    selection: Sequence[str],
    job: str | None,
    partitions: dict[str, Any] | None,
    config: dict[str, Any] | None,
    tags: Mapping[str, str],
) -> RunRecord:
    """Validate a run with the planner and queue it for its location's code server.

    Args:
        storage: the shared store.
        catalog: locations and snapshots.
        planner: validates selection and partitions against the location's snapshot.
        location: the location's name (optional when only one is registered).
        selection: selection strings; empty: the job's selection, else every asset.
        job: a job of the location.
        partitions: the partition selection's JSON form (``selection_to_json``, or
            ``{"all": true}``).
        config: run config per asset.
        tags: the run's tags.

    Raises:
        NotFound: no such location.
        InvalidArgument: unknown job, or the planner refused the selection or partitions,
            or config for an asset that is not selected or takes none.
        FailedPrecondition: the location has not published a snapshot.
        Unavailable: the planner cannot be reached.
    """
    loc = await asyncio.to_thread(catalog.location, location)
    snapshot = await asyncio.to_thread(catalog.current_snapshot, loc)
    run_tags: dict[str, str] = {}
    chosen = list(selection)
    if job:
        jobs = {j.name: j for j in snapshot.jobs}
        if job not in jobs:
            known = ", ".join(sorted(jobs)) or "none"
            raise InvalidArgument(f"code location {loc.name!r} has no job {job!r} (jobs: {known})")
        run_tags.update(jobs[job].tags)
        chosen = chosen or list(jobs[job].selection)
    trace = tracing.carrier().get("traceparent")
    if trace:
        run_tags[tracing.TRACE_TAG] = trace
    plan = await planner.plan_run(snapshot.snapshot_id, chosen, partitions)
    check_config(snapshot, plan.asset_keys, config)
    record = queued_run_record(
        location_id=loc.identity,
        snapshot_id=snapshot.snapshot_id,
        plan=plan,
        keys=plan.partition_keys,
        partitions=partitions,
        config=config,
        tags={**run_tags, **tags},
        job_name=job or None,
    )
    await asyncio.to_thread(storage.add_run, record)
    return record


def check_config(
    snapshot: DefinitionsSnapshot, asset_keys: Sequence[str], config: Mapping[str, Any] | None
) -> None:
    """Check run config: its shape, then each asset's fields against its JSON schema.

    The shape is ``rivers.planning.targets.check_config``'s; the values are checked against
    the schema the asset's pydantic config type published in the snapshot, so a bad value
    is refused before the run is queued rather than failing in the run worker. Missing
    fields with defaults are fine (the worker fills them in).

    Raises:
        InvalidArgument: config names an asset that is not selected or takes no config, an
            asset's config is not an object, or a field does not fit the schema (the
            message names the asset and the field).
    """
    try:
        targets.check_config(snapshot, asset_keys, config)
    except RunConfigError as exc:
        raise InvalidArgument(str(exc)) from None
    for raw_key, value in (config or {}).items():
        # The shape check found exactly one selected asset: by its key, else by its name.
        key = (
            raw_key
            if raw_key in asset_keys
            else next(k for k in asset_keys if key_name(k) == raw_key)
        )
        asset = snapshot.assets_by_key[key]
        if asset.config_schema is not None:
            _check_fields(asset.key, asset.config_schema, value)


def _check_fields(asset_key: str, schema: Mapping[str, Any], value: Any) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    error = errors[0]
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [f for f in error.validator_value if f not in error.instance]
        path = ".".join(filter(None, [path, *missing[:1]]))
    where = f" field {path!r}" if path else ""
    raise InvalidArgument(f"run config of asset {asset_key!r}:{where} {error.message}")


def get_run(storage: Storage, run_id: str) -> RunRecord:
    """The stored run.

    Raises:
        NotFound: no such run.
    """
    if not run_id:
        raise InvalidArgument("run_id is required")
    run = storage.get_run(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}")
    return run


def cancel_run(storage: Storage, run_id: str) -> bool:
    """Cancel a queued run at once, or ask a running one to stop; False when it had finished.

    Raises:
        NotFound: no such run.
    """
    before = get_run(storage, run_id)
    if not storage.request_run_cancel(run_id):
        return False
    if before.status is RunStatus.QUEUED:  # canceled at once: say so in its event log
        after = storage.get_run(run_id)
        if after is not None and after.status is RunStatus.CANCELED:
            storage.store_events(
                [
                    RunEvent.now(
                        run_id, EventKind.RUN_CANCELED, message="canceled before it started"
                    )
                ],
                location_id=after.location_id,
            )
    return True


# --- listing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of runs and the token of the next (empty on the last page)."""

    runs: list[RunRecord]
    next_page_token: str


@dataclass(frozen=True, slots=True, order=True)
class _Cursor:
    created_at: float
    run_id: str


def _encode(cursor: _Cursor) -> str:
    raw = json.dumps([cursor.created_at, cursor.run_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> _Cursor | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, run_id = json.loads(raw)
        if isinstance(created_at, int | float) and isinstance(run_id, str):
            return _Cursor(float(created_at), run_id)
    except (binascii.Error, ValueError, TypeError):
        pass
    raise InvalidArgument(f"invalid page_token {token!r}: pass a next_page_token of ListRuns")


def list_runs(
    storage: Storage,
    catalog: Catalog,
    *,
    location: str | None = None,
    statuses: Sequence[RunStatus] = (),
    tags: Mapping[str, str] | None = None,
    asset_key: str | None = None,
    page_size: int = 0,
    page_token: str = "",
) -> RunPage:
    """One page of runs, newest first (by creation time, then run id).

    Location and statuses are filtered by the store; tags and asset by the gateway, which
    examines at most :data:`MAX_SCANNED` runs per call: with rare matches a page can come back
    short, or empty, with a next token. Runs created after the first page was read appear
    only in a new listing (the token is a position in creation order).

    Raises:
        NotFound: no location has that name.
        InvalidArgument: a negative page size or a malformed token.
    """
    if page_size < 0:
        raise InvalidArgument(f"page_size must not be negative, got {page_size}")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    cursor = _decode(page_token)
    location_id = catalog.location(location).identity if location else None
    wanted_tags = dict(tags or {})
    runs: list[RunRecord] = []
    last: _Cursor | None = None
    found = _scan(storage, cursor, location_id, list(statuses) or None)
    for scanned, run in enumerate(found, start=1):
        last = _Cursor(run.created_at, run.run_id)
        if _matches(run, wanted_tags, asset_key):
            runs.append(run)
            if len(runs) == size:
                break
        if scanned >= MAX_SCANNED:
            break
    else:
        return RunPage(runs, "")  # the store has no more runs
    assert last is not None
    return RunPage(runs, _encode(last))


def _matches(run: RunRecord, tags: Mapping[str, str], asset_key: str | None) -> bool:
    if asset_key and asset_key not in run.asset_keys:
        return False
    return all(run.tags.get(k) == v for k, v in tags.items())


def _scan(
    storage: Storage,
    cursor: _Cursor | None,
    location_id: str | None,
    statuses: list[RunStatus] | None,
) -> Iterator[RunRecord]:
    """Runs strictly after ``cursor`` in (created_at, run_id) descending order.

    The store pages by ``created_at < before`` only, so runs created at the same instant
    could straddle two batches; a full batch's oldest instant is therefore left for the next
    batch, which starts at (and includes) that instant.
    """
    before = None if cursor is None else math.nextafter(cursor.created_at, math.inf)
    batch = _BATCH
    while True:
        rows = storage.get_runs(
            location_id=location_id, statuses=statuses, limit=batch, created_before=before
        )
        full = len(rows) == batch
        if full:
            oldest = min(r.created_at for r in rows)
            complete = [r for r in rows if r.created_at > oldest]
            if not complete:  # one instant holds a whole batch: read more at once
                batch *= 2
                continue
            rows = complete
        for run in sorted(rows, key=lambda r: (r.created_at, r.run_id), reverse=True):
            if cursor is None or _Cursor(run.created_at, run.run_id) < cursor:
                yield run
        if not full:
            return
        before = math.nextafter(oldest, math.inf)


#: Events one page of ``run_events`` returns at most.
MAX_EVENTS_PAGE = 1000


def run_events(
    storage: Storage, run_id: str, *, after_seq: int = 0, limit: int = MAX_EVENTS_PAGE
) -> list[RunEvent]:
    """A page of the run's stored events after ``after_seq``, in order.

    Raises:
        NotFound: no such run.
        InvalidArgument: a negative ``after_seq`` or a limit outside 1..1000.
    """
    if after_seq < 0:
        raise InvalidArgument(f"after_seq must not be negative, got {after_seq}")
    if not 1 <= limit <= MAX_EVENTS_PAGE:
        raise InvalidArgument(f"limit must be between 1 and {MAX_EVENTS_PAGE}, got {limit}")
    get_run(storage, run_id)
    return storage.get_run_events(run_id, after_seq=after_seq, limit=limit)
