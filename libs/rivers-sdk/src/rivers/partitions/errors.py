"""The error raised for invalid partitions definitions, keys, ranges, mappings and strategies."""

from __future__ import annotations

from rivers.errors import RiversError

__all__ = ["PartitionError"]


class PartitionError(RiversError):
    """A partitions definition, key, range, mapping or backfill strategy is invalid.

    Messages name what was wrong and, for keys, show the expected format and a valid example.
    """
