"""Per-step log capture: ``context.log``, ``rivers`` loggers, stdout and stderr → run events.

While a step runs, a :class:`StepScope` is the value of a context variable, so whatever runs
*for* that step — its thread, its asyncio task and the tasks it spawns, a worker process's
main thread — is attributed to it, while concurrent steps in other threads or tasks are not.

- A handler on the ``rivers`` logger turns records of user loggers (``context.log`` is
  ``rivers.asset.<key>``; any ``logging.getLogger("rivers").getChild(...)`` too) into ``LOG``
  events with their level, message, logger name and ``extra`` fields as metadata.
- ``sys.stdout`` and ``sys.stderr`` are replaced by proxies while any step runs: writes of the
  current step become one ``LOG`` event per line; writes outside a step pass through.

Each event's ``metadata["stream"]`` says where it came from (``log``, ``stdout``,
``stderr``); a mapped item's events carry ``map_step`` and ``map_index``. Each stream of a step
attempt is capped (:class:`CaptureLimits`); what is cut is summarized by one final
``… truncated (N more lines, M bytes)`` event.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, ClassVar, TextIO

from rivers.definitions.metadata import MetadataValue
from rivers.execution.events import EventKind, RunEvent
from rivers.telemetry.logs import bind_ids, is_internal_logger

if TYPE_CHECKING:
    from rivers.execution.runcontext import EventSink

__all__ = [
    "STREAMS",
    "CaptureLimits",
    "StepScope",
    "current_scope",
    "emit_outside_scope",
    "install_log_bridge",
    "step_scope",
]

#: The streams a step's log lines come from.
STREAMS = ("log", "stdout", "stderr")
_LEVELS = {"log": "INFO", "stdout": "INFO", "stderr": "WARNING"}

_scope: ContextVar[StepScope | None] = ContextVar("rivers_step_scope", default=None)


@dataclass(frozen=True, slots=True)
class CaptureLimits:
    """How much of each stream one step attempt keeps (``RIVERS_STEP_LOG_MAX_LINES`` / ``_BYTES``).

    Lines past either limit are dropped and counted; the attempt's last event of that stream
    then says how many lines and bytes were cut.
    """

    max_lines: int = 10_000
    max_bytes: int = 1 << 20

    @staticmethod
    def from_env() -> CaptureLimits:
        """Limits from the environment, defaulting to 10,000 lines and 1 MiB per stream."""
        return CaptureLimits(
            max_lines=int(os.environ.get("RIVERS_STEP_LOG_MAX_LINES", "10000")),
            max_bytes=int(os.environ.get("RIVERS_STEP_LOG_MAX_BYTES", str(1 << 20))),
        )


class _Stream:
    __slots__ = ("bytes", "dropped_bytes", "dropped_lines", "lines", "meta")

    def __init__(self, meta: dict[str, MetadataValue]) -> None:
        self.lines = 0
        self.bytes = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self.meta = meta


#: Lines (and bytes) one chunk event holds at most, and how long a line may wait for company.
_CHUNK_LINES = 1000
_CHUNK_BYTES = 256 * 1024
_LINGER = 0.1


class StepScope:
    """One step attempt's log sink: capped, line-buffered, chunked, thread-safe.

    Consecutive lines of one stream, level and logger are sent as one ``LOG`` event (their
    messages joined by newlines, ``metadata["lines"]`` their count): a storage row per line
    would cost far more than the logging itself. A chunk is sent when it is full, when a
    different kind of line or another event of the step comes, and at the latest ``_LINGER``
    seconds after its first line.
    """

    def __init__(
        self,
        events: EventSink,
        run_id: str,
        step_key: str,
        *,
        attempt: int = 0,
        map_step: str | None = None,
        map_index: int | None = None,
        limits: CaptureLimits | None = None,
    ) -> None:
        self._events = events
        self.run_id = run_id
        self.step_key = step_key
        self.attempt = attempt
        self._limits = limits or CaptureLimits.from_env()
        self._lock = threading.Lock()
        self._map = (map_step, map_index)
        # Made on a stream's first line: most steps write nothing at all.
        self._streams: dict[str, _Stream] = {}
        self._partial = dict.fromkeys(STREAMS, "")
        # The open chunk: its key (stream, level, logger), lines, size and first line's time.
        self._key: tuple[str, str, str | None] | None = None
        self._lines: list[str] = []
        self._size = 0
        self._since = 0.0

    def _stream(self, name: str) -> _Stream:
        state = self._streams.get(name)
        if state is None:
            meta = {"stream": MetadataValue.text(name)}
            map_step, map_index = self._map
            if map_step is not None and map_index is not None:
                meta["map_step"] = MetadataValue.text(map_step)
                meta["map_index"] = MetadataValue.int(map_index)
            state = self._streams[name] = _Stream(meta)
        return state

    def line(
        self,
        stream: str,
        message: str,
        *,
        level: str | None = None,
        logger: str | None = None,
        extra: dict[str, MetadataValue] | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Record one line of ``stream`` (dropped and counted once the stream is full)."""
        state = self._streams.get(stream) or self._stream(stream)
        size = (len(message) if message.isascii() else len(message.encode("utf-8", "replace"))) + 1
        level = level or _LEVELS[stream]
        with self._lock:
            if state.lines >= self._limits.max_lines or state.bytes + size > self._limits.max_bytes:
                state.dropped_lines += 1
                state.dropped_bytes += size
                return
            state.lines += 1
            state.bytes += size
            key = (stream, level, logger)
            if extra or "\n" in message:
                # Lines with fields of their own, or several lines in one record: alone.
                self._send_chunk()
                meta = {**extra, **state.meta} if extra else dict(state.meta)
                if logger is not None:
                    meta["logger"] = MetadataValue.text(logger)
                self._send(message, level, meta, timestamp)
                return
            if (
                key != self._key
                or len(self._lines) >= _CHUNK_LINES
                or self._size + size > _CHUNK_BYTES
            ):
                self._send_chunk()
                self._key = key
                self._since = time.time() if timestamp is None else timestamp
            self._lines.append(message)
            self._size += size
        if len(self._lines) == 1:
            _Flusher.watch(self)

    def _send(
        self, message: str, level: str, metadata: dict[str, MetadataValue], timestamp: float | None
    ) -> None:
        # Built without validation: every field is ours and already of the right type.
        emit_outside_scope(
            self._events,
            RunEvent.model_construct(
                run_id=self.run_id,
                kind=EventKind.LOG,
                timestamp=time.time() if timestamp is None else timestamp,
                step_key=self.step_key,
                level=level,
                message=message,
                metadata=metadata,
                attempt=self.attempt,
            ),
        )

    def _send_chunk(self) -> None:
        # With the lock held: chunks leave in the order their lines came.
        if self._key is None or not self._lines:
            return
        stream, level, logger = self._key
        meta = dict(self._streams[stream].meta)  # made by the chunk's first line
        if logger is not None:
            meta["logger"] = MetadataValue.text(logger)
        if len(self._lines) > 1:
            meta["lines"] = MetadataValue.int(len(self._lines))
        self._send("\n".join(self._lines), level, meta, self._since)
        self._key, self._lines, self._size = None, [], 0

    def flush(self, *, older_than: float | None = None) -> None:
        """Send the open chunk (only if its first line is older than ``older_than``)."""
        with self._lock:
            if older_than is None or (self._lines and self._since < older_than):
                self._send_chunk()

    def write(self, stream: str, text: str) -> None:
        """Append raw output (from ``print`` and friends); complete lines become events."""
        with self._lock:
            pending = self._partial[stream] + text
            *lines, self._partial[stream] = pending.split("\n")
        for one in lines:
            self.line(stream, one)

    def close(self) -> None:
        """Flush partial lines and the open chunk, and report what the caps cut."""
        _Flusher.forget(self)
        for name in STREAMS:
            with self._lock:
                partial, self._partial[name] = self._partial[name], ""
            if partial:
                self.line(name, partial)
        self.flush()
        for state in self._streams.values():
            if state.dropped_lines:
                self._send(
                    f"… truncated ({state.dropped_lines} more lines, {state.dropped_bytes} bytes)",
                    "WARNING",
                    {
                        **state.meta,
                        "truncated_lines": MetadataValue.int(state.dropped_lines),
                        "truncated_bytes": MetadataValue.int(state.dropped_bytes),
                    },
                    None,
                )


