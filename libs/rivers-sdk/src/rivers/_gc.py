"""Pausing the cyclic garbage collector around bulk allocation.

Resolving or planning thousands of assets allocates tens of thousands of small acyclic objects;
each allocation burst triggers full collections that rescan every live object, which on large
graphs costs more than the work itself. Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (re-enabled only if it was enabled)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
