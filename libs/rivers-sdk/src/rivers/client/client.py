"""``RiversClient``: launch and watch runs and backfills through the public gRPC API."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Self

from rivers._convert.events import event_from_proto
from rivers._convert.runs import (
    backfill_from_proto,
    pool_info_from_proto,
    run_from_proto,
    tick_from_proto,
)
from rivers._proto.rivers.v1 import api_pb2
from rivers.client import _convert
from rivers.client._raw import RawClient
from rivers.client.models import (
    AssetDetails,
    AssetSummary,
    CodeLocationInfo,
    InstigatorInfo,
    PoolDetails,
)
from rivers.errors import RiversError, UserCodeError
from rivers.execution.events import ErrorInfo, RunEvent
from rivers.partitions import BackfillStrategy
from rivers.storage.records import (
    BackfillRecord,
    PoolInfo,
    RunRecord,
    RunStatus,
    TickRecord,
    TickStatus,
)

__all__ = ["RiversClient"]


class RiversClient:
    """A typed client of the rivers public API (the ``rivers ui`` gateway's gRPC port).

    Every method returns SDK models and raises a :class:`~rivers.client.ClientError`
    subclass on failure (never a raw gRPC error). Transient failures are retried a bounded
    number of times first.

    Args:
        address: ``host:port`` of the gateway's gRPC API (``rivers ui`` serves 7000).
        timeout: deadline of each call, in seconds.
        retries: how often a call failing with ``UNAVAILABLE`` is retried.

    Example:
        >>> from rivers.client import RiversClient
        >>> with RiversClient("127.0.0.1:7000") as client:  # doctest: +SKIP
        ...     run = client.launch_run(["orders"])
        ...     for event in client.watch_run(run.run_id):
        ...         print(event.kind, event.message)
        ...     client.get_run(run.run_id).status
        <RunStatus.SUCCESS: 'SUCCESS'>
    """

    def __init__(self, address: str, *, timeout: float = 30.0, retries: int = 4) -> None:
        self.address = address
        self._raw = RawClient(address, timeout=timeout, retries=retries)

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._raw.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RiversClient({self.address!r})"

    # --- code locations and assets -------------------------------------------------------

    def list_code_locations(self) -> list[CodeLocationInfo]:
        """Every registered code location, by name, with its liveness.

        Example:
            >>> [(loc.name, loc.status) for loc in client.list_code_locations()]  # doctest: +SKIP
            [('analytics', 'available')]
        """
        reply = self._raw.call("ListCodeLocations", api_pb2.ListCodeLocationsRequest())
        return [_convert.location_info_from_proto(m) for m in reply.locations]

    def list_assets(self, location: str | None = None) -> list[AssetSummary]:
        """Assets of one code location (by name) or of all, with their latest materialization.

        Raises:
            NotFoundError: no code location has that name.

        Example:
            >>> [a.key for a in client.list_assets("analytics")]  # doctest: +SKIP
            ['orders', 'revenue']
        """
        reply = self._raw.call("ListAssets", api_pb2.ListAssetsRequest(location=location))
        return [_convert.asset_summary_from_proto(m) for m in reply.assets]

    def get_asset(self, key: str, location: str | None = None) -> AssetDetails:
        """One asset with its materialization history (newest first).

        Raises:
            NotFoundError: no such asset (in that location).
            InvalidRequestError: several locations define ``key``; pass ``location``.

        Example:
            >>> client.get_asset("orders").materializations[0].run_id  # doctest: +SKIP
            '3f2a...'
        """
        reply = self._raw.call(
            "GetAsset", api_pb2.GetAssetRequest(asset_key=key, location=location)
        )
        return _convert.asset_details_from_proto(reply)

    # --- runs ----------------------------------------------------------------------------

    def launch_run(
        self,
        selection: str | Iterable[object] | None = None,
        *,
        location: str | None = None,
        job: str | None = None,
        partition: Any = None,
        config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RunRecord:
        """Queue a run; the location's code server starts it. Returns the ``QUEUED`` run.

        Args:
            selection: what to materialize (keys, ``"group:x"``, ``"+key"``...); default
                the job's selection, else every asset.
            location: the code location's name; optional when only one is registered.
            job: a job of the location to run.
            partition: a key, ``rs.PartitionKey``, ``rs.PartitionKeyRange`` or key list,
                for partitioned assets.
            config: run config per asset (``{"asset": {"field": value}}`` or config models).
            tags: tags of the run.

        Raises:
            InvalidRequestError: the selection, partitions or config do not fit.
            NotFoundError: no such code location.
            UnavailableError: the gateway or its planner cannot be reached.

        Example:
            >>> run = client.launch_run(["daily_sales"], partition="2024-01-15")  # doctest: +SKIP
            >>> run.status  # doctest: +SKIP
            <RunStatus.QUEUED: 'QUEUED'>
        """
        request = _convert.launch_run_request(
            selection, location=location, job=job, partition=partition, config=config, tags=tags
        )
        reply = self._raw.call("LaunchRun", request, idempotent=False)
        return run_from_proto(reply.run)

    def get_run(self, run_id: str) -> RunRecord:
        """The run as stored now.

        Raises:
            NotFoundError: no such run.
        """
        reply = self._raw.call("GetRun", api_pb2.GetRunRequest(run_id=run_id))
        return run_from_proto(reply.run)

    def watch_run(self, run_id: str, after_seq: int = 0) -> Iterator[RunEvent]:
        """The run's events, as they happen, until it has finished.

        Events already written come first. If the connection drops (or the gateway
        restarts), watching resumes after the last event seen: none is lost or repeated.

        Args:
            run_id: the run.
            after_seq: only events with a higher sequence number (``event.seq``).

        Raises:
            NotFoundError: no such run.
            UnavailableError: the gateway stayed unreachable.

        Example:
            >>> for event in client.watch_run(run.run_id):  # doctest: +SKIP
            ...     print(event.seq, event.kind, event.step_key)
            1 RUN_STARTED None
        """
        for message in self._raw.watch_run(run_id, after_seq):
            yield event_from_proto(message)

    def run_logs(
        self, run_id: str, step: str | None = None, *, stream: str | None = None
    ) -> list[RunEvent]:
        """The run's log lines and captured output, one ``LOG`` event per line, in order.

        Lines come from ``context.log``, ``rivers`` loggers, ``print`` and BashTask output;
        ``metadata["stream"]`` says which (``log``, ``stdout``, ``stderr``). Read through
        :meth:`watch_run`, so for a run still going this returns once it has finished.

        Args:
            run_id: the run.
            step: only this step's lines (for a map step, those of all its mapped items).
            stream: only ``log``, ``stdout`` or ``stderr``.

        Raises:
            NotFoundError: no such run.

        Example:
            >>> for line in client.run_logs(run.run_id, step="orders"):  # doctest: +SKIP
            ...     print(line.level, line.message)
            INFO loaded 3 orders
        """
        from rivers.execution.runlogs import filter_logs

        return filter_logs(self.watch_run(run_id), step=step, stream=stream)

    def wait_for_run(
        self, run_id: str, timeout: float | None = None, *, raise_on_failure: bool = False
    ) -> RunRecord:
        """Block until the run has finished; returns it.

        Args:
            run_id: the run.
            timeout: seconds to wait at most (default: no limit).
            raise_on_failure: if the run failed, raise the user's error instead of returning.

        Raises:
            TimeoutError: it did not finish within ``timeout`` seconds.
            NotFoundError: no such run.
            UserCodeError: ``raise_on_failure`` and a step of the run raised: the user's
                exception type, message and traceback (``error_type``, ``user_traceback``).
            RiversError: ``raise_on_failure`` and the run failed without a user error (its
                code server died, it was canceled ...), with the run's failure reason.

        Example:
            >>> client.wait_for_run(run.run_id, timeout=60).status  # doctest: +SKIP
            <RunStatus.SUCCESS: 'SUCCESS'>
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        first_error: ErrorInfo | None = None
        for message in self._raw.watch_run(run_id, 0, deadline=deadline):
            if raise_on_failure and first_error is None and message.HasField("error"):
                first_error = event_from_proto(message).error
        while True:  # the stream ends with the run finished; re-check rather than trust it
            run = self.get_run(run_id)
            if run.status.is_finished:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} did not finish within {timeout} s")
            time.sleep(0.05)
        if raise_on_failure and run.status is not RunStatus.SUCCESS:
            if first_error is not None:
                raise UserCodeError(
                    f"run {run_id} failed: {first_error.error_type}: {first_error.message}",
                    error_type=first_error.error_type,
                    user_traceback=first_error.traceback,
                )
            reason = run.failure_reason or run.status.value
            raise RiversError(f"run {run_id} did not succeed ({run.status.value}): {reason}")
        return run

    def cancel_run(self, run_id: str) -> bool:
        """Ask a queued or running run to stop; False when it had already finished.

        Raises:
            NotFoundError: no such run.
        """
        reply = self._raw.call("CancelRun", api_pb2.CancelRunRequest(run_id=run_id))
        return bool(reply.canceled)

    def list_runs(
        self,
        *,
        location: str | None = None,
        statuses: Iterable[RunStatus | str] | None = None,
        tags: Mapping[str, str] | None = None,
        asset_key: str | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Iterator[RunRecord]:
        """Runs, newest first, fetched a page at a time as the iterator advances.

        Args:
            location: only runs of this code location (by name).
            statuses: only runs in one of these statuses.
            tags: only runs carrying every one of these tags.
            asset_key: only runs materializing this asset.
            limit: stop after this many runs.
            page_size: runs per request.

        Raises:
            NotFoundError: no code location has that name.

        Example:
            >>> failed = list(client.list_runs(statuses=["FAILURE"], limit=10))  # doctest: +SKIP
        """
        token = ""
        seen = 0
        while True:
            request = _convert.list_runs_request(
                location=location,
                statuses=statuses,
                tags=tags,
                asset_key=asset_key,
                page_size=page_size,
                page_token=token,
            )
            reply = self._raw.call("ListRuns", request)
            for message in reply.runs:
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield run_from_proto(message)
            token = reply.next_page_token
            if not token or (limit is not None and seen >= limit):
                return

    # --- backfills -----------------------------------------------------------------------

    def launch_backfill(
        self,
        selection: str | Iterable[object] | None,
        partitions: Any,
        strategy: BackfillStrategy | None = None,
        *,
        location: str | None = None,
        config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> BackfillRecord:
        """Request a backfill; the location's code server runs it. Returns it ``REQUESTED``.

        Args:
            selection: the assets (sharing one partitions definition).
            partitions: ``rs.PartitionKeyRange``, ``rs.PartitionKey``, a key, a list of
                keys, or ``None`` for every partition.
            strategy: ``rs.BackfillStrategy``; default: the assets' own, else a run per
                partition.
            location: the code location's name; optional when only one is registered.
            config: run config for every run.
            tags: tags of the backfill and its runs.

        Raises:
            InvalidRequestError: the assets or partitions cannot be backfilled together.

        Example:
            >>> days = rs.PartitionKeyRange.single("2024-01-01", "2024-01-31")  # doctest: +SKIP
            >>> backfill = client.launch_backfill(["daily_sales"], days)  # doctest: +SKIP
            >>> client.wait_for_backfill(backfill.backfill_id).succeeded  # doctest: +SKIP
            31
        """
        request = _convert.launch_backfill_request(
            selection, partitions, strategy, location=location, config=config, tags=tags
        )
        reply = self._raw.call("LaunchBackfill", request, idempotent=False)
        return backfill_from_proto(reply.backfill)

    def get_backfill(self, backfill_id: str) -> BackfillRecord:
        """The backfill and its progress.

        Raises:
            NotFoundError: no such backfill.
        """
        reply = self._raw.call("GetBackfill", api_pb2.GetBackfillRequest(backfill_id=backfill_id))
        return backfill_from_proto(reply.backfill)

    def wait_for_backfill(
        self, backfill_id: str, timeout: float | None = None, poll: float = 0.2
    ) -> BackfillRecord:
        """Poll every ``poll`` seconds until the backfill has finished; returns it.

        Raises:
            TimeoutError: it did not finish within ``timeout`` seconds.
            NotFoundError: no such backfill.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            backfill = self.get_backfill(backfill_id)
            if backfill.status.is_finished:
                return backfill
            if deadline is not None and time.monotonic() + poll > deadline:
                raise TimeoutError(
                    f"backfill {backfill_id} did not finish within {timeout} s "
                    f"({backfill.status}, {backfill.runs_done}/{backfill.runs_total} runs done)"
                )
            time.sleep(poll)

    def cancel_backfill(self, backfill_id: str) -> BackfillRecord:
        """Cancel a backfill and its runs; returns it ``CANCELED``.

        No more of its runs are queued; queued ones are canceled and running ones asked to
        stop (as :meth:`cancel_run`). Cancelling a canceled backfill again changes nothing.

        Raises:
            NotFoundError: no such backfill.
            InvalidRequestError: it has already completed or failed.

        Example:
            >>> client.cancel_backfill(backfill.backfill_id).status  # doctest: +SKIP
            <BackfillState.CANCELED: 'CANCELED'>
        """
        reply = self._raw.call(
            "CancelBackfill", api_pb2.CancelBackfillRequest(backfill_id=backfill_id)
        )
        return backfill_from_proto(reply.backfill)

    def retry_backfill_failures(self, backfill_id: str) -> BackfillRecord:
        """Re-run the partitions that failed in a finished backfill, as a new backfill.

        The new backfill (``REQUESTED``) has the same assets, strategy, config and tags, and
        names the original in ``parent_backfill_id``.

        Raises:
            NotFoundError: no such backfill.
            InvalidRequestError: it has not finished, no partition of it failed, or its
                assets no longer fit the location's definitions.

        Example:
            >>> retry = client.retry_backfill_failures(backfill.backfill_id)  # doctest: +SKIP
            >>> retry.requested, retry.parent_backfill_id  # doctest: +SKIP
            (2, '3fa2c1d0e9b8')
        """
        reply = self._raw.call(
            "RetryBackfillFailures",
            api_pb2.RetryBackfillFailuresRequest(backfill_id=backfill_id),
            idempotent=False,
        )
        return backfill_from_proto(reply.backfill)

    # --- schedules, sensors, automation ---------------------------------------------------

    def list_instigators(self, location: str | None = None) -> list[InstigatorInfo]:
        """Schedules, sensors and automation conditions of one code location or of all.

        Each comes with whether it runs (stored, else its default from code), its cursor, its
        latest tick and, while running, when it ticks next.

        Raises:
            NotFoundError: no code location has that name.

        Example:
            >>> [(i.name, i.type, i.running) for i in client.list_instigators()]  # doctest: +SKIP
            [('nightly', <InstigatorType.SCHEDULE: 'SCHEDULE'>, True)]
        """
        reply = self._raw.call("ListInstigators", api_pb2.ListInstigatorsRequest(location=location))
        return [_convert.instigator_info_from_proto(m) for m in reply.instigators]

    def start_instigator(self, name: str, location: str | None = None) -> InstigatorInfo:
        """Switch a schedule or sensor on (``"automation"``: the automation conditions).

        The switch is stored and wins over the definition's ``default_status``; the
        location's daemon picks it up on its next tick.

        Raises:
            NotFoundError: the location defines no schedule or sensor of that name.
            InvalidRequestError: no ``location`` while several are registered, or it has not
                published its definitions.

        Example:
            >>> client.start_instigator("nightly").running  # doctest: +SKIP
            True
        """
        return self._set_instigator(name, location, running=True)

    def stop_instigator(self, name: str, location: str | None = None) -> InstigatorInfo:
        """Switch a schedule or sensor off (``"automation"``: the automation conditions).

        Raises:
            NotFoundError: the location defines no schedule or sensor of that name.
            InvalidRequestError: no ``location`` while several are registered, or it has not
                published its definitions.

        Example:
            >>> client.stop_instigator("new_files", location="ingest").running  # doctest: +SKIP
            False
        """
        return self._set_instigator(name, location, running=False)

    def _set_instigator(self, name: str, location: str | None, *, running: bool) -> InstigatorInfo:
        request = api_pb2.SetInstigatorStatusRequest(location=location, name=name, running=running)
        reply = self._raw.call("SetInstigatorStatus", request)
        return _convert.instigator_info_from_proto(reply.instigator)

    def list_ticks(
        self,
        *,
        location: str | None = None,
        instigator: str | None = None,
        statuses: Iterable[TickStatus | str] | None = None,
        limit: int = 100,
        before: float | None = None,
    ) -> list[TickRecord]:
        """The newest ticks (evaluations of schedules, sensors and automation), newest first.

        Args:
            location: only ticks of this code location (by name).
            instigator: only ticks of this schedule or sensor (``"automation"``: the
                automation conditions).
            statuses: only ticks that ended so (``"FAILURE"``, ``TickStatus.SKIPPED`` ...).
            limit: ticks to return at most (the gateway caps it at 1000).
            before: only ticks started before this POSIX time; pass the oldest
                ``timestamp`` of a page to read the next.

        Raises:
            NotFoundError: no code location has that name.
            RiversError: an unknown tick status.

        Example:
            >>> ticks = client.list_ticks(statuses=["FAILURE"], limit=5)  # doctest: +SKIP
            >>> print(ticks[0].error.traceback)  # doctest: +SKIP
        """
        request = _convert.list_ticks_request(
            location=location, instigator=instigator, statuses=statuses, limit=limit, before=before
        )
        reply = self._raw.call("ListTicks", request)
        return [tick_from_proto(m) for m in reply.ticks]

    # --- pools ---------------------------------------------------------------------------

    def list_pools(self) -> list[PoolInfo]:
        """Every pool with a limit, a holder or a waiter, by name."""
        reply = self._raw.call("ListPools", api_pb2.ListPoolsRequest())
        return [pool_info_from_proto(m) for m in reply.pools]

    def get_pool(self, name: str) -> PoolDetails:
        """One pool's limits, usage and slot holders (an unknown pool is unlimited, idle)."""
        reply = self._raw.call("GetPool", api_pb2.GetPoolRequest(name=name))
        return _convert.pool_details_from_proto(reply)

    def set_pool_limit(self, name: str, limit: int | None) -> PoolInfo:
        """Set an operator limit on a pool (0 pauses it); ``None`` clears it.

        Raises:
            InvalidRequestError: a negative limit or an empty name.

        Example:
            >>> client.set_pool_limit("warehouse", 4).limit  # doctest: +SKIP
            4
        """
        reply = self._raw.call("SetPoolLimit", api_pb2.SetPoolLimitRequest(name=name, limit=limit))
        return pool_info_from_proto(reply.pool)
