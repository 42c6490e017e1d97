"""Sets of partition keys that may be infinite: a finite set, or everything except one.

Conditions are evaluated over sets of keys. ``missing()`` is "every key except the
materialized ones", which would need the whole key space to write down; keeping it as a
complement makes ``&``, ``|`` and ``~`` cost O(size of the finite parts) and never enumerates
a partitions definition. The evaluator intersects the final result with the asset's keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import Any

__all__ = ["ALL", "EMPTY", "Key", "KeySet"]

Key = str | None  # None: the only "partition" of an unpartitioned asset


class KeySet:
    """Either the finite set ``keys`` or, with ``negated``, every key except ``keys``."""

    __slots__ = ("keys", "negated")

    def __init__(self, keys: Set[Key] | Iterable[Key] = frozenset(), negated: bool = False) -> None:
        self.keys: Set[Key] = keys if isinstance(keys, Set) else frozenset(keys)
        self.negated = negated

    def __and__(self, other: KeySet) -> KeySet:
        a, b = self.keys, other.keys
        if not self.negated:
            if not other.negated:
                return KeySet(a & b if len(a) <= len(b) else b & a)
            return KeySet(a - b) if b else self
        if not other.negated:
            return KeySet(b - a) if a else other
        return KeySet(a | b, True)

    def __or__(self, other: KeySet) -> KeySet:
        a, b = self.keys, other.keys
        if not self.negated:
            if not other.negated:
                return KeySet(a | b) if a else other
            return KeySet(b - a, True)
        if not other.negated:
            return KeySet(a - b, True)
        return KeySet(a & b, True)

    def __invert__(self) -> KeySet:
        return KeySet(self.keys, not self.negated)

    def __sub__(self, other: KeySet) -> KeySet:
        return self & ~other

    def __contains__(self, key: object) -> bool:
        return (key in self.keys) != self.negated

    def __bool__(self) -> bool:
        # A complement is never empty: no key space is bounded by what it excludes.
        return self.negated or bool(self.keys)

    @property
    def is_finite(self) -> bool:
        """Whether this is a plain finite set."""
        return not self.negated

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeySet):
            return NotImplemented
        return self.negated == other.negated and set(self.keys) == set(other.keys)

    __hash__ = None  # type: ignore[assignment]  # mutable views may sit inside

    def __repr__(self) -> str:
        keys = sorted(self.keys, key=_order)
        return f"KeySet(all except {keys})" if self.negated else f"KeySet({keys})"

    def frozen(self) -> KeySet:
        """A copy that owns its keys (results may share sets with the evaluator's status)."""
        return (
            self if isinstance(self.keys, frozenset) else KeySet(frozenset(self.keys), self.negated)
        )

    def to_data(self) -> dict[str, Any]:
        """Plain JSON data (keys sorted, ``None`` first)."""
        data: dict[str, Any] = {"keys": sorted(self.keys, key=_order)}
        if self.negated:
            data["negated"] = True
        return data

    @staticmethod
    def from_data(data: dict[str, Any]) -> KeySet:
        """The inverse of :meth:`to_data`."""
        return KeySet(frozenset(data.get("keys", ())), bool(data.get("negated", False)))


def _order(key: Key) -> tuple[bool, str]:
    return (key is not None, key or "")


EMPTY = KeySet()
ALL = KeySet(frozenset(), True)
