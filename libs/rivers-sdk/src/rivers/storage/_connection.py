"""Connections to a SurrealDB engine: embedded (surrealkv) or remote (ws://).

Apart from the storage host (``host.py`` and its ``_host_*`` modules, which serve an engine
rather than query one), this is the only module that imports the ``surrealdb`` SDK. It owns
three concerns:

- one engine per embedded path per process (the engine locks its directory; a second open,
  even in-process, fails), shared by reference count;
- retrying statements that SurrealDB reports as retryable transaction conflicts, and
  reconnecting remote connections that dropped;
- closing every engine at interpreter exit (an open engine can abort the interpreter).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from rivers.errors import StorageError
from rivers.telemetry import get_logger

__all__ = ["Connection", "QueryObserver", "open_embedded", "open_remote", "set_query_observer"]

log = get_logger("rivers.storage")

_RETRY_ATTEMPTS = 40
_NAMESPACE = "rivers"
_DATABASE = "rivers"

#: Called after each query with ``(operation, seconds)``; ``operation`` is ``read`` (SELECT,
#: RETURN, INFO) or ``write`` (anything else, transactions included).
QueryObserver = Callable[[str, float], None]
# A plain global rather than per-store: services install one (rivers._service.metrics);
# elsewhere (inline materialize, scripts) it stays None and costs one comparison per query.
_observer: QueryObserver | None = None
_READS = ("SELECT", "RETURN", "INFO")


def set_query_observer(observer: QueryObserver | None) -> QueryObserver | None:
    """Install the process's query observer (``None``: none); returns the previous one."""
    global _observer
    previous, _observer = _observer, observer
    return previous


def _is_retryable(exc: BaseException) -> bool:
    from surrealdb import QueryError, TransportError, TransportTimeoutError

    if isinstance(exc, QueryError) and exc.is_transaction_conflict:
        return True
    if isinstance(exc, TransportTimeoutError):
        # No reply in 30 s: the statement may still be running (or have committed), and
        # 40 more tries would hang the caller for 20 minutes. Surface it instead.
        return False
    if isinstance(exc, TransportError):
        return True
    text = str(exc).lower()
    return "can be retried" in text or "transaction conflict" in text or "resource busy" in text


def _is_conflict(exc: BaseException) -> bool:
    """A retryable transaction conflict (not a transport failure, which reconnecting fixes)."""
    from surrealdb import TransportError

    return _is_retryable(exc) and not isinstance(exc, TransportError)


def _statement_results(response: dict[str, Any]) -> list[Any]:
    """One result per statement of a query answer, raising the error that explains a failure.

    In a failed transaction every statement reports an error, but only one says why: the
    others read "not executed due to a failed transaction", and a write conflict often shows
    up on the ``COMMIT`` alone. The SDK's own ``execute()`` raises the *first* error, which
    hides that the transaction can be retried; this raises the retryable one, else the first
    one that is not a mere consequence.
    """
    from surrealdb.errors import parse_query_error, parse_rpc_error

    if response.get("error") is not None:
        raise parse_rpc_error(response["error"])
    statements = response.get("result")
    if not isinstance(statements, list):
        raise StorageError(f"unexpected query answer: {response!r}")
    errors = [parse_query_error(s) for s in statements if s.get("status") == "ERR"]
    if errors:
        retryable = [e for e in errors if _is_retryable(e)]
        causes = [e for e in errors if not _is_consequence(e)]
        raise (retryable or causes or errors)[0]
    return [s.get("result") for s in statements]


def _is_consequence(exc: BaseException) -> bool:
    from surrealdb import QueryError

    text = str(exc).lower()
    return (isinstance(exc, QueryError) and exc.is_not_executed) or (
        "not executed" in text or "aborted due to a prior error" in text
    )


