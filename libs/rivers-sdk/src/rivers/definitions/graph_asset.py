"""``@rs.Asset.from_graph()``: an asset built from a graph of tasks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rivers.definitions.asset import Asset
from rivers.definitions.graph import compose_graph
from rivers.definitions.keys import asset_key
from rivers.definitions.signature import FunctionSpec, InputSpec
from rivers.errors import DefinitionError

__all__ = ["graph_asset_decorator"]


def graph_asset_decorator(
    *,
    name: str | None,
    key_prefix: str | Sequence[str] | None,
    io_handler: Any,
    node_io_handler: Any,
    partitions_def: Any,
    backfill_strategy: Any,
    metadata: dict[str, Any] | None,
    tags: dict[str, str] | None,
    group: str | None,
    code_version: str | None,
    description: str | None,
    automation_condition: Any = None,
) -> Callable[[Callable[[], Any]], Asset]:
    """The decorator behind ``rs.Asset.from_graph(...)``."""

    def decorator(body: Callable[[], Any]) -> Asset:
        label: str = name or str(getattr(body, "__name__", ""))
        try:
            key = asset_key(label, key_prefix)
        except ValueError as exc:
            raise DefinitionError(str(exc)) from None
        graph = compose_graph(key, body)
        # Every outer asset a task reads becomes an input of the graph asset, resolved (and
        # validated) by the repository like any other input; its arg_name is the reference.
        refs: list[str] = []
        for node in graph.nodes:
            for ref in node.outer_assets:
                if ref not in refs:
                    refs.append(ref)
        spec = FunctionSpec(
            inputs=tuple(
                InputSpec(
                    arg_name=ref,
                    ref=ref,
                    declared="/" in ref,
                    has_own_param=False,
                    optional=False,
                )
                for ref in refs
            ),
            deps=(),
            context_param=None,
            config_type=None,
            self_param=None,
            self_type=None,
            accepts_kwargs=False,
            is_async=False,
        )
        from rivers.definitions.asset import _doc

        return Asset._create(
            key=key,
            fn=body,
            spec=spec,
            kind="graph",
            io_handler=io_handler,
            metadata=metadata,
            tags=tags,
            group=group,
            retry_policy=None,
            code_version=code_version,
            description=description if description is not None else _doc(body),
            partitions_def=partitions_def,
            backfill_strategy=backfill_strategy,
            graph=graph,
            node_io_handler=node_io_handler,
            automation_condition=automation_condition,
        )

    return decorator
