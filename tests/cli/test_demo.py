"""``jobstore demo``: the README's quickstart."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from .conftest import Run, query_json


def test_demo_loads_the_sample_once_and_prints_the_table(run: Run, tmp_path: Path) -> None:
    first = run("demo")
    db = tmp_path / "jobstore-demo.db"
    assert db.exists()
    assert str(db) in first.stdout
    assert "loaded 600 jobs" in first.stdout
    assert "most recent FAILED jobs" in first.stdout
    assert "Jobs by state" in first.stdout

    sample = json.loads((files("jobstore.data") / "history.json").read_text())
    failed = sorted(
        (job for job in sample if job["state"] == "FAILED"),
        key=lambda job: (job["time_finished"], -job["id"]),
        reverse=True,
    )[:10]
    for job in failed:
        assert job["method"] in first.stdout
    assert str(failed[0]["id"]) in first.stdout

    second = run("demo")
    assert "nothing was loaded" in second.stdout
    assert query_json(run, db, None, {"count": True}) == 600
    # Same answer both times, apart from the first line (what was loaded).
    assert first.stdout.splitlines()[1:] == second.stdout.splitlines()[1:]


def test_demo_with_db_option(run: Run, tmp_path: Path) -> None:
    run("demo", "--db", "other.db")
    assert (tmp_path / "other.db").exists()
    assert not (tmp_path / "jobstore-demo.db").exists()


def test_sample_history_is_small_and_matches_its_readme() -> None:
    folder = Path(__file__).resolve().parents[2] / "fixtures" / "sample"
    assert (folder / "history.json").stat().st_size < 1_000_000
    assert "--count 600 --seed 2026" in (folder / "README.md").read_text()
