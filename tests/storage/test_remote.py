"""The conformance suite through a storage host, plus what only a served store shows.

The host runs in this process (a background thread, port 0) over a temporary store; each test
gets its own database on it, which is how clients of one host stay apart.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from surrealdb import Surreal

from rivers.errors import StorageError
from rivers.execution.events import EventKind
from rivers.storage import Storage
from rivers.storage.host import HostThread, start_in_thread
from tests.storage.conformance import StorageConformance

# The raw SDK ws client trips websockets' deprecation of plain connect(); Storage filters it.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:connect\(\) must be used as a context manager:DeprecationWarning"
)

# A quote and a backslash: the host must escape them when it defines the user.
PASSWORD = "s3cret'pw\\"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostThread]:
    with start_in_thread(tmp_path_factory.mktemp("host"), password=PASSWORD) as running:
        yield running


def connect(url: str, database: str | None = None, password: str = PASSWORD) -> Storage:
    return Storage.connect(url, password=password, database=database or f"t{uuid.uuid4().hex}")


def raw_client(url: str, namespace: str = "ns", database: str = "db") -> Any:
    client = Surreal(url)
    client.connect()
    client.signin({"username": "root", "password": PASSWORD})
    client.use(namespace, database)
    return client


class TestRemoteStorage(StorageConformance):
    @pytest.fixture
    def storage(self, host: HostThread) -> Iterator[Storage]:
        store = connect(host.url).open()
        yield store
        store.close()

    def reopen(self, storage: Storage) -> Storage:
        assert storage.url is not None
        return connect(storage.url, storage.database)

    def writer(self, storage: Storage) -> Storage:
        return self.reopen(storage)


def test_clients_do_not_share_session_state(host: HostThread) -> None:
    """A LET or USE on one connection is invisible on another (one engine session each)."""
    a, b = raw_client(host.url, database="a"), raw_client(host.url, database="b")
    try:
        a.let("secret", 42)
        assert a.query("RETURN $secret;").execute() == [42]
        assert b.query("RETURN $secret;").execute() == [None]
        a.query("DEFINE TABLE only_in_a SCHEMALESS;").execute()
        assert "only_in_a" in a.query("INFO FOR DB;").execute()[0]["tables"]
        assert "only_in_a" not in b.query("INFO FOR DB;").execute()[0]["tables"]
    finally:
        a.close()
        b.close()


def test_unauthenticated_client_is_refused(host: HostThread) -> None:
    """A client that has not signed in can run nothing (its session is anonymous)."""
    client = Surreal(host.url)
    client.connect()
    try:
        with pytest.raises(Exception, match="Anonymous access not allowed"):
            client.query("RETURN 1;").execute()
    finally:
        client.close()


def test_wrong_password_is_refused(host: HostThread) -> None:
    """Connecting with a wrong password fails with a clear StorageError."""
    with pytest.raises(StorageError, match="cannot connect to storage"):
        connect(host.url, password="wrong").open()


def test_databases_on_one_host_are_separate(host: HostThread) -> None:
    """Stores on different databases of one host hold separate data and event sequences."""
    with connect(host.url) as one, connect(host.url) as two:
        one.kv_set("k", "one")
        one.store_events([], location_id="loc")
        assert two.kv_get("k") is None
        assert two.last_event_seq() == 0


def test_client_reconnects_after_host_restart(tmp_path: Path) -> None:
    """After the host restarts on the same port, a client signs in again and carries on."""
    first = start_in_thread(tmp_path, password=PASSWORD)
    port = first.port
    store = connect(first.url, "db").open()
    try:
        store.kv_set("k", "before")
        first.stop()
        with pytest.raises(StorageError):  # host down: retried, then reported
            store.kv_get("k")
        with start_in_thread(tmp_path, password=PASSWORD, port=port):
            assert store.kv_get("k") == "before"
            store.kv_set("k", "after")
            assert store.kv_get("k") == "after"
    finally:
        store.close()


# One client process: event batches plus read-modify-write increments, all contended.
_CLIENT = textwrap.dedent(
    """
    import sys
    from rivers.execution.events import EventKind, RunEvent
    from rivers.storage import Storage

    url, password, database, name = sys.argv[1:5]
    with Storage.connect(url, password=password, database=database) as store:
        for batch in range(40):
            events = [RunEvent.now(name, EventKind.LOG, message=f"{batch}.{i}") for i in range(3)]
            store.store_events(events, location_id="loc")
            store._q(
                "BEGIN; LET $n = (SELECT VALUE n FROM ONLY counter:hits) ?? 0; "
                "UPSERT counter:hits SET n = $n + 1; COMMIT;"
            )
    """
)


def test_client_processes_lose_no_updates(host: HostThread) -> None:
    """Two client processes writing at once through one host: no lost or duplicated writes."""
    database = f"t{uuid.uuid4().hex}"
    with connect(host.url, database) as store:
        clients = [
            subprocess.Popen(
                [sys.executable, "-c", _CLIENT, host.url, PASSWORD, database, f"p{i}"],
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        for client in clients:
            _, err = client.communicate(timeout=120)
            assert client.returncode == 0, err
        assert store._q("RETURN counter:hits.n;") == [80]
        events = store.get_events_after(0, limit=1000)
        assert [e.seq for e in events] == list(range(1, 241))
        for name in ("p0", "p1"):
            mine = store.get_run_events(name, kinds=[EventKind.LOG])
            assert [e.message for e in mine] == [f"{b}.{i}" for b in range(40) for i in range(3)]
