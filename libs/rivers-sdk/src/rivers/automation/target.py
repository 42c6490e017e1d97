"""What a schedule or sensor targets: a selection of assets, or a job."""

from __future__ import annotations

from collections.abc import Iterable

from rivers.definitions.job import Job
from rivers.errors import DefinitionError, SelectionError
from rivers.planning.selection import normalize_selection

__all__ = ["normalize_target"]


def normalize_target(owner: str, target: object) -> tuple[tuple[str, ...], str | None]:
    """``(selection, job name)`` of a target; ``((), None)`` when there is none.

    Accepts a selection string (``"orders"``, ``"group:sales"``, ``"+report"``), assets or
    keys in a list, or an ``rs.Job``.

    Raises:
        DefinitionError: the target is of another type (naming ``owner``).
    """
    if target is None:
        return (), None
    if isinstance(target, Job):
        return target.selection, target.name
    try:
        if isinstance(target, str):
            return normalize_selection(target), None
        if isinstance(target, Iterable):
            return normalize_selection(list(target)), None
        return normalize_selection([target]), None
    except SelectionError as exc:
        raise DefinitionError(f"{owner}: target: {exc}") from None