class _Flusher:
    """One daemon thread sending chunks that waited ``_LINGER`` seconds (live tailing)."""

    _cond = threading.Condition()
    _scopes: ClassVar[set[StepScope]] = set()
    _thread: threading.Thread | None = None

    @classmethod
    def watch(cls, scope: StepScope) -> None:
        with cls._cond:
            if scope in cls._scopes:
                return
            cls._scopes.add(scope)
            if cls._thread is None or not cls._thread.is_alive():
                cls._thread = threading.Thread(
                    target=cls._run, name="rivers-log-flusher", daemon=True
                )
                cls._thread.start()
            cls._cond.notify()

    @classmethod
    def forget(cls, scope: StepScope) -> None:
        with cls._cond:
            cls._scopes.discard(scope)

    @classmethod
    def _run(cls) -> None:
        while True:
            with cls._cond:
                while not cls._scopes:
                    cls._cond.wait()
                scopes = list(cls._scopes)
            time.sleep(_LINGER / 2)
            cutoff = time.time() - _LINGER
            for scope in scopes:
                try:
                    scope.flush(older_than=cutoff)
                except Exception:  # a closed channel: the step's process is going away
                    cls.forget(scope)


def emit_outside_scope(events: EventSink, event: RunEvent) -> None:
    """Emit with no step scope current: what listeners print or log is not the step's output.

    (A listener writing to ``sys.stdout`` would otherwise feed the step's own log, under the
    lock the step's lines are sent with.)
    """
    token = _scope.set(None)
    try:
        events.emit(event)
    finally:
        _scope.reset(token)


