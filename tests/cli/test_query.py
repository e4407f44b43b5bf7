"""``jobstore query`` and ``jobstore explain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobstore import JobStore

from ..databases import foreign_database
from .conftest import Run, query_json


def test_filters_and_options(run: Run, db: Path, history: list[dict[str, Any]]) -> None:
    answer = query_json(
        run,
        db,
        [["state", "=", "SUCCESS"], ["method", "^", "pool."]],
        {"order_by": ["-time_finished"], "limit": 3, "select": ["id", "method", "state"]},
    )
    expected = sorted(
        (
            job
            for job in history
            if job["state"] == "SUCCESS" and job["method"].startswith("pool.")
        ),
        key=lambda job: (job["time_finished"], -job["id"]),
        reverse=True,
    )[:3]
    assert answer == [{"id": j["id"], "method": j["method"], "state": "SUCCESS"} for j in expected]


def test_count_and_get(run: Run, db: Path, history: list[dict[str, Any]]) -> None:
    failed = [job for job in history if job["state"] == "FAILED"]
    count = run("query", db, "--filters", '[["state", "=", "FAILED"]]',
                "--options", '{"count": true}', "--format", "table")
    assert count.stdout.strip() == str(len(failed))
    got = query_json(run, db, [["state", "=", "FAILED"]], {"get": True, "order_by": ["-id"]})
    assert got == failed[-1]


def test_get_without_match_is_an_error(run: Run, db: Path) -> None:
    result = run("query", db, "--filters", '[["id", "=", -1]]', "--options", '{"get": true}',
                 check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


def test_jsonl_and_table_formats(run: Run, db: Path) -> None:
    lines = run("query", db, "--options", '{"limit": 4}', "--format", "jsonl").stdout
    assert [json.loads(line)["id"] for line in lines.splitlines()] == [1, 2, 3, 4]
    table = run("query", db, "--options", '{"limit": 4}', "--format", "table").stdout
    assert "method" in table and "state" in table


def test_as_user_sees_own_jobs_redacted(run: Run, db: Path, history: list[dict[str, Any]]) -> None:
    mine = query_json(run, db, None, {"select": ["id", "credentials"]}, "--as-user", "bob")
    owned = [
        job["id"] for job in history
        if job["credentials"] and job["credentials"]["data"]["username"] == "bob"
    ]
    assert [job["id"] for job in mine] == owned
    admin = query_json(run, db, None, {"count": True}, "--as-user", "x", "--role", "FULL_ADMIN")
    assert admin == len(history)
    secret = query_json(
        run, db, [["method", "=", "replication.run_onetime"]], None,
        "--as-user", "x", "--role", "FULL_ADMIN",
    )
    for job in secret:
        assert job["arguments"][0]["ssh_credentials"]["ssh_private_key"] == "********"


def test_role_without_user_is_a_usage_error(run: Run, db: Path) -> None:
    assert run("query", db, "--role", "FULL_ADMIN", check=False).returncode == 2


@pytest.mark.parametrize("option", ["--filters", "--options"])
def test_bad_json_argument(run: Run, db: Path, option: str) -> None:
    result = run("query", db, option, "[1, ", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {option} is not valid JSON")
    assert len(result.stderr.splitlines()) == 1


def test_query_error_is_one_line(run: Run, db: Path) -> None:
    result = run("query", db, "--filters", '[["state", "~~", 1]]', check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


def test_missing_db_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    result = run("query", "absent.db", check=False)
    assert result.returncode == 2
    assert not (tmp_path / "absent.db").exists()


def test_not_a_database(run: Run, tmp_path: Path) -> None:
    (tmp_path / "text.db").write_text("this is not sqlite " * 100)
    result = run("stats", "text.db", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")


needs_explain = pytest.mark.skipif(
    not hasattr(JobStore, "explain"), reason="store.explain has not landed yet"
)


@needs_explain
def test_explain_json(run: Run, db: Path) -> None:
    plan = json.loads(
        run("explain", db, "--filters", '[["state", "=", "FAILED"]]',
            "--options", '{"limit": 2}', "--format", "json").stdout
    )
    assert "FROM jobs" in plan["sql"]
    assert "FAILED" in plan["params"]
    assert plan["residual"] == []


@needs_explain
def test_explain_text_names_residual(run: Run, db: Path) -> None:
    # A password is redacted for external callers, so SQL cannot decide it.
    text = run(
        "explain", db, "--filters", '[["arguments.0.password", "=", "x"]]',
        "--as-user", "bob", "--format", "text",
    ).stdout
    assert text.startswith("SQL:\n")
    assert "params: " in text
    assert "residual (evaluated in Python):" in text
    assert "arguments.0.password" in text


MARKUP = {
    "error": "cannot mount [/mnt/tank/share] [errno 2] no such file",
    "description": "[link=https://example.com]click[/link] [bold red]now",
}


@pytest.mark.parametrize("options", [{}, {"get": True}, {"select": ["error", "description"]}])
def test_tables_print_job_text_as_it_is(run: Run, tmp_path: Path, options: Any) -> None:
    """Square brackets in job data are text, not console markup."""
    (tmp_path / "h.json").write_text(json.dumps([{"method": "[bold]pool", **MARKUP}]))
    run("import", "h.db", "h.json")
    result = run("query", "h.db", "--options", json.dumps(options), "--format", "table")
    text = " ".join(result.stdout.split())  # table cells may wrap
    for value in ([MARKUP["error"]] if not options else MARKUP.values()):
        assert " ".join(value.split()) in text, text
    stats = run("stats", "h.db", "--format", "table").stdout
    assert "[bold]pool" in stats


def test_filters_nested_too_deeply_are_one_line_error(run: Run, db: Path) -> None:
    result = run("query", db, "--filters", "[" * 20_000 + "]" * 20_000, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: --filters: JSON nested too deeply")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("command", ["query", "stats", "export", "explain", "recover"])
def test_commands_refuse_a_file_that_is_not_a_job_store(
    run: Run, tmp_path: Path, command: str
) -> None:
    """Another application's database and an empty file are refused and left untouched."""
    other = foreign_database(tmp_path / "other.db")
    (tmp_path / "empty.db").touch()
    before = other.read_bytes()
    for name, reason in (("other.db", "another application's tables"), ("empty.db", "empty")):
        result = run(command, name, check=False)
        assert result.returncode == 1
        assert result.stderr.startswith(f"error: {name} is not a job store")
        assert reason in result.stderr
    assert other.read_bytes() == before
    assert (tmp_path / "empty.db").read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "other.db"]


