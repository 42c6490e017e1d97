"""``AssetDef``: declared outputs of multi-assets and declared dependencies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from rivers.definitions.keys import asset_key
from rivers.definitions.metadata import MetadataValue, normalize_metadata

if TYPE_CHECKING:
    from rivers.execution.io import IOHandler

__all__ = ["AssetDef", "DependencyRole"]

DependencyRole = Literal["output", "input", "dep"]


class AssetDef:
    """A reference to an asset by key, in one of three roles.

    - ``AssetDef("users")``: an output declared by a multi-asset.
    - ``AssetDef.input("source", partition_mapping=, io_handler=, metadata=)``: an upstream
      whose value is loaded through its IO handler and passed to the parameter named after
      the key's last part (or to ``**kwargs``).
    - ``AssetDef.dep("trigger")``: an ordering and lineage edge only; nothing is loaded.
    """

    __slots__ = ("description", "io_handler", "key", "metadata", "partition_mapping", "role")

    def __init__(
        self,
        key: str | Any,
        *,
        key_prefix: str | list[str] | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        io_handler: IOHandler | None = None,
        partition_mapping: Any = None,
        role: DependencyRole = "output",
    ) -> None:
        raw = getattr(key, "key", key)  # an Asset object stands for its key
        if not isinstance(raw, str):
            raise TypeError(f"AssetDef takes an asset key string or an asset, not {key!r}")
        self.key = asset_key(raw, key_prefix)
        self.role: DependencyRole = role
        self.description = description
        self.metadata: dict[str, MetadataValue] = normalize_metadata(metadata)
        self.io_handler = io_handler
        self.partition_mapping = partition_mapping

    @staticmethod
    def input(
        key: str | Any,
        *,
        partition_mapping: Any = None,
        io_handler: IOHandler | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> AssetDef:
        """An upstream asset whose value is loaded and passed in by parameter name."""
        return AssetDef(
            key,
            role="input",
            partition_mapping=partition_mapping,
            io_handler=io_handler,
            metadata=metadata,
        )

    @staticmethod
    def dep(
        key: str | Any, *, partition_mapping: Any = None, metadata: dict[str, Any] | None = None
    ) -> AssetDef:
        """An upstream asset that only orders execution and records lineage."""
        return AssetDef(key, role="dep", partition_mapping=partition_mapping, metadata=metadata)

    @property
    def name(self) -> str:
        """The key's last part, which a parameter of the same name receives."""
        return self.key.rsplit("/", 1)[-1]

    def __repr__(self) -> str:
        if self.role == "output":
            return f"AssetDef({self.key!r})"
        return f"AssetDef.{self.role}({self.key!r})"
