"""Outputs, materializations, IO handlers, self-dependencies, **kwargs inputs and retries."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import rivers as rs


class RecordingIO(rs.IOHandler):
    """An IO handler that keeps values and records every call."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.stored: list[str] = []
        self.loaded: list[tuple[str, str, Any]] = []

    def handle_output(self, context: rs.OutputContext, obj: Any) -> None:
        self.stored.append(context.asset_key)
        self.values[context.asset_key] = obj

    def load_input(self, context: rs.InputContext, type_hint: Any = None) -> Any:
        self.loaded.append((context.asset_key, context.downstream_key, type_hint))
        return self.values[context.asset_key]


def test_output_metadata_and_data_version_are_recorded(make_repo):
    """rs.Output metadata and data_version land on the event and the asset record."""

    @rs.Asset
    def table() -> rs.Output:
        return rs.Output(
            [1, 2], metadata={"rows": rs.MetadataValue.int(2), "note": "ok"}, data_version="abc"
        )

    repo = make_repo(table)
    result = repo.materialize()
    (event,) = result.materializations
    assert event.metadata == {"rows": rs.MetadataValue.int(2), "note": rs.MetadataValue.text("ok")}
    assert event.data_version == "abc"
    assert result.output_for("table") == [1, 2]
    record = repo.storage.get_asset_record(repo.location_id(), "table")
    assert record is not None
    assert record.data_version == "abc"
    assert record.metadata["rows"] == rs.MetadataValue.int(2)
    assert record.run_id == result.run_id


def test_context_metadata_is_merged_into_the_materialization(make_repo):
    """context.add_output_metadata() adds to the recorded materialization."""

    @rs.Asset
    def counted(context: rs.AssetExecutionContext) -> int:
        context.add_output_metadata({"seen": 3})
        return 3

    result = make_repo(counted).materialize()
    assert result.materializations[0].metadata == {"seen": rs.MetadataValue.int(3)}


def test_materialization_never_calls_the_io_handler(make_repo):
    """Returning rs.Materialization records an event but never stores through the handler."""
    io = RecordingIO()

    @rs.Asset
    def rows() -> list[int]:
        return [1, 2, 3]

    @rs.Asset
    def push_to_api(rows: list[int]) -> rs.Materialization:
        return rs.Materialization(
            metadata={"status_code": rs.MetadataValue.int(200)}, data_version="etag-1"
        )

    repo = make_repo(rows, push_to_api, io_handler=io)
    result = repo.materialize()
    assert result.success
    assert io.stored == ["rows"]
    event = next(e for e in result.materializations if e.asset_key == "push_to_api")
    assert event.data_version == "etag-1"
    assert event.metadata["status_code"].value == 200
    with pytest.raises(LookupError, match="Materialization"):
        result.output_for("push_to_api")


def test_per_asset_and_per_input_io_handlers(make_repo):
    """An asset's own handler stores it; AssetDef.input(io_handler=) overrides loading."""
    repo_io, asset_io, input_io = RecordingIO(), RecordingIO(), RecordingIO()
    input_io.values["special"] = "from-input-handler"

    @rs.Asset(io_handler=asset_io)
    def special() -> str:
        return "from-asset-handler"

    @rs.Asset
    def plain() -> str:
        return "plain"

    @rs.Asset(deps=[rs.AssetDef.input("special", io_handler=input_io, metadata={"fmt": "csv"})])
    def consumer(special: str, plain: str) -> str:
        return f"{special}+{plain}"

    repo = make_repo(special, plain, consumer, io_handler=repo_io)
    result = repo.materialize()
    assert result.output_for("consumer") == "from-input-handler+plain"
    assert asset_io.stored == ["special"]
    assert sorted(repo_io.stored) == ["consumer", "plain"]
    assert input_io.loaded == [("special", "consumer", None)]


def test_input_metadata_reaches_the_handler(make_repo):
    """Per-dependency metadata is visible to load_input through the input context."""
    seen: list[dict[str, rs.MetadataValue]] = []

    class MetaIO(RecordingIO):
        def load_input(self, context: rs.InputContext, type_hint: Any = None) -> Any:
            seen.append(context.metadata)
            return super().load_input(context, type_hint)

    io = MetaIO()

    @rs.Asset
    def src() -> int:
        return 1

    @rs.Asset(deps=[rs.AssetDef.input("src", io_handler=io, metadata={"columns": ["a"]})])
    def dst(src: int) -> int:
        return src

    io.values["src"] = 1
    make_repo(src, dst).materialize()
    assert seen == [{"columns": rs.MetadataValue.json(["a"])}]


def test_dep_orders_but_is_never_loaded(make_repo):
    """AssetDef.dep only orders execution: nothing is loaded for it."""
    io = RecordingIO()
    order: list[str] = []

    @rs.Asset
    def trigger() -> int:
        order.append("trigger")
        return 0

    @rs.Asset(deps=[rs.AssetDef.dep("trigger")])
    def after() -> int:
        order.append("after")
        return 1

    repo = make_repo(after, trigger, io_handler=io)
    repo.materialize()
    assert order == ["trigger", "after"]
    assert io.loaded == []


def test_kwargs_receive_declared_inputs(make_repo):
    """Declared inputs without their own parameter arrive in **kwargs, keyed by name."""
    parts = []
    for i in range(5):

        def make(i: int = i) -> int:
            return i

        make.__name__ = f"part_{i}"
        parts.append(rs.Asset(name=f"part_{i}")(make))

    @rs.Asset(deps=[rs.AssetDef.input(f"part_{i}") for i in range(5)])
    def combined(part_0: int, **kwargs: int) -> dict[str, int]:
        return {"part_0": part_0, **kwargs}

    result = make_repo(*parts, combined).materialize()
    assert result.output_for("combined") == {f"part_{i}": i for i in range(5)}


