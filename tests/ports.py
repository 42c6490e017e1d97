"""Fixed ports for services a test starts as subprocesses (or restarts on the same port).

A port found free by binding port 0 comes from the kernel's ephemeral range and may be handed
to another port-0 server (one of the stack's own) before the test's service binds it. Ports
here come from below that range (32768-60999 on Linux by default), which port-0 binds never
use, and are checked free by binding them.
"""

from __future__ import annotations

import random
import socket

__all__ = ["free_port"]

_RANGE = (20000, 32000)


def free_port() -> int:
    """A free loopback port outside the ephemeral range."""
    for _ in range(200):
        port = random.randrange(*_RANGE)  # noqa: S311 (not for security)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {_RANGE}")
