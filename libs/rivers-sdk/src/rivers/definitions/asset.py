"""``rs.Asset``: the decorator and the frozen definition object it returns."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from rivers.definitions._frozen import reduce_frozen
from rivers.definitions.asset_def import AssetDef
from rivers.definitions.keys import asset_key, key_name
from rivers.definitions.metadata import MetadataValue, normalize_metadata, normalize_tags
from rivers.definitions.retry import RetryPolicy
from rivers.definitions.signature import FunctionSpec, analyze_function
from rivers.errors import DefinitionError

if TYPE_CHECKING:
    from rivers.automation.condition import AutomationCondition
    from rivers.definitions.graph import GraphDefinition
    from rivers.definitions.multi import MultiAsset
    from rivers.execution.io import IOHandler
    from rivers.partitions import BackfillStrategy, PartitionsDefinition

__all__ = ["EXECUTOR_METADATA_KEY", "Asset", "AssetKind"]

AssetKind = Literal["asset", "external", "graph", "multi"]
EXECUTOR_METADATA_KEY = "rivers/executor"
_KNOWN_EXECUTORS = frozenset({"in_process", "parallel"})
_GROUP = re.compile(r"^[A-Za-z0-9_\-]+$")

_EMPTY_SPEC = FunctionSpec(
    inputs=(),
    deps=(),
    context_param=None,
    config_type=None,
    self_param=None,
    self_type=None,
    accepts_kwargs=False,
    is_async=False,
)


class Asset:
    """A data asset: a function whose return value rivers stores and tracks.

    Use it bare (``@rs.Asset``) or with arguments (``@rs.Asset(group="sales", ...)``).
    Parameters named after other assets are inputs; a parameter annotated
    ``rs.AssetExecutionContext[ConfigT]`` receives the context; ``rs.SelfDependency[T]`` the
    asset's own previous value. The decorated object stays callable like the function.

    Args:
        name: the key's last part (default: the function name).
        key_prefix: a prefix such as ``"warehouse"`` or ``["warehouse", "raw"]``.
        deps: ``rs.AssetDef.input(...)`` / ``rs.AssetDef.dep(...)`` declarations, keys or assets.
        io_handler: stores this asset's value and loads it for downstream assets.
        metadata: definition metadata; ``{"rivers/executor": "in_process"}`` overrides the executor.
        tags: string tags describing the asset (selectable with ``tag:KEY=VALUE``).
        group: the asset group (default ``"default"``).
        retry_policy: retries of a failed step.
        pool: a concurrency pool (or a list: the step waits until every pool has room).
        pool_slots: slots the step takes in each of its pools (default 1).
        partitions_def: an ``rs.PartitionsDefinition``: the asset is materialized per partition.
        backfill_strategy: how backfills run it (``rs.BackfillStrategy``; default one run per
            partition).
        code_version: a version string of the asset's code.
        description: defaults to the function's docstring.
        automation_condition: when the location's daemon requests the asset by itself
            (``rs.AutomationCondition.eager()``, ``.on_cron("0 6 * * *")`` ...).
    """

    __slots__ = (
        "_frozen",
        "automation_condition",
        "backfill_strategy",
        "code_version",
        "description",
        "fn",
        "graph",
        "group",
        "io_handler",
        "key",
        "kind",
        "metadata",
        "node_io_handler",
        "partitions_def",
        "pool_slots",
        "pools",
        "retry_policy",
        "spec",
        "step_name",
        "tags",
    )

    key: str
    fn: Callable[..., Any] | None
    spec: FunctionSpec
    kind: AssetKind
    io_handler: IOHandler | None
    metadata: dict[str, MetadataValue]
    tags: dict[str, str]
    group: str
    retry_policy: RetryPolicy | None
    partitions_def: PartitionsDefinition | None
    backfill_strategy: BackfillStrategy | None
    pools: tuple[str, ...]
    pool_slots: int
    graph: GraphDefinition | None
    node_io_handler: IOHandler | None
    step_name: str | None
    code_version: str | None
    description: str | None
    automation_condition: AutomationCondition | None

    @overload
    def __new__(cls, fn: Callable[..., Any], /) -> Asset: ...

    @overload
    def __new__(  # type: ignore[misc]  # the with-arguments form returns a decorator
        cls,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        key_prefix: str | Sequence[str] | None = None,
        deps: Sequence[AssetDef | str | Asset] | None = None,
        io_handler: IOHandler | None = None,
        metadata: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        group: str | None = None,
        retry_policy: RetryPolicy | None = None,
        partitions_def: PartitionsDefinition | None = None,
        backfill_strategy: BackfillStrategy | None = None,
        pool: str | Sequence[str] | None = None,
        pool_slots: int = 1,
        code_version: str | None = None,
        description: str | None = None,
        automation_condition: AutomationCondition | None = None,
    ) -> Callable[[Callable[..., Any]], Asset]: ...

    def __new__(cls, fn: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        """Decorate ``fn`` (bare form) or return a decorator (with-arguments form)."""
        if fn is not None:
            if kwargs or not callable(fn):
                raise TypeError(
                    "use @rs.Asset on a function, or @rs.Asset(name=..., ...) with keyword "
                    "arguments only"
                )
            return cls._build(fn, **kwargs)

        def decorator(f: Callable[..., Any]) -> Asset:
            return cls._build(f, **kwargs)

        return decorator

    @classmethod
    def _build(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        key_prefix: str | Sequence[str] | None = None,
        deps: Sequence[AssetDef | str | Asset] | None = None,
        io_handler: IOHandler | None = None,
        metadata: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        group: str | None = None,
        retry_policy: RetryPolicy | None = None,
        partitions_def: PartitionsDefinition | None = None,
        backfill_strategy: BackfillStrategy | None = None,
        pool: str | Sequence[str] | None = None,
        pool_slots: int = 1,
        code_version: str | None = None,
        description: str | None = None,
        automation_condition: AutomationCondition | None = None,
    ) -> Asset:
        if not callable(fn):
            raise TypeError(f"@rs.Asset decorates functions, not {fn!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise DefinitionError(f"@rs.Asset(name=...) must be a non-empty string, not {name!r}")
        label: str = name or getattr(fn, "__name__", None) or repr(fn)
        try:
            key = asset_key(label, key_prefix)
        except ValueError as exc:
            raise DefinitionError(str(exc)) from None
        spec = analyze_function(fn, key, deps or ())
        return cls._create(
            key=key,
            fn=fn,
            spec=spec,
            kind="asset",
            io_handler=io_handler,
            metadata=metadata,
            tags=tags,
            group=group,
            retry_policy=retry_policy,
            partitions_def=partitions_def,
            backfill_strategy=backfill_strategy,
            pool=pool,
            pool_slots=pool_slots,
            code_version=code_version,
            description=description if description is not None else _doc(fn),
            automation_condition=automation_condition,
        )

    @classmethod
    def _create(
        cls,
        *,
        key: str,
        fn: Callable[..., Any] | None,
        spec: FunctionSpec,
        kind: AssetKind,
        io_handler: Any,
        metadata: dict[str, Any] | None,
        tags: dict[str, str] | None,
        group: str | None,
        retry_policy: RetryPolicy | None,
        code_version: str | None,
        description: str | None,
        partitions_def: Any = None,
        backfill_strategy: Any = None,
        pool: Any = None,
        pool_slots: int = 1,
        graph: GraphDefinition | None = None,
        node_io_handler: Any = None,
        step_name: str | None = None,
        automation_condition: Any = None,
    ) -> Asset:
        self = object.__new__(cls)
        set_ = object.__setattr__
        set_(self, "key", key)
        set_(self, "fn", fn)
        set_(self, "spec", spec)
        set_(self, "kind", kind)
        set_(self, "io_handler", _check_io_handler(io_handler, key))
        try:
            set_(self, "metadata", normalize_metadata(metadata))
        except TypeError as exc:
            raise DefinitionError(f"asset {key!r}: {exc}") from None
        try:
            set_(self, "tags", normalize_tags(tags))
        except TypeError as exc:
            raise DefinitionError(f"asset {key!r}: {exc}") from None
        set_(self, "group", _check_group(group, key))
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise DefinitionError(f"asset {key!r}: retry_policy must be an rs.RetryPolicy")
        set_(self, "retry_policy", retry_policy)
        set_(self, "partitions_def", _check_partitions(partitions_def, backfill_strategy, key))
        set_(self, "backfill_strategy", backfill_strategy)
        set_(self, "pools", _check_pools(pool, key))
        if not isinstance(pool_slots, int) or isinstance(pool_slots, bool) or pool_slots < 1:
            raise DefinitionError(f"asset {key!r}: pool_slots must be a positive int")
        if pool_slots != 1 and not self.pools:
            raise DefinitionError(f"asset {key!r}: pool_slots needs a pool")
        set_(self, "pool_slots", pool_slots)
        set_(self, "code_version", code_version)
        set_(self, "description", description)
        set_(self, "graph", graph)
        set_(self, "node_io_handler", _check_io_handler(node_io_handler, key))
        set_(self, "step_name", step_name)
        set_(self, "automation_condition", _check_condition(automation_condition, key))
        executor = self.metadata.get(EXECUTOR_METADATA_KEY)
        if executor is not None and executor.value not in _KNOWN_EXECUTORS:
            raise DefinitionError(
                f"asset {key!r}: metadata {EXECUTOR_METADATA_KEY!r} is {executor.value!r}; "
                f"known executors: {sorted(_KNOWN_EXECUTORS)}"
            )
        set_(self, "_frozen", True)
        return self

    @staticmethod
    def external(
        name: str,
        *,
        key_prefix: str | Sequence[str] | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        io_handler: IOHandler | None = None,
        group: str | None = None,
        tags: dict[str, str] | None = None,
        partitions_def: PartitionsDefinition | None = None,
    ) -> Asset:
        """An asset produced outside rivers: it can be depended on, never run.

        Downstream assets load it through ``io_handler`` (or the repository's).
        """
        try:
            key = asset_key(name, key_prefix)
        except ValueError as exc:
            raise DefinitionError(str(exc)) from None
        return Asset._create(
            key=key,
            fn=None,
            spec=_EMPTY_SPEC,
            kind="external",
            io_handler=io_handler,
            metadata=metadata,
            tags=tags,
            group=group,
            retry_policy=None,
            code_version=None,
            description=description,
            partitions_def=partitions_def,
        )

    @staticmethod
    def from_graph(
        name: str | None = None,
        *,
        key_prefix: str | Sequence[str] | None = None,
        io_handler: IOHandler | None = None,
        node_io_handler: IOHandler | None = None,
        partitions_def: PartitionsDefinition | None = None,
        backfill_strategy: BackfillStrategy | None = None,
        metadata: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        group: str | None = None,
        code_version: str | None = None,
        description: str | None = None,
        automation_condition: AutomationCondition | None = None,
    ) -> Callable[[Callable[[], Any]], Asset]:
        """Compose ``@rs.Task`` calls into one asset whose tasks are separate plan steps.

        The decorated body runs once at definition time and wires tasks together: call tasks
        with each other's outputs, call assets to use their values, ``.map(task)`` to fan
        out over items, ``.collect()`` / ``.collect_stream()`` to gather. It returns the task
        output that becomes the asset's value (stored by ``io_handler``); intermediate outputs
        go through ``node_io_handler`` (default: the repository's IO handler).
        """
        from rivers.definitions.graph_asset import graph_asset_decorator

        return graph_asset_decorator(
            name=name,
            key_prefix=key_prefix,
            io_handler=io_handler,
            node_io_handler=node_io_handler,
            partitions_def=partitions_def,
            backfill_strategy=backfill_strategy,
            metadata=metadata,
            tags=tags,
            group=group,
            code_version=code_version,
            description=description,
            automation_condition=automation_condition,
        )

    @staticmethod
    def from_multi(
        output_defs: Sequence[AssetDef],
        *,
        name: str | None = None,
        deps: Sequence[AssetDef | str | Asset] | None = None,
        io_handler: IOHandler | None = None,
        partitions_def: PartitionsDefinition | None = None,
        group: str | None = None,
        tags: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
        retry_policy: RetryPolicy | None = None,
        pool: str | Sequence[str] | None = None,
        pool_slots: int = 1,
        code_version: str | None = None,
        automation_condition: AutomationCondition | None = None,
    ) -> Callable[[Callable[..., Any]], MultiAsset]:
        """One function (one step) producing several assets, yielding ``rs.Output`` each.

        The function yields ``rs.Output(value, output_name="users")`` per output; a run that
        selects only some outputs still calls it once, with ``context.output_selection``
        naming the selected ones so it can skip the rest. ``automation_condition`` applies to
        every output.
        """
        from rivers.definitions.multi import multi_asset_decorator

        return multi_asset_decorator(
            output_defs,
            name=name,
            deps=deps,
            io_handler=io_handler,
            partitions_def=partitions_def,
            group=group,
            tags=tags,
            metadata=metadata,
            retry_policy=retry_policy,
            pool=pool,
            pool_slots=pool_slots,
            code_version=code_version,
            automation_condition=automation_condition,
        )

    @property
    def name(self) -> str:
        """The key's last part."""
        return key_name(self.key)

    @property
    def step_key(self) -> str:
        """The plan step that materializes this asset (shared by a multi-asset's outputs)."""
        return self.step_name or self.key

    @property
    def executor_override(self) -> str | None:
        """The executor named by the ``rivers/executor`` metadata key, if any."""
        value = self.metadata.get(EXECUTOR_METADATA_KEY)
        return None if value is None else str(value.value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (handy in unit tests).

        Inside a graph body (``@rs.Asset.from_graph``) it returns a handle to this asset's
        value instead.
        """
        from rivers.definitions.graph import current_composition

        composition = current_composition()
        if composition is not None:
            if args or kwargs:
                raise DefinitionError(
                    f"inside a graph body, asset {self.key!r} is called without arguments "
                    "(its value is loaded, not computed)"
                )
            return composition.asset(self.key)
        if self.fn is None or self.kind == "graph":
            raise TypeError(f"{self.kind} asset {self.key!r} has no function to call directly")
        return self.fn(*args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"asset definitions are frozen; cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_frozen(self)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"asset definitions are frozen; cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"Asset({self.key!r})"


def _doc(fn: Callable[..., Any]) -> str | None:
    doc = inspect.getdoc(fn)
    return doc or None


def _check_group(group: str | None, key: str) -> str:
    if group is None:
        return "default"
    if not isinstance(group, str) or not _GROUP.match(group):
        raise DefinitionError(f"asset {key!r}: group {group!r} must be letters, digits, '_' or '-'")
    return group


def _check_io_handler(handler: Any, key: str) -> Any:
    if handler is None:
        return None
    from rivers.execution.io import IOHandler

    if not isinstance(handler, IOHandler):
        raise DefinitionError(
            f"asset {key!r}: io_handler must be an rs.IOHandler instance, not {handler!r}"
        )
    return handler


def _check_condition(condition: Any, key: str) -> Any:
    if condition is None:
        return None
    from rivers.automation.condition import AutomationCondition

    if not isinstance(condition, AutomationCondition):
        raise DefinitionError(
            f"asset {key!r}: automation_condition must be an rs.AutomationCondition, "
            f"not {condition!r}"
        )
    return condition


def _check_pools(pool: Any, key: str) -> tuple[str, ...]:
    if pool is None:
        return ()
    names = [pool] if isinstance(pool, str) else list(pool)
    for name in names:
        if not isinstance(name, str) or not _GROUP.match(name):
            raise DefinitionError(
                f"asset {key!r}: pool names are letters, digits, '_' or '-', not {name!r}"
            )
    if len(set(names)) != len(names):
        raise DefinitionError(f"asset {key!r}: pool {names} lists a pool twice")
    return tuple(names)


def _check_partitions(partitions_def: Any, strategy: Any, key: str) -> Any:
    if partitions_def is None and strategy is None:
        return None
    from rivers.partitions import BackfillStrategy, PartitionsDefinition

    if partitions_def is not None and not isinstance(partitions_def, PartitionsDefinition):
        raise DefinitionError(
            f"asset {key!r}: partitions_def must be an rs.PartitionsDefinition, "
            f"not {partitions_def!r}"
        )
    if strategy is not None:
        if not isinstance(strategy, BackfillStrategy):
            raise DefinitionError(
                f"asset {key!r}: backfill_strategy must be an rs.BackfillStrategy, not {strategy!r}"
            )
        if partitions_def is None:
            raise DefinitionError(f"asset {key!r}: backfill_strategy needs a partitions_def")
    return partitions_def
