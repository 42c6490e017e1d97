"""``rs.Task`` and ``rs.BashTask``: the operations graph assets are composed of."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, overload

from rivers.definitions._frozen import reduce_frozen
from rivers.definitions.metadata import MetadataValue, normalize_metadata
from rivers.definitions.retry import RetryPolicy
from rivers.definitions.signature import FunctionSpec, analyze_function
from rivers.errors import DefinitionError

__all__ = ["NODE_EXECUTOR_METADATA_KEY", "BashTask", "Task"]

#: Metadata key choosing the executor of one task inside a graph asset.
NODE_EXECUTOR_METADATA_KEY = "rivers/node/executor"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Task:
    """An operation inside a graph asset (``@rs.Asset.from_graph()``).

    Called inside a graph body it returns a handle (nothing runs yet); called anywhere else it
    simply calls the function. Parameters not passed explicitly but named after assets are
    loaded from those assets. ``async def`` tasks are awaited on the run's event loop.

    Args:
        name: the task name (default: the function name).
        metadata: ``{"rivers/node/executor": "in_process" | "parallel"}`` picks this task's
            executor.
        retry_policy: retries of a failed task.
        description: defaults to the docstring.
    """

    __slots__ = ("description", "fn", "metadata", "name", "retry_policy", "spec")

    fn: Callable[..., Any]
    name: str
    spec: FunctionSpec
    metadata: dict[str, MetadataValue]
    retry_policy: RetryPolicy | None
    description: str | None

    @overload
    def __new__(cls, fn: Callable[..., Any], /) -> Task: ...

    @overload
    def __new__(  # type: ignore[misc]  # the with-arguments form returns a decorator
        cls,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        retry_policy: RetryPolicy | None = None,
        description: str | None = None,
    ) -> Callable[[Callable[..., Any]], Task]: ...

    def __new__(cls, fn: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        """Decorate ``fn`` (bare form) or return a decorator (with-arguments form)."""
        if fn is not None:
            if kwargs:
                raise TypeError("use @rs.Task or @rs.Task(name=..., ...) with keyword arguments")
            return cls._build(fn)

        def decorator(f: Callable[..., Any]) -> Task:
            return cls._build(f, **kwargs)

        return decorator

    @classmethod
    def _build(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        retry_policy: RetryPolicy | None = None,
        description: str | None = None,
    ) -> Task:
        if not callable(fn):
            raise TypeError(f"@rs.Task decorates functions, not {fn!r}")
        task_name: str = name or str(getattr(fn, "__name__", ""))
        if not _NAME.match(task_name):
            raise DefinitionError(f"task name {task_name!r} must be a Python identifier")
        self = object.__new__(cls)
        self._init(
            fn=fn,
            name=task_name,
            metadata=metadata,
            retry_policy=retry_policy,
            description=description if description is not None else inspect.getdoc(fn),
        )
        return self

    def _init(
        self,
        *,
        fn: Callable[..., Any],
        name: str,
        metadata: dict[str, Any] | None,
        retry_policy: RetryPolicy | None,
        description: str | None,
    ) -> None:
        owner = f"task {name}"
        set_ = object.__setattr__
        set_(self, "fn", fn)
        set_(self, "name", name)
        set_(self, "spec", analyze_function(fn, owner))
        try:
            set_(self, "metadata", normalize_metadata(metadata))
        except TypeError as exc:
            raise DefinitionError(f"{owner}: {exc}") from None
        executor = self.metadata.get(NODE_EXECUTOR_METADATA_KEY)
        if executor is not None and executor.value not in ("in_process", "parallel"):
            raise DefinitionError(
                f"{owner}: {NODE_EXECUTOR_METADATA_KEY!r} must be 'in_process' or 'parallel'"
            )
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise DefinitionError(f"{owner}: retry_policy must be an rs.RetryPolicy")
        set_(self, "retry_policy", retry_policy)
        set_(self, "description", description)

    @property
    def executor_override(self) -> str | None:
        """The executor named by ``rivers/node/executor`` metadata, if any."""
        value = self.metadata.get(NODE_EXECUTOR_METADATA_KEY)
        return None if value is None else str(value.value)

    @property
    def is_async(self) -> bool:
        """Whether the task body is ``async def``."""
        return self.spec.is_async

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside a graph body: a handle to this task's output. Elsewhere: call the function."""
        from rivers.definitions.graph import current_composition

        composition = current_composition()
        if composition is not None:
            return composition.call(self, args, kwargs)
        return self.fn(*args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"tasks are frozen; cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_frozen(self)

    def __repr__(self) -> str:
        return f"Task({self.name!r})"


class BashTask(Task):
    """A shell command as a task: ``@rs.BashTask(command=[...], env={...}, cwd=...)``.

    The decorated function's body is not run; its name names the task. The command runs with
    ``env`` added to the environment and in ``cwd``; its stdout and stderr stream into the
    step's log line by line; the task's value is its stdout. A non-zero exit fails the step
    with the tail of stderr. Picklable: it runs on every executor.
    """

    __slots__ = ("command", "cwd", "env")

    command: tuple[str, ...]
    env: dict[str, str]
    cwd: str | None

    def __new__(  # type: ignore[misc]  # returns a decorator
        cls,
        *,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Callable[[Callable[..., Any]], BashTask]:
        """Return a decorator turning a placeholder function into a shell task."""
        if isinstance(command, str) or not command or not all(isinstance(c, str) for c in command):
            raise DefinitionError(
                "BashTask(command=...) takes a non-empty list of strings, e.g. "
                "['python', '-m', 'my.script']"
            )
        if env is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise DefinitionError("BashTask(env=...) maps strings to strings")

        def decorator(fn: Callable[..., Any]) -> BashTask:
            self = object.__new__(cls)
            task_name: str = name or str(getattr(fn, "__name__", ""))
            if not _NAME.match(task_name):
                raise DefinitionError(f"task name {task_name!r} must be a Python identifier")
            object.__setattr__(self, "command", tuple(command))
            object.__setattr__(self, "env", dict(env or {}))
            object.__setattr__(self, "cwd", cwd)
            self._init(
                fn=_no_inputs,
                name=task_name,
                metadata=metadata,
                retry_policy=retry_policy,
                description=inspect.getdoc(fn),
            )
            return self

        return decorator

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside a graph body: a handle to the command's output. Elsewhere: run it now."""
        from rivers.definitions.graph import current_composition

        composition = current_composition()
        if composition is not None:
            return composition.call(self, args, kwargs)
        from rivers.execution.bash import run_bash

        return run_bash(self, lambda stream, line: None)

    def __repr__(self) -> str:
        return f"BashTask({self.name!r}, command={list(self.command)!r})"


def _no_inputs() -> None:
    """A shell task takes no inputs; its command is its body."""
