"""``@rs.Asset.from_multi(...)``: one step producing several assets."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rivers.definitions.asset import Asset, _doc
from rivers.definitions.asset_def import AssetDef
from rivers.definitions.signature import analyze_function
from rivers.errors import DefinitionError

__all__ = ["MultiAsset", "multi_asset_decorator"]


class MultiAsset:
    """The assets one multi-asset function produces; list it in ``CodeRepository(assets=)``.

    Attributes:
        name: the step name (the function's name unless given).
        outputs: one ``rs.Asset`` per output definition.
    """

    __slots__ = ("fn", "name", "outputs")

    def __init__(self, name: str, fn: Callable[..., Any], outputs: tuple[Asset, ...]) -> None:
        self.name = name
        self.fn = fn
        self.outputs = outputs

    @property
    def keys(self) -> list[str]:
        """The keys of the produced assets."""
        return [a.key for a in self.outputs]

    def __iter__(self) -> Iterator[Asset]:
        return iter(self.outputs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (handy in unit tests)."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"MultiAsset({self.name!r}, outputs={self.keys})"


def multi_asset_decorator(
    output_defs: Sequence[AssetDef],
    *,
    name: str | None,
    deps: Sequence[Any] | None,
    io_handler: Any,
    partitions_def: Any,
    group: str | None,
    tags: dict[str, str] | None,
    metadata: dict[str, Any] | None,
    retry_policy: Any,
    pool: Any,
    pool_slots: int,
    code_version: str | None,
    automation_condition: Any = None,
) -> Callable[[Callable[..., Any]], MultiAsset]:
    """The decorator behind ``rs.Asset.from_multi(...)``."""
    outputs = list(output_defs)
    if not outputs or not all(isinstance(o, AssetDef) and o.role == "output" for o in outputs):
        raise DefinitionError(
            "from_multi(output_defs=...) takes a non-empty list of rs.AssetDef('name')"
        )
    keys = [o.key for o in outputs]
    if len(set(keys)) != len(keys):
        raise DefinitionError(f"from_multi: output keys repeat: {keys}")

    def decorator(fn: Callable[..., Any]) -> MultiAsset:
        step: str = name or str(getattr(fn, "__name__", ""))
        spec = analyze_function(fn, step, deps or ())
        if spec.self_param is not None:
            raise DefinitionError(f"multi-asset {step!r}: SelfDependency is not supported")
        assets = tuple(
            Asset._create(
                key=o.key,
                fn=fn,
                spec=spec,
                kind="multi",
                io_handler=o.io_handler or io_handler,
                metadata={**(metadata or {}), **o.metadata},
                tags=tags,
                group=group,
                retry_policy=retry_policy,
                code_version=code_version,
                description=o.description or _doc(fn),
                partitions_def=partitions_def,
                pool=pool,
                pool_slots=pool_slots,
                step_name=step,
                automation_condition=automation_condition,
            )
            for o in outputs
        )
        return MultiAsset(step, fn, assets)

    return decorator