_HOSTILE = "x\x1b[31mred\x1b]0;title\x07\x9b2J\u202egnp.\x7f"


def test_job_text_cannot_drive_the_terminal(run: Run, tmp_path: Path) -> None:
    """Control characters from job data print as escapes in tables and stay escaped in JSON."""
    history = tmp_path / "hostile.json"
    job = {"id": 1, "method": _HOSTILE, "state": "FAILED", "error": _HOSTILE}
    history.write_text(json.dumps([job]), encoding="utf-8")
    run("import", "hostile.db", history)
    outputs = [
        run("query", "hostile.db", "--format", "table").stdout,
        run("query", "hostile.db", "--options", '{"get": true}', "--format", "table").stdout,
        run("stats", "hostile.db", "--format", "table").stdout,
    ]
    for output in outputs:
        assert not {"\x1b", "\x07", "\x9b", "\u202e", "\x7f"} & set(output), output
    assert "x\\x1b[31mred" in outputs[0]
    for format_ in ("json", "jsonl"):
        text = run("query", "hostile.db", "--format", format_).stdout
        assert not {"\x1b", "\x9b", "\u202e", "\x7f"} & set(text)
        loaded = json.loads(text) if format_ == "json" else [json.loads(text)]
        assert loaded[0]["error"] == _HOSTILE
    run("export", "hostile.db", "--out", "out.json")
    exported = (tmp_path / "out.json").read_text(encoding="utf-8")
    assert "\x9b" not in exported and json.loads(exported)[0]["method"] == _HOSTILE
