"""Benchmark the job store: bulk import and the per-job lifecycle, against raw sqlite3.

    python tools/bench_store.py            # N = 100000
    python tools/bench_store.py -n 10000   # a quick run

Prints jobs/s for ``insert_many`` and for a raw ``executemany`` of the same
rows into the same schema (JSON columns serialised with orjson, no
validation) measured in the same run, their ratio, and the lifecycle rate
(create + start + 3 x set_progress + succeed per job, file store in WAL mode,
one thread), next to the same statements run by plain sqlite3 on the same
schema and settings. Targets: insert_many within 2x of raw; lifecycle >= 5,000 jobs/s.

It also measures this machine's floor for the lifecycle: a job is six
committed transitions, and the cheapest possible commit (one autocommit
UPDATE of a one-row table, same file settings) bounds what any schema or
code could reach: six of those per job is the ceiling printed last.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from jobstore import JobStore
from jobstore.connection import PAGE_SIZE, WAL_AUTOCHECKPOINT
from jobstore.models import JOB_FIELDS
from jobstore.rows import SELECT_SQL
from jobstore.schema import apply_migrations

JSON_FIELDS = ("message_ids", "arguments", "progress", "result", "result_encoding_error",
               "exc_info", "credentials")  # fmt: skip
METHODS = ("pool.scrub", "pool.dataset.snapshot", "replication.run", "cloudsync.sync", "update")


def make_jobs(n: int) -> list[dict[str, Any]]:
    """A history of finished jobs shaped like a TrueNAS get_jobs dump."""
    jobs = []
    for i in range(n):
        jobs.append(
            {
                "id": i + 1,
                "message_ids": [f"msg-{i}"],
                "method": METHODS[i % len(METHODS)],
                "arguments": [f"tank/data{i % 97}", {"recursive": i % 2 == 0, "depth": i % 7}],
                "transient": False,
                "description": None,
                "abortable": i % 3 == 0,
                "logs_path": None,
                "logs_excerpt": None,
                "progress": {"percent": 100, "description": "done", "extra": None},
                "result": {"count": i, "items": ["a", "b"]},
                "result_encoding_error": None,
                "error": None,
                "exception": None,
                "exc_info": None,
                "state": "SUCCESS",
                "time_started": f"2026-11-{1 + i % 28:02d}T10:00:00.{i % 1000000:06d}+00:00",
                "time_finished": f"2026-11-{1 + i % 28:02d}T10:05:00.{i % 1000000:06d}+00:00",
                "credentials": {"type": "LOGIN_PASSWORD", "data": {"username": f"user{i % 5}"}},
            }
        )
    return jobs


def raw_connection(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection to a new file with the store's schema and file settings."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}")
    apply_migrations(conn)
    return conn


def bench_raw(path: Path, jobs: list[dict[str, Any]]) -> float:
    """Seconds for a plain executemany of the jobs into the store's schema."""
    conn = raw_connection(path)
    marks = ", ".join("?" * len(JOB_FIELDS))
    sql = f"INSERT INTO jobs ({SELECT_SQL}) VALUES ({marks})"
    started = time.perf_counter()
    rows = [
        tuple(orjson.dumps(job[f]).decode() if f in JSON_FIELDS else job[f] for f in JOB_FIELDS)
        for job in jobs
    ]
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def bench_insert_many(path: Path, jobs: list[dict[str, Any]]) -> float:
    with JobStore(path, max_finished=len(jobs)) as store:
        started = time.perf_counter()
        ids = store.insert_many(jobs)
        elapsed = time.perf_counter() - started
        assert len(ids) == len(jobs)
    return elapsed


_RAW_CREATE = (
    "INSERT INTO jobs (message_ids, method, arguments, transient, description, abortable, "
    "progress, result, result_encoding_error, exc_info, state, credentials, runner) "
    'VALUES (\'[]\', ?, ?, 0, NULL, 0, \'{"percent":null,"description":null,"extra":null}\', '
    "'null', 'null', 'null', 'WAITING', ?, ?)"
)
_RAW_PROGRESS = (
    "UPDATE jobs SET progress = json_set(progress, {}) "
    "WHERE id = ? AND state IN ('WAITING', 'RUNNING')"
)
_RAW_PRUNE = (
    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs INDEXED BY jobs_time_finished "
    "WHERE time_finished IS NOT NULL AND state IN ('SUCCESS', 'FAILED', 'ABORTED') "
    "AND transient = 0 ORDER BY time_finished, id LIMIT ?) RETURNING id, logs_path"
)


