"""SQLite connections for one store: per-thread for files, one shared for ``:memory:``.

Rules (the "threading rule" of ``JobStore``):

* A file database gets one connection per thread (``threading.local``), all in
  autocommit mode, WAL journal, ``synchronous=NORMAL`` and a busy timeout.
  Threads and processes serialise their writes with ``BEGIN IMMEDIATE``
  (waiting on the busy timeout, then retrying); readers never block writers.
* ``:memory:`` is private to one connection, so every thread shares a single
  connection and an ``RLock`` serialises its writes.

Durability: under WAL, ``synchronous=NORMAL`` never corrupts the database and
loses nothing when a process crashes; only a power cut or OS crash may lose
the last few commits. Jobs are bookkeeping, not payload, so we take the
roughly 10x faster commits. Pass ``synchronous="FULL"`` for the other choice.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlite_utils

from . import schema
from .errors import JobStoreError, StoreBusy
from .query import functions

__all__ = ["Connections", "is_busy"]

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
WAL_AUTOCHECKPOINT = 8192
#: Page size of a new database file (an existing file keeps its own). Every
#: commit writes each page it changed to the WAL, and a job's lifecycle changes
#: ~34 pages (the row, its index entries, retention's delete), so the WAL's
#: bytes, which a checkpoint must fsync, scale with the page: 2 KiB pages make
#: lifecycle writes ~20% faster than 4 KiB on the disk measured, with no
#: measurable cost to the benchmark queries (tools/bench_query.py).
PAGE_SIZE = 2048


def is_busy(exc: BaseException) -> bool:
    """True for SQLITE_BUSY / SQLITE_LOCKED ("database is locked"), worth a retry."""
    if not isinstance(exc, sqlite3.OperationalError) or isinstance(exc, StoreBusy):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


#: Every live Connections object, so a forked child can drop its parent's connections.
_INSTANCES: weakref.WeakSet[Connections] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for conns in list(_INSTANCES):
        conns._forget_parent_connections()


# A hook instead of an os.getpid() check per statement: forks are rare, statements are not.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Connections:
    """Open, hand out and close the connections of one database."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float = 10.0,
        synchronous: str = "NORMAL",
        create: bool = True,
    ) -> None:
        if not isinstance(synchronous, str) or synchronous.upper() not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {_SYNCHRONOUS}, not {synchronous!r}")
        self.path = path
        self.memory = path in (":memory:", "")
        self._create = create
        self.busy_timeout = busy_timeout
        self._synchronous = synchronous.upper()
        self._local = threading.local()
        self._registry_lock = threading.Lock()
        self._opened: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._closed = False
        _INSTANCES.add(self)
        # The shared :memory: connection's lock; re-entrant so a listener that
        # reads the store from inside a write does not deadlock.
        self.lock: threading.RLock | None = threading.RLock() if self.memory else None
        self._shared: sqlite3.Connection | None = None
        first = self._open(first=True)
        if self.memory:
            self._shared = first
        else:
            self._local.conn = first
            self._local.db = None
        try:
            self._retry(lambda: schema.apply_migrations(first))
        except BaseException:
            self.close()
            raise

    # -- connections -------------------------------------------------------

    def _open(self, *, first: bool = False) -> sqlite3.Connection:
        if self._closed:
            raise JobStoreError("the job store is closed")
        existing_only = not self._create and not self.memory
        conn = sqlite3.connect(
            # mode=rw: open an existing file, never create one.
            Path(self.path).absolute().as_uri() + "?mode=rw" if existing_only else self.path,
            timeout=self.busy_timeout,
            isolation_level=None,  # autocommit: we issue BEGIN IMMEDIATE ourselves
            check_same_thread=False,  # so close() may run on any thread
            cached_statements=256,
            uri=existing_only,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        if first and not self.memory:
            try:
                self._retry(lambda: schema.check_is_job_store(conn, self.path, new_ok=self._create))
            except BaseException:
                conn.close()
                raise
        if not self.memory:
            # Takes effect only on a file with no tables yet, so before the WAL switch.
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            # Checkpoint every 8192 pages (32 MiB) instead of 1000: each checkpoint
            # costs two fsyncs, and a longer WAL repeats the hot pages (the table's
            # tail, the index pages of WAITING/RUNNING jobs) that it writes only once.
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}")
        functions.register(conn)
        with self._registry_lock:
            self._forget_dead_threads()
            self._opened.append((threading.current_thread(), conn))
        return conn

    def _forget_dead_threads(self) -> None:
        """Close connections of threads that have ended (their thread-locals are gone)."""
        alive = []
        for thread, conn in self._opened:
            if thread.is_alive() or conn is self._shared:
                alive.append((thread, conn))
            else:
                conn.close()
        self._opened = alive

    def get(self) -> sqlite3.Connection:
        """The calling thread's connection (the shared one for ``:memory:``)."""
        if self._shared is not None:
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            self._local.db = None
        return conn

    def _forget_parent_connections(self) -> None:
        """After fork(): never touch the parent's connections (SQLite forbids it), open anew."""
        self._local = threading.local()
        self._registry_lock = threading.Lock()
        self._opened = []

    def database(self) -> sqlite_utils.Database:
        """The calling thread's connection wrapped as a ``sqlite_utils.Database``."""
        conn = self.get()
        holder: Any = self if self._shared is not None else self._local
        db = getattr(holder, "db", None)
        if db is None or db.conn is not conn:
            db = sqlite_utils.Database(conn, execute_plugins=False)
            holder.db = db
        return db

    def close(self) -> None:
        """Close every connection this object opened (idempotent)."""
        with self._registry_lock:
            self._closed = True
            for _thread, conn in self._opened:
                conn.close()
            self._opened = []
        self._shared = None
        self._local = threading.local()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- transactions ------------------------------------------------------

    def write(self) -> _Transaction:
        """A ``BEGIN IMMEDIATE`` transaction: commit on success, roll back on error.

        ``with conns.write() as conn: ...``
        """
        return _Transaction(self)

    def statement(self) -> _Statement:
        """For reads or one self-contained statement: holds the ``:memory:`` lock.

        ``with conns.statement() as conn: ...``
        """
        if self._shared is not None:
            return _Statement(self._shared, self.lock)
        # One per thread, made once: it holds nothing but the connection (no lock for files).
        statement: _Statement | None = getattr(self._local, "statement", None)
        if statement is None:
            statement = self._local.statement = _Statement(self.get(), None)
        return statement

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[Any], sqlite3.Cursor]:
        """Run one statement in autocommit mode (atomic by itself); return rows and cursor.

        Cheaper than ``write()`` for a single UPDATE/INSERT: no BEGIN/COMMIT
        round trips. Retries on SQLITE_BUSY like ``write()``.
        """
        conn = self.get()
        lock = self.lock
        if lock is not None:
            lock.acquire()
        try:
            try:
                cursor = conn.execute(sql, params)
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                cursor = self._retry(lambda: conn.execute(sql, params))
            # fetchall() runs the statement to its end, which is what commits it.
            return cursor.fetchall(), cursor
        finally:
            if lock is not None:
                lock.release()

    def begin(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            raise JobStoreError("nested write transactions are not supported")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))

    def _retry(self, action: Any) -> Any:
        """Run ``action``, retrying on SQLITE_BUSY until twice the busy timeout passed.

        The busy handler already waits ``busy_timeout``; SQLite skips it in a
        few cases (e.g. while another connection recovers the WAL), hence the loop.
        """
        deadline = time.monotonic() + 2 * self.busy_timeout
        delay = 0.001
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"{exc}: another connection kept the database locked for more than "
                        f"{2 * self.busy_timeout:g} s (twice busy_timeout)"
                    ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


class _Statement:
    """The context manager of ``Connections.statement()`` (a class: cheaper than a generator)."""

    __slots__ = ("_conn", "_lock")

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock | None) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        if self._lock is not None:
            self._lock.acquire()
        return self._conn

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()


class _Transaction:
    """The context manager of ``Connections.write()`` (a class: cheaper than a generator)."""

    __slots__ = ("_conn", "_conns", "_lock")

    def __init__(self, conns: Connections) -> None:
        self._conns = conns
        self._lock = conns.lock
        self._conn = conns.get()

    def __enter__(self) -> sqlite3.Connection:
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._conns.begin(self._conn)
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        return self._conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                try:
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            elif self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        finally:
            if self._lock is not None:
                self._lock.release()
