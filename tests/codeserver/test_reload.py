"""Reloading: an edited module is served as a new incarnation; a broken edit is not."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import rivers as rs
from rivers._convert.definitions import snapshot_from_proto
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers._service.reload import reload_key
from rivers.execution.run import prepare_run
from tests.codeserver.support import Running, Store, wait_finished, wait_for

ONE_ASSET = """
import rivers as rs


@rs.Asset
def first() -> int:
    return 1


repo = rs.CodeRepository(name="editable", assets=[first])
"""

TWO_ASSETS = """
import rivers as rs


@rs.Asset
def first() -> int:
    return 1


@rs.Asset
def added(first: int) -> int:
    return first + 41


repo = rs.CodeRepository(name="editable", assets=[first, added])
"""


def _asset_keys(running: Running) -> set[str]:
    reply = running.stub.GetDefinitions(pb.GetDefinitionsRequest())
    return {a.key for a in snapshot_from_proto(reply.snapshot).assets}


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module written into tmp_path (importable), named uniquely for this test."""
    name = f"editable_{uuid.uuid4().hex[:8]}"
    path = tmp_path / "code" / f"{name}.py"
    path.parent.mkdir()
    path.write_text(ONE_ASSET)
    monkeypatch.syspath_prepend(str(path.parent))
    return name, path


@pytest.mark.slow
def test_reload_serves_the_edited_module(
    serve: Callable[..., Running], store: Store, module: tuple[str, Path]
) -> None:
    """Editing the module re-registers a new snapshot under a new server id; runs use it."""
    name, path = module
    running = serve(name, reload=True)
    before = running.stub.GetServerId(pb.GetServerIdRequest())
    assert _asset_keys(running) == {"first"}
    path.write_text(TWO_ASSETS)

    def reloaded() -> pb.GetServerIdResponse | None:
        ident = running.stub.GetServerId(pb.GetServerIdRequest())
        return ident if ident.server_id != before.server_id else None

    after = wait_for(reloaded, 15, "the reload")
    assert after.snapshot_id != before.snapshot_id
    assert _asset_keys(running) == {"first", "added"}
    location = store.storage.get_location(after.location_identity)
    assert location is not None
    assert (location.server_id, location.snapshot_id) == (after.server_id, after.snapshot_id)
    queued = _queue_added(store, path)
    running.launch(queued)
    record = wait_finished(store.storage, queued)
    assert record.status is rs.RunStatus.SUCCESS, record.failure_reason
    materialized = {
        e.asset_key
        for e in store.storage.get_run_events(queued)
        if e.kind is rs.EventKind.ASSET_MATERIALIZATION
    }
    assert materialized == {"first", "added"}  # the worker ran the edited code


def _queue_added(store: Store, path: Path) -> str:
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the test's own module
    edited = namespace["repo"]
    assert isinstance(edited, rs.CodeRepository)
    repo = rs.CodeRepository(
        name=edited.name, assets=list(edited.assets.values()), storage=store.storage
    )
    return prepare_run(repo, status=rs.RunStatus.QUEUED).record.run_id


@pytest.mark.slow
def test_failed_reload_keeps_serving(
    serve: Callable[..., Running], module: tuple[str, Path]
) -> None:
    """A broken edit is logged and the previous definitions stay; fixing it reloads."""
    name, path = module
    running = serve(name, reload=True)
    before = running.stub.GetServerId(pb.GetServerIdRequest())
    path.write_text(ONE_ASSET + "\nraise RuntimeError('half-saved file')\n")
    failed = running.server.metrics.reloads.labels("failed")
    wait_for(lambda: failed._value.get() >= 1, 15, "the failed reload")
    assert running.stub.GetServerId(pb.GetServerIdRequest()).server_id == before.server_id
    assert _asset_keys(running) == {"first"}
    path.write_text(TWO_ASSETS)
    wait_for(lambda: _asset_keys(running) == {"first", "added"}, 15, "the fixed reload")
    assert failed._value.get() == 1


@pytest.mark.slow
def test_a_reload_requested_through_the_store_serves_the_edited_module(
    serve: Callable[..., Running], store: Store, module: tuple[str, Path]
) -> None:
    """Without file watching, a request under reload_key (the UI's Reload) reloads the code."""
    name, path = module
    running = serve(name, reload=False)
    before = running.stub.GetServerId(pb.GetServerIdRequest())
    path.write_text(TWO_ASSETS)
    key = reload_key(before.location_identity)
    store.storage.kv_set(key, {"requested_at": 1.0, "server_id": before.server_id})

    def reloaded() -> pb.GetServerIdResponse | None:
        ident = running.stub.GetServerId(pb.GetServerIdRequest())
        return ident if ident.server_id != before.server_id else None

    wait_for(reloaded, 15, "the requested reload")
    assert _asset_keys(running) == {"first", "added"}
    assert store.storage.kv_get(key) is None  # the request was handled once


def test_registering_records_the_repository_pool_limits(
    serve: Callable[..., Running], store: Store
) -> None:
    """The code's pool limits are in storage as soon as the location registers, before runs."""
    serve("tests.fixtures.code_locations.ui_demo")
    info = store.storage.get_pool_info("warehouse")
    assert info.limit == 2
