"""The schema: migration files, PRAGMA user_version, column layout, indexes, reopening."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jobstore import SchemaError, jsoncodec
from jobstore.columns import COLUMNS, GENERATED
from jobstore.connection import PAGE_SIZE
from jobstore.models import Job
from jobstore.rows import SELECT_COLUMNS, SELECT_SQL, job_to_row, row_to_job
from jobstore.schema import SCHEMA_VERSION, apply_migrations, migrations, split_statements
from jobstore.store import JobStore

from .query.strategies import rich_jobs

SQL_TYPES = {"text": "TEXT", "int": "INTEGER", "bool": "INTEGER", "json": "TEXT"}


def test_migrations_are_numbered_in_order() -> None:
    steps = migrations()
    assert [m.version for m in steps] == list(range(1, len(steps) + 1))
    assert len(steps) == SCHEMA_VERSION >= 2


def test_fresh_file_gets_every_migration(store: JobStore, store_path: Path) -> None:
    conn = sqlite3.connect(store_path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA page_size").fetchone() == (PAGE_SIZE,)


def test_a_file_made_with_other_pages_keeps_them(make_store: Any, tmp_path: Path) -> None:
    """The page size is chosen for new files only; an existing 4 KiB file works as it is."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA page_size = 4096")
        apply_migrations(conn)
    store = make_store(path)
    job_id = store.create("pool.scrub")
    store.start(job_id)
    store.succeed(job_id, {"ok": True})
    store.close()
    with make_store(path) as reopened:
        assert reopened.get_job(job_id)["result"] == {"ok": True}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA page_size").fetchone() == (4096,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_columns_match_the_column_map(store: JobStore) -> None:
    info = {
        row[1]: row for row in store._connection().execute("PRAGMA table_xinfo(jobs)").fetchall()
    }
    for field, column in COLUMNS.items():
        _, _, sql_type, notnull, _, _, hidden = info[column.name]
        assert sql_type == SQL_TYPES[column.storage], field
        if column.storage in ("bool", "json"):
            assert notnull == 1, field
        assert hidden == 0
    assert info["id"][5] == 1
    for column in (*GENERATED.values(), COLUMNS["id"]):
        assert column.name in info
    assert info["progress_percent"][6] == 2 and info["owner"][6] == 2  # VIRTUAL generated
    assert tuple(COLUMNS[f].name for f in COLUMNS) == SELECT_COLUMNS


def test_owner_is_the_username_only_when_it_is_text(store: JobStore) -> None:
    cases = [
        ({"type": "t", "data": {"username": "bob"}}, "bob"),
        ({"type": "t", "data": {"username": 5}}, None),
        ({"type": "t", "data": {}}, None),
        (None, None),
    ]
    for credentials, owner in cases:
        job_id = store.create("m", credentials=credentials)
        row = store._connection().execute("SELECT owner FROM jobs WHERE id = ?", (job_id,))
        assert row.fetchone() == (owner,)


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("SELECT id FROM jobs ORDER BY time_finished DESC, id ASC LIMIT 50", "jobs_time_finished"),
        ("SELECT id FROM jobs WHERE state = 'RUNNING' AND method >= 'pool.' AND method < 'pool/'",
         "jobs_state_method"),
        ("SELECT id FROM jobs WHERE method = 'pool.scrub'", "jobs_method"),
        ("SELECT id FROM jobs WHERE owner = 'bob'", "jobs_owner"),
        ("SELECT id FROM jobs WHERE time_started > '2026'", "jobs_time_started"),
        ("SELECT id FROM jobs WHERE progress_percent >= 50", "jobs_progress_percent"),
    ],
)  # fmt: skip
def test_query_shapes_use_their_index(store: JobStore, sql: str, index: str) -> None:
    plan = " | ".join(
        row[3] for row in store._connection().execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
    )
    assert index in plan
    assert "TEMP B-TREE" not in plan


def _old_database(path: Path, versions: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, migrations()[:versions])
    assert conn.execute("PRAGMA user_version").fetchone() == (versions,)
    return conn


