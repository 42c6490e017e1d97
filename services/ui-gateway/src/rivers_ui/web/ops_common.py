"""What the operations pages share besides ``render``'s helpers: partition labels."""

from __future__ import annotations

from typing import Any

__all__ = ["partitions_label"]


def partitions_label(spec: dict[str, Any] | None) -> str:
    """A short human form of a partition selection's JSON (``all``, ``a … b``, ``3 keys``)."""
    if not spec:
        return "-"
    if spec.get("all"):
        return "all partitions"
    if "key" in spec:
        return str(spec["key"])
    keys = spec.get("keys")
    if isinstance(keys, list):
        if len(keys) <= 3:
            return ", ".join(str(k) for k in keys)
        return f"{len(keys)} partitions"
    bounds = spec.get("range")
    if isinstance(bounds, dict):
        return f"{bounds.get('start', '…')} … {bounds.get('end', '…')}"
    return ", ".join(f"{k}={v}" for k, v in spec.items())
