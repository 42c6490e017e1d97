"""Graph shapes shared by both tools' workloads (stdlib only: both interpreters import it).

A shape is a list of ``(name, upstream_names)`` pairs in topological order; every asset
computes ``1 + sum(inputs)``, so the same shape gives the same values in rivers and Dagster.
"""

from __future__ import annotations

import random

Shape = list[tuple[str, list[str]]]

LAYERS = 20
SEED = 42


def chain(n: int) -> Shape:
    """``a0 <- a1 <- ... <- a{n-1}``: each asset depends on the one before it."""
    return [(f"a{i}", [f"a{i - 1}"] if i else []) for i in range(n)]


def wide(n: int) -> Shape:
    """``n`` independent assets."""
    return [(f"a{i}", []) for i in range(n)]


def layered(n: int) -> Shape:
    """20 layers of ``n // 20`` assets; each depends on 1-3 random assets of the layer before."""
    rng = random.Random(SEED)
    width = max(1, n // LAYERS)
    shape: Shape = []
    previous: list[str] = []
    for layer in range(LAYERS):
        current = [f"l{layer}_{i}" for i in range(width)]
        for name in current:
            ups = rng.sample(previous, rng.randint(1, min(3, len(previous)))) if previous else []
            shape.append((name, ups))
        previous = current
    return shape


SHAPES = {"chain": chain, "wide": wide, "layered": layered}


def build(kind: str, n: int) -> Shape:
    """The shape ``kind`` (``chain``, ``wide`` or ``layered``) with ``n`` assets."""
    return SHAPES[kind](n)
