"""``jobstore recover`` and ``jobstore stats``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .conftest import Run, query_json


@pytest.mark.parametrize(("flag", "state"), [((), "FAILED"), (("--abort",), "ABORTED")])
def test_recover_finishes_imported_unfinished_jobs(
    run: Run, db: Path, history: list[dict[str, Any]], flag: tuple[str, ...], state: str
) -> None:
    unfinished = [job["id"] for job in history if job["state"] in ("WAITING", "RUNNING")]
    assert unfinished, "the generated history should hold unfinished jobs"
    result = run("recover", db, *flag)
    assert [int(line) for line in result.stdout.split()] == unfinished
    assert f"{len(unfinished)} orphaned job(s) marked {state}" in result.stderr
    jobs = query_json(run, db, [["id", "in", unfinished]], {"select": ["state", "error"]})
    assert all(job["state"] == state for job in jobs)
    # Nothing left to recover the second time.
    assert run("recover", db).stdout == ""


def test_stats(run: Run, db: Path, history: list[dict[str, Any]]) -> None:
    stats = json.loads(run("stats", db, "--format", "json").stdout)
    assert stats["total"] == len(history)
    by_state = Counter(job["state"] for job in history)
    assert {k: v for k, v in stats["by_state"].items() if v} == dict(by_state)
    by_method = Counter(job["method"] for job in history)
    assert {m: sum(c.values()) for m, c in stats["by_method"].items()} == dict(by_method)
    table = run("stats", db, "--format", "table").stdout
    for method in by_method:
        assert method in table


def test_recover_keeps_every_other_job_of_a_large_history(run: Run, tmp_path: Path) -> None:
    """Retention is off for the command: more finished jobs than the library's default
    max_finished (1000), and finished transient ones, all stay; only states change."""
    jobs: list[dict[str, Any]] = [
        {"id": i, "method": "pool.scrub", "state": "SUCCESS",
         "time_finished": f"2026-11-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z"}
        for i in range(1, 1201)
    ]  # fmt: skip
    jobs += [
        {"id": 1201, "method": "core.ping", "transient": True, "state": "SUCCESS"},
        {"id": 1202, "method": "pool.scrub", "state": "RUNNING"},
    ]
    (tmp_path / "big.json").write_text(json.dumps(jobs), encoding="utf-8")
    run("import", "big.db", "big.json")
    assert run("recover", "big.db").stdout.split() == ["1202"]
    states = query_json(run, tmp_path / "big.db", None, {"select": ["id", "state"]})
    assert [job["id"] for job in states] == list(range(1, 1203))
    assert states[-1]["state"] == "FAILED"
