"""A stateful test: random lifecycles against a model of the transitions and of retention."""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from jobstore import IllegalTransition, JobNotFound, JobStore

from .oracle import FINISHED, ID_MAX, INT64_MIN, UNFINISHED
from .values import make_exception
from .world import check_store, now, snapshot

# -- a stateful model of the lifecycle and of retention ---------------------------------


@dataclass
class ModelJob:
    state: str
    abortable: bool
    transient: bool
    percent: int | None = None
    finished: tuple[str, int] | None = None  # (time_finished, id): retention's order


ACTIONS = ["start", "succeed", "fail", "fail_with", "abort", "set_progress", "append_log"]
NEXT_STATE: dict[str, Callable[[ModelJob], str | None]] = {
    "start": lambda j: "RUNNING" if j.state == "WAITING" else None,
    "succeed": lambda j: "SUCCESS" if j.state == "RUNNING" else None,
    "fail": lambda j: "FAILED" if j.state in UNFINISHED else None,
    "fail_with": lambda j: "FAILED" if j.state in UNFINISHED else None,
    "abort": lambda j: (
        "ABORTED" if j.state == "WAITING" or (j.state == "RUNNING" and j.abortable) else None
    ),
    "set_progress": lambda j: j.state if j.state in UNFINISHED else None,
    "append_log": lambda j: j.state if j.state in UNFINISHED else None,
}