def current_scope() -> StepScope | None:
    """The scope of the step running in this thread or task, if any."""
    return _scope.get()


@contextlib.contextmanager
def step_scope(
    events: EventSink,
    run_id: str,
    step_key: str,
    *,
    attempt: int = 0,
    map_step: str | None = None,
    map_index: int | None = None,
) -> Iterator[StepScope]:
    """Attribute logs and output of the current thread/task to ``step_key`` inside the block."""
    install_log_bridge()
    scope = StepScope(
        events, run_id, step_key, attempt=attempt, map_step=map_step, map_index=map_index
    )
    token = _scope.set(scope)
    _Redirect.acquire()
    try:
        with bind_ids(run_id=run_id, step_key=step_key):
            yield scope
    finally:
        _Redirect.release()
        _reset(token, None)
        scope.close()


def _reset(token: Any, fallback: StepScope | None) -> None:
    # A generator-driven step closed from another context (garbage collection) cannot reset
    # its token; setting the variable there is harmless, as that context runs no step.
    try:
        _scope.reset(token)
    except ValueError:
        _scope.set(fallback)


# --- stdout / stderr -------------------------------------------------------------------------


class _StreamProxy:
    """Stands in for ``sys.stdout``/``sys.stderr``: the current step's writes are captured."""

    def __init__(self, name: str, target: TextIO) -> None:
        self._name = name
        self._target = target

    def write(self, text: str) -> int:
        scope = _scope.get()
        if scope is None:
            return self._target.write(text)
        scope.write(self._name, text)
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for text in lines:
            self.write(text)

    def flush(self) -> None:
        if _scope.get() is None:
            self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _Redirect:
    """Installs the proxies while at least one step runs, restoring the streams after."""

    _lock = threading.Lock()
    _active = 0
    _saved: tuple[IO[str], IO[str]] | None = None

    @classmethod
    def acquire(cls) -> None:
        with cls._lock:
            cls._active += 1
            if cls._active == 1:
                cls._saved = (sys.stdout, sys.stderr)
                sys.stdout = _StreamProxy("stdout", sys.stdout)
                sys.stderr = _StreamProxy("stderr", sys.stderr)

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            cls._active -= 1
            if cls._active == 0 and cls._saved is not None:
                # Only undo our own replacement: someone may have swapped the streams since.
                if isinstance(sys.stdout, _StreamProxy):
                    sys.stdout = cls._saved[0]
                if isinstance(sys.stderr, _StreamProxy):
                    sys.stderr = cls._saved[1]
                cls._saved = None


# --- logging ---------------------------------------------------------------------------------

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def _metadata_value(value: Any) -> MetadataValue:
    if isinstance(value, bool):
        return MetadataValue.bool(value)
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return MetadataValue.int(value)
    if isinstance(value, float):
        return MetadataValue.float(value)
    if isinstance(value, MetadataValue):
        return value
    return MetadataValue.text(value if isinstance(value, str) else repr(value))


class _BridgeHandler(logging.Handler):
    """Turns records of user loggers under ``rivers`` into the running step's events."""

    def emit(self, record: logging.LogRecord) -> None:
        scope = _scope.get()
        if scope is None or is_internal_logger(record.name):
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            extra = {
                key: _metadata_value(value)
                for key, value in vars(record).items()
                if key not in _STANDARD_ATTRS and not key.startswith("_")
            }
            scope.line(
                "log",
                message,
                level=record.levelname,
                logger=record.name,
                extra=extra,
                timestamp=record.created,
            )
        except Exception:
            self.handleError(record)


class _Forwarder(logging.Handler):
    """Passes records on to the root logger as if ``rivers`` had no level of its own.

    Installed only when the application left the ``rivers`` logger unconfigured: the bridge
    lowers its level to see user ``INFO``/``DEBUG`` records, and this keeps the root handlers
    seeing exactly what they saw before.
    """

    def emit(self, record: logging.LogRecord) -> None:
        logger: logging.Logger | None = logging.getLogger(record.name)
        threshold = logging.getLogger().level
        while logger is not None and logger.name != "rivers":
            if logger.level:
                threshold = logger.level
                break
            logger = logger.parent
        if record.levelno >= threshold:
            logging.getLogger().handle(record)


_install_lock = threading.Lock()


def install_log_bridge() -> None:
    """Attach the bridge to the ``rivers`` logger (idempotent)."""
    root = logging.getLogger("rivers")
    if any(isinstance(h, _BridgeHandler) for h in root.handlers):
        return
    with _install_lock:
        if any(isinstance(h, _BridgeHandler) for h in root.handlers):
            return
        if root.level == logging.NOTSET and root.propagate:
            forwarder = _Forwarder()
            forwarder._rivers = True  # type: ignore[attr-defined]  # configure_logging replaces it
            root.addHandler(forwarder)
            root.propagate = False
            root.setLevel(logging.DEBUG)
        root.addHandler(_BridgeHandler())
