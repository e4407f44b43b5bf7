"""Shared fixtures: fresh job stores on real SQLite files (WAL) and in memory.

Also the hypothesis profiles, here so that every test file sees them (run
alone too): ``ci`` is derandomised so that a CI failure reproduces exactly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from jobstore.models import JOB_FIELDS, Job
from jobstore.store import JobStore

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where the ``store`` fixture keeps its database file."""
    return tmp_path / "jobs.db"


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[..., JobStore]]:
    """Open a store (default: ``tmp_path/jobs.db``); every store is closed afterwards."""
    opened: list[JobStore] = []

    def make(path: str | Path | None = None, **kwargs: Any) -> JobStore:
        store = JobStore(tmp_path / "jobs.db" if path is None else path, **kwargs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., JobStore], store_path: Path) -> JobStore:
    """A fresh store on a file in WAL mode."""
    return make_store(store_path)


@pytest.fixture
def memory_store(make_store: Callable[..., JobStore]) -> JobStore:
    """A fresh ``:memory:`` store."""
    return make_store(":memory:")


def assert_job_form(job: dict[str, Any]) -> None:
    """``job`` is a job in JSON form exactly as job.schema.json describes it."""
    assert list(job) == list(JOB_FIELDS)
    assert Job.model_validate(job).model_dump(mode="json") == job
    assert json.loads(json.dumps(job)) == job
    for field in ("time_started", "time_finished"):
        if job[field] is not None:
            assert len(job[field]) == 32 and job[field].endswith("+00:00")


@pytest.fixture
def check_job() -> Callable[[dict[str, Any]], None]:
    """``check_job(job)`` asserts that a returned job has exactly the schema's JSON form."""
    return assert_job_form
