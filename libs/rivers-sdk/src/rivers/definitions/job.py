"""``rs.Job``: a named selection of assets with its own executor and config."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rivers.definitions.metadata import normalize_tags
from rivers.definitions.snapshot import JobSnap
from rivers.errors import DefinitionError
from rivers.planning.selection import normalize_selection

if TYPE_CHECKING:
    from rivers.definitions.repository import CodeRepository
    from rivers.execution.eventlog import EventListener
    from rivers.execution.executor import Executor
    from rivers.execution.result import MaterializeResult

__all__ = ["Job"]


class Job:
    """A named selection of assets.

    A job listed in a ``CodeRepository(jobs=[...])`` runs against that repository. A job whose
    selection is a list of assets also runs on its own (those assets form its repository).

    Args:
        name: the job's name.
        selection: what it materializes (same forms as ``repo.materialize``); default all.
        executor: overrides the repository's executor.
        config: default run config, overlaid by ``execute(config=...)``.
        tags: tags stored on every run of the job.
        description: shown in the UI.
    """

    def __init__(
        self,
        name: str,
        selection: str | Iterable[Any] | None = None,
        *,
        executor: Executor | None = None,
        config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise DefinitionError("a job needs a non-empty name")
        items = (
            list(selection)
            if selection is not None and not isinstance(selection, str)
            else selection
        )
        self.name = name
        self._raw_selection = items
        self.selection = normalize_selection(items)
        self.executor = executor
        self.config = dict(config or {})
        try:
            self.tags = normalize_tags(tags)
        except TypeError as exc:
            raise DefinitionError(f"job {name!r}: {exc}") from None
        self.description = description
        self._repository: CodeRepository | None = None

    def snap(self) -> JobSnap:
        """The job as the snapshot records it."""
        return JobSnap(
            name=self.name, selection=self.selection, description=self.description, tags=self.tags
        )

    def _bind(self, repository: CodeRepository) -> None:
        self._repository = repository

    def _standalone_repository(self) -> CodeRepository:
        from rivers.definitions.asset import Asset
        from rivers.definitions.repository import CodeRepository

        items: Sequence[Any] = self._raw_selection if isinstance(self._raw_selection, list) else []
        assets = [a for a in items if isinstance(a, Asset)]
        if not assets or len(assets) != len(items):
            raise DefinitionError(
                f"job {self.name!r} is not part of a CodeRepository; add it with "
                "CodeRepository(jobs=[...]) or give it a selection of asset objects"
            )
        repo = CodeRepository(assets=assets, jobs=[self], name=self.name)
        return repo

    def execute(
        self,
        *,
        config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        _listeners: Sequence[EventListener] = (),
    ) -> MaterializeResult:
        """Run the job now, in this process; returns the run's result.

        Raises:
            DefinitionError: the job belongs to no repository and selects no asset objects.
            RunConfigError: the merged config does not validate (nothing is run).
        """
        from rivers.execution.config import merge_config
        from rivers.execution.run import execute_inline

        repo = self._repository or self._standalone_repository()
        return execute_inline(
            repo,
            selection=self.selection,
            config=merge_config(self.config, config),
            tags={**self.tags, **(tags or {})},
            executor=self.executor,
            job_name=self.name,
            listeners=_listeners,
        )

    def __repr__(self) -> str:
        return f"Job({self.name!r}, selection={list(self.selection)})"
