"""A JSON form of what partitions a run or backfill covers, as the user asked for them.

Stored with runs and backfills (and carried by the API) so a run queued now can be executed
later, elsewhere, with exactly the partitions requested.
"""

from __future__ import annotations

from typing import Any

from rivers.partitions.errors import PartitionError
from rivers.partitions.keys import PartitionKey, PartitionKeyRange

__all__ = ["selection_from_json", "selection_to_json"]


def selection_to_json(spec: Any) -> dict[str, Any] | None:
    """``None`` (all or unpartitioned), a key, a ``PartitionKey``, a range or a key list."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return {"key": spec}
    if isinstance(spec, PartitionKey):
        return {"partition_key": spec.model_dump(mode="json")}
    if isinstance(spec, PartitionKeyRange):
        return {"range": spec.model_dump(mode="json")}
    try:
        return {"keys": [str(k) for k in spec]}
    except TypeError:
        raise PartitionError(f"cannot describe partitions {spec!r}") from None


def selection_from_json(data: dict[str, Any] | None) -> Any:
    """The partition spec :func:`selection_to_json` described (what ``resolve`` accepts)."""
    if not data:
        return None
    if "key" in data:
        return str(data["key"])
    if "partition_key" in data:
        return PartitionKey.model_validate(data["partition_key"])
    if "range" in data:
        return PartitionKeyRange.model_validate(data["range"])
    if "keys" in data:
        return [str(k) for k in data["keys"]]
    if data.get("all"):
        return None
    raise PartitionError(f"unknown partition selection {data!r}")
