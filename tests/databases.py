"""SQLite files that are not job stores, for the tests that must leave them alone."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def foreign_database(path: Path, *, jobs_table: bool = False, user_version: int = 0) -> Path:
    """Another application's database at ``path``: a ``people`` table with one row.

    ``jobs_table`` adds a table named ``jobs`` of its own (not ours).
    """
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE people (name TEXT)")
        conn.execute("INSERT INTO people VALUES ('ann')")
        if jobs_table:
            conn.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY)")
        conn.execute(f"PRAGMA user_version = {int(user_version)}")
        conn.commit()
    finally:
        conn.close()
    return path
