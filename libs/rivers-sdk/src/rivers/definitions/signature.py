"""Reading an asset function's signature: inputs, context, config type, self-dependency.

Everything here runs once, at decoration time, so a bad signature is an error naming the asset
before anything is planned.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from inspect import CO_VARARGS, CO_VARKEYWORDS
from pathlib import Path
from types import FunctionType
from typing import Any, NamedTuple

from pydantic import BaseModel

from rivers.definitions.asset_def import AssetDef
from rivers.errors import DefinitionError
from rivers.execution.context import AssetExecutionContext, SelfDependency

__all__ = ["FunctionSpec", "InputSpec", "analyze_function"]

_DEFINITIONS_DIR = str(Path(__file__).resolve().parent)


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One upstream value the function receives.

    ``ref`` is unresolved: a full key for ``AssetDef.input`` declarations, a parameter name for
    name-matched parameters; the repository resolves it against the assets it holds.
    """

    arg_name: str
    ref: str
    declared: bool
    has_own_param: bool
    optional: bool
    io_handler: Any = None
    metadata: Any = None
    partition_mapping: Any = None


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """What rivers needs to know to call one asset function."""

    inputs: tuple[InputSpec, ...]
    deps: tuple[AssetDef, ...]
    context_param: str | None
    config_type: type[BaseModel] | None
    self_param: str | None
    self_type: Any
    accepts_kwargs: bool
    is_async: bool


def _decorating_namespace() -> dict[str, Any] | None:
    """Locals of the first frame outside rivers' definitions package: the decorating code.

    With ``from __future__ import annotations`` a config class defined inside a function is
    only a string in the annotation; resolving it needs the namespace where the asset was
    decorated (as pydantic does for forward references). Only called while that code is
    still on the stack, and only when an annotation is a string.
    """
    frame: Any = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_DEFINITIONS_DIR):
        frame = frame.f_back
    return frame.f_locals if frame is not None else None


def _type_hints(fn: Callable[..., Any], owner: str) -> dict[str, Any]:
    raw: dict[str, Any] = getattr(fn, "__annotations__", {}) or {}
    if not any(isinstance(v, str) for v in raw.values()):
        return raw
    try:
        return typing.get_type_hints(fn, localns=_decorating_namespace(), include_extras=True)
    except Exception as exc:  # NameError and friends from the user's own annotations
        raise DefinitionError(
            f"asset {owner!r}: cannot resolve the annotations of {fn.__qualname__}: {exc}"
        ) from exc


def _config_type(annotation: Any, owner: str, param: str) -> type[BaseModel] | None:
    args = typing.get_args(annotation)
    if not args:
        return None
    (config,) = args
    if isinstance(config, type) and issubclass(config, BaseModel):
        return config
    raise DefinitionError(
        f"asset {owner!r}: parameter {param!r} is annotated AssetExecutionContext[{config!r}]; "
        "the config type must be a pydantic BaseModel or pydantic_settings BaseSettings subclass"
    )


def _is_context(annotation: Any) -> bool:
    return annotation is AssetExecutionContext or typing.get_origin(annotation) is (
        AssetExecutionContext
    )


def _is_self_dependency(annotation: Any) -> bool:
    return annotation is SelfDependency or typing.get_origin(annotation) is SelfDependency


class _Param(NamedTuple):
    name: str
    kind: inspect._ParameterKind
    has_default: bool


_KIND = inspect.Parameter


