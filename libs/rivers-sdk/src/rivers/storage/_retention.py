"""Retention and observation: pruning old history in small batches; table and run counts.

What a prune keeps, as Dagster users expect (Dagster deletes old runs with their event logs)
while every asset stays linkable to its latest materialization:

* asset records (the ``asset_record`` and ``asset_failure`` tables) are never deleted;
* runs that are not finished (queued, starting, started, canceling) are never touched;
* the ``keep_last`` most recent runs are kept whatever their age;
* of a finished run created (and ended) before the cutoff, every event is deleted except the
  events an asset record points at (the latest ``ASSET_MATERIALIZATION`` of an asset
  partition, the latest ``ASSET_FAILED``); the run record is deleted too unless one of its
  events was kept, so the run page that asset links to still opens;
* ticks older than the cutoff are deleted.

Each transaction deletes at most ``batch_size`` rows (the events of one run, its records a
few hundred at a time, ticks), and the pruner pauses briefly after each ``batch_size`` rows,
so running work (its event writes, claims and ticks) is never stuck behind one huge delete.
Captured logs are run events (kind ``LOG``), so pruning events prunes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rivers.storage._base import StorageBase
from rivers.storage.records import RunStatus

if TYPE_CHECKING:
    from rivers.execution.events import EventKind, RunEvent

__all__ = ["PruneResult", "RetentionStore", "TableStats"]

_FINISHED = ["SUCCESS", "FAILURE", "CANCELED"]
#: Runs read per page of old runs.
_RUN_PAGE = 200
#: Run records deleted per transaction at most (each updates several indexes).
_RUN_CHUNK = 200

_OLD_RUNS = """
SELECT run_id, created_at FROM run
WHERE created_at < $cutoff AND (end_time ?? created_at) < $cutoff AND status IN $finished
    {location}
    AND (created_at > $after_at OR (created_at = $after_at AND run_id > $after_id))
ORDER BY created_at, run_id LIMIT $page;
"""
# Per run, through the (run_id, seq) index: one `run_id IN $runs` statement scans the table.
_DELETE_EVENTS = """
BEGIN;
LET $ids = (SELECT VALUE id FROM run_event WHERE run_id = $run AND seq NOT IN $keep LIMIT $chunk);
DELETE $ids RETURN NONE;
COMMIT;
RETURN array::len($ids);
"""
_COUNT_EVENTS = """
RETURN math::sum($runs.map(|$r|
    (SELECT count() AS n FROM run_event WHERE run_id = $r AND seq NOT IN $keep GROUP ALL)[0].n ?? 0
));
"""
_DELETE_TICKS = """
BEGIN;
LET $ids = (SELECT VALUE id FROM tick WHERE timestamp < $cutoff {location} LIMIT $chunk);
DELETE $ids RETURN NONE;
COMMIT;
RETURN array::len($ids);
"""

Progress = Callable[[str, int], None]
_FIELDS = {"run_event": "run_events", "run": "runs", "tick": "ticks"}


@dataclass
class PruneResult:
    """What a prune deleted (or, in a dry run, would delete), per table."""

    cutoff: float
    dry_run: bool = False
    run_events: int = 0
    runs: int = 0
    ticks: int = 0
    #: Old finished runs whose record was kept: they hold an asset's latest outcome.
    runs_kept: int = 0
    seconds: float = 0.0
    #: Transactions that deleted rows.
    batches: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The counts as a plain dict (for JSON output and logs)."""
        return {
            "cutoff": self.cutoff,
            "dry_run": self.dry_run,
            "run_events": self.run_events,
            "runs": self.runs,
            "ticks": self.ticks,
            "runs_kept": self.runs_kept,
            "seconds": round(self.seconds, 3),
            "batches": self.batches,
        }


@dataclass(frozen=True)
class TableStats:
    """Rows of one table."""

    table: str
    rows: int


