"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rivers as rs

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code):
    """Each ```python block of the README executes without error (its asserts included)."""
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README
    for value in namespace.values():
        if isinstance(value, rs.CodeRepository):
            value.storage.close()


def test_readme_has_python_examples():
    """The README keeps at least one runnable example (so the test above cannot go empty)."""
    assert BLOCKS
