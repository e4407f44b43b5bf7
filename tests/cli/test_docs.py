"""Every command has help, and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstore.cli import cli

from .conftest import Run

README = Path(__file__).resolve().parents[2] / "README.md"
COMMANDS = sorted(cli.commands)


def test_expected_commands() -> None:
    assert COMMANDS == ["demo", "explain", "export", "import", "query", "recover", "stats"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help(run: Run, command: str) -> None:
    result = run(command, "--help")
    assert f"Usage: python -m jobstore {command}" in result.stdout
    assert len(cli.commands[command].help or "") > 80


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_in_readme(command: str) -> None:
    if not README.exists():
        pytest.skip("README not written yet")
    assert f"jobstore {command}" in README.read_text(encoding="utf-8")


def test_version(run: Run) -> None:
    assert "jobstore, version" in run("--version").stdout
