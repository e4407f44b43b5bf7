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

The machines are shared and noisy, so the sides being compared take turns:
imports alternate raw and insert_many over ``--rounds`` rounds (median
ratio), and the three lifecycles run ``--block`` jobs each in turn.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

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


class RawLifecycle:
    """The lifecycle as plain sqlite3 statements: the store's SQL, no Python around it.

    The same transitions, guards and retention delete on the same schema and
    file settings, without validation, error reporting, events or logs.
    ``progress_writes=False`` leaves out the three progress updates (for
    ``bench_lifecycle_variants.py``).
    """

    def __init__(self, path: Path, max_finished: int, *, progress_writes: bool = True) -> None:
        self.conn = raw_connection(path)
        self.max_finished = max_finished
        self.progress_writes = progress_writes
        self.finished = 0

    def run(self, first: int, stop: int) -> None:
        conn = self.conn
        credentials = '{"type":"LOGIN_PASSWORD","data":{"username":"root"}}'
        for i in range(first, stop):
            stamp = datetime.now(UTC).isoformat(timespec="microseconds")
            job_id = conn.execute(
                _RAW_CREATE, (METHODS[i % len(METHODS)], f'["tank/data{i % 97}"]', credentials, "r")
            ).lastrowid
            conn.execute(
                "UPDATE jobs SET state = 'RUNNING', time_started = ?, runner = ? "
                "WHERE id = ? AND state = 'WAITING'",
                (stamp, "r", job_id),
            )
            if self.progress_writes:
                conn.execute(
                    _RAW_PROGRESS.format("'$.percent', ?, '$.description', ?"),
                    (10, "starting", job_id),
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
            self.finished += 1
            if self.finished > self.max_finished:
                excess = self.finished - self.max_finished
                self.finished -= len(conn.execute(_RAW_PRUNE, (excess,)).fetchall())
            conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class StoreLifecycle:
    """The lifecycle through ``JobStore``: create, start, three progress updates, succeed."""

    def __init__(self, path: Path, max_finished: int) -> None:
        self.store = JobStore(path, max_finished=max_finished)

    def run(self, first: int, stop: int) -> None:
        store = self.store
        credentials = {"type": "LOGIN_PASSWORD", "data": {"username": "root"}}
        for i in range(first, stop):
            job_id = store.create(
                METHODS[i % len(METHODS)], [f"tank/data{i % 97}"], credentials=credentials
            )
            store.start(job_id)
            store.set_progress(job_id, 10, "starting")
            store.set_progress(job_id, 50.5)
            store.set_progress(job_id, 90, "finishing", {"step": 3})
            store.succeed(job_id, {"count": i})

    def close(self) -> None:
        self.store.close()


#: A job's commits: create, start, 3 x set_progress, succeed (with its retention delete).
COMMITS_PER_JOB = 6


class CommitFloor:
    """``COMMITS_PER_JOB`` minimal commits per job: one-row UPDATEs, same file settings.

    The cheapest a committed transition can be on this machine; no schema or
    code running six of them per job can beat this rate.
    """

    def __init__(self, path: Path, _max_finished: int) -> None:
        self.conn = raw_connection(path)
        self.conn.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, value INTEGER)")
        self.conn.execute("INSERT INTO floor VALUES (1, 0)")

    def run(self, first: int, stop: int) -> None:
        for i in range(first * COMMITS_PER_JOB, stop * COMMITS_PER_JOB):
            self.conn.execute("UPDATE floor SET value = ? WHERE id = 1", (i,))

    def close(self) -> None:
        self.conn.close()


class Lifecycle(Protocol):
    """Runs jobs ``first`` to ``stop - 1`` through a lifecycle, on a file of its own."""

    def run(self, first: int, stop: int) -> None: ...

    def close(self) -> None: ...


def take_turns(runners: Sequence[Lifecycle], n: int, block: int) -> list[float]:
    """Seconds each runner spent on ``n`` jobs, running ``block`` jobs each in turn.

    Turns, so that a machine that slows down or speeds up during the run
    weighs on every runner alike. Closes the runners.
    """
    spent = [0.0] * len(runners)
    try:
        for first in range(0, n, block):
            stop = min(first + block, n)
            for index, runner in enumerate(runners):
                started = time.perf_counter()
                runner.run(first, stop)
                spent[index] += time.perf_counter() - started
    finally:
        for runner in runners:
            runner.close()
    return spent


def bench_lifecycles(folder: Path, n: int, max_finished: int, block: int) -> list[float]:
    """Seconds spent by RawLifecycle, StoreLifecycle and CommitFloor on ``n`` jobs each."""
    kinds = (RawLifecycle, StoreLifecycle, CommitFloor)
    return take_turns(
        [kind(folder / f"{kind.__name__}.db", max_finished) for kind in kinds], n, block
    )


def bench_imports(
    folder: Path, jobs: list[dict[str, Any]], rounds: int
) -> list[tuple[float, float]]:
    """(raw seconds, insert_many seconds) per round, each into a new file.

    The two alternate which goes first, so a drifting machine favours neither.
    """
    times = []
    for round_ in range(rounds):
        paths = folder / f"raw-{round_}.db", folder / f"bulk-{round_}.db"
        if round_ % 2 == 0:
            raw = bench_raw(paths[0], jobs)
            bulk = bench_insert_many(paths[1], jobs)
        else:
            bulk = bench_insert_many(paths[1], jobs)
            raw = bench_raw(paths[0], jobs)
        times.append((raw, bulk))
        for path in paths:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--jobs", type=int, default=100_000, help="number of jobs")
    parser.add_argument(
        "--max-finished", type=int, default=1000, help="retention during the lifecycle run"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="imports of the N jobs per side (median ratio)"
    )
    parser.add_argument(
        "--block", type=int, default=500, help="lifecycle jobs per turn of each side"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.rounds < 1 or args.block < 1:
        parser.error("--jobs, --rounds and --block must be at least 1")
    n = args.jobs
    jobs = make_jobs(n)
    with tempfile.TemporaryDirectory(prefix="jobstore-bench-") as name:
        folder = Path(name)
        imports = bench_imports(folder, jobs, args.rounds)
        raw_life, life, floor = bench_lifecycles(folder, n, args.max_finished, args.block)
    raw = statistics.median(r for r, _ in imports)
    bulk = statistics.median(b for _, b in imports)
    ratios = ", ".join(f"{b / r:.2f}" for r, b in imports)
    print(f"N = {n}; imports: median of {args.rounds} rounds; lifecycles: turns of {args.block}")
    print(f"raw sqlite3 executemany : {n / raw:10,.0f} jobs/s  ({raw:.2f} s)")
    print(f"JobStore.insert_many    : {n / bulk:10,.0f} jobs/s  ({bulk:.2f} s)")
    print(
        f"insert_many / raw time  : {statistics.median(b / r for r, b in imports):10.2f} x"
        f"   (target <= 2.00; rounds: {ratios})"
    )
    print(
        f"raw sqlite3 lifecycle   : {n / raw_life:10,.0f} jobs/s  "
        f"({n * COMMITS_PER_JOB / raw_life:,.0f} operations/s, {raw_life:.2f} s; "
        "the same statements, no Python around them)"
    )
    print(
        f"JobStore lifecycle      : {n / life:10,.0f} jobs/s  "
        f"({n * COMMITS_PER_JOB / life:,.0f} operations/s, {life:.2f} s; "
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
