"""Values an asset function may return instead of a bare value."""

from __future__ import annotations

from typing import Any

from rivers.definitions.metadata import MetadataValue, normalize_metadata

__all__ = ["Materialization", "Output"]


class Output:
    """An explicit output: the value plus metadata and an optional data version.

    Args:
        value: what the IO handler stores.
        output_name: which output of a multi-asset this is (defaults to the asset itself).
        metadata: recorded on the materialization event.
        data_version: a user-supplied version of the data (e.g. an ETag or a content hash).
    """

    __slots__ = ("data_version", "metadata", "output_name", "value")

    def __init__(
        self,
        value: Any = None,
        output_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        data_version: str | None = None,
    ) -> None:
        self.value = value
        self.output_name = output_name
        self.metadata: dict[str, MetadataValue] = normalize_metadata(metadata)
        self.data_version = data_version

    def __repr__(self) -> str:
        return f"Output(output_name={self.output_name!r}, data_version={self.data_version!r})"


class Materialization:
    """A recorded materialization that never calls the IO handler.

    Return it from terminal, side-effecting assets (pushing to an API, writing to an external
    system): rivers records a materialization event with this metadata and data version and
    stores nothing. Every executor takes the same code path.
    """

    __slots__ = ("data_version", "metadata")

    def __init__(
        self, metadata: dict[str, Any] | None = None, data_version: str | None = None
    ) -> None:
        self.metadata: dict[str, MetadataValue] = normalize_metadata(metadata)
        self.data_version = data_version

    def __repr__(self) -> str:
        return f"Materialization(data_version={self.data_version!r}, metadata={self.metadata!r})"