def test_self_dependency_gets_the_previous_value(make_repo):
    """SelfDependency.get_inner() is None first, then the previous value (T as type hint)."""
    io = RecordingIO()

    @rs.Asset
    def new_events() -> list[int]:
        return [1, 2, 3]

    @rs.Asset
    def running_total(self: rs.SelfDependency[int], new_events: list[int]) -> int:
        prev = self.get_inner()
        return (prev or 0) + len(new_events)

    repo = make_repo(new_events, running_total, io_handler=io)
    assert repo.materialize().output_for("running_total") == 3
    assert repo.materialize().output_for("running_total") == 6
    assert repo.materialize().output_for("running_total") == 9
    # Two self-loads (runs 2 and 3), each with T as the type hint; output_for loads pass None.
    self_loads = [entry for entry in io.loaded if entry[2] is not None]
    assert self_loads == [("running_total", "running_total", int)] * 2


def test_filesystem_handler_pickles_one_file_per_asset(make_repo, tmp_path):
    """IOHandler.filesystem stores each asset as its own pickle, readable later."""

    @rs.Asset(key_prefix="warehouse")
    def orders() -> list[int]:
        return [1, 2]

    @rs.Asset(key_prefix="warehouse")
    def order_count(orders: list[int]) -> int:
        return len(orders)

    repo = make_repo(orders, order_count, io_handler=rs.IOHandler.filesystem(tmp_path))
    assert repo.materialize().output_for("warehouse/order_count") == 2
    path = tmp_path / "warehouse" / "orders.pkl"
    assert pickle.loads(path.read_bytes()) == [1, 2]
    assert not list(tmp_path.rglob(".*"))  # no temp files left behind
    # A new repository (e.g. another process) reads what the first one stored.
    repo2 = make_repo(orders, order_count, io_handler=rs.IOHandler.filesystem(tmp_path))
    assert repo2.materialize("warehouse/order_count").output_for("order_count") == 2


def test_retry_policy_retries_then_succeeds(make_repo):
    """A step failing twice with max_retries=2 succeeds on the third attempt."""
    attempts: list[int] = []

    @rs.Asset(retry_policy=rs.RetryPolicy(max_retries=2))
    def flaky(context: rs.AssetExecutionContext) -> int:
        attempts.append(context.retry_number)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return len(attempts)

    result = make_repo(flaky).materialize()
    assert result.success
    assert attempts == [0, 1, 2]
    retries = [e for e in result.events if e.kind is rs.EventKind.STEP_UP_FOR_RETRY]
    assert len(retries) == 2
    assert retries[0].error is not None and retries[0].error.error_type == "ConnectionError"


def test_retry_policy_gives_up_after_max_retries(make_repo):
    """A step that keeps failing fails the run after max_retries + 1 attempts."""
    calls = []

    @rs.Asset(retry_policy=rs.RetryPolicy(max_retries=1, delay=0.01))
    def hopeless() -> int:
        calls.append(1)
        raise RuntimeError("down")

    result = make_repo(hopeless).materialize()
    assert not result.success
    assert len(calls) == 2
    assert result.failures[0].attempt == 1


@pytest.mark.parametrize(
    ("policy", "waits"),
    [
        (rs.RetryPolicy(max_retries=3, delay=1.0), [1.0, 1.0, 1.0]),
        (rs.RetryPolicy(max_retries=3, delay=1.0, backoff="linear"), [1.0, 2.0, 3.0]),
        (rs.RetryPolicy(max_retries=3, delay=1.0, backoff="exponential"), [1.0, 2.0, 4.0]),
        (
            rs.RetryPolicy(max_retries=3, delay=1.0, backoff="exponential", max_delay=1.5),
            [1.0, 1.5, 1.5],
        ),
    ],
)
def test_retry_waits_follow_the_backoff(policy, waits):
    """Retry waits grow as the backoff says and are capped by max_delay."""
    assert [policy.wait_before(n) for n in (1, 2, 3)] == waits


def test_external_asset_is_loaded_never_run(make_repo):
    """An external asset is loaded by its downstream but never becomes a step."""
    io = RecordingIO()
    io.values["vendor_feed"] = [5, 6]

    @rs.Asset
    def feed_total(vendor_feed: list[int]) -> int:
        return sum(vendor_feed)

    repo = make_repo(rs.Asset.external("vendor_feed", io_handler=io), feed_total)
    result = repo.materialize()
    assert result.output_for("feed_total") == 11
    assert result.materialized_keys == ["feed_total"]


def test_executor_override_in_process_is_honoured(make_repo):
    """metadata={'rivers/executor': 'in_process'} runs with the in-process executor."""

    @rs.Asset(metadata={"rivers/executor": "in_process"})
    def needs_in_process() -> int:
        return 42

    repo = make_repo(needs_in_process, executor=rs.Executor.in_process())
    assert repo.materialize().output_for("needs_in_process") == 42
    assert repo.snapshot.assets_by_key["needs_in_process"].executor == "in_process"


def test_default_io_handler_follows_the_storage(tmp_path):
    """The default IO handler is in-memory for Storage.memory() and on disk beside a store."""

    @rs.Asset
    def thing() -> int:
        return 1

    repo = rs.CodeRepository(assets=[thing])
    assert isinstance(repo.io_handler, rs.IOHandler.in_memory().__class__)
    storage = repo.use_default_storage(rs.Storage.embedded(tmp_path / "store"))
    try:
        handler = repo.io_handler
        assert isinstance(handler, rs.IOHandler.filesystem(tmp_path).__class__)
        assert handler.base_dir == tmp_path / "io"
        repo.materialize()
        assert (tmp_path / "io" / "thing.pkl").exists()
    finally:
        storage.close()
