"""Asset keys: slash-separated paths such as ``"warehouse/orders"``."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["asset_key", "key_name", "validate_key"]

_PART = re.compile(r"^[A-Za-z0-9_\-.]+$")


def validate_key(key: str) -> str:
    """Check a full key (``a/b/name``) and return it.

    Raises:
        ValueError: an empty key or a part with characters other than letters, digits, ``_-.``.
    """
    parts = key.split("/")
    for part in parts:
        if not _PART.match(part):
            raise ValueError(
                f"invalid asset key {key!r}: each '/'-separated part must be non-empty and use "
                "only letters, digits, '_', '-' or '.' (example: 'warehouse/orders')"
            )
    return key


def asset_key(name: str, key_prefix: str | Sequence[str] | None = None) -> str:
    """Join an optional prefix (``"a/b"`` or ``["a", "b"]``) and a name into a key."""
    if key_prefix is None or key_prefix == [] or key_prefix == "":
        return validate_key(name)
    prefix = key_prefix if isinstance(key_prefix, str) else "/".join(key_prefix)
    return validate_key(f"{prefix}/{name}")


def key_name(key: str) -> str:
    """The last part of a key: the name parameters are matched against."""
    return key.rsplit("/", 1)[-1]
