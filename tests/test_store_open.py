"""Opening a store on a path that cannot hold one is a clear JobStoreError naming the path.

A file that holds something else is left exactly as it was.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import jobstore
from jobstore.errors import SchemaError

from .databases import foreign_database


def test_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "folder" / "jobs.db"
    with pytest.raises(jobstore.JobStoreError, match=r"cannot open job store .*jobs\.db"):
        jobstore.JobStore(path)


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database " * 200)
    with pytest.raises(jobstore.JobStoreError, match="not a database"):
        jobstore.JobStore(path)
    assert path.read_text() == "not a database " * 200  # left as it was


def _state(path: Path) -> tuple[Any, ...]:
    conn = sqlite3.connect(path)
    try:
        return (
            conn.execute("PRAGMA journal_mode").fetchone(),
            conn.execute("PRAGMA user_version").fetchone(),
            conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall(),
            conn.execute("SELECT * FROM people").fetchall(),
        )
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("jobs_table", "user_version"), [(False, 0), (False, 2), (False, 7), (True, 0)]
)
def test_another_applications_database_is_refused_untouched(
    tmp_path: Path, jobs_table: bool, user_version: int
) -> None:
    """Tables of its own (even one called jobs, without our user_version): not a job store."""
    path = foreign_database(tmp_path / "app.db", jobs_table=jobs_table, user_version=user_version)
    before = _state(path)
    with pytest.raises(SchemaError, match=r"app\.db is not a job store: .*people"):
        jobstore.JobStore(path)
    with pytest.raises(SchemaError, match="not a job store"):
        jobstore.JobStore(path, create=False)
    assert _state(path) == before
    assert not (tmp_path / "app.db-wal").exists()


def test_create_false_opens_only_an_existing_store(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(jobstore.JobStoreError, match="cannot open job store"):
        jobstore.JobStore(missing, create=False)
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(SchemaError, match=r"empty\.db is not a job store: it is an empty database"):
        jobstore.JobStore(empty, create=False)
    assert empty.read_bytes() == b""
    made = tmp_path / "jobs.db"
    with jobstore.JobStore(made) as store:
        job_id = store.create("m")
    with jobstore.JobStore(made, create=False) as store:
        assert store.get_job(job_id)["method"] == "m"


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    path.touch()
    with jobstore.JobStore(path) as store:
        assert store.get_job(store.create("m"))["state"] == "WAITING"


def test_path_may_be_bytes(tmp_path: Path) -> None:
    with jobstore.JobStore(bytes(tmp_path / "jobs.db")) as store:
        assert store.path == str(tmp_path / "jobs.db")


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"path": 5}, TypeError),
    ({"synchronous": 5}, ValueError),
    ({"synchronous": "sometimes"}, ValueError),
])  # fmt: skip
def test_bad_arguments_are_refused_before_a_file_is_made(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    arguments = {"path": tmp_path / "jobs.db", **kwargs}
    with pytest.raises(error):
        jobstore.JobStore(**arguments)
    assert list(tmp_path.iterdir()) == []
