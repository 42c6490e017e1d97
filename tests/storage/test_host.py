"""The storage host at the protocol level: frames, sessions, health, start-up errors.

Raw frames go over a plain websockets client, so these tests see exactly what a SurrealDB
client would, with nothing of the SDK in between.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from surrealdb.data.cbor import decode, encode
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from rivers.errors import StorageError
from rivers.storage import Storage
from rivers.storage._host_frames import FrameError, build_map, split_map
from rivers.storage.host import HostThread, StorageHost, start_in_thread

PASSWORD = "pw"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostThread]:
    with start_in_thread(tmp_path_factory.mktemp("host"), password=PASSWORD) as running:
        yield running


@pytest.fixture
def ws(host: HostThread) -> Iterator[ClientConnection]:
    with connect(f"{host.url}/rpc", subprotocols=["cbor"]) as socket:  # type: ignore[list-item]
        yield socket


def receive(ws: ClientConnection) -> dict[str, Any]:
    data = ws.recv(timeout=10)
    assert isinstance(data, bytes)
    reply: dict[str, Any] = decode(data)
    return reply


def call(ws: ClientConnection, frame: dict[str, Any] | bytes) -> dict[str, Any]:
    ws.send(frame if isinstance(frame, bytes) else encode(frame))
    return receive(ws)


def signin(ws: ClientConnection, **extra: Any) -> None:
    params = [{"user": "root", "pass": PASSWORD}]
    assert "result" in call(ws, {"id": "in", "method": "signin", "params": params, **extra})


def test_health_reports_the_engine(host: HostThread) -> None:
    """GET /health answers 200 with the engine version while the host runs."""
    with urllib.request.urlopen(f"http://127.0.0.1:{host.port}/health", timeout=10) as reply:
        body = json.loads(reply.read())
    assert body["status"] == "ok"
    assert body["engine"].startswith("surrealdb-3.")


def test_rpc_requires_the_cbor_subprotocol(host: HostThread) -> None:
    """A WebSocket that does not ask for CBOR is refused at the handshake."""
    with pytest.raises(InvalidStatus, match="400"):
        connect(f"{host.url}/rpc").close()


def test_reply_keeps_the_id_and_hides_the_engine_session(ws: ClientConnection) -> None:
    """Replies carry the request's id (any type) and no session the client did not send."""
    assert call(ws, {"id": "abc", "method": "version"}) == {
        "id": "abc",
        "result": "surrealdb-3.2.4",
    }
    assert call(ws, {"id": 7, "method": "version"})["id"] == 7


def test_concurrent_requests_are_correlated_by_id(ws: ClientConnection) -> None:
    """Requests sent together are answered as they finish, each under its own id."""
    signin(ws)
    call(ws, {"id": "use", "method": "use", "params": ["ns", "db"]})
    ws.send(
        encode({"id": "slow", "method": "query", "params": ["SLEEP 200ms; RETURN 'slow';", {}]})
    )
    for i in range(20):
        ws.send(encode({"id": f"q{i}", "method": "query", "params": ["RETURN $i;", {"i": i}]}))
    replies = [receive(ws) for _ in range(21)]
    assert replies[-1]["id"] == "slow"  # the slow one did not hold the others back
    results = {r["id"]: r["result"][-1]["result"] for r in replies}
    assert results == {"slow": "slow", **{f"q{i}": i for i in range(20)}}


@pytest.mark.parametrize(
    "frame",
    [
        # A second map after the first: the engine would read only the first one.
        encode({"id": "x", "method": "query", "params": ["INFO FOR ROOT;", {}]})
        + encode({"session": str(uuid.uuid4())}),
        encode({"id": "x", "method": "query", "params": ["INFO FOR ROOT;", {}]})[:-3],
        encode(["query", "INFO FOR ROOT;"]),
        b"\xa1\x01\x02",
        b"\x9f" * 10_000,
    ],
    ids=["trailing-map", "truncated", "not-a-map", "non-text-key", "deep-nesting"],
)
def test_malformed_frames_get_a_parse_error(ws: ClientConnection, frame: bytes) -> None:
    """A frame that is not exactly one CBOR map is refused before it reaches the engine."""
    reply = call(ws, frame)
    assert reply["error"]["code"] == -32700
    assert "result" not in reply


