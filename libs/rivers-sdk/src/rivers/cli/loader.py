"""Loading a code location from a module path (``-m my_pkg.pipelines``)."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from types import ModuleType

from rivers.automation import Schedule, Sensor
from rivers.definitions.asset import Asset
from rivers.definitions.job import Job
from rivers.definitions.repository import CodeRepository
from rivers.errors import RiversError

__all__ = ["LoadError", "load_repository"]


class LoadError(RiversError):
    """The module could not be imported or defines no usable repository."""


def _import(module: str) -> ModuleType:
    cwd = os.getcwd()
    if cwd not in sys.path:
        # Like `python -m`: modules next to where the command runs are importable.
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise LoadError(
                f"no module named {module!r} (looked in {cwd} and the installed packages)"
            ) from None
        raise LoadError(_user_traceback(module, exc)) from None
    except RiversError as exc:
        raise LoadError(f"module {module!r} defines invalid assets: {exc}") from None
    except Exception as exc:
        raise LoadError(_user_traceback(module, exc)) from None


def _user_traceback(module: str, exc: BaseException) -> str:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"importing {module!r} raised {type(exc).__name__}: {exc}\n\n{tb}"


def load_repository(module: str, attribute: str | None = None) -> CodeRepository:
    """The code location a module defines.

    The module's ``CodeRepository`` is used when it has exactly one (or ``attribute`` names
    it); a module without one is wrapped: its assets and jobs form a repository named after
    the module.

    Raises:
        LoadError: import failure (with the user's traceback), invalid definitions, or an
            ambiguous module.
    """
    mod = _import(module)
    if attribute is not None:
        repo = getattr(mod, attribute, None)
        if not isinstance(repo, CodeRepository):
            raise LoadError(f"{module}:{attribute} is not a rivers CodeRepository")
        return repo
    repos = {k: v for k, v in vars(mod).items() if isinstance(v, CodeRepository)}
    if len(repos) == 1:
        return next(iter(repos.values()))
    if len(repos) > 1:
        raise LoadError(
            f"module {module!r} defines several repositories ({', '.join(sorted(repos))}); "
            f"pick one with {module}:NAME"
        )
    assets = [v for v in vars(mod).values() if isinstance(v, Asset)]
    jobs = [v for v in vars(mod).values() if isinstance(v, Job)]
    schedules = [v for v in vars(mod).values() if isinstance(v, Schedule)]
    sensors = [v for v in vars(mod).values() if isinstance(v, Sensor)]
    if not assets:
        raise LoadError(f"module {module!r} defines no rivers assets or CodeRepository")
    try:
        return CodeRepository(
            assets=assets, jobs=jobs, schedules=schedules, sensors=sensors, name=module
        )
    except RiversError as exc:
        raise LoadError(f"module {module!r} defines invalid assets: {exc}") from None
