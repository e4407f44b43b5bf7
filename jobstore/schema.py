"""The database layout: ordered migration files in ``sql/`` and ``PRAGMA user_version``.

Each file ``NNNN_name.sql`` of the package ``jobstore.sql`` moves the schema
from version NNNN-1 to NNNN. A fresh database runs them all; an older one runs
the ones it lacks; each runs in its own ``BEGIN IMMEDIATE`` transaction that
also sets ``user_version``, so a crash or a second process opening the file
at the same moment never leaves a half-migrated schema.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import SchemaError

__all__ = [
    "SCHEMA_VERSION",
    "Migration",
    "apply_migrations",
    "check_is_job_store",
    "migrations",
    "split_statements",
    "user_version",
]

_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One ``sql/NNNN_name.sql`` file: the schema version it produces and its SQL."""

    version: int
    name: str
    sql: str


def _sql_files() -> dict[str, str]:
    try:
        folder = resources.files("jobstore.sql")
    except ModuleNotFoundError:
        # Running from a source checkout that was never installed: the package
        # mapping "jobstore.sql" -> sql/ exists only once pip has installed it.
        folder = Path(__file__).resolve().parent.parent / "sql"
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """All migrations, in version order; versions must run 1, 2, 3, ... without gaps."""
    found: list[Migration] = []
    for name, sql in _sql_files().items():
        match = _FILE_NAME.match(name)
        if match is None:
            raise SchemaError(f"unexpected file in jobstore.sql: {name!r}")
        found.append(Migration(int(match.group(1)), name, sql))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise SchemaError(f"migration {migration.name} out of sequence (expected {expected})")
    return tuple(found)


SCHEMA_VERSION: int = len(migrations())


def split_statements(sql: str) -> list[str]:
    """Split a script into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buffer = ""
    for piece in sql.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if _has_code(statement):
                statements.append(statement)
            buffer = ""
    if _has_code(buffer.rstrip(";")):
        raise SchemaError(f"incomplete SQL statement: {buffer.strip()[:80]!r}")
    return statements


def _has_code(text: str) -> bool:
    lines = (line.split("--", 1)[0].strip() for line in text.splitlines())
    return any(line and line != ";" for line in lines)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_is_job_store(conn: sqlite3.Connection, path: str, *, new_ok: bool) -> None:
    """Refuse a database that is not a job store, before anything writes to it.

    A job store has a ``jobs`` table and a ``user_version`` set by our
    migrations. A database without tables is a new one: accepted when
    ``new_ok``. Any other database belongs to another application: we do not
    add tables to it, switch its journal mode or take its ``user_version``.
    """
    tables = sorted(
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    )
    if not tables:
        if not new_ok:
            raise SchemaError(f"{path} is not a job store: it is an empty database")
        return
    if "jobs" not in tables or user_version(conn) == 0:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise SchemaError(
            f"{path} is not a job store: it holds another application's tables ({shown}); "
            "jobstore creates its schema only in a new or empty database"
        )


def apply_migrations(
    conn: sqlite3.Connection, available: tuple[Migration, ...] | None = None
) -> int:
    """Bring the database on ``conn`` up to the newest schema; return its version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Raises
    SchemaError when the file was written by a newer jobstore.
    ``available`` (default: every migration) lets tests build an older schema.
    """
    steps = migrations() if available is None else available
    target = len(steps)
    current = user_version(conn)
    if current > SCHEMA_VERSION:
        raise SchemaError(
            f"database schema version {current} is newer than this jobstore "
            f"supports ({SCHEMA_VERSION}); upgrade jobstore"
        )
    for migration in steps[current:target]:
        _apply_one(conn, migration)
    return max(user_version(conn), current)


def _apply_one(conn: sqlite3.Connection, migration: Migration) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have applied it while we waited for the lock.
        if user_version(conn) >= migration.version:
            conn.execute("ROLLBACK")
            return
        for statement in split_statements(migration.sql):
            conn.execute(statement)
        # PRAGMA takes no bound parameters; the version is our own int.
        conn.execute(f"PRAGMA user_version = {int(migration.version)}")
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.DatabaseError):
            raise SchemaError(f"migration {migration.name} failed: {exc}") from exc
        raise
