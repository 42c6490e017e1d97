"""The channel between the run process and its worker processes.

Frames are a 4-byte big-endian length and a pickle. What a worker needs of the run (asset
definitions, resolved inputs, config, IO handlers) travels once per run as a cloudpickle, so
functions defined in scripts and closures work, and importable functions go by reference.
Objects that only make sense in the run process — the storage connection and process-local
IO handlers such as ``IOHandler.in_memory()`` — are replaced by references and reached
through remote calls, so they behave the same in a worker as in the run process.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import pickle
import struct
import threading
import types
from collections import ChainMap
from collections.abc import Callable
from typing import Any

__all__ = [
    "Channel",
    "ChannelClosed",
    "RemoteObject",
    "dump_run_spec",
    "load_run_spec",
]

_HEADER = struct.Struct(">I")


class ChannelClosed(EOFError):
    """The other end of the channel went away."""


class Channel:
    """Framed pickles over a pair of pipe file descriptors."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._reader = os.fdopen(read_fd, "rb", buffering=0)
        self._writer = os.fdopen(write_fd, "wb", buffering=0)
        self._send_lock = threading.Lock()

    def send(self, message: Any) -> None:
        """Write one message (thread-safe)."""
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._send_lock:
            if self._writer.closed:
                raise ChannelClosed("channel closed")
            self._writer.write(_HEADER.pack(len(payload)) + payload)

    def recv(self) -> Any:
        """Read one message.

        Raises:
            ChannelClosed: the other process closed its end (or died).
        """
        header = self._read_exactly(_HEADER.size)
        return pickle.loads(self._read_exactly(_HEADER.unpack(header)[0]))  # noqa: S301 - our own child/parent

    def _read_exactly(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self._reader.read(n)
            if not chunk:
                raise ChannelClosed("channel closed")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def close_writer(self) -> None:
        """Close the sending end: the other process reads end-of-file and stops (idempotent)."""
        with self._send_lock, contextlib.suppress(OSError):
            self._writer.close()

    def close(self) -> None:
        """Close both ends (idempotent); only once nobody reads any more."""
        self.close_writer()
        with contextlib.suppress(OSError):
            self._reader.close()


class RemoteObject:
    """Stands in a worker for an object of the run process; method calls go over the wire."""

    __slots__ = ("_call", "_ref")

    def __init__(self, ref: str, call: Callable[[str, str, tuple[Any, ...], dict[str, Any]], Any]):
        self._ref = ref
        self._call = call

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("__"):
            raise AttributeError(method)

        def remote(*args: Any, **kwargs: Any) -> Any:
            return self._call(self._ref, method, args, kwargs)

        return remote

    def __repr__(self) -> str:
        return f"RemoteObject({self._ref!r})"


class _SpecPickler:
    """cloudpickle with run-process-only objects swapped for references."""

    def __init__(self, local: Callable[[Any], str | None]) -> None:
        self._local = local

    def dumps(self, obj: Any) -> bytes:
        import cloudpickle

        local = self._local
        buffer = io.BytesIO()

        class Pickler(cloudpickle.CloudPickler):  # type: ignore[misc]  # untyped base
            # Read by the C pickler when it is constructed, so it is set on the class.
            dispatch_table = _dispatch_table(cloudpickle)

            def persistent_id(self, candidate: Any) -> str | None:
                return local(candidate)

        Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
        return buffer.getvalue()


def _dispatch_table(cloudpickle: Any) -> Any:
    reduce_code = getattr(cloudpickle.cloudpickle, "_code_reduce", None)
    base = cloudpickle.CloudPickler.dispatch_table
    if reduce_code is None:
        return base
    return ChainMap({types.CodeType: _keep_filename(reduce_code)}, base)


def _keep_filename(reduce_code: Callable[[Any], Any]) -> Callable[[types.CodeType], Any]:
    """Cloudpickle's code reducer, keeping the code's real file name.

    cloudpickle writes ``<dynamic-code>`` for functions it pickles by value (defined in a
    script, a notebook or a function); tracebacks from worker processes would then point
    nowhere. Same machine, same files: keep the name so they show the user's source lines.
    """

    def reduce(code: types.CodeType) -> Any:
        constructor, args = reduce_code(code)
        return constructor, tuple(
            code.co_filename if arg == "<dynamic-code>" else arg for arg in args
        )

    return reduce


def dump_run_spec(spec: Any, local: Callable[[Any], str | None]) -> bytes:
    """Pickle a run spec; ``local(obj)`` returns a reference for objects that stay behind."""
    return _SpecPickler(local).dumps(spec)


def load_run_spec(
    blob: bytes, call: Callable[[str, str, tuple[Any, ...], dict[str, Any]], Any]
) -> Any:
    """Unpickle a run spec in a worker; references become :class:`RemoteObject` proxies."""

    class Unpickler(pickle.Unpickler):
        def persistent_load(self, pid: Any) -> Any:
            return RemoteObject(str(pid), call)

    return Unpickler(io.BytesIO(blob)).load()


_ids = itertools.count(1)


def next_request_id() -> int:
    """A process-unique id for a remote call."""
    return next(_ids)
