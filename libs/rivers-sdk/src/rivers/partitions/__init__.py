"""Partitions: definitions, keys, ranges, lazy key sets, mappings and backfill strategies.

Pure arithmetic over plain data: nothing here runs assets or touches storage except to read
the keys of dynamic partitions.

Example:
    >>> import rivers as rs
    >>> daily = rs.PartitionsDefinition.daily(start="2024-01-01")
    >>> keys = daily.resolve(rs.PartitionKeyRange.single("2024-01-01", "2024-01-31"))
    >>> len(keys), keys[0]
    (31, '2024-01-01')
"""

from rivers.partitions.backfill import BackfillStrategy
from rivers.partitions.defaults import default_partition_mapping
from rivers.partitions.definition import PartitionsDefinition
from rivers.partitions.errors import PartitionError
from rivers.partitions.keys import DimensionSelection, PartitionKey, PartitionKeyRange
from rivers.partitions.mapping import PartitionMapping
from rivers.partitions.selection import PartitionKeys
from rivers.partitions.timewindow import TimeWindow

__all__ = [
    "BackfillStrategy",
    "DimensionSelection",
    "PartitionError",
    "PartitionKey",
    "PartitionKeyRange",
    "PartitionKeys",
    "PartitionMapping",
    "PartitionsDefinition",
    "TimeWindow",
    "default_partition_mapping",
]
