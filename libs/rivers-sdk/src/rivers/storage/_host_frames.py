"""Byte-level surgery on SurrealDB RPC frames for the storage host.

A request frame is one CBOR map (``id``, ``method``, ``params``, optionally ``session``). The
host must set ``session`` on every request, and must be sure the engine sees exactly the map it
checked: the engine ignores bytes after the first CBOR item and lets a repeated key win, so a
client could otherwise smuggle a second map (or a second ``session``) past a naive edit and run
in the engine's default session, which is not authenticated at all.

So requests are split into their top-level pairs, with every value kept as raw bytes (the
``params`` of a 1,000-event batch are never decoded: walking the structure costs a tenth of a
full decode and re-encode), and rebuilt from those pairs. Responses are not parsed at all; only
the trailing ``session`` pair the engine adds is swapped, when present.
"""

from __future__ import annotations

import uuid
from typing import Any

from surrealdb.data.cbor import decode, encode

__all__ = [
    "FrameError",
    "build_map",
    "decode_value",
    "error_frame",
    "replace_trailing_session",
    "split_map",
]

_BREAK = 0xFF
_SESSION_KEY = encode("session")


class FrameError(ValueError):
    """A frame is not exactly one well-formed CBOR map with text keys."""


def _head(frame: bytes, pos: int) -> tuple[int, int, int]:
    """The major type, argument (-1 for indefinite length) and offset after an item head."""
    try:
        initial = frame[pos]
    except IndexError:
        raise FrameError("truncated frame") from None
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if info < 24:
        return major, info, pos
    if info == 31:
        if major in (0, 1, 6):
            raise FrameError("indefinite length on a type that has none")
        return major, -1, pos
    if info > 27:
        raise FrameError(f"reserved additional information {info}")
    size = 1 << (info - 24)
    if pos + size > len(frame):
        raise FrameError("truncated frame")
    return major, int.from_bytes(frame[pos : pos + size], "big"), pos + size


def _skip(frame: bytes, pos: int) -> int:
    """The offset just past the CBOR item starting at ``pos``."""
    pending = 1
    while pending:
        major, arg, pos = _head(frame, pos)
        pending -= 1
        if arg < 0 and major != 7:
            # Indefinite string, array or map: items (or chunks) up to a break byte.
            while True:
                if pos >= len(frame):
                    raise FrameError("truncated frame")
                if frame[pos] == _BREAK:
                    pos += 1
                    break
                pos = _skip(frame, pos)
        elif major in (2, 3):
            pos += arg
        elif major == 4:
            pending += arg
        elif major == 5:
            pending += 2 * arg
        elif major == 6:
            pending += 1
        elif major == 7 and arg < 0:
            raise FrameError("unexpected break")
        if pos > len(frame):
            raise FrameError("truncated frame")
    return pos


def split_map(frame: bytes) -> dict[str, bytes]:
    """The top-level pairs of a request frame, values as raw CBOR bytes.

    A repeated key keeps its last value, as the engine would.

    Raises:
        FrameError: not a CBOR map with text keys, or bytes follow it.
    """
    major, count, pos = _head(frame, 0)
    if major != 5:
        raise FrameError("a request must be a CBOR map")
    pairs: dict[str, bytes] = {}
    read = 0
    try:
        while True:
            if count >= 0 and read == count:
                break
            if count < 0:
                if pos >= len(frame):
                    raise FrameError("truncated frame")
                if frame[pos] == _BREAK:
                    pos += 1
                    break
            key_end = _skip(frame, pos)
            key = decode(frame[pos:key_end])
            if not isinstance(key, str):
                raise FrameError("request keys must be text")
            value_end = _skip(frame, key_end)
            pairs[key] = frame[key_end:value_end]
            pos, read = value_end, read + 1
    except FrameError:
        raise
    except Exception as exc:  # the key decoder's errors, and RecursionError on deep nesting
        raise FrameError(f"malformed frame: {exc}") from exc
    if pos != len(frame):
        raise FrameError("bytes after the request map")
    return pairs


def _map_head(count: int) -> bytes:
    if count < 24:
        return bytes([0xA0 | count])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if count < 1 << (8 * size):
            return bytes([0xA0 | info]) + count.to_bytes(size, "big")
    raise FrameError("map too large")  # pragma: no cover - 2**64 pairs do not fit in memory


def build_map(pairs: dict[str, bytes]) -> bytes:
    """A CBOR map from text keys and raw CBOR values (the inverse of :func:`split_map`)."""
    parts = [_map_head(len(pairs))]
    for key, value in pairs.items():
        parts.append(encode(key))
        parts.append(value)
    return b"".join(parts)


def error_frame(raw_id: bytes | None, code: int, kind: str, message: str) -> bytes:
    """An RPC error response, shaped as the engine's own (the SDK maps ``kind`` to a class)."""
    pairs: dict[str, bytes] = {}
    if raw_id is not None:
        pairs["id"] = raw_id
    pairs["error"] = encode({"code": code, "kind": kind, "message": message})
    return build_map(pairs)


def replace_trailing_session(
    response: bytes, engine_session: uuid.UUID, raw: bytes | None
) -> bytes:
    """``response`` with its ``session`` pair set to ``raw`` (or removed when ``None``).

    The engine writes response keys in sorted order, so ``session`` is the last pair. A
    response of any other shape is returned unchanged: only the session id differs, and that
    is the caller's own.
    """
    suffix = _SESSION_KEY + encode(engine_session)
    if not response.endswith(suffix):
        return response
    try:
        major, count, pos = _head(response, 0)
    except FrameError:
        return response
    if major != 5 or count < 1:
        return response
    body = response[pos : len(response) - len(suffix)]
    if raw is None:
        return _map_head(count - 1) + body
    return _map_head(count) + body + _SESSION_KEY + raw


def decode_value(raw: bytes | None) -> Any:
    """A small raw value decoded (``None`` when absent)."""
    return None if raw is None else decode(raw)
