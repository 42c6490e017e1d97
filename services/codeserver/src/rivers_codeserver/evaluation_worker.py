"""An evaluation worker process: evaluates sensor and schedule ticks, one at a time.

``python -m rivers_codeserver.evaluation_worker --module M [--attribute A] --storage URL``

It imports the user's module once, then answers requests for as long as the code server
keeps its stdin open. The protocol is framed over the pipes: every frame is a 4-byte
big-endian length and a payload. The worker first sends an empty frame (ready: the module
is imported); then, per request frame (JSON: ``{"kind": "sensor", "name", "cursor",
"last_tick_time"}`` or ``{"kind": "schedule", "name", "scheduled_time"}``), one reply frame:
the serialised ``EvaluateSensorResponse`` / ``EvaluateScheduleResponse``. User errors travel
inside the reply; a request that cannot be served at all (the module failed to load, an
unknown name) comes back as an error reply too.

The reply pipe is a private copy of stdout: the user's ``print`` goes to stderr, so it cannot
corrupt the frames. When stdin closes (the server stopped or died) the worker exits at once,
even in the middle of a hanging evaluation. This module imports neither grpc nor the server.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import struct
import sys
import threading
from collections.abc import Sequence
from typing import Any, BinaryIO

__all__ = ["main", "read_frame", "write_frame"]

_HEADER = struct.Struct(">I")


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    """Send one frame."""
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def read_frame(stream: BinaryIO) -> bytes | None:
    """Read one frame; ``None`` at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    return payload if len(payload) == size else None


def _read_requests(inbox: queue.Queue[bytes]) -> None:
    # A thread, so that the server closing the pipe ends the worker even mid-evaluation.
    while (frame := read_frame(sys.stdin.buffer)) is not None:
        inbox.put(frame)
    os._exit(0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rivers_codeserver.evaluation_worker")
    parser.add_argument("--module", required=True)
    parser.add_argument("--attribute")
    parser.add_argument("--storage", required=True, help="ws:// URL of the store")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve evaluation requests until stdin closes."""
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the code server decides when we stop
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from rivers.telemetry import configure_logging, get_logger

    configure_logging(os.environ.get("RIVERS_LOG_LEVEL", "WARNING"), style="json")
    log = get_logger("rivers.codeserver.evaluation_worker")

    from rivers.cli.loader import LoadError, load_repository
    from rivers.storage import Storage

    storage = Storage.connect(
        args.storage,
        username=os.environ.get("RIVERS_STORAGE_USER", "root"),
        password=os.environ.get("RIVERS_STORAGE_PASSWORD", "root"),
        namespace=os.environ.get("RIVERS_STORAGE_NAMESPACE", "rivers"),
        database=os.environ.get("RIVERS_STORAGE_DATABASE", "rivers"),
    )
    repo: Any
    try:
        repo = load_repository(args.module, args.attribute)
    except LoadError as exc:
        repo = exc  # every request is answered with it
    try:
        storage.open()  # sign in now rather than in the first sensor that reads the store
    except Exception as exc:  # a sensor that reads the store fails then, with the reason
        log.warning("evaluation_worker.storage_unavailable", error=str(exc))
    inbox: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=_read_requests, args=(inbox,), daemon=True).start()
    write_frame(replies, b"")
    while True:
        request = json.loads(inbox.get())
        write_frame(replies, _answer(repo, request, storage))


def _answer(repo: Any, request: dict[str, Any], storage: Any) -> bytes:
    from rivers.cli.loader import LoadError
    from rivers_codeserver.evaluation import (
        evaluate_schedule,
        evaluate_sensor,
        failure,
    )

    kind, name = request["kind"], request["name"]
    if kind == "sensor":
        from rivers._convert.automation import sensor_error_to_proto

        if isinstance(repo, LoadError) or name not in repo.sensors:
            why = f"the code location failed to load: {repo}" if isinstance(repo, LoadError) else ""
            return sensor_error_to_proto(
                failure("LoadError", why or f"no sensor {name!r} in this worker's code")
            ).SerializeToString()
        return evaluate_sensor(
            repo.sensors[name],
            cursor=request.get("cursor"),
            last_tick_time=request.get("last_tick_time"),
            storage=storage,
        ).SerializeToString()
    from rivers._convert.automation import schedule_error_to_proto

    if isinstance(repo, LoadError) or name not in repo.schedules:
        why = f"the code location failed to load: {repo}" if isinstance(repo, LoadError) else ""
        return schedule_error_to_proto(
            failure("LoadError", why or f"no schedule {name!r} in this worker's code")
        ).SerializeToString()
    return evaluate_schedule(
        repo.schedules[name], scheduled_time=request["scheduled_time"], storage=storage
    ).SerializeToString()


if __name__ == "__main__":
    sys.exit(main())
