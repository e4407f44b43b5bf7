"""Hostile filters, options and credentials: a QueryError or the right answer, nothing else.

Whatever comes in, the database is left exactly as it was (schema and rows)
and passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobstore import JobNotFound, JobStore, QueryError, filter_list
from tests.test_get_jobs_access import ALICE, build_world, owned


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


DEEP = nested(10_000)
HUGE = "x" * (1 << 20)
STRINGS: dict[str, str] = {
    "quote": "'",
    "double_quote": '"',
    "quotes": "a'b\"c`d",
    "drop_table": "'); DROP TABLE jobs;--",
    "or_1_eq_1": '" OR 1=1 --',
    "json_path": "$.a\"]') OR 1=1 --",
    "nul": "a\x00b",
    "lone_surrogate": "\ud800",
    "surrogate_pair_halves": "a\udc00\ud83d",
    "huge": HUGE,
    "backslashes": "\\\\.\\",
    "wildcards": "%_*[]",
}
VALUES: dict[str, Any] = {**STRINGS, "deep": DEEP, "deep_in_list": [1, DEEP]}
OPS = ["=", "!=", "<", ">=", "~", "in", "nin", "rin", "rnin", "^", "!$", "C=", "C^", "Cin"]
STRING_OPS = {"~", "^", "!^", "$", "!$"}


def cases() -> Iterator[tuple[str, list[Any], dict[str, Any]]]:
    """(id, filters, options) covering every place a string or a value can go."""
    for name, value in VALUES.items():
        for op in OPS:
            for path in ("method", "result.a", "arguments.0.name", "progress.percent",
                         "description", "arguments.*.password"):  # fmt: skip
                yield f"value-{name}-{path}-{op}", [[path, op, value]], {}
        yield f"path-{name}", [[value, "=", 1]], {}
        yield f"order-{name}", [], {"order_by": [value]}
        yield f"select-{name}", [], {"select": [value]}
        yield f"alias-{name}", [], {"select": [["method", value]]}
        yield f"or-{name}", [["OR", [[value, "=", 1], ["method", "=", value]]]], {}
        yield f"extra-{name}", [], {"extra": {"raw_result": value, name: value}}
        if isinstance(value, str):
            for prefix in ("result.", "arguments.0.", "description.", "nulls_last:-result."):
                yield f"subpath-{name}-{prefix}", [[prefix + value, "=", value]], {}
                yield f"order-{name}-{prefix}", [], {"order_by": [prefix + value]}
                yield f"select-{name}-{prefix}", [], {"select": [prefix.split(":")[-1] + value]}
            yield f"date-{name}", [["time_finished.$date", "<", value]], {}
            yield f"key-{name}", [[f"result.{value}.x", "rin", value]], {"order_by": ["-id"]}


CASES = list(cases())
CREDENTIALS: dict[str, Any] = {
    **{f"user-{n}": {"username": v, "roles": []} for n, v in VALUES.items()},
    **{f"role-{n}": {"username": "alice", "roles": [v]} for n, v in VALUES.items()},
    "nested_username": {"username": DEEP, "roles": []},
    "internal": None,
    "alice": ALICE,
}


def dump(path: Path) -> tuple[list[Any], dict[str, list[Any]]]:
    """The schema and every row of every table, read with a separate connection."""
    conn = sqlite3.connect(path)
    try:
        schema = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        rows = {
            name: conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
            for (kind, name, _, _) in schema
            if kind == "table"
        }
        (check,) = conn.execute("PRAGMA integrity_check").fetchone()
        assert check == "ok"
        return schema, rows
    finally:
        conn.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JobStore, Path]]:
    path = tmp_path_factory.mktemp("hostile") / "jobs.db"
    with JobStore(path) as store:
        build_world(store)
        # Jobs holding the hostile strings themselves, so that matching them is tested too.
        for name, text in STRINGS.items():
            if name in ("nul", "lone_surrogate", "surrogate_pair_halves"):
                continue  # not storable (refused at write time, see jsoncodec)
            job_id = store.create("m" + text[:50], [{"name": text, text[:50]: text}],
                                  description=text, credentials=owned(text[:100]))  # fmt: skip
            store.start(job_id)
            store.succeed(job_id, {"a": text, text[:50]: [text]})
        before = dump(path)
        yield store, path
        assert dump(path) == before


def answer(call: Any) -> Any:
    """The call's result, or the QueryError class: any other exception fails the test."""
    try:
        return call()
    except QueryError:
        return QueryError


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_hostile_query_gives_query_error_or_the_right_answer(world: Any, case: Any) -> None:
    store, _ = world
    _, filters, options = case
    check(store, filters, options, None)
    check(store, filters, options, ALICE)


