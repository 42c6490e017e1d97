"""Structured logs over the standard library's ``rivers`` loggers.

Library code logs through :func:`get_logger`: a structlog logger bound to
``logging.getLogger(name)``, so applications control rivers' log level and handlers the usual
way and nothing is printed unless they (or a rivers command) configure logging. structlog is
imported on first use, keeping ``import rivers`` light.

Entries logged while a run or step executes carry its ``run_id`` and ``step_key``
(:func:`bind_ids`, a context variable: right per thread and per asyncio task).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from typing import Any, Literal

__all__ = ["bind_ids", "configure_logging", "get_logger", "is_internal_logger"]

_ids: ContextVar[dict[str, str]] = ContextVar("rivers_log_ids", default={})  # noqa: B039 - never mutated
_internal: set[str] = set()
# What configure_logging renders: rivers' own entries below it are dropped before processing,
# although the ``rivers`` logger itself lets everything through (for the step log bridge).
_render_level = logging.NOTSET


@contextlib.contextmanager
def bind_ids(**ids: str) -> Iterator[None]:
    """Add ``ids`` (``run_id``, ``step_key``) to every rivers log entry inside the block."""
    token = _ids.set({**_ids.get(), **ids})
    try:
        yield
    finally:
        try:
            _ids.reset(token)
        except ValueError:  # closed from another context (a collected generator)
            _ids.set({})


def _add_ids(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    for key, value in _ids.get().items():
        event_dict.setdefault(key, value)
    return event_dict


def _filter_by_level(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    import structlog

    level = logging.getLevelName(method.upper()) if method != "exception" else logging.ERROR
    if not isinstance(level, int):
        level = logging.INFO
    if level < _render_level or not logger.isEnabledFor(level):
        raise structlog.DropEvent
    return event_dict


def is_internal_logger(name: str) -> bool:
    """Whether ``name`` is one of rivers' own loggers (not a user's ``rivers.*`` logger)."""
    return name in _internal


class _LazyLogger:
    """A structlog ``BoundLogger`` over a stdlib logger, built on first use."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def _get(self) -> Any:
        if self._logger is None:
            import structlog

            self._logger = structlog.wrap_logger(
                logging.getLogger(self._name),
                wrapper_class=structlog.stdlib.BoundLogger,
                processors=[
                    _filter_by_level,
                    structlog.stdlib.add_log_level,
                    _add_ids,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
                ],
            )
        return self._logger

    def bind(self, **values: Any) -> Any:
        """A logger with ``values`` bound to every entry."""
        return self._get().bind(**values)

    def __getattr__(self, method: str) -> Any:
        return getattr(self._get(), method)


def get_logger(name: str = "rivers") -> Any:
    """A structured logger writing to the stdlib logger ``name`` (under ``rivers``)."""
    _internal.add(name)
    return _LazyLogger(name)


def configure_logging(
    level: int | str = logging.INFO, *, style: Literal["pretty", "json"] = "pretty"
) -> None:
    """Render ``rivers`` logs to stderr, pretty for people or JSON for machines.

    Commands and services call this once at start-up; libraries embedding rivers need not.
    ``level`` filters what is rendered; the ``rivers`` logger itself passes everything, so
    user ``INFO``/``DEBUG`` logs of running steps still reach their run's event log.
    """
    import structlog

    renderer: Any = (
        structlog.processors.JSONRenderer()
        if style == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                _add_ids,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    global _render_level
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    _render_level = numeric if isinstance(numeric, int) else logging.INFO
    handler.setLevel(_render_level)
    root = logging.getLogger("rivers")
    for old in [h for h in root.handlers if getattr(h, "_rivers", False)]:
        root.removeHandler(old)
    handler._rivers = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    root.propagate = False