@dataclass
class _Pruner:
    store: RetentionStore
    result: PruneResult
    location_id: str | None
    batch_size: int
    pause: float
    progress: Progress
    keep_runs: set[str] = field(default_factory=set)
    keep_seqs: dict[str, list[int]] = field(default_factory=dict)
    _unreported: int = 0

    def _where_location(self) -> str:
        return "AND location_id = $loc" if self.location_id is not None else ""

    def _vars(self, **extra: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"loc": self.location_id} if self.location_id is not None else {}
        return {**base, **extra}

    def _deleted(self, table: str, rows: int, *, flush: bool = False) -> None:
        """Count one transaction's rows; report and pause once a batch's worth has gone."""
        self.result.batches += 1 if rows else 0
        setattr(self.result, _FIELDS[table], getattr(self.result, _FIELDS[table]) + rows)
        self._unreported += rows
        if self._unreported and (flush or self._unreported >= self.batch_size):
            self._unreported = 0
            self.progress(table, getattr(self.result, _FIELDS[table]))
            if self.pause > 0 and not flush:
                time.sleep(self.pause)

    def load_protected(self, keep_last: int) -> None:
        """The newest ``keep_last`` runs, and the events asset records point at, by run."""
        where = "WHERE location_id = $loc" if self.location_id is not None else ""
        if keep_last > 0:
            (ids,) = self.store._q(
                f"SELECT VALUE run_id FROM run {where} ORDER BY created_at DESC LIMIT $n;",
                self._vars(n=int(keep_last)),
            )
            self.keep_runs = set(ids)
        records, failures = self.store._q(
            f"SELECT run_id, event_seq FROM asset_record {where};"
            f"SELECT run_id, event_seq FROM asset_failure {where};",
            self._vars(),
        )
        for row in [*records, *failures]:
            self.keep_seqs.setdefault(row["run_id"], []).append(int(row["event_seq"]))

    def old_runs(self) -> list[list[str]]:
        """Pages of finished runs older than the cutoff (not kept by ``keep_last``)."""
        pages: list[list[str]] = []
        after_at, after_id = float("-inf"), ""
        sql = _OLD_RUNS.format(location=self._where_location())
        while True:
            (rows,) = self.store._q(
                sql,
                self._vars(
                    cutoff=self.result.cutoff,
                    finished=_FINISHED,
                    after_at=after_at,
                    after_id=after_id,
                    page=_RUN_PAGE,
                ),
            )
            page = [r["run_id"] for r in rows if r["run_id"] not in self.keep_runs]
            if page:
                pages.append(page)
            if len(rows) < _RUN_PAGE:
                return pages
            after_at, after_id = float(rows[-1]["created_at"]), rows[-1]["run_id"]

    def prune_runs(self, pages: list[list[str]]) -> None:
        """Delete (or count) the events of old runs, then the run records left without any."""
        doomed: list[str] = []
        for page in pages:
            kept = [r for r in page if r in self.keep_seqs]
            self.result.runs_kept += len(kept)
            doomed += [r for r in page if r not in self.keep_seqs]
            if self.result.dry_run:
                keep = [s for r in kept for s in self.keep_seqs[r]]
                (count,) = self.store._q(_COUNT_EVENTS, {"runs": page, "keep": keep})
                self.result.run_events += int(count or 0)
                continue
            for run in page:
                keep = self.keep_seqs.get(run, [])
                while True:
                    result = self.store._q(
                        _DELETE_EVENTS, {"run": run, "keep": keep, "chunk": self.batch_size}
                    )
                    deleted = int(result[-1] or 0)
                    self._deleted("run_event", deleted)
                    if deleted < self.batch_size:
                        break
        if self.result.dry_run:
            self.result.runs = len(doomed)
            return
        self._deleted("run_event", 0, flush=True)
        # Records after their events: an interrupted prune leaves a run whose events are
        # gone (the next prune deletes it), never events of a deleted run.
        chunk_size = min(self.batch_size, _RUN_CHUNK)
        for start in range(0, len(doomed), chunk_size):
            chunk = doomed[start : start + chunk_size]
            self.store._q(
                "DELETE $ids.map(|$r| type::record('run', $r)) RETURN NONE;", {"ids": chunk}
            )
            self._deleted("run", len(chunk))
        self._deleted("run", 0, flush=True)

    def prune_ticks(self) -> None:
        """Delete (or count) ticks older than the cutoff."""
        loc = self._where_location()
        if self.result.dry_run:
            (rows,) = self.store._q(
                f"SELECT count() AS n FROM tick WHERE timestamp < $cutoff {loc} GROUP ALL;",
                self._vars(cutoff=self.result.cutoff),
            )
            self.result.ticks = int(rows[0]["n"]) if rows else 0
            return
        sql = _DELETE_TICKS.format(location=loc)
        while True:
            result = self.store._q(
                sql, self._vars(cutoff=self.result.cutoff, chunk=self.batch_size)
            )
            deleted = int(result[-1] or 0)
            self._deleted("tick", deleted)
            if deleted < self.batch_size:
                break
        self._deleted("tick", 0, flush=True)


