"""Jobs: named selections run inline with their own config, tags and executor."""

from __future__ import annotations

import pytest

import rivers as rs
from tests.fixtures.code_locations import basic


@pytest.fixture
def basic_repo():
    """The basic fixture location with a fresh memory store per test."""
    repo = rs.CodeRepository(
        name="basic-job-test",
        assets=[basic.numbers, basic.scaled, basic.total, basic.report],
        jobs=[
            rs.Job(
                "scaled_only",
                selection=["+scaled"],
                config={"scaled": {"factor": 3}},
                tags={"team": "data"},
            )
        ],
    )
    yield repo
    repo.storage.close()


def test_job_execute_runs_its_selection_with_its_config(basic_repo):
    """Job.execute() runs the job's selection with the job's default config."""
    result = basic_repo.get_job("scaled_only").execute()
    assert result.success
    assert result.materialized_keys == ["numbers", "scaled"]
    assert result.output_for("scaled") == [3, 6, 9, 12]


def test_job_config_and_tags_are_overridable(basic_repo):
    """execute(config=, tags=) overlays the job's config and tags; the run records the job."""
    result = basic_repo.get_job("scaled_only").execute(
        config={"scaled": {"factor": 10}}, tags={"ad_hoc": "yes"}
    )
    assert result.output_for("scaled") == [10, 20, 30, 40]
    run = basic_repo.storage.get_run(result.run_id)
    assert run is not None
    assert run.job_name == "scaled_only"
    assert run.tags == {"team": "data", "ad_hoc": "yes"}


def test_unknown_job_lists_the_jobs(basic_repo):
    """Asking for a missing job names the jobs that exist."""
    with pytest.raises(KeyError, match="scaled_only"):
        basic_repo.get_job("nope")


def test_job_of_asset_objects_runs_standalone():
    """A job whose selection is asset objects runs without a repository."""

    @rs.Asset
    def one() -> int:
        return 1

    @rs.Asset
    def two(one: int) -> int:
        return one + 1

    job = rs.Job("standalone", selection=[one, two])
    result = job.execute()
    assert result.output_for("two") == 2
    assert job._repository is not None
    job._repository.storage.close()


def test_job_with_string_selection_needs_a_repository():
    """Executing an unbound job selected by strings is a clear DefinitionError."""
    with pytest.raises(rs.DefinitionError, match="not part of a CodeRepository"):
        rs.Job("orphan", selection=["a"]).execute()


def test_job_selection_is_recorded_in_the_snapshot(basic_repo):
    """Jobs appear in the definitions snapshot with their normalized selection."""
    (job,) = basic_repo.snapshot.jobs
    assert job.name == "scaled_only"
    assert job.selection == ("+scaled",)
    assert job.tags == {"team": "data"}
