"""Run config: validated against each asset's pydantic config type before anything runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from rivers.definitions.asset import Asset
from rivers.definitions.keys import key_name
from rivers.errors import RunConfigError

__all__ = ["merge_config", "validate_run_config"]


def merge_config(
    base: Mapping[str, Any] | None, override: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Job-level config overlaid with call-level config (per asset, field by field)."""
    merged: dict[str, Any] = dict(base or {})
    for key, value in (override or {}).items():
        prior = merged.get(key)
        if isinstance(prior, Mapping) and isinstance(value, Mapping):
            merged[key] = {**prior, **value}
        else:
            merged[key] = value
    return merged


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "<config>"
        got = err.get("input")
        shown = "" if err.get("type") == "missing" else f" (got {got!r})"
        parts.append(f"field {field!r}: {err.get('msg')}{shown}")
    return "; ".join(parts)


def _match(config_key: str, keys: Iterable[str]) -> str | None:
    candidates = [k for k in keys if k == config_key]
    if not candidates:
        candidates = [k for k in keys if key_name(k) == config_key]
    return candidates[0] if len(candidates) == 1 else None


def validate_run_config(
    assets: Mapping[str, Asset], selected: Iterable[str], config: Mapping[str, Any] | None
) -> dict[str, BaseModel]:
    """Build each selected asset's config instance from ``config`` (keyed by asset key/name).

    Raises:
        RunConfigError: config for an asset that is not selected or takes no config, or a value
            that does not validate (the message names the asset and the field).
    """
    selected = list(selected)
    given: dict[str, Any] = {}
    for raw_key, value in (config or {}).items():
        key = _match(raw_key, selected)
        if key is None:
            raise RunConfigError(
                f"run config names {raw_key!r}, which is not an asset selected in this run"
            )
        if assets[key].spec.config_type is None:
            raise RunConfigError(
                f"run config given for asset {key!r}, which takes no config (annotate its "
                "context as rs.AssetExecutionContext[YourConfig])"
            )
        given[key] = value
    out: dict[str, BaseModel] = {}
    for key in selected:
        config_type = assets[key].spec.config_type
        if config_type is None:
            continue
        value = given.get(key, {})
        if isinstance(value, config_type):
            out[key] = value
            continue
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if not isinstance(value, Mapping):
            raise RunConfigError(
                f"invalid run config for asset {key!r}: expected a mapping of fields for "
                f"{config_type.__name__}, got {type(value).__name__}"
            )
        try:
            # Calling the class (not model_validate) lets BaseSettings read the environment.
            out[key] = config_type(**value)
        except ValidationError as exc:
            raise RunConfigError(
                f"invalid run config for asset {key!r} ({config_type.__name__}): {_describe(exc)}"
            ) from None
    return out