def test_older_database_is_upgraded_on_open(tmp_path: Path, check_job: Any) -> None:
    path = tmp_path / "old.db"
    conn = _old_database(path, 1)
    columns = {row[1] for row in conn.execute("PRAGMA table_xinfo(jobs)")}
    assert "owner" not in columns and "runner" not in columns
    jobs = [
        Job(method="a", state="SUCCESS", credentials={"type": "t", "data": {"username": "ann"}}),
        Job(method="b", state="RUNNING", time_started="2026-01-01T00:00:00+00:00"),
        Job(method="c", state="FAILED", transient=True),
    ]
    marks = ", ".join("?" * len(SELECT_COLUMNS))
    conn.executemany(f"INSERT INTO jobs ({SELECT_SQL}) VALUES ({marks})", map(job_to_row, jobs))
    before = [row_to_job(r) for r in conn.execute(f"SELECT {SELECT_SQL} FROM jobs ORDER BY id")]
    conn.close()

    with JobStore(path) as store:
        assert store._select_all() == before
        for job in before:
            check_job(job)
        conn = store._connection()
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        owners = conn.execute("SELECT owner, runner FROM jobs ORDER BY id").fetchall()
        assert owners == [("ann", None), (None, None), (None, None)]
        # the retention counter was seeded from the existing rows (non-transient finished)
        assert conn.execute("SELECT finished FROM job_counts").fetchone() == (1,)
        # the RUNNING job from before the upgrade has no live runner
        assert [job["id"] for job in store.orphaned_jobs()] == [2]
        assert store.create("d") == 4


def test_partially_upgraded_database_gets_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    _old_database(path, 2).close()
    with JobStore(path) as store:
        version = store._connection().execute("PRAGMA user_version").fetchone()
        assert version == (SCHEMA_VERSION,)


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    JobStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaError, match="newer"):
        JobStore(path)


def test_failed_migration_leaves_the_old_version(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    conn = _old_database(path, 1)
    conn.execute("CREATE TABLE job_counts (x)")  # makes migration 3 fail half-way
    conn.close()
    with pytest.raises(SchemaError, match="0003"):
        JobStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    columns = {row[1] for row in conn.execute("PRAGMA table_xinfo(jobs)")}
    assert "runner" not in columns  # 0003 rolled back as a whole
    conn.close()


def test_split_statements_keeps_trigger_bodies() -> None:
    sql = "CREATE TABLE t (a); -- c;\nCREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END;\n"
    assert len(split_statements(sql)) == 2


def test_reopening_gives_identical_jobs(make_store: Any, store_path: Path) -> None:
    store = make_store(store_path)
    first = store.create("a", [1, {"b": [None, 2.5]}], credentials={"type": "t", "data": {}})
    second = store.create("b", transient=False, abortable=True)
    store.start(first)
    store.set_progress(first, 99.9, "nearly", {"x": "é"})
    store.append_log(first, "log\n")
    store.succeed(first, {"unicode": "☃", "big": 2**62, "float": 0.1})
    store.start(second)
    store.abort(second)
    before = store._select_all()
    store.close()
    assert make_store(store_path)._select_all() == before


def test_row_codec_round_trip() -> None:
    job = Job(method="m", arguments=[1], exc_info={"repr": "r", "type": "t", "errno": 1,
                                                    "extra": None}, transient=True)  # fmt: skip
    row = job_to_row(job)
    assert row[SELECT_COLUMNS.index("transient")] == 1
    assert row_to_job(row) == job.model_dump(mode="json")
    sqlite_row = sqlite3.connect(":memory:")
    sqlite_row.row_factory = sqlite3.Row
    fetched = sqlite_row.execute(f"SELECT {', '.join('?' * len(row))}", row).fetchone()
    assert row_to_job(fetched) == row_to_job(row)


def test_rows_encode_exactly_what_the_model_dumps() -> None:
    """job_to_row reads the model's fields directly: the same JSON text as model_dump gives."""
    jobs = [Job.model_validate(job) for job in rich_jobs()]
    jobs.append(Job(method="m", progress={"percent": 5, "description": "d", "extra": {"a": (1,)}},
                    exc_info={"repr": "r", "type": "t", "errno": None, "extra": [1.5]},
                    credentials={"type": "API_KEY", "data": {"k": ["v"]}}))  # fmt: skip
    for job in jobs:
        dumped = job.model_dump()
        expected = tuple(
            jsoncodec.dumps(dumped[name]) if COLUMNS[name].storage == "json"
            else int(dumped[name]) if COLUMNS[name].storage == "bool" else dumped[name]
            for name in SELECT_COLUMNS
        )  # fmt: skip
        assert job_to_row(job) == expected
