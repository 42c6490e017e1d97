"""KeySet: finite sets and complements combine exactly like sets over any key space."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rivers.automation._keyset import ALL, EMPTY, KeySet

SPACE = frozenset({None, "a", "b", "c", "d"})
KEYSETS = st.builds(KeySet, st.frozensets(st.sampled_from(sorted(SPACE, key=str))), st.booleans())


def members(keys: KeySet) -> frozenset[str | None]:
    return frozenset(k for k in SPACE if k in keys)


@given(KEYSETS, KEYSETS)
def test_operators_match_set_algebra(a: KeySet, b: KeySet):
    """&, |, - and ~ agree with frozenset algebra inside a finite space."""
    assert members(a & b) == members(a) & members(b)
    assert members(a | b) == members(a) | members(b)
    assert members(a - b) == members(a) - members(b)
    assert members(~a) == SPACE - members(a)


@given(KEYSETS)
def test_data_round_trip_and_identities(a: KeySet):
    """to_data/from_data is exact; ALL and EMPTY are the identities of & and |."""
    assert KeySet.from_data(a.to_data()) == a
    assert members(a & ALL) == members(a) and members(a | EMPTY) == members(a)
    assert not (a & EMPTY) and (a | ALL)
