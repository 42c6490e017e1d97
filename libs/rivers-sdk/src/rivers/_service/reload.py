"""Asking a code location to reload from outside (the UI's Reload button).

The request is a key of the store's key-value table, ``location-reload/<identity>``, whose
value is ``{"requested_at": <unix time>, "server_id": <the incarnation asked>}``. The code
server serving that location polls it, reloads its module when the request is newer than the
last one it handled, and deletes the key. A reload gives the location a new ``server_id``.
"""

from __future__ import annotations

__all__ = ["reload_key"]


def reload_key(identity: str) -> str:
    """The key-value key holding a reload request for the location ``identity``."""
    return f"location-reload/{identity}"
