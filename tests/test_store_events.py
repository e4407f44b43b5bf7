"""Change events for the subscription layer: ADDED, CHANGED, REMOVED after each commit."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from jobstore.store import JobStore


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, dict[str, Any] | None]] = []

    def __call__(self, kind: str, job_id: int, job: dict[str, Any] | None) -> None:
        self.events.append((kind, job_id, job))

    def kinds(self) -> list[tuple[str, int]]:
        return [(kind, job_id) for kind, job_id, _ in self.events]


def test_lifecycle_events_carry_the_committed_job(make_store: Any) -> None:
    store = make_store(max_finished=1)
    recorder = Recorder()
    store._listeners.append(recorder)
    first = store.create("m")
    store.start(first)
    store.set_progress(first, 50)
    store.succeed(first, "ok")
    second = store.create("m")
    store.start(second)
    store.fail(second, "no")
    assert recorder.kinds() == [
        ("ADDED", first),
        ("CHANGED", first),
        ("CHANGED", first),
        ("CHANGED", first),
        ("ADDED", second),
        ("CHANGED", second),
        ("CHANGED", second),
        ("REMOVED", first),
    ]
    states = [job["state"] for _, _, job in recorder.events if job is not None]
    assert states == ["WAITING", "RUNNING", "RUNNING", "SUCCESS", "WAITING", "RUNNING", "FAILED",
                      "SUCCESS"]  # fmt: skip
    assert recorder.events[2][2]["progress"]["percent"] == 50  # type: ignore[index]
    assert recorder.events[6][2] == store.get_job(second)
    assert recorder.events[7][2] == recorder.events[3][2]  # REMOVED: as it was when deleted


def test_insert_many_and_logs_report_changes(store: JobStore) -> None:
    recorder = Recorder()
    store._listeners.append(recorder)
    ids = store.insert_many([{"method": "a"}, {"method": "b", "transient": True}])
    store.append_log(ids[0], "x")
    store.append_log(ids[0], "y")  # logs_path already set: no change to report
    assert recorder.kinds() == [("ADDED", ids[0]), ("CHANGED", ids[0])]


def test_no_events_for_transient_jobs(store: JobStore) -> None:
    recorder = Recorder()
    store._listeners.append(recorder)
    job_id = store.create("m", transient=True)
    store.start(job_id)
    store.set_progress(job_id, 5)
    store.succeed(job_id)
    assert recorder.events == []


def test_failing_listener_is_logged_and_ignored(
    store: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(kind: str, job_id: int, job: dict[str, Any] | None) -> None:
        raise RuntimeError("listener bug")

    recorder = Recorder()
    store._listeners.extend([broken, recorder])
    with caplog.at_level(logging.ERROR, logger="jobstore.store"):
        job_id = store.create("m")
        store.start(job_id)
    assert store.get_job(job_id)["state"] == "RUNNING"
    assert recorder.kinds() == [("ADDED", job_id), ("CHANGED", job_id)]
    assert "listener bug" in caplog.text


def test_refused_transition_sends_nothing(store: JobStore) -> None:
    job_id = store.create("m")
    recorder = Recorder()
    store._listeners.append(recorder)
    with pytest.raises(Exception, match=r"only a WAITING job can start|RUNNING"):
        store.start(job_id)
        store.start(job_id)
    assert recorder.kinds() == [("CHANGED", job_id)]


_RANK = {"WAITING": 0, "RUNNING": 1, "SUCCESS": 2, "FAILED": 2, "ABORTED": 2}


def test_events_arrive_in_commit_order_across_threads(make_store: Any) -> None:
    """Each job's events, as one listener receives them from six writing threads: ADDED
    first, states never going back, REMOVED (retention of another thread's finish) last."""
    store = make_store(max_finished=3)
    received: dict[int, list[tuple[str, str]]] = {}

    def listener(kind: str, job_id: int, job: dict[str, Any] | None) -> None:
        assert job is not None
        received.setdefault(job_id, []).append((kind, job["state"]))

    store._listeners.append(listener)

    def work() -> None:
        for _ in range(60):
            job_id = store.create("m")
            store.start(job_id)
            store.set_progress(job_id, 50)
            store.succeed(job_id)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(received) == 360
    for job_id, events in received.items():
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "ADDED" and "ADDED" not in kinds[1:], (job_id, events)
        assert "REMOVED" not in kinds[:-1], (job_id, events)
        ranks = [_RANK[state] for _, state in events]
        assert ranks == sorted(ranks), (job_id, events)
    kept = {job["id"] for job in store.get_jobs()}
    assert {job_id for job_id, events in received.items() if events[-1][0] != "REMOVED"} == kept


def test_a_write_from_a_listener_is_delivered_after_the_event_under_way(store: JobStore) -> None:
    """Every listener hears of the first change before any hears of the one a listener made."""
    heard: list[tuple[str, int, str]] = []

    def first(kind: str, job_id: int, job: dict[str, Any] | None) -> None:
        heard.append(("first", job_id, kind))
        if kind == "ADDED" and job is not None and job["method"] == "outer":
            store.create("inner")

    def second(kind: str, job_id: int, job: dict[str, Any] | None) -> None:
        heard.append(("second", job_id, kind))

    store._listeners.extend([first, second])
    outer = store.create("outer")
    assert heard == [
        ("first", outer, "ADDED"),
        ("second", outer, "ADDED"),
        ("first", outer + 1, "ADDED"),
        ("second", outer + 1, "ADDED"),
    ]