def check(store: JobStore, filters: Any, options: dict[str, Any], credentials: Any) -> None:
    """get_jobs, count and explain give a QueryError or what filter_list gives on the seen jobs."""
    extra = options.get("extra", {})
    raw = extra.get("raw_result")
    got = answer(lambda: store.get_jobs(filters, options, credentials))
    if raw is not None and not isinstance(raw, bool):
        assert got is QueryError  # the store refuses a non-boolean raw_result
    else:
        seen = store.get_jobs([], {"extra": {"raw_result": raw}}, credentials)
        expected = answer(lambda: filter_list(seen, filters, options))
        assert got == expected
    explained = answer(lambda: store.explain(filters, options, credentials))
    assert explained is QueryError or isinstance(explained, dict)
    counted = answer(lambda: store.get_jobs(filters, {**options, "count": True}, credentials))
    assert counted is QueryError or isinstance(counted, int)


@pytest.mark.parametrize("name", list(CREDENTIALS))
def test_hostile_credentials(world: Any, name: str) -> None:
    store, _ = world
    credentials = CREDENTIALS[name]
    result = answer(lambda: store.get_jobs([], {}, credentials))
    if name in ("internal", "alice"):
        assert isinstance(result, list) and result
        return
    if name.startswith("role-"):
        # Unknown roles grant nothing: alice still sees exactly her own jobs.
        assert result is QueryError or result == store.get_jobs([], {}, ALICE)
        return
    # A hostile username is refused, or owns exactly the jobs stored under that exact name.
    owned_ids = [job["id"] for job in store.get_jobs()
                 if job["credentials"] == owned(credentials["username"])]  # fmt: skip
    assert result is QueryError or [job["id"] for job in result] == owned_ids
    counted = answer(lambda: store.get_jobs([], {"count": True}, credentials))
    assert counted in (QueryError, len(owned_ids))
    for call in (lambda: store.get_job(1, credentials), lambda: store.abort(1, credentials)):
        try:
            call()
        except (QueryError, JobNotFound):
            pass
        else:
            pytest.fail(f"{name}: a hostile caller read or aborted job 1")
    subscribed = answer(lambda: store.subscribe(lambda kind, job: None, credentials))
    if subscribed is not QueryError:
        subscribed.unsubscribe()


def test_hostile_owner_stored_on_a_job_owns_only_that_job(world: Any) -> None:
    store, _ = world
    for name, text in STRINGS.items():
        if name in ("nul", "lone_surrogate", "surrogate_pair_halves"):
            continue
        jobs = store.get_jobs([], {}, {"username": text[:100], "roles": []})
        assert [job["description"] for job in jobs] == [text], name


@pytest.mark.parametrize("name", ["nul", "lone_surrogate", "surrogate_pair_halves"])
def test_unstorable_json_strings_are_refused_at_write_time(tmp_path: Path, name: str) -> None:
    text = STRINGS[name]
    with JobStore(tmp_path / "jobs.db") as store:
        before = dump(tmp_path / "jobs.db")
        for call in (
            lambda: store.create("m", [text]),
            lambda: store.create("m", credentials=owned(text)),
            lambda: store.insert_many([{"method": "m", "arguments": [{"k": text}]}]),
        ):
            with pytest.raises(ValueError):
                call()
        assert dump(tmp_path / "jobs.db") == before
