"""Opening a store on a path that cannot hold one is a clear JobStoreError naming the path."""

from __future__ import annotations

from pathlib import Path

import pytest

import jobstore


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
