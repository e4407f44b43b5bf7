"""Pytest fixtures for projects that test against a job store (a ``pytest11`` plugin).

Installed with jobstore, so any test suite can ask for them::

    def test_failed_jobs_are_listed(jobstore_factory):
        store = jobstore_factory("tests/data/history.json")
        assert store.get_jobs([["state", "=", "FAILED"]], {"count": True}) == 3
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .store import JobStore

__all__ = ["jobstore_factory", "jobstore_store", "load_jobs"]

JobSource = str | os.PathLike[str] | Iterable[dict[str, Any]]


def load_jobs(source: JobSource) -> list[dict[str, Any]]:
    """Jobs from a ``.json`` list, a ``.jsonl`` file, or an iterable of job dicts."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        loaded = json.loads(text)
        if not isinstance(loaded, list):
            raise ValueError(f"{path}: expected a JSON list of jobs")
        return loaded
    return list(source)


@pytest.fixture
def jobstore_store(tmp_path: Path) -> Iterator[JobStore]:
    """A fresh, empty store in a real SQLite file (WAL mode) under ``tmp_path``."""
    with JobStore(tmp_path / "jobs.db") as store:
        yield store


@pytest.fixture
def jobstore_factory(tmp_path: Path) -> Iterator[Callable[..., JobStore]]:
    """Build stores from fixture files or job lists: ``jobstore_factory(source, **options)``."""
    opened: list[JobStore] = []

    def build(source: JobSource = (), **options: Any) -> JobStore:
        store = JobStore(tmp_path / f"jobs-{len(opened)}.db", **options)
        opened.append(store)
        jobs = load_jobs(source)
        if jobs:
            store.insert_many(jobs)
        return store

    yield build
    for store in opened:
        store.close()
