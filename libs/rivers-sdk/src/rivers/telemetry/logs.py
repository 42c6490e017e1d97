"""Structured logs over the standard library's ``rivers`` loggers.

Library code logs through :func:`get_logger`: a structlog logger bound to
``logging.getLogger(name)``, so applications control rivers' log level and handlers the usual
way and nothing is printed unless they (or a rivers command) configure logging. structlog is
imported on first use, keeping ``import rivers`` light.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

__all__ = ["configure_logging", "get_logger"]


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
                    structlog.stdlib.filter_by_level,
                    structlog.stdlib.add_log_level,
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
    return _LazyLogger(name)


def configure_logging(
    level: int | str = logging.INFO, *, style: Literal["pretty", "json"] = "pretty"
) -> None:
    """Render ``rivers`` logs to stderr, pretty for people or JSON for machines.

    Commands and services call this once at start-up; libraries embedding rivers need not.
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
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    root = logging.getLogger("rivers")
    for old in [h for h in root.handlers if getattr(h, "_rivers", False)]:
        root.removeHandler(old)
    handler._rivers = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
