"""Recovery after a crash: jobs of dead runner processes are finished, live ones untouched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import jobstore
from jobstore import InvalidJob
from jobstore.runner import current_runner, is_alive, runner_pid
from jobstore.store import JobStore

ROOT = str(Path(jobstore.__file__).resolve().parent.parent)

DAEMON = """
    import json, sys, time
    from jobstore.store import JobStore
    store = JobStore(sys.argv[1])
    waiting = store.create("daemon.waiting")
    running = store.create("daemon.running", abortable=True)
    store.start(running)
    store.set_progress(running, 30, "working")
    done = store.create("daemon.done")
    store.start(done)
    store.succeed(done, 1)
    print(json.dumps([waiting, running, done]), flush=True)
    time.sleep(600)
"""


def _daemon(path: Path) -> tuple[subprocess.Popen[str], list[int]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(DAEMON), str(path)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ids = json.loads(proc.stdout.readline())
    return proc, ids


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_jobs_of_a_killed_process_are_failed(store: JobStore, store_path: Path) -> None:
    proc, (waiting, running, done) = _daemon(store_path)
    try:
        mine = store.create("mine")  # this (live) process's job
        store.start(mine)
        assert store.orphaned_jobs() == []  # the daemon is alive
        assert store.recover() == []
        assert store.get_job(running)["state"] == "RUNNING"
    finally:
        _kill(proc)
    before_done = store.get_job(done)
    assert [job["id"] for job in store.orphaned_jobs()] == [waiting, running]
    assert store.recover() == [waiting, running]
    for job_id in (waiting, running):
        job = store.get_job(job_id)
        assert job["state"] == "FAILED"
        assert f"pid {proc.pid}" in job["error"] and "no longer running" in job["error"]
        assert job["time_finished"] is not None
    assert store.get_job(running)["progress"]["percent"] == 30
    assert store.get_job(done) == before_done
    assert store.get_job(mine)["state"] == "RUNNING"
    assert store.recover() == []  # nothing left to do


@pytest.mark.slow
def test_recover_can_abort_with_a_message(store: JobStore, store_path: Path) -> None:
    proc, (waiting, running, _) = _daemon(store_path)
    _kill(proc)
    assert store.recover(state="ABORTED", error="system restarted") == [waiting, running]
    for job_id in (waiting, running):
        job = store.get_job(job_id)
        assert (job["state"], job["error"]) == ("ABORTED", "system restarted")


def test_recover_rejects_other_states(store: JobStore) -> None:
    with pytest.raises(InvalidJob):
        store.recover(state="SUCCESS")


def test_imported_unfinished_jobs_have_no_runner(store: JobStore) -> None:
    (job_id,) = store.insert_many([{"method": "m", "state": "RUNNING"}])
    assert [job["id"] for job in store.orphaned_jobs()] == [job_id]
    assert store.recover() == [job_id]
    error = store.get_job(job_id)["error"]
    assert error == "Job interrupted: no running process was recorded for it"


def test_runner_identity() -> None:
    me = current_runner()
    assert runner_pid(me) == os.getpid()
    assert is_alive(me)
    boot, pid, ticks = me.split(":")
    if ticks:  # Linux: a recycled pid has another start time
        assert not is_alive(f"{boot}:{pid}:{int(ticks) + 1}")
        assert not is_alive(f"another-boot:{pid}:{ticks}")
    assert not is_alive(None)
    assert not is_alive("garbage")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_unreaped_zombie_counts_as_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    ticks = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()[19]
    identity = f"{current_runner().split(':')[0]}:{proc.pid}:{ticks}"
    assert is_alive(identity)
    os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_alive(identity) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not is_alive(identity)  # still a zombie: not yet waited for
    proc.wait()


def test_a_job_picked_up_meanwhile_is_left_alone(store: JobStore, monkeypatch: Any) -> None:
    (job_id,) = store.insert_many([{"method": "m", "state": "WAITING"}])
    orphans = store._orphans()
    store.start(job_id)  # another worker (here: this live process) took it
    monkeypatch.setattr(store, "_orphans", lambda: orphans)
    assert store.recover() == []
    assert store.get_job(job_id)["state"] == "RUNNING"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_has_its_own_identity() -> None:
    parent = current_runner()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports its identity and leaves at once
        os.write(write, current_runner().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.waitpid(pid, 0)
    assert runner_pid(child) == pid != runner_pid(parent)
    assert current_runner() == parent