def bench_raw_lifecycle(path: Path, n: int, max_finished: int) -> float:
    """Seconds for the same lifecycle as plain sqlite3 statements: the store's SQL, no Python.

    The same transitions, guards and retention delete on the same schema and
    file settings, without validation, error reporting, events or logs.
    """
    conn = raw_connection(path)
    credentials = '{"type":"LOGIN_PASSWORD","data":{"username":"root"}}'
    finished = 0
    started = time.perf_counter()
    for i in range(n):
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        job_id = conn.execute(
            _RAW_CREATE, (METHODS[i % len(METHODS)], f'["tank/data{i % 97}"]', credentials, "r")
        ).lastrowid
        conn.execute(
            "UPDATE jobs SET state = 'RUNNING', time_started = ?, runner = ? "
            "WHERE id = ? AND state = 'WAITING'",
            (stamp, "r", job_id),
        )
        conn.execute(
            _RAW_PROGRESS.format("'$.percent', ?, '$.description', ?"), (10, "starting", job_id)
        )
        conn.execute(_RAW_PROGRESS.format("'$.percent', ?"), (50, job_id))
        conn.execute(
            _RAW_PROGRESS.format("'$.percent', ?, '$.description', ?, '$.extra', json(?)"),
            (90, "finishing", '{"step":3}', job_id),
        )
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE jobs SET state = 'SUCCESS', time_finished = ?, result = ?, "
            "result_encoding_error = 'null', progress = json_set(progress, '$.percent', 100) "
            "WHERE id = ? AND state = 'RUNNING' RETURNING transient, logs_path",
            (datetime.now(UTC).isoformat(timespec="microseconds"), f'{{"count":{i}}}', job_id),
        ).fetchall()
        finished += 1
        if finished > max_finished:
            finished -= len(conn.execute(_RAW_PRUNE, (finished - max_finished,)).fetchall())
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


COMMITS_PER_JOB = 6  # create, start, 3 x set_progress, succeed (with its retention delete)


def bench_commit_floor(path: Path, n: int) -> float:
    """Seconds for ``COMMITS_PER_JOB * n`` minimal commits: one-row UPDATEs, same file settings."""
    conn = raw_connection(path)
    conn.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, value INTEGER)")
    conn.execute("INSERT INTO floor VALUES (1, 0)")
    started = time.perf_counter()
    for i in range(COMMITS_PER_JOB * n):
        conn.execute("UPDATE floor SET value = ? WHERE id = 1", (i,))
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def bench_lifecycle(path: Path, n: int, max_finished: int) -> float:
    with JobStore(path, max_finished=max_finished) as store:
        started = time.perf_counter()
        for i in range(n):
            job_id = store.create(
                METHODS[i % len(METHODS)],
                [f"tank/data{i % 97}"],
                credentials={"type": "LOGIN_PASSWORD", "data": {"username": "root"}},
            )
            store.start(job_id)
            store.set_progress(job_id, 10, "starting")
            store.set_progress(job_id, 50.5)
            store.set_progress(job_id, 90, "finishing", {"step": 3})
            store.succeed(job_id, {"count": i})
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--jobs", type=int, default=100_000, help="number of jobs")
    parser.add_argument(
        "--max-finished", type=int, default=1000, help="retention during the lifecycle run"
    )
    args = parser.parse_args()
    n = args.jobs
    jobs = make_jobs(n)
    with tempfile.TemporaryDirectory(prefix="jobstore-bench-") as folder:
        raw = bench_raw(Path(folder) / "raw.db", jobs)
        bulk = bench_insert_many(Path(folder) / "bulk.db", jobs)
        raw_life = bench_raw_lifecycle(Path(folder) / "raw-life.db", n, args.max_finished)
        life = bench_lifecycle(Path(folder) / "life.db", n, args.max_finished)
        floor = bench_commit_floor(Path(folder) / "floor.db", n)
    print(f"N = {n}")
    print(f"raw sqlite3 executemany : {n / raw:10,.0f} jobs/s  ({raw:.2f} s)")
    print(f"JobStore.insert_many    : {n / bulk:10,.0f} jobs/s  ({bulk:.2f} s)")
    print(f"insert_many / raw time  : {bulk / raw:10.2f} x   (target <= 2.00)")
    print(
        f"raw sqlite3 lifecycle   : {n / raw_life:10,.0f} jobs/s  ({raw_life:.2f} s; "
        "the same statements, no Python around them)"
    )
    print(
        f"JobStore lifecycle      : {n / life:10,.0f} jobs/s  ({life:.2f} s; "
        f"create+start+3*set_progress+succeed, max_finished={args.max_finished}; "
        "target >= 5,000)"
    )
    print(f"lifecycle / raw time    : {life / raw_life:10.2f} x")
    per_commit = floor / (n * COMMITS_PER_JOB) * 1e6
    print(
        f"commit floor            : {n / floor:10,.0f} jobs/s  ({per_commit:.1f} us per minimal "
        f"commit, {COMMITS_PER_JOB} per job: no lifecycle on this machine can exceed this)"
    )


if __name__ == "__main__":
    main()
