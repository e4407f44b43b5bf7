"""The pytest plugin users get: fixtures that build stores from fixture files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobstore.testing import load_jobs

pytest_plugins = ["pytester"]


def test_store_fixture_is_empty_and_file_backed(jobstore_store: Any) -> None:
    assert jobstore_store.get_jobs() == []
    assert Path(jobstore_store.path).exists()


def test_factory_loads_json_and_jsonl(jobstore_factory: Any, tmp_path: Path) -> None:
    jobs = [{"id": 7, "method": "a", "state": "FAILED"}, {"id": 9, "method": "b"}]
    (tmp_path / "h.json").write_text(json.dumps(jobs))
    (tmp_path / "h.jsonl").write_text("\n".join(json.dumps(job) for job in jobs) + "\n")
    for name in ("h.json", "h.jsonl"):
        store = jobstore_factory(tmp_path / name)
        assert [job["id"] for job in store.get_jobs()] == [7, 9]
        assert store.get_jobs([["state", "=", "FAILED"]], {"count": True}) == 1


def test_load_jobs_refuses_a_non_list(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"id": 1}')
    with pytest.raises(ValueError, match="expected a JSON list"):
        load_jobs(tmp_path / "bad.json")


def test_plugin_is_registered_for_other_projects(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_uses_fixture(jobstore_factory):
            store = jobstore_factory([{"method": "x"}])
            assert store.get_jobs([], {"count": True}) == 1
        """
    )
    result = pytester.runpytest_subprocess()  # found through the pytest11 entry point
    result.assert_outcomes(passed=1)
