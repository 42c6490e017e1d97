"""Running a ``BashTask``: the command, its output streamed line by line, its exit status."""

from __future__ import annotations

import os
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from rivers.errors import RiversError

if TYPE_CHECKING:
    from rivers.definitions.task import BashTask

__all__ = ["BashTaskError", "run_bash"]

_TAIL_LINES = 20


class BashTaskError(RiversError):
    """A shell task exited with a non-zero status; the message ends with its stderr tail."""


def run_bash(task: BashTask, on_line: Callable[[str, str], None]) -> str:
    """Run ``task``'s command; ``on_line(stream, line)`` sees every output line as it comes.

    Returns:
        The command's stdout.

    Raises:
        BashTaskError: the command could not start or exited with a non-zero status.
    """
    env = {**os.environ, **task.env}
    try:
        process = subprocess.Popen(  # noqa: S603 - the user's own command, by design
            list(task.command),
            cwd=task.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
    except OSError as exc:
        raise BashTaskError(f"task {task.name!r}: cannot run {list(task.command)}: {exc}") from exc
    stdout: list[str] = []
    stderr_tail: deque[str] = deque(maxlen=_TAIL_LINES)

    def pump_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            line = line.rstrip("\n")
            stderr_tail.append(line)
            on_line("stderr", line)

    with process:  # closes the pipes, whatever happens
        reader = threading.Thread(target=pump_stderr, name="rivers-bash-stderr", daemon=True)
        reader.start()
        assert process.stdout is not None
        try:
            for line in process.stdout:
                stdout.append(line)
                on_line("stdout", line.rstrip("\n"))
            code = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            reader.join()
    if code != 0:
        tail = "\n".join(stderr_tail) or "(no stderr)"
        raise BashTaskError(
            f"task {task.name!r}: {list(task.command)} exited with status {code}; "
            f"stderr (last {len(stderr_tail)} lines):\n{tail}"
        )
    return "".join(stdout)