def _ignore(table: str, deleted: int) -> None:
    return None


class RetentionStore(StorageBase):
    """Pruning old history; how big each table is; counts the daemon's gauges show."""

    def prune(
        self,
        older_than: float,
        *,
        keep_last: int = 0,
        location_id: str | None = None,
        dry_run: bool = False,
        batch_size: int = 1000,
        pause: float = 0.02,
        on_progress: Progress | None = None,
    ) -> PruneResult:
        """Delete run events, runs and ticks from before ``older_than`` (a Unix time).

        See the module docstring for what is kept. Safe to run while work runs, and to
        interrupt: a later prune finishes the job.

        Args:
            older_than: the cutoff; for a retention of ``days``, ``time.time() - days * 86400``.
            keep_last: keep the ``keep_last`` most recent runs (of the location) whatever
                their age.
            location_id: prune only this location's runs and ticks (default: every one).
            dry_run: count what would be deleted, delete nothing.
            batch_size: rows per transaction, at most.
            pause: seconds slept after each ``batch_size`` rows, leaving room for other
                writers.
            on_progress: called with ``(table, rows deleted so far)`` after each
                ``batch_size`` rows and when a table is done.
        """
        started = time.perf_counter()
        result = PruneResult(cutoff=float(older_than), dry_run=dry_run)
        pruner = _Pruner(
            self, result, location_id, max(1, int(batch_size)), pause, on_progress or _ignore
        )
        pruner.load_protected(keep_last)
        pruner.prune_runs(pruner.old_runs())
        pruner.prune_ticks()
        result.seconds = time.perf_counter() - started
        return result

    def table_stats(self) -> list[TableStats]:
        """Rows of every table, by table name."""
        (info,) = self._q("INFO FOR DB;")
        tables = sorted((info or {}).get("tables", {}))
        if not tables:
            return []
        counts = self._q(
            "".join(
                f"SELECT count() AS n FROM type::table($t{i}) GROUP ALL;"
                for i in range(len(tables))
            ),
            {f"t{i}": t for i, t in enumerate(tables)},
        )
        return [
            TableStats(table=t, rows=int(rows[0]["n"]) if rows else 0)
            for t, rows in zip(tables, counts, strict=True)
        ]

    def count_runs_by_status(
        self, location_id: str, statuses: Iterable[RunStatus] | None = None
    ) -> dict[RunStatus, int]:
        """How many of the location's runs have each of ``statuses`` (default: every one).

        One indexed count per status: cheap for the few unfinished runs, proportional to
        history for finished statuses.
        """
        wanted = list(RunStatus if statuses is None else statuses)
        (counts,) = self._q(
            "RETURN $statuses.map(|$s| (SELECT count() AS n FROM run WHERE status = $s "
            "AND location_id = $loc GROUP ALL)[0].n ?? 0);",
            {"loc": location_id, "statuses": [str(s) for s in wanted]},
        )
        return {status: int(n) for status, n in zip(wanted, counts, strict=True)}

    def get_events_between(
        self,
        after_seq: int,
        up_to_seq: int,
        *,
        location_id: str,
        kinds: Iterable[EventKind],
        limit: int = 1000,
    ) -> list[RunEvent]:
        """A location's events of ``kinds`` with ``after_seq < seq <= up_to_seq``, in order.

        Every event up to :meth:`last_event_seq` has committed (its ``seq`` comes from the
        counter in its own transaction), so a reader moving ``after_seq`` to ``up_to_seq``
        misses none.
        """
        from rivers.execution.events import RunEvent

        (rows,) = self._q(
            "SELECT * OMIT id, location_id FROM run_event WHERE seq > $after AND seq <= $top "
            "AND location_id = $loc AND kind IN $kinds ORDER BY seq LIMIT $limit;",
            {
                "after": int(after_seq),
                "top": int(up_to_seq),
                "loc": location_id,
                "kinds": [str(k) for k in kinds],
                "limit": int(limit),
            },
        )
        return [RunEvent.model_validate(r) for r in rows]
