"""Fixtures for the CLI tests: the real ``jobstore`` command run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..tools import load_generator

ROOT = Path(__file__).resolve().parents[2]

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """``run("query", db, ...)``: ``python -m jobstore`` in tmp_path, output captured."""
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}

    def run(*args: Any, check: bool | None = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "jobstore", *map(str, args)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"jobstore {args} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    return run


@pytest.fixture(scope="session")
def history() -> list[dict[str, Any]]:
    """A small generated history: 80 jobs of every kind, ids 1..80."""
    return load_generator().generate(80, seed=11)


@pytest.fixture
def history_file(tmp_path: Path, history: list[dict[str, Any]]) -> Path:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(history), encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path, history_file: Path, run: Run) -> Path:
    """A store file loaded with ``history`` through ``jobstore import``."""
    path = tmp_path / "jobs.db"
    run("import", path, history_file)
    return path


def query_json(run: Run, db: Path, filters: Any = None, options: Any = None, *extra: str) -> Any:
    """``jobstore query --format json`` with these filters and options, parsed."""
    args: list[Any] = ["query", db, "--format", "json", *extra]
    if filters is not None:
        args += ["--filters", json.dumps(filters)]
    if options is not None:
        args += ["--options", json.dumps(options)]
    return json.loads(run(*args).stdout)
