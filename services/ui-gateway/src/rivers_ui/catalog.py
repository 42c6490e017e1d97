"""Code locations and their assets, as storage knows them (no code server is called).

A location is *available* while its code server's heartbeat is younger than the location
timeout. Its assets come from the definitions snapshot it last published (read from storage by
id and cached: a snapshot id names immutable content), joined with the asset records.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from rivers.client.models import AssetDetails, AssetSummary, CodeLocationInfo
from rivers.storage.records import LocationRecord
from rivers.telemetry import get_logger
from rivers_ui.errors import FailedPrecondition, InvalidArgument, NotFound

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.storage import Storage

__all__ = ["Catalog"]

log = get_logger("rivers.ui")

#: Materializations GetAsset returns, newest first.
HISTORY_LIMIT = 100


class Catalog:
    """Reads locations, snapshots and asset records; every method blocks (run it in a thread).

    Args:
        storage: the shared store.
        location_timeout: seconds a heartbeat keeps a location available.
        snapshot_cache: decoded snapshots kept in memory, by id.
    """

    def __init__(
        self, storage: Storage, *, location_timeout: float, snapshot_cache: int = 32
    ) -> None:
        self.storage = storage
        self.location_timeout = location_timeout
        self._cache_size = snapshot_cache
        self._snapshots: OrderedDict[str, DefinitionsSnapshot] = OrderedDict()
        self._lock = threading.Lock()

    # --- locations -----------------------------------------------------------------------

    def info(self, location: LocationRecord, now: float | None = None) -> CodeLocationInfo:
        """A location with its liveness."""
        alive = location.is_available(time.time() if now is None else now, self.location_timeout)
        return CodeLocationInfo(
            identity=location.identity,
            name=location.name,
            endpoint=location.endpoint,
            last_heartbeat=location.last_heartbeat,
            snapshot_id=location.snapshot_id,
            status="available" if alive else "unavailable",
        )

    def locations(self) -> list[CodeLocationInfo]:
        """Every registered location, by name."""
        now = time.time()
        return [self.info(loc, now) for loc in self.storage.list_locations()]

    def location_names(self) -> dict[str, str]:
        """Location names by identity."""
        return {loc.identity: loc.name for loc in self.storage.list_locations()}

    def location(self, name: str | None) -> LocationRecord:
        """The location called ``name``; without a name, the only registered one.

        Raises:
            NotFound: no location has that name, or none is registered.
            InvalidArgument: no name given and several locations are registered.
        """
        locations = self.storage.list_locations()
        if name:
            for loc in locations:
                if loc.name == name:
                    return loc
            known = ", ".join(loc.name for loc in locations) or "none"
            raise NotFound(f"no code location named {name!r} (registered: {known})")
        if not locations:
            raise NotFound("no code location is registered (start one with `rivers serve`)")
        if len(locations) > 1:
            names = ", ".join(loc.name for loc in locations)
            raise InvalidArgument(f"several code locations are registered ({names}): pass one")
        return locations[0]

    # --- snapshots -----------------------------------------------------------------------

    def snapshot(self, snapshot_id: str) -> DefinitionsSnapshot | None:
        """The stored snapshot with that id (cached), or ``None``."""
        with self._lock:
            cached = self._snapshots.get(snapshot_id)
            if cached is not None:
                self._snapshots.move_to_end(snapshot_id)
                return cached
        snapshot = self.storage.get_snapshot(snapshot_id)
        if snapshot is None:
            return None
        with self._lock:
            self._snapshots[snapshot_id] = snapshot
            while len(self._snapshots) > self._cache_size:
                self._snapshots.popitem(last=False)
        return snapshot

    def current_snapshot(self, location: LocationRecord) -> DefinitionsSnapshot:
        """The snapshot the location's code server published last.

        Raises:
            FailedPrecondition: it has published none (its code server never started), or
                the snapshot is missing from storage.
        """
        if location.snapshot_id is None:
            raise FailedPrecondition(
                f"code location {location.name!r} has not published its definitions yet "
                "(is its code server running?)"
            )
        snapshot = self.snapshot(location.snapshot_id)
        if snapshot is None:
            raise FailedPrecondition(
                f"the definitions snapshot {location.snapshot_id} of code location "
                f"{location.name!r} is missing from storage"
            )
        return snapshot

    # --- assets --------------------------------------------------------------------------

    def assets(self, location: str | None = None) -> list[AssetSummary]:
        """Assets of one location (by name) or of every location that published a snapshot.

        Raises:
            NotFound: no location has that name.
        """
        if location:
            chosen = [self.location(location)]
        else:
            chosen = [loc for loc in self.storage.list_locations() if loc.snapshot_id]
        out: list[AssetSummary] = []
        for loc in chosen:
            if loc.snapshot_id is None:
                continue
            snapshot = self.snapshot(loc.snapshot_id)
            if snapshot is None:
                log.warning("ui.snapshot_missing", location=loc.name, snapshot=loc.snapshot_id)
                continue
            out.extend(self._summaries(loc, snapshot))
        return out

    def _summaries(
        self, location: LocationRecord, snapshot: DefinitionsSnapshot
    ) -> list[AssetSummary]:
        # Only unpartitioned assets have one latest materialization; reading just their
        # records keeps this one query however many partitions the others have.
        plain = [a.key for a in snapshot.assets if a.partitions_def is None]
        records = self.storage.get_asset_records(location.identity, plain) if plain else []
        latest = {r.asset_key: r for r in records if r.partition_key is None}
        out = []
        for asset in snapshot.assets:
            record = latest.get(asset.key)
            out.append(
                AssetSummary(
                    location=location.name,
                    asset=asset,
                    last_materialized_at=None if record is None else record.timestamp,
                    last_run_id=None if record is None else record.run_id,
                )
            )
        return out

    def asset(self, key: str, location: str | None = None) -> AssetDetails:
        """One asset with its materialization history (newest first).

        Raises:
            NotFound: no such asset (in that location), or no such location.
            InvalidArgument: no key, or several locations define it and none was named.
        """
        if not key:
            raise InvalidArgument("asset_key is required")
        if location:
            candidates = [self.location(location)]
        else:
            candidates = [loc for loc in self.storage.list_locations() if loc.snapshot_id]
        found: list[tuple[LocationRecord, DefinitionsSnapshot]] = []
        for loc in candidates:
            snapshot = self.snapshot(loc.snapshot_id) if loc.snapshot_id else None
            if snapshot is not None and key in snapshot.assets_by_key:
                found.append((loc, snapshot))
        if not found:
            where = f" in code location {location!r}" if location else ""
            raise NotFound(f"no asset {key!r}{where}")
        if len(found) > 1:
            names = ", ".join(loc.name for loc, _ in found)
            raise InvalidArgument(
                f"asset {key!r} is defined in several locations ({names}): pass one"
            )
        loc, snapshot = found[0]
        asset = snapshot.assets_by_key[key]
        record = (
            self.storage.get_asset_record(loc.identity, key)
            if asset.partitions_def is None
            else None
        )
        summary = AssetSummary(
            location=loc.name,
            asset=asset,
            last_materialized_at=None if record is None else record.timestamp,
            last_run_id=None if record is None else record.run_id,
        )
        history = self.storage.get_materializations(loc.identity, key, limit=HISTORY_LIMIT)
        return AssetDetails(summary=summary, materializations=tuple(history))
