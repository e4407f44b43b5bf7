"""Sharing one store between threads, and one file between processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import jobstore
from jobstore import IllegalTransition
from jobstore.query import prepared
from jobstore.store import JobStore

ROOT = str(Path(jobstore.__file__).resolve().parent.parent)


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_threads(count: int, target: Any) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            target(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize("where", ["file", "memory"])
def test_threads_share_one_store(make_store: Any, where: str) -> None:
    store = make_store(None if where == "file" else ":memory:", max_finished=10_000)
    per_thread = 40

    def work(n: int) -> None:
        for i in range(per_thread):
            job_id = store.create("t", [n, i])
            store.start(job_id)
            store.set_progress(job_id, i)
            store.append_log(job_id, f"{n}-{i}\n")
            store.succeed(job_id, [n, i])

    assert _run_threads(4, work) == []
    jobs = store._select_all()
    assert len(jobs) == 4 * per_thread
    assert sorted(job["result"] for job in jobs) == sorted([n, i] for n in range(4)
                                                           for i in range(per_thread))  # fmt: skip
    assert all(job["arguments"] == job["result"] for job in jobs)
    assert all(job["logs_excerpt"] == "{}-{}".format(*job["result"]) for job in jobs)


def test_threads_querying_at_once_get_the_answers_filter_list_gives(make_store: Any) -> None:
    """The query memo and caches are shared by every thread: a churned, evicting memo
    (more distinct queries than it holds, each asked twice, by two callers) still
    answers every query exactly."""
    store = make_store(max_finished=10_000)
    store.insert_many([
        {"method": f"m{i % 7}", "state": "SUCCESS" if i % 3 else "FAILED",
         "progress": {"percent": i % 101, "description": None, "extra": None},
         "credentials": {"type": "LOGIN_PASSWORD", "data": {"username": f"u{i % 2}"}}}
        for i in range(300)
    ])  # fmt: skip
    everything = store.get_jobs()
    queries = [
        ([["progress.percent", ">=", n % 101], ["method", "!=", f"m{n % 7}"]],
         {"select": ["id"], "limit": n % 5, "order_by": ["-progress.percent"]})
        for n in range(prepared.MEMO_SIZE + 300)
    ]  # fmt: skip
    callers = [None, {"username": "u1", "roles": []}]

    def work(n: int) -> None:
        for index in range(n, len(queries), 4):
            filters, options = queries[index]
            caller = callers[index % 2]
            expected = jobstore.filter_list(
                [job for job in everything if caller is None
                 or job["credentials"]["data"]["username"] == caller["username"]],
                filters, options,
            )  # fmt: skip
            for _ in range(2):  # the second time from the memo
                assert store.get_jobs(filters, options, caller) == expected, (filters, options)

    assert _run_threads(4, work) == []


def test_only_one_of_two_racing_transitions_wins(make_store: Any) -> None:
    store = make_store()
    ids = [store.create("race") for _ in range(50)]
    wins: list[int] = []
    lock = threading.Lock()

    def start_all(_: int) -> None:
        for job_id in ids:
            try:
                store.start(job_id)
            except IllegalTransition:
                continue
            with lock:
                wins.append(job_id)

    assert _run_threads(3, start_all) == []
    assert sorted(wins) == ids


WRITER = """
    import json, os, sys, time
    from jobstore.store import JobStore
    path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = JobStore(path, max_finished=100_000)
    open(path + ".ready-" + tag, "w").close()
    while not os.path.exists(path + ".go"):  # start together, so the writes interleave
        time.sleep(0.001)
    ids = []
    for i in range(count):
        job_id = store.create("writer." + tag, [tag, i])
        store.start(job_id)
        store.set_progress(job_id, i % 100)
        store.succeed(job_id, {"tag": tag, "i": i})
        ids.append(job_id)
    ids += store.insert_many({"method": "bulk." + tag, "arguments": [tag, i]} for i in range(50))
    print(json.dumps(ids))
"""


@pytest.mark.slow
def test_two_processes_write_one_file_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    JobStore(path).close()  # schema first, so both writers start on equal terms
    count = 300
    procs = {tag: _python(WRITER, str(path), tag, str(count)) for tag in ("a", "b")}
    deadline = time.monotonic() + 60
    while not all(Path(f"{path}.ready-{tag}").exists() for tag in procs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs.values())
        time.sleep(0.01)
    Path(f"{path}.go").touch()
    written: dict[str, list[int]] = {}
    for tag, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        written[tag] = json.loads(out)
    assert not set(written["a"]) & set(written["b"])
    with JobStore(path) as store:
        jobs = store._select_all()
    assert len(jobs) == 2 * (count + 50)
    assert sorted(job["id"] for job in jobs) == sorted(written["a"] + written["b"])
    for tag in ("a", "b"):
        mine = [job for job in jobs if job["method"] == f"writer.{tag}"]
        assert [job["result"] for job in mine] == [{"tag": tag, "i": i} for i in range(count)]
        assert all(job["state"] == "SUCCESS" and job["arguments"][0] == tag for job in mine)
        bulk = [job for job in jobs if job["method"] == f"bulk.{tag}"]
        assert [job["arguments"] for job in bulk] == [[tag, i] for i in range(50)]


def _create_in_child(store: JobStore, queue: Any) -> None:
    job_id = store.create("child")
    store.start(job_id)
    store.succeed(job_id, "from the child")
    queue.put(job_id)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(store: JobStore) -> None:
    import multiprocessing

    parent_job = store.create("parent")  # the parent's connection exists before the fork
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_create_in_child, args=(store, queue))
    child.start()
    child_job = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert store.get_job(child_job)["result"] == "from the child"
    store.start(parent_job)  # the parent's connection still works
    assert store.get_job(parent_job)["state"] == "RUNNING"


def test_a_write_locked_out_too_long_raises_store_busy(store_path: Path) -> None:
    """Another process holding the write lock past twice the busy timeout: StoreBusy, which
    is both a JobStoreError and the sqlite3.OperationalError it stands for; nothing written."""
    with JobStore(store_path, busy_timeout=0.05) as store:
        job_id = store.create("m")
        holder = sqlite3.connect(store_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            for call in (
                lambda: store.create("m"),
                lambda: store.start(job_id),
                lambda: store.insert_many([{"method": "m"}]),
                lambda: store.prune(),
            ):
                with pytest.raises(jobstore.StoreBusy, match="database is locked") as caught:
                    call()
                assert isinstance(caught.value, jobstore.JobStoreError)
                assert isinstance(caught.value, sqlite3.OperationalError)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert [job["id"] for job in store.get_jobs()] == [job_id]
        store.start(job_id)  # the lock gone, writes go through again