def test_unauthenticated_requests_are_refused(ws: ClientConnection) -> None:
    """Before signin a socket's session is anonymous, even with a session of its own named."""
    reply = call(ws, {"id": "1", "method": "query", "params": ["INFO FOR ROOT;", {}]})
    assert "Anonymous access not allowed" in reply["error"]["message"]
    named = str(uuid.uuid4())
    assert call(ws, {"id": "2", "method": "attach", "session": named})["result"] is None
    reply = call(
        ws, {"id": "3", "method": "query", "params": ["INFO FOR ROOT;", {}], "session": named}
    )
    assert "Anonymous access not allowed" in reply["error"]["message"]


def test_client_sessions_are_kept_apart(ws: ClientConnection) -> None:
    """Sessions a client attaches are its own, echoed by id, and gone after detach."""
    signin(ws)
    call(ws, {"id": "use", "method": "use", "params": ["ns", "db"]})
    named = str(uuid.uuid4())
    assert call(ws, {"id": "a", "method": "attach", "session": named}) == {
        "id": "a",
        "result": None,
        "session": named,
    }
    signin(ws, session=named)
    call(ws, {"id": "l", "method": "let", "params": ["v", 1], "session": named})
    query = {"id": "q", "method": "query", "params": ["RETURN $v;", {}]}
    assert call(ws, {**query, "session": named})["result"][0]["result"] == 1
    assert call(ws, query)["result"][0]["result"] is None
    assert call(ws, {"id": "d", "method": "detach", "session": named})["result"] is None
    assert "Session not found" in call(ws, {**query, "session": named})["error"]["message"]
    assert "Expected a session ID" in call(ws, {"id": "x", "method": "attach"})["error"]["message"]


def test_text_frames_close_the_socket(ws: ClientConnection) -> None:
    """The host speaks CBOR only: a text frame closes the socket with 1003."""
    ws.send("{}")
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003


def test_a_served_store_cannot_be_opened_twice(host: HostThread) -> None:
    """While served, the store refuses a second host and a direct embedded open."""
    with pytest.raises(StorageError, match="another process owns this store"):
        start_in_thread(host.server.path)
    with pytest.raises(StorageError, match=r"Storage\.connect"):
        Storage.embedded(host.server.path).open()


def test_taken_port_is_a_clear_error(host: HostThread, tmp_path: Path) -> None:
    """Starting on a port in use fails with a StorageError naming the address."""
    with pytest.raises(StorageError, match="cannot listen on"):
        start_in_thread(tmp_path, port=host.port)


def test_user_name_must_be_an_identifier(tmp_path: Path) -> None:
    """A user name that is not a plain identifier is refused before anything starts."""
    with pytest.raises(StorageError, match="invalid storage user name"):
        StorageHost(tmp_path, username="root; REMOVE USER root")


def test_stop_closes_clients_and_releases_the_store(tmp_path: Path) -> None:
    """Stopping closes open sockets with 1001 and unlocks the store, data intact."""
    running = start_in_thread(tmp_path, password=PASSWORD)
    with Storage.connect(running.url, password=PASSWORD) as store:
        store.kv_set("k", "kept")
    with connect(f"{running.url}/rpc", subprotocols=["cbor"]) as socket:  # type: ignore[list-item]
        running.stop()
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{running.port}/health", timeout=5)
    with Storage.embedded(tmp_path) as store:
        assert store.kv_get("k") == "kept"


@pytest.mark.parametrize(
    "value",
    [{"id": "1", "method": "query", "params": ["RETURN 1;", {"x": [1.5, None, b"\x00"]}]}, {}],
)
def test_frames_split_and_rebuild_unchanged(value: dict[str, Any]) -> None:
    """Splitting a request into raw pairs and rebuilding it gives back the same bytes."""
    frame = encode(value)
    assert build_map(split_map(frame)) == frame
    indefinite = b"\xbf" + frame[1:] + b"\xff"
    assert build_map(split_map(indefinite)) == frame


def test_repeated_keys_keep_the_last_value() -> None:
    """A repeated key keeps its last value, as the engine reads it."""
    frame = b"\xa2" + encode("k") + encode(1) + encode("k") + encode(2)
    assert split_map(frame) == {"k": encode(2)}
    with pytest.raises(FrameError):
        split_map(b"\xff")
