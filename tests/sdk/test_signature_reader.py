"""The fast parameter reader agrees with inspect.signature on every function shape."""

from __future__ import annotations

import functools
import inspect

import pytest

from rivers.definitions.signature import _parameters


def _all_kinds(a, b=1, *args, c, d=2, **kw): ...
def _positional_only(a, /, b, *, c=3): ...
def _kwargs_only(**kwargs): ...
def _nothing(): ...
def _locals_after_params(a, b, *, c):
    x, y = 1, 2
    return x + y


async def _async(a, *, b=2): ...
def _lambda_like(x=lambda: 1): ...


@functools.wraps(_all_kinds)
def _wrapped(*args, **kwargs):
    return _all_kinds(*args, **kwargs)


@pytest.mark.parametrize(
    "fn",
    [
        _all_kinds,
        _positional_only,
        _kwargs_only,
        _nothing,
        _locals_after_params,
        _async,
        _lambda_like,
        _wrapped,
        functools.partial(_all_kinds, 1),
    ],
)
def test_parameters_match_inspect_signature(fn):
    """Names, kinds and has-default flags equal what inspect.signature reports."""
    expected = [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in inspect.signature(fn).parameters.values()
    ]
    assert [tuple(p) for p in _parameters(fn, "owner")] == expected