class LifecycleMachine(RuleBasedStateMachine):
    """Random lifecycle calls on existing and unknown ids, against a model (API.md, README)."""

    folder: ClassVar[Path]
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(dir=self.folder))
        self.store: JobStore | None = None
        self.path: Path | None = None
        self.max_finished = 3
        self.model: dict[int, ModelJob] = {}
        self.issued: list[int] = []

    @property
    def db(self) -> JobStore:
        assert self.store is not None
        return self.store

    @initialize(max_finished=st.integers(0, 3), on_file=st.booleans())
    def open_store(self, max_finished: int, on_file: bool) -> None:
        self.max_finished = max_finished
        self.path = self.dir / "jobs.db" if on_file else None
        self.store = JobStore(self.path or ":memory:", max_finished=max_finished)

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _issue(self, job_id: int) -> None:
        assert job_id > max(self.issued, default=0), f"id {job_id} was handed out before"
        self.issued.append(job_id)

    @rule(target=jobs, transient=st.booleans(), abortable=st.booleans())
    def create(self, transient: bool, abortable: bool) -> int:
        return self._create(transient, abortable)

    def _create(self, transient: bool, abortable: bool) -> int:
        job_id = self.db.create("model.job", transient=transient, abortable=abortable)
        self._issue(job_id)
        self.model[job_id] = ModelJob("WAITING", abortable, transient)
        return job_id

    @rule(
        target=jobs,
        states=st.lists(st.sampled_from(["WAITING", "RUNNING"]), min_size=1, max_size=3),
        transient=st.booleans(),
    )
    def import_jobs(self, states: list[str], transient: bool) -> Any:
        batch = [{"method": "model.imported", "state": s, "transient": transient} for s in states]
        ids = self.db.insert_many(batch)
        for job_id, state in zip(ids, states, strict=True):
            self._issue(job_id)
            self.model[job_id] = ModelJob(state, False, transient)
        return multiple(*ids)

    @precondition(lambda self: self.path is not None)
    @rule()
    def reopen(self) -> None:
        """Ids are never reused, also after the newest jobs were pruned and the file reopened."""
        self.db.close()
        self.store = JobStore(self.path or ":memory:", max_finished=self.max_finished)

    @rule(
        target=jobs,
        transient=st.booleans(),
        abortable=st.booleans(),
        moves=st.lists(st.sampled_from(["start", "succeed", "fail", "abort"]), max_size=3),
    )
    def run(self, transient: bool, abortable: bool, moves: list[str]) -> int:
        """A new job taken through a few moves at once (so that retention has work)."""
        job_id = self._create(transient, abortable)
        for action in moves:
            self._call(job_id, action, 50.0)
        return job_id

    @rule(job_id=jobs, action=st.sampled_from(ACTIONS), percent=st.floats(0, 100))
    def act(self, job_id: int, action: str, percent: float) -> None:
        """Any call on a job handed out before (maybe finished, maybe pruned since)."""
        self._call(job_id, action, percent)

    @rule(job_id=jobs, action=st.sampled_from(["start", "succeed", "fail", "abort"]))
    def advance(self, job_id: int, action: str) -> None:
        """A move of the lifecycle (so that jobs finish often, and retention has work)."""
        self._call(job_id, action, 50.0)

    @rule(
        job_id=st.one_of(st.integers(10**6, ID_MAX), st.integers(INT64_MIN, 0)),
        action=st.sampled_from(ACTIONS),
    )
    def act_on_unknown(self, job_id: int, action: str) -> None:
        self._call(job_id, action, 50.0)

    def _call(self, job_id: int, action: str, percent: float) -> None:
        store = self.db
        job = self.model.get(job_id)
        expected = None if job is None else NEXT_STATE[action](job)
        before = snapshot(store)
        calls: dict[str, Callable[[], None]] = {
            "start": lambda: store.start(job_id),
            "succeed": lambda: store.succeed(job_id, {"n": job_id}),
            "fail": lambda: store.fail(job_id, "failed"),
            "fail_with": lambda: store.fail_with(job_id, make_exception("os", "boom", "E", 5)),
            "abort": lambda: store.abort(job_id),
            "set_progress": lambda: store.set_progress(job_id, percent, "step"),
            "append_log": lambda: store.append_log(job_id, b"log line\n"),
        }
        try:
            calls[action]()
        except (JobNotFound, IllegalTransition) as exc:
            assert expected is None, f"{action} of job {job_id} refused: {exc!r}"
            assert isinstance(exc, JobNotFound) == (job is None), repr(exc)
            assert snapshot(store) == before, "a refused call changed the database"
            return
        assert job is not None and expected is not None, f"{action} of job {job_id} accepted"
        job.state = expected
        if action == "set_progress":
            job.percent = math.floor(percent)
        elif action == "succeed":
            job.percent = 100
        if expected in FINISHED:
            self._finished(job_id, job)

    def _finished(self, job_id: int, job: ModelJob) -> None:
        """Retention: a transient job goes; the newest max_finished others are kept."""
        if job.transient:
            del self.model[job_id]
            return
        found = self.db.get_jobs([["id", "=", job_id]])
        assert isinstance(found, list)
        job.finished = (found[0]["time_finished"] if found else now(), job_id)
        done = sorted((j.finished, i) for i, j in self.model.items() if j.finished is not None)
        for _, old in done[: max(len(done) - self.max_finished, 0)]:
            del self.model[old]

    @invariant()
    def store_matches_model(self) -> None:
        if self.store is None:
            return
        jobs = check_store(self.store)
        assert [j["id"] for j in jobs] == sorted(self.model), "jobs kept differ from the model"
        for j in jobs:
            model = self.model[j["id"]]
            assert j["state"] == model.state, j
            assert j["progress"]["percent"] == model.percent, j
            assert (j["time_finished"] is None) == (j["state"] not in FINISHED)
        finished = [j for j in jobs if j["state"] in FINISHED]
        assert not [j for j in finished if j["transient"]], "a finished transient job was kept"
        assert len(finished) <= self.max_finished
        logs = Path(self.store.logs_dir)
        for job_id in set(self.issued) - set(self.model):
            assert not (logs / f"{job_id}.log").exists(), f"job {job_id} is gone, its log is not"


def test_lifecycle_state_machine(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Random lifecycles (max_finished 0-3, transient jobs, reopened files) match the model."""

    class Machine(LifecycleMachine):
        folder = tmp_path_factory.mktemp("lifecycle")

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=60,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
