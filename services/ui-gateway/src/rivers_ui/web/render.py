"""Rendering the UI's pages: Jinja2 templates (autoescaped) and live fragments.

Every page extends ``base.html`` (navigation, the Live / Reconnecting / Stale indicator,
``live.js``). A page's regions that change while it is open are Jinja blocks rendered inside
an element ``data-live-block="NAME"``; ``live.js`` re-fetches the page with ``?fragment=NAME``
when an event the region listens to arrives, and :func:`render` then answers only that
block's HTML. So a page and its live updates come from one template and one context builder.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import jinja2
from aiohttp import web

from rivers_ui.errors import InvalidArgument
from rivers_ui.state import STATE

__all__ = ["ago", "dump", "duration", "env", "json_body", "query_int", "render", "timestamp"]

D = TypeVar("D", int, None)

_env: jinja2.Environment | None = None


def ago(moment: float | None, now: float | None = None) -> str:
    """``12 s ago``, ``5 min ago``, ``3 h ago``, else the date; ``never`` for ``None``."""
    if moment is None:
        return "never"
    seconds = (time.time() if now is None else now) - moment
    if seconds < 0:
        return "in " + _span(-seconds)
    return _span(seconds) + " ago"


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def duration(seconds: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``; ``-`` for ``None``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def timestamp(moment: float | None) -> str:
    """The local date and time (to the second), ``-`` for ``None``."""
    if moment is None:
        return "-"
    return dt.datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S")


def env() -> jinja2.Environment:
    """The template environment (built once)."""
    global _env
    if _env is None:
        environment = jinja2.Environment(
            loader=jinja2.PackageLoader("rivers_ui.web", "templates"),
            autoescape=jinja2.select_autoescape(default=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        environment.filters["ago"] = ago
        environment.filters["duration"] = duration
        environment.filters["timestamp"] = timestamp
        environment.filters["tojson_attr"] = lambda v: json.dumps(v, separators=(",", ":"))
        _env = environment
    return _env


def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    """The page, or only the block named by ``?fragment=`` (for a live region)."""
    tpl = env().get_template(template)
    # Where the page's live stream starts: the event tail's position when the page was
    # rendered (never ahead of what the page shows), so nothing written between this render
    # and the stream's start is missed.
    values = {
        "request": request,
        "path": request.path,
        "live_seq": request.app[STATE].tail.position,
        **context,
    }
    fragment = request.query.get("fragment")
    if fragment:
        block = tpl.blocks.get(fragment)
        if block is None:
            raise InvalidArgument(f"page {request.path} has no fragment {fragment!r}")
        text = "".join(block(tpl.new_context(values)))
    else:
        text = tpl.render(values)
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body (``{}`` when empty).

    Raises:
        InvalidArgument: the body is not a JSON object.
    """
    raw = await request.text()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object")
    return body


def query_int(
    request: web.Request, name: str, default: D, *, minimum: int | None = None
) -> int | D:
    """The integer query parameter ``name`` (``default`` when absent or empty).

    Raises:
        InvalidArgument: not an integer, or below ``minimum``.
    """
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(f"query parameter {name!r} must be an integer, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"query parameter {name!r} must be >= {minimum}, got {value}")
    return value


def dump(model: Any) -> Any:
    """A pydantic model's JSON-compatible form."""
    return model.model_dump(mode="json")
