"""Dagster's own virtualenv (``benchmarks/.dagster-venv``), created on demand.

Dagster is never a dependency of rivers: it lives in a separate ``python3.11`` venv with the
version pinned in ``dagster-requirements.txt`` (and ``dagster-requirements-nodeps.txt``, installed
with ``--no-deps``: a package whose exact pins would otherwise downgrade Dagster). A stamp file
records the requirements it was installed from, so editing a pin reinstalls.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".dagster-venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = HERE / "dagster-requirements.txt"
REQUIREMENTS_NODEPS = HERE / "dagster-requirements-nodeps.txt"
STAMP = VENV / ".benchmarks-requirements"


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{tail}")


def ensure_dagster() -> tuple[Path, str]:
    """Create or update the venv if needed; return its python and the installed Dagster version.

    Raises:
        RuntimeError: ``python3.11`` is missing, or the venv or the install failed.
    """
    wanted = REQUIREMENTS.read_text() + REQUIREMENTS_NODEPS.read_text()
    if not (PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted):
        base = shutil.which("python3.11")
        if base is None:
            raise RuntimeError("python3.11 not found on PATH; it is needed for the Dagster venv")
        if not PYTHON.exists():
            _log(f"creating {VENV.relative_to(HERE.parent)} with {base}")
            _run([base, "-m", "venv", str(VENV)])
        _log("installing Dagster from dagster-requirements.txt; this takes a minute or two ...")
        pip = [str(PYTHON), "-m", "pip", "install", "--quiet"]
        _run([*pip, "-r", str(REQUIREMENTS)])
        _run([*pip, "--no-deps", "-r", str(REQUIREMENTS_NODEPS)])
        STAMP.write_text(wanted)
        _log("Dagster installed")
    probe = "import importlib.metadata as m; print(m.version('dagster'))"
    proc = subprocess.run([str(PYTHON), "-c", probe], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"dagster is not importable in {VENV}: {proc.stderr.strip()[-300:]}")
    return PYTHON, proc.stdout.strip()