class Connection:
    """A query interface over one SDK connection, with retries and reconnects.

    ``query`` runs one SurrealQL text (any number of statements; transactions are
    ``BEGIN; ...; COMMIT;`` inside that one text) and returns one result per statement.
    """

    def __init__(self, sdk: Any, *, description: str, remote: dict[str, str] | None) -> None:
        self._sdk = sdk
        self.description = description
        self._remote = remote
        self._closed = False
        self._refs = 1
        self._on_close: list[Any] = []
        # Set when a remote socket broke: the next attempt (of this or a later query) first
        # reconnects, signs in and selects the database again. A lazily reopened socket alone
        # would be an anonymous session that every statement is refused on.
        self._stale = False
        self._reconnect_lock = threading.Lock()

    def query(self, sql: str, variables: dict[str, Any] | None = None) -> list[Any]:
        """Run ``sql`` with bound ``variables``, retrying retryable failures.

        Raises:
            StorageError: the statement failed for good (its message is kept).
        """
        if self._closed:
            raise StorageError(f"storage {self.description} is closed")
        retrying = Retrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(_RETRY_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.001, max=0.05),
            before_sleep=self._before_retry,
            reraise=True,
        )
        observer = _observer
        started = time.perf_counter() if observer is not None else 0.0
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(sql, variables or {})
        except StorageError:
            raise
        except Exception as exc:
            first = sql.strip().splitlines()[0][:120] if sql.strip() else sql
            raise StorageError(f"storage query failed ({first!r}...): {exc}") from exc
        finally:
            if observer is not None:
                read = sql.lstrip()[:6].upper().startswith(_READS)
                observer("read" if read else "write", time.perf_counter() - started)
        raise AssertionError("unreachable")  # pragma: no cover - Retrying re-raises

    def _attempt(self, sql: str, variables: dict[str, Any]) -> list[Any]:
        from surrealdb import TransportError, TransportTimeoutError

        if self._stale:
            self._reconnect()
        try:
            return _statement_results(self._sdk.query_raw(sql, variables))
        except TransportError as exc:
            if self._remote is not None and not isinstance(exc, TransportTimeoutError):
                self._stale = True
            raise

    def version(self) -> str:
        """The engine's version string (``surrealdb-3.x.y``)."""
        try:
            if self._stale:
                self._reconnect()
            return str(self._sdk.version())
        except Exception as exc:
            raise StorageError(f"storage {self.description}: version() failed: {exc}") from exc

    def _before_retry(self, state: RetryCallState) -> None:
        from surrealdb import TransportError

        exc = state.outcome.exception() if state.outcome else None
        if self._remote is not None and isinstance(exc, TransportError):
            log.warning("storage.reconnect", storage=self.description, error=str(exc))

    def _reconnect(self) -> None:
        assert self._remote is not None
        with self._reconnect_lock:
            if not self._stale:  # another thread reconnected meanwhile
                return
            with contextlib.suppress(Exception):  # the old socket is broken; closing is best-effort
                self._sdk.close()
            # A failure here is a TransportError too: retried, still stale until it works.
            _ignore_sdk_socket_warning()
            self._sdk.connect()
            self._sdk.signin(
                {"username": self._remote["username"], "password": self._remote["password"]}
            )
            self._sdk.use(self._remote["namespace"], self._remote["database"])
            self._stale = False

    def acquire(self) -> Connection:
        """Take another reference to a shared connection."""
        with _registry_lock:
            self._refs += 1
        return self

    def close(self) -> None:
        """Drop one reference; the last one closes the engine (idempotent)."""
        with _registry_lock:
            if self._closed:
                return
            self._refs -= 1
            if self._refs > 0:
                return
            self._closed = True
            _open.discard(self)
            for key, conn in list(_embedded.items()):
                if conn is self:
                    del _embedded[key]
        try:
            self._sdk.close()
        except Exception as exc:
            log.warning("storage.close_failed", storage=self.description, error=str(exc))
        for callback in self._on_close:
            callback()

    @property
    def closed(self) -> bool:
        """Whether the engine behind this connection is closed."""
        return self._closed


_registry_lock = threading.RLock()
_embedded: dict[str, Connection] = {}
_open: set[Connection] = set()


def open_embedded(path: Path, *, ephemeral: bool = False) -> Connection:
    """Open (or share) the surrealkv engine at ``path``.

    Raises:
        StorageError: the directory is locked by another process, or the engine failed to open.
    """
    from surrealdb import Surreal

    key = str(path.resolve())
    with _registry_lock:
        existing = _embedded.get(key)
        if existing is not None and not existing.closed:
            return existing.acquire()
        path.mkdir(parents=True, exist_ok=True)
        sdk = None
        try:
            sdk = Surreal(f"surrealkv://{key}")
            sdk.connect()
            sdk.use(_NAMESPACE, _DATABASE)
        except Exception as exc:
            _close_quietly(sdk)
            hint = ""
            if "lock" in str(exc).lower():
                hint = (
                    "; another process owns this store - connect to it with "
                    "rs.Storage.connect('ws://...') (see `rivers storage serve`)"
                )
            raise StorageError(f"cannot open embedded storage at {key}: {exc}{hint}") from exc
        conn = Connection(sdk, description=f"embedded:{key}", remote=None)
        if ephemeral:
            conn._on_close.append(lambda: shutil.rmtree(key, ignore_errors=True))
        _embedded[key] = conn
        _open.add(conn)
        return conn


def open_remote(
    url: str, *, username: str, password: str, namespace: str, database: str
) -> Connection:
    """Connect, sign in and select the database on a SurrealDB server (or a rivers host).

    Raises:
        StorageError: the server is unreachable or refused the credentials.
    """
    from surrealdb import Surreal

    sdk = None
    try:
        sdk = Surreal(url)
        _ignore_sdk_socket_warning()
        sdk.connect()
        sdk.signin({"username": username, "password": password})
        # Selecting a namespace and database that do not exist yet creates them; two
        # processes doing it at once conflict, and the loser must simply try again.
        for attempt in Retrying(
            retry=retry_if_exception(_is_conflict),
            stop=stop_after_attempt(_RETRY_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.001, max=0.05),
            reraise=True,
        ):
            with attempt:
                sdk.use(namespace, database)
    except Exception as exc:
        # A socket (or an engine) opened before the failure would otherwise leak.
        _close_quietly(sdk)
        raise StorageError(f"cannot connect to storage at {url}: {exc}") from exc
    remote = {
        "username": username,
        "password": password,
        "namespace": namespace,
        "database": database,
    }
    conn = Connection(sdk, description=url, remote=remote)
    with _registry_lock:
        _open.add(conn)
    return conn


def _close_quietly(sdk: Any) -> None:
    if sdk is not None:
        with contextlib.suppress(Exception):
            sdk.close()


def _ignore_sdk_socket_warning() -> None:
    # The SDK opens its socket with websockets' plain `connect()`, which websockets >= 17.1
    # deprecates on first use (DeprecationWarning). It is the SDK's to fix; ignored narrowly,
    # and re-added before each connect, so the store works where warnings are errors (tests).
    warnings.filterwarnings(
        "ignore",
        message=r"connect\(\) must be used as a context manager",
        category=DeprecationWarning,
    )


@atexit.register
def _close_all() -> None:
    # An engine left open at interpreter exit can abort the process (SURREALDB-NOTES.md).
    with _registry_lock:
        conns = list(_open)
    for conn in conns:
        conn._refs = 1
        conn.close()
