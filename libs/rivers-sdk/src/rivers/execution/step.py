"""Running one plan step: load inputs, call the asset, store its output, record events.

One step program serves every executor (the discriminator between ``Output``,
``Materialization`` and a bare value lives here, once). It is a generator that yields what it
must wait for — an awaitable returned by an ``async def`` asset, or a retry back-off — so the
same code runs under a blocking driver (:func:`run_step`, used in threads and worker
processes) and an asyncio driver (:func:`arun_step`, used for async steps on the run's loop).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rivers.definitions.asset import Asset
from rivers.definitions.metadata import MetadataValue
from rivers.definitions.output import Materialization, Output
from rivers.definitions.resolve import ResolvedInput
from rivers.definitions.retry import RetryPolicy
from rivers.execution.capture import step_scope
from rivers.execution.context import AssetExecutionContext, SelfDependency
from rivers.execution.events import ErrorInfo, EventKind
from rivers.execution.io import InputContext, IOHandler, OutputContext
from rivers.execution.partitioned import PartitionContext, load_mapped, split_partitioned_output
from rivers.execution.runcontext import RunContext
from rivers.planning.plan import PlanStep

if TYPE_CHECKING:
    from rivers.partitions import PartitionKeys

__all__ = ["RunContext", "arun_step", "run_step"]


@dataclass(frozen=True, slots=True)
class _Await:
    """The program waits for an awaitable (an async asset's coroutine)."""

    awaitable: Awaitable[Any]


@dataclass(frozen=True, slots=True)
class _Sleep:
    """The program waits before retrying."""

    seconds: float


_Program = Generator[_Await | _Sleep, Any, Any]
T = TypeVar("T")

_RIVERS_DIR = str(Path(__file__).resolve().parent.parent)


class _InputLoadError(Exception):
    def __init__(self, message: str, cause: BaseException) -> None:
        super().__init__(message)
        self.cause = cause


def _user_error(exc: BaseException) -> ErrorInfo:
    # Drop rivers' own leading frames so the traceback starts in the user's code.
    tb = exc.__traceback__
    while (
        tb is not None
        and tb.tb_next is not None
        and tb.tb_frame.f_code.co_filename.startswith(_RIVERS_DIR)
    ):
        tb = tb.tb_next
    return ErrorInfo.from_exception(exc.with_traceback(tb))


def _load_inputs(
    run: RunContext, asset: Asset, keys: PartitionKeys | None, kwargs: dict[str, Any]
) -> None:
    for inp in run.inputs[asset.key]:
        handler = inp.io_handler or run.handler_for(inp.asset_key)

        def load(
            partition_key: str | None, inp: ResolvedInput = inp, h: IOHandler = handler
        ) -> Any:
            context = InputContext(
                asset_key=inp.asset_key,
                downstream_key=asset.key,
                run_id=run.run_id,
                partition_key=partition_key,
                metadata=inp.metadata,
            )
            return h.load_input(context)

        try:
            kwargs[inp.arg_name] = load_mapped(
                load,
                downstream_keys=keys,
                upstream_def=run.assets[inp.asset_key].partitions_def,
                mapping=inp.partition_mapping,
                storage=run.storage,
            )
        except Exception as exc:
            hint = ""
            if inp.asset_key not in run.plan.asset_keys:
                hint = f" (is {inp.asset_key!r} materialized? it is not part of this run)"
            raise _InputLoadError(
                f"asset {asset.key!r}: loading input {inp.arg_name!r} from {inp.asset_key!r} "
                f"with {handler!r} failed: {type(exc).__name__}: {exc}{hint}",
                exc,
            ) from exc


def _self_loader(run: RunContext, asset: Asset, keys: PartitionKeys | None) -> SelfDependency[Any]:
    def load_one(partition_key: str | None) -> Any:
        if run.storage.get_asset_record(run.location_id, asset.key, partition_key) is None:
            return None  # never materialized: the first run of this asset (partition)
        context = InputContext(
            asset_key=asset.key,
            downstream_key=asset.key,
            run_id=run.run_id,
            partition_key=partition_key,
        )
        return run.handler_for(asset.key).load_input(context, asset.spec.self_type)

    def load() -> Any:
        if keys is None:
            return load_one(None)
        if len(keys) == 1:
            return load_one(keys[0])
        return {key: load_one(key) for key in keys}

    return SelfDependency(load)


def _invoke(
    run: RunContext, asset: Asset, step: PlanStep, keys: PartitionKeys | None, attempt: int
) -> Generator[_Await, Any, tuple[Any, AssetExecutionContext[Any] | None]]:
    spec = asset.spec
    kwargs: dict[str, Any] = {}
    _load_inputs(run, asset, keys, kwargs)
    context: AssetExecutionContext[Any] | None = None
    if spec.context_param is not None:
        partition = None
        if keys is not None and asset.partitions_def is not None:
            partition = PartitionContext(asset.partitions_def, keys)
        context = AssetExecutionContext(
            run_id=run.run_id,
            asset_key=asset.key,
            step_key=step.key,
            config=run.configs.get(asset.key),
            output_selection=frozenset(step.asset_keys),
            partition=partition,
            retry_number=attempt,
            storage=run.storage,
        )
        kwargs[spec.context_param] = context
    if spec.self_param is not None:
        kwargs[spec.self_param] = _self_loader(run, asset, keys)
    assert asset.fn is not None
    result = asset.fn(**kwargs)
    if inspect.isawaitable(result):
        result = yield _Await(result)
    return result, context


class _Outcome:
    """What one successful attempt produced, per partition."""

    __slots__ = ("data_version", "failed", "materialized", "metadata")

    def __init__(
        self,
        materialized: list[str | None],
        failed: dict[str, str],
        metadata: dict[str, MetadataValue],
        data_version: str | None,
    ) -> None:
        self.materialized = materialized
        self.failed = failed
        self.metadata = metadata
        self.data_version = data_version


def _record_output(
    run: RunContext,
    asset: Asset,
    step: PlanStep,
    keys: PartitionKeys | None,
    result: Any,
    context: AssetExecutionContext[Any] | None,
) -> _Outcome:
    added = context.added_metadata(None) if context is not None else {}
    failed = context.failed_partitions if context is not None else {}
    if isinstance(result, Materialization):
        done: list[str | None] = [None] if keys is None else [k for k in keys if k not in failed]
        return _Outcome(done, failed, {**result.metadata, **added}, result.data_version)
    if inspect.isgenerator(result):
        raise TypeError(
            f"asset {asset.key!r} is a generator; yield outputs from an "
            "@rs.Asset.from_multi(...) multi-asset instead"
        )
    metadata: dict[str, MetadataValue] = {}
    data_version = None
    value = result
    if isinstance(result, Output):
        value, metadata, data_version = result.value, result.metadata, result.data_version
    pairs: list[tuple[str | None, Any]]
    if keys is None:
        pairs = [(None, value)]
    else:
        pairs = list(split_partitioned_output(asset.key, keys, value, failed))
    handler = run.handler_for(asset.key)
    for partition_key, obj in pairs:
        out_ctx = OutputContext(
            asset_key=asset.key,
            run_id=run.run_id,
            step_key=step.key,
            partition_key=partition_key,
            metadata=asset.metadata,
        )
        handler.handle_output(out_ctx, obj)
    run.stored_outputs.add(asset.key)
    return _Outcome([k for k, _ in pairs], failed, {**metadata, **added}, data_version)


def run_step(
    run: RunContext, step: PlanStep, first_attempt: int = 0, program: _Program | None = None
) -> Any:
    """Run ``step`` to success or final failure (retrying per policy), blocking.

    Returns what the step program returns: True on success for asset steps. An ``async def``
    body's coroutine runs on an event loop made for it.
    """
    import asyncio

    program = program or _step_program(run, step, first_attempt)
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = program.throw(error) if error is not None else program.send(reply)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        if isinstance(request, _Sleep):
            time.sleep(request.seconds)
            continue
        try:
            reply = asyncio.run(_awaited(request.awaitable))
        except Exception as exc:
            error = exc


async def arun_step(
    run: RunContext, step: PlanStep, first_attempt: int = 0, program: _Program | None = None
) -> Any:
    """Run ``step`` on the running event loop: async bodies are awaited there."""
    import asyncio

    program = program or _step_program(run, step, first_attempt)
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = program.throw(error) if error is not None else program.send(reply)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        if isinstance(request, _Sleep):
            await asyncio.sleep(request.seconds)
            continue
        try:
            reply = await request.awaitable
        except Exception as exc:
            error = exc


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _attempts(
    run: RunContext,
    step_key: str,
    asset_key: str | None,
    policy: RetryPolicy | None,
    first_attempt: int,
    body: Callable[[int], Generator[_Await, Any, T]],
    on_failure: Callable[[str], None] = lambda message: None,
    *,
    map_step: str | None = None,
    map_index: int | None = None,
) -> Generator[_Await | _Sleep, Any, tuple[bool, T | None]]:
    """Run ``body(attempt)`` until it succeeds or the retry policy gives up.

    Emits the step's start, retry, success and failure events; on final failure calls
    ``on_failure(message)`` (which records the failed assets and partitions). Each attempt
    runs in a capture scope: its logs and output become ``LOG`` events of ``step_key``.
    """
    max_retries = policy.max_retries if policy is not None else 0
    run.emit(EventKind.STEP_STARTED, step_key, asset_key=asset_key)
    started = time.perf_counter()
    attempt = first_attempt
    while True:
        try:
            with step_scope(
                run.events,
                run.run_id,
                step_key,
                attempt=attempt,
                map_step=map_step,
                map_index=map_index,
            ):
                value = yield from body(attempt)
        except Exception as exc:
            cause = exc.cause if isinstance(exc, _InputLoadError) else exc
            error = _user_error(cause)
            if isinstance(exc, _InputLoadError):
                error = error.model_copy(update={"message": str(exc)})
            if attempt < max_retries and policy is not None:
                attempt += 1
                wait = policy.wait_before(attempt)
                run.emit(
                    EventKind.STEP_UP_FOR_RETRY,
                    step_key,
                    asset_key=asset_key,
                    level="WARNING",
                    message=(
                        f"attempt {attempt} of {max_retries + 1} failed; retrying in {wait:.2f}s"
                    ),
                    error=error,
                    attempt=attempt - 1,
                )
                if wait:
                    yield _Sleep(wait)
                continue
            message = f"{error.error_type}: {error.message}"
            run.emit(
                EventKind.STEP_FAILURE,
                step_key,
                asset_key=asset_key,
                level="ERROR",
                message=message,
                error=error,
                attempt=attempt,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
            on_failure(message)
            return False, None
        run.emit(
            EventKind.STEP_SUCCESS,
            step_key,
            asset_key=asset_key,
            attempt=attempt,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        return True, value


def emit_outcome(
    run: RunContext, step_key: str, asset_key: str, outcome: _Outcome, attempt: int
) -> None:
    """Materialization events of the stored partitions, failure events of the marked ones."""
    for partition_key in outcome.materialized:
        run.emit(
            EventKind.ASSET_MATERIALIZATION,
            step_key,
            asset_key=asset_key,
            partition_key=partition_key,
            metadata=outcome.metadata,
            data_version=outcome.data_version,
            attempt=attempt,
        )
    for partition_key, reason in outcome.failed.items():
        run.emit(
            EventKind.ASSET_FAILED,
            step_key,
            asset_key=asset_key,
            partition_key=partition_key,
            level="ERROR",
            message=reason,
        )


def asset_failed(
    run: RunContext, step_key: str, asset_key: str, keys: PartitionKeys | None
) -> Callable[[str], None]:
    """An ``on_failure`` recording ``ASSET_FAILED`` for each partition (or the whole asset)."""

    def record(message: str) -> None:
        for partition_key in [None] if keys is None else keys:
            run.emit(
                EventKind.ASSET_FAILED,
                step_key,
                asset_key=asset_key,
                partition_key=partition_key,
                level="ERROR",
                message=message,
            )

    return record


def _step_program(run: RunContext, step: PlanStep, first_attempt: int) -> _Program:
    if step.kind != "asset":
        from rivers.execution.nodes import node_program

        return (yield from node_program(run, step, first_attempt))
    if len(step.asset_keys) > 1 or run.assets[step.asset_keys[0]].kind == "multi":
        from rivers.execution.multi import multi_program

        return (yield from multi_program(run, step, first_attempt))
    (asset_key,) = step.asset_keys
    asset = run.assets[asset_key]
    keys = run.keys_of(asset)

    def body(attempt: int) -> Generator[_Await, Any, None]:
        result, context = yield from _invoke(run, asset, step, keys, attempt)
        outcome = _record_output(run, asset, step, keys, result, context)
        emit_outcome(run, step.key, asset_key, outcome, attempt)

    ok, _ = yield from _attempts(
        run,
        step.key,
        asset_key,
        asset.retry_policy,
        first_attempt,
        body,
        asset_failed(run, step.key, asset_key, keys),
    )
    return ok
