"""The README's Python example runs as written (so the documented API cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "the README has a Python example"
    monkeypatch.chdir(tmp_path)  # it creates jobs.db in the working directory
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    store = namespace["store"]
    assert (tmp_path / "jobs.db").exists()
    assert store.get_jobs([], {"count": True}) == 3  # type: ignore[attr-defined]
    store.close()  # type: ignore[attr-defined]


def test_quickstart_is_the_ci_command() -> None:
    text = README.read_text(encoding="utf-8")
    quickstart = re.search(r"```sh\n(.*?)```", text, re.S)
    assert quickstart is not None
    run, test = quickstart.group(1).strip().splitlines()
    assert run.endswith("jobstore demo") and test.endswith(".venv/bin/pytest -n 2")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci
