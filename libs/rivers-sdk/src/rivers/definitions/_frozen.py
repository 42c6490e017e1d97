"""Pickling the frozen, slotted definition objects (assets and tasks).

Their ``__new__`` doubles as a decorator factory, so pickle's default (``cls.__new__(cls)``
then setting attributes) would rebuild a decorator instead; they pickle their slots and are
rebuilt here without running ``__new__`` or validation again.
"""

from __future__ import annotations

from typing import Any

__all__ = ["reduce_frozen", "restore_frozen"]


def _slots(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name not in names:
                names.append(name)
    return names


def reduce_frozen(obj: Any) -> tuple[Any, tuple[type, dict[str, Any]]]:
    """``__reduce__`` for a frozen slotted definition."""
    state = {name: getattr(obj, name) for name in _slots(type(obj)) if hasattr(obj, name)}
    return restore_frozen, (type(obj), state)


def restore_frozen(cls: type, state: dict[str, Any]) -> Any:
    """Rebuild a frozen slotted definition from its slots."""
    obj: Any = object.__new__(cls)
    for name, value in state.items():
        object.__setattr__(obj, name, value)
    return obj
