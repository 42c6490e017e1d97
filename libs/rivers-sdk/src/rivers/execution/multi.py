"""Running a multi-asset step: one call, one ``rs.Output`` per selected output."""

from __future__ import annotations

import inspect
from collections.abc import Generator, Iterable
from typing import Any, cast

from rivers.definitions.keys import key_name
from rivers.definitions.output import Output
from rivers.execution.runcontext import RunContext
from rivers.execution.step import (
    _attempts,
    _Await,
    _invoke,
    _Program,
    _record_output,
    asset_failed,
    emit_outcome,
)
from rivers.planning.plan import PlanStep

__all__ = ["multi_program"]


def _outputs(step_name: str, result: Any) -> Iterable[Output]:
    if isinstance(result, Output):
        return [result]
    if inspect.isgenerator(result) or isinstance(result, list | tuple):
        return cast(Iterable[Output], result)
    raise TypeError(
        f"multi-asset {step_name!r} must yield (or return a list of) rs.Output(..., "
        f"output_name=...), not {type(result).__name__}"
    )


def multi_program(run: RunContext, step: PlanStep, first_attempt: int) -> _Program:
    """Call the multi-asset function once; store each selected output it yields."""
    selected = {key: run.assets[key] for key in step.asset_keys}
    first = next(iter(selected.values()))
    keys = run.keys_of(first)
    names = {key_name(k): k for k in selected}

    def body(attempt: int) -> Generator[_Await, Any, None]:
        result, context = yield from _invoke(run, first, step, keys, attempt)
        produced: set[str] = set()
        for out in _outputs(step.key, result):
            if not isinstance(out, Output) or out.output_name is None:
                raise TypeError(
                    f"multi-asset {step.key!r} yielded {out!r}; yield "
                    "rs.Output(value, output_name='<output>') for each output"
                )
            key = out.output_name if out.output_name in selected else names.get(out.output_name)
            if key is None:
                continue  # an output this run did not select: not stored
            if key in produced:
                raise ValueError(f"multi-asset {step.key!r} yielded {out.output_name!r} twice")
            produced.add(key)
            outcome = _record_output(run, selected[key], step, keys, out, context)
            emit_outcome(run, step.key, key, outcome, attempt)
        missing = sorted(set(selected) - produced)
        if missing:
            raise ValueError(
                f"multi-asset {step.key!r} did not yield the selected outputs {missing} "
                "(check context.output_selection)"
            )

    def on_failure(message: str) -> None:
        for key in selected:
            asset_failed(run, step.key, key, keys)(message)

    ok, _ = yield from _attempts(
        run, step.key, None, first.retry_policy, first_attempt, body, on_failure
    )
    return ok
