"""The benchmarks in tools/ run to the end and print what their docs promise (tiny sizes)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .tools import ROOT, load_tool

BENCH_STORE = ROOT / "tools" / "bench_store.py"
BENCH_QUERY = ROOT / "tools" / "bench_query.py"


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_bench_store_prints_every_rate_and_ratio() -> None:
    done = _run(BENCH_STORE, "-n", "30", "--rounds", "2", "--block", "7", "--max-finished", "5")
    assert done.returncode == 0, done.stderr
    rates = dict(re.findall(r"^(.+?)\s+:\s+([\d,.]+) ", done.stdout, re.MULTILINE))
    assert set(rates) == {
        "raw sqlite3 executemany",
        "JobStore.insert_many",
        "insert_many / raw time",
        "raw sqlite3 lifecycle",
        "JobStore lifecycle",
        "lifecycle / raw time",
        "commit floor",
    }
    assert all(float(value.replace(",", "")) > 0 for value in rates.values())
    assert re.search(r"rounds: \d+\.\d\d, \d+\.\d\d\)", done.stdout)


def test_bench_store_refuses_empty_sizes() -> None:
    done = _run(BENCH_STORE, "-n", "10", "--rounds", "0")
    assert done.returncode == 2
    assert "must be at least 1" in done.stderr


def test_bench_query_builds_a_store_and_sums_up(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    done = _run(BENCH_QUERY, "-n", "50", "--db", db, "--repeat", "1", "--python-repeat", "1",
                "--only", "get by id")  # fmt: skip
    # Exit status 1 says a target was missed, which a 50-job store may well do.
    assert done.returncode in (0, 1), done.stderr
    assert not done.stderr
    assert db.exists()
    assert len(re.findall(r"^get by id", done.stdout, re.MULTILINE)) == 2
    summary = re.search(r"^summary: .*: (all targets met|MISSED: .*)$", done.stdout, re.MULTILINE)
    assert summary is not None
    assert (done.returncode == 0) == (summary.group(1) == "all targets met")


def test_lifecycle_variants_prints_each_variant_against_the_store() -> None:
    script = ROOT / "tools" / "bench_lifecycle_variants.py"
    done = _run(script, "-n", "12", "--block", "5", "--max-finished", "3",
                "--only", "progress_percent", "--only", "without the method")  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = re.findall(r"^(.+?)\s+([\d,]+) jobs/s\s+(\d+\.\d\d)x", done.stdout, re.MULTILINE)
    assert [name for name, _, _ in lines] == [
        "the store's schema and settings",
        "time_started, progress_percent indexes partial",
        "without the method index",
    ]
    assert lines[0][2] == "1.00"


def test_lifecycle_variants_drop_exactly_the_schemas_other_indexes() -> None:
    variants = load_tool("bench_lifecycle_variants")
    assert "jobs_time_finished" not in variants.SECONDARY_INDEXES
    assert {"jobs_state_method", "jobs_method", "jobs_owner"} <= set(variants.SECONDARY_INDEXES)
    assert len(variants.SECONDARY_INDEXES) == 6


def test_lifecycle_variants_close_what_they_opened_when_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variants = load_tool("bench_lifecycle_variants")
    opened: list[Any] = []

    class Recorded(variants.RawLifecycle):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(variants, "RawLifecycle", Recorded)
    monkeypatch.setitem(variants.VARIANTS, "broken", variants.Variant(("DROP INDEX no_such",)))
    with pytest.raises(sqlite3.OperationalError, match="no_such"):
        variants.bench_variants(tmp_path, 5, 3, 5, ["the store's schema and settings", "broken"])
    assert len(opened) == 2
    for runner in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            runner.conn.execute("SELECT 1")
