"""Shared fixtures: repositories whose stores are closed (and deleted) after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import rivers as rs


@pytest.fixture
def make_repo() -> Iterator[Callable[..., rs.CodeRepository]]:
    """Build CodeRepositories; their storages are closed at teardown."""
    repos: list[rs.CodeRepository] = []

    def make(*assets: Any, **kwargs: Any) -> rs.CodeRepository:
        repo = rs.CodeRepository(assets=list(assets), **kwargs)
        repos.append(repo)
        return repo

    yield make
    for repo in repos:
        repo.storage.close()
