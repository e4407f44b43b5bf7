"""``jobstore import`` and ``jobstore export``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from jobstore import JobStore
from jobstore.cli import history as history_module

from .conftest import Run, query_json


def test_import_keeps_every_job(run: Run, db: Path, history: list[dict[str, Any]]) -> None:
    assert query_json(run, db) == history


def test_import_jsonl(run: Run, tmp_path: Path, history: list[dict[str, Any]]) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(job) + "\n" for job in history), encoding="utf-8")
    result = run("import", "lines.db", path, "--batch-size", "7")
    assert "imported 80 jobs" in result.stderr
    assert query_json(run, tmp_path / "lines.db") == history


def test_bad_job_is_one_line_error_and_nothing_written(
    run: Run, db: Path, tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    more = [dict(job, id=job["id"] + 1000) for job in history]
    more[5]["state"] = "DONE"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(more), encoding="utf-8")

    result = run("import", db, path, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "job #5 (id 1006)" in lines[0]
    assert "'state'" in lines[0]
    assert result.stdout == ""
    assert query_json(run, db) == history


def test_duplicate_id_is_refused(run: Run, db: Path, history_file: Path) -> None:
    result = run("import", db, history_file, check=False)
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert query_json(run, db, None, {"count": True}) == 80


def test_file_that_is_not_json(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[{]", encoding="utf-8")
    result = run("import", "x.db", path, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "not valid JSON" in result.stderr


def test_export_import_round_trip(run: Run, db: Path, tmp_path: Path) -> None:
    run("export", db, "--out", "dump.json")
    run("import", "copy.db", "dump.json")
    run("export", "copy.db", "--out", "copy.json")
    original = (tmp_path / "dump.json").read_text()
    assert (tmp_path / "copy.json").read_text() == original
    assert json.loads(original) == query_json(run, db)
    # Without --out the dump goes to stdout, byte for byte the same.
    assert run("export", db).stdout == original


def test_export_jsonl(run: Run, db: Path, tmp_path: Path, history: list[dict[str, Any]]) -> None:
    run("export", db, "--out", "dump.jsonl")
    lines = (tmp_path / "dump.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == history


def test_failed_import_into_a_new_file_leaves_no_file(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"method": "ok"}, {"method": 5}]), encoding="utf-8")
    result = run("import", "new.db", path, check=False)
    assert result.returncode == 1 and "job #1" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


@pytest.mark.parametrize("name", ["deep.json", "deep.jsonl"])
def test_json_nested_too_deeply_is_one_line_error(run: Run, tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = run("import", "x.db", name, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {name}") and "nested too deeply" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "x.db").exists()


def test_import_on_a_terminal_shows_reading_and_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, history: list[dict[str, Any]]
) -> None:
    """In process, with stderr a (forced) terminal: the bar follows both phases."""
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, markup=False)
    monkeypatch.setattr(history_module, "stderr", lambda: terminal)
    with JobStore(tmp_path / "bar.db") as store:
        ids = history_module.load(store, history_module.History("h", history, len(history)))
        assert ids == [job["id"] for job in history]
    shown = screen.getvalue()
    assert "reading" in shown and "writing" in shown and f"{len(history)}/{len(history)}" in shown


def test_import_to_a_pipe_writes_nothing_but_its_summary(run: Run, history_file: Path) -> None:
    result = run("import", "piped.db", history_file)
    assert result.stderr == "imported 80 jobs into piped.db\n"
