"""What the operations pages share: query parsing, JSON dumps, location names, partitions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from rivers_ui.errors import InvalidArgument

__all__ = ["dump", "partitions_label", "query_int"]


def dump(model: Any) -> Any:
    """A pydantic model's JSON-compatible form."""
    return model.model_dump(mode="json")


def query_int(request: web.Request, name: str, default: int, *, minimum: int = 0) -> int:
    """The integer query parameter ``name`` (``default`` when absent).

    Raises:
        InvalidArgument: not an integer, or below ``minimum``.
    """
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(f"query parameter {name!r} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise InvalidArgument(f"query parameter {name!r} must be >= {minimum}, got {value}")
    return value


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