def _parameters(fn: Callable[..., Any], owner: str) -> list[_Param]:
    """The parameters of ``fn``; plain functions are read straight off their code object.

    ``inspect.signature`` costs ~25 µs per function, which dominates defining thousands of
    generated assets; anything that is not a plain, unwrapped function still goes through it.
    """
    if type(fn) is FunctionType and not hasattr(fn, "__wrapped__"):
        code = fn.__code__
        names = code.co_varnames
        npos, nkw, nposonly = code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount
        first_default = npos - len(fn.__defaults__ or ())
        kwdefaults = fn.__kwdefaults__ or {}
        out = [
            _Param(
                names[i],
                _KIND.POSITIONAL_ONLY if i < nposonly else _KIND.POSITIONAL_OR_KEYWORD,
                i >= first_default,
            )
            for i in range(npos)
        ]
        extra = npos + nkw
        if code.co_flags & CO_VARARGS:
            out.append(_Param(names[extra], _KIND.VAR_POSITIONAL, False))
            extra += 1
        out.extend(_Param(n, _KIND.KEYWORD_ONLY, n in kwdefaults) for n in names[npos : npos + nkw])
        if code.co_flags & CO_VARKEYWORDS:
            out.append(_Param(names[extra], _KIND.VAR_KEYWORD, False))
        return out
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"asset {owner!r}: cannot read the signature: {exc}") from exc
    return [
        _Param(p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in sig.parameters.values()
    ]


def analyze_function(
    fn: Callable[..., Any], owner: str, deps: Sequence[AssetDef | str | Any] = ()
) -> FunctionSpec:
    """Read ``fn``'s signature and the declared ``deps`` into a :class:`FunctionSpec`.

    Raises:
        DefinitionError: the signature cannot be called by rivers (positional-only or ``*args``
            parameters, two contexts, a declared input with nowhere to go, a bad config type).
    """
    params = _parameters(fn, owner)
    hints = _type_hints(fn, owner)

    context_param: str | None = None
    config_type: type[BaseModel] | None = None
    self_param: str | None = None
    self_type: Any = None
    accepts_kwargs = False
    named: list[_Param] = []
    for p in params:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_kwargs = True
            continue
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL):
            raise DefinitionError(
                f"asset {owner!r}: parameter {p.name!r} is positional-only or *args; rivers "
                "passes inputs by name, so use ordinary or keyword parameters"
            )
        annotation = hints.get(p.name, inspect.Parameter.empty)
        if _is_context(annotation) or (
            annotation is inspect.Parameter.empty and p.name == "context"
        ):
            if context_param is not None:
                raise DefinitionError(
                    f"asset {owner!r}: two context parameters ({context_param!r}, {p.name!r})"
                )
            context_param = p.name
            config_type = _config_type(annotation, owner, p.name)
            continue
        if _is_self_dependency(annotation):
            if self_param is not None:
                raise DefinitionError(f"asset {owner!r}: two SelfDependency parameters")
            self_param = p.name
            inner = typing.get_args(annotation)
            self_type = inner[0] if inner else None
            continue
        named.append(p)

    if isinstance(deps, str) or not isinstance(deps, Iterable):
        # A bare string would otherwise be read one character at a time as keys.
        raise DefinitionError(
            f"asset {owner!r}: deps= takes a list of keys, assets or rs.AssetDef declarations, "
            f"not {deps!r}"
        )
    inputs: list[InputSpec] = []
    dep_defs: list[AssetDef] = []
    by_param = {p.name: p for p in named}
    claimed: set[str] = set()
    for raw in deps:
        dep = _as_asset_def(raw, owner)
        if dep.role == "dep":
            dep_defs.append(dep)
            continue
        arg = dep.name
        if arg in claimed:
            raise DefinitionError(f"asset {owner!r}: two declared inputs are both named {arg!r}")
        if arg not in by_param and not accepts_kwargs:
            raise DefinitionError(
                f"asset {owner!r}: declared input {dep.key!r} has no parameter named {arg!r} "
                "and the function takes no **kwargs"
            )
        claimed.add(arg)
        inputs.append(
            InputSpec(
                arg_name=arg,
                ref=dep.key,
                declared=True,
                has_own_param=arg in by_param,
                optional=False,
                io_handler=dep.io_handler,
                metadata=dep.metadata,
                partition_mapping=dep.partition_mapping,
            )
        )
    for p in named:
        if p.name in claimed:
            continue
        inputs.append(
            InputSpec(
                arg_name=p.name,
                ref=p.name,
                declared=False,
                has_own_param=True,
                optional=p.has_default,
            )
        )
    return FunctionSpec(
        inputs=tuple(inputs),
        deps=tuple(dep_defs),
        context_param=context_param,
        config_type=config_type,
        self_param=self_param,
        self_type=self_type,
        accepts_kwargs=accepts_kwargs,
        is_async=inspect.iscoroutinefunction(fn),
    )


def _as_asset_def(raw: Any, owner: str) -> AssetDef:
    if isinstance(raw, AssetDef):
        if raw.role == "output":
            return AssetDef.dep(raw.key, metadata=dict(raw.metadata))
        return raw
    if isinstance(raw, str):
        return AssetDef.dep(raw)
    key = getattr(raw, "key", None)
    if isinstance(key, str):  # an Asset object
        return AssetDef.dep(key)
    raise DefinitionError(
        f"asset {owner!r}: deps entries must be AssetDef.input(...), AssetDef.dep(...), an asset "
        f"or a key string, not {raw!r}"
    )
