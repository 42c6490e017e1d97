"""The checked-in generated code is exactly what scripts/gen_protos.py produces."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_protos.py"
PROTO_PKG = ROOT / "libs" / "rivers-sdk" / "src" / "rivers" / "_proto"


def _generated_files(tree: Path) -> dict[str, bytes]:
    return {
        p.relative_to(tree).as_posix(): p.read_bytes()
        for p in sorted(tree.rglob("*"))
        if p.is_file() and p.suffix in {".py", ".pyi"} and "__pycache__" not in p.parts
    }


def _gen(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_checked_in_code_matches_the_generator() -> None:
    """`gen_protos.py --check` passes on the repository: regenerate after editing a .proto."""
    result = _gen("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_reports_changed_missing_and_stale_files_without_writing(tmp_path: Path) -> None:
    """--check exits 1 naming every drifted file and leaves the checked tree untouched."""
    tree = tmp_path / "_proto"
    shutil.copytree(PROTO_PKG, tree, ignore=shutil.ignore_patterns("__pycache__"))
    with (tree / "rivers/v1/common_pb2.py").open("a") as f:
        f.write("# hand edit\n")
    (tree / "rivers/v1/plan_pb2.pyi").unlink()
    (tree / "rivers/v1/removed_pb2.py").write_text("# Generated ... DO NOT EDIT\n")
    before = _generated_files(tree)

    result = _gen("--check", "--out", tree)

    assert result.returncode == 1
    assert "changed: rivers/v1/common_pb2.py" in result.stdout
    assert "missing: rivers/v1/plan_pb2.pyi" in result.stdout
    assert "stale:   rivers/v1/removed_pb2.py" in result.stdout
    assert _generated_files(tree) == before


def test_generating_into_an_empty_directory_reproduces_the_checked_in_tree(
    tmp_path: Path,
) -> None:
    """Write mode is deterministic and creates the package __init__ files."""
    result = _gen("--out", tmp_path / "fresh")
    assert result.returncode == 0, result.stderr
    assert _generated_files(tmp_path / "fresh") == _generated_files(PROTO_PKG)


def test_write_mode_refuses_to_delete_files_it_did_not_generate(tmp_path: Path) -> None:
    """Pointing --out at a hand-written package fails before deleting or writing anything."""
    own = tmp_path / "pkg" / "module.py"
    own.parent.mkdir()
    own.write_text("VALUE = 1\n")

    result = _gen("--out", tmp_path / "pkg")

    assert result.returncode != 0
    assert "refusing to delete" in result.stderr
    assert [p.name for p in (tmp_path / "pkg").iterdir()] == ["module.py"]


@pytest.mark.parametrize("rel", sorted(_generated_files(PROTO_PKG)))
def test_every_generated_file_starts_with_a_do_not_edit_header(rel: str) -> None:
    """Each generated file's first line says it is generated and must not be edited."""
    first = (PROTO_PKG / rel).read_text(encoding="utf-8").split("\n", 1)[0]
    assert re.match(r"# Generated .*DO NOT EDIT", first), f"{rel}: {first!r}"


def test_generated_modules_import_each_other_from_the_private_package() -> None:
    """No generated file imports the top-level `rivers.v1` that protoc assumes."""
    offenders = [
        rel
        for rel, content in _generated_files(PROTO_PKG).items()
        if re.search(rb"^\s*(from|import) rivers\.v1\b", content, re.MULTILINE)
    ]
    assert offenders == []
