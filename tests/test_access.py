"""Access control: credentials, visibility (Python and its SQL description), job redaction."""

from __future__ import annotations

import copy
import json
import sqlite3
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr, ValidationError

from jobstore.access import (
    AccessPolicy,
    Caller,
    Visibility,
    job_owner,
    redact_job,
    redacted_roots,
)
from jobstore.errors import QueryError
from jobstore.redaction import REDACTED, SecretsRegistry

# --- credentials -------------------------------------------------------------------------


@pytest.mark.parametrize("roles", [["A", "B"], ("A", "B"), {"A", "B"}, frozenset({"A", "B"})])
def test_parse_accepts_role_collections(roles: Any) -> None:
    caller = Caller.parse({"username": "alice", "roles": roles})
    assert caller == Caller(username="alice", roles=frozenset({"A", "B"}))
    assert caller is not None and caller.roles == frozenset({"A", "B"})


def test_parse_none_and_caller() -> None:
    caller = Caller(username="alice", roles=[])
    assert Caller.parse(None) is None
    assert Caller.parse(caller) is caller


@pytest.mark.parametrize(
    "credentials",
    [
        {},  # falsy, but not "internal": only None is
        {"username": "alice"},
        {"roles": ["FULL_ADMIN"]},
        {"username": "alice", "roles": [], "is_admin": True},
        {"username": 5, "roles": []},
        {"username": None, "roles": []},
        {"username": "", "roles": []},
        {"username": "alice", "roles": "FULL_ADMIN"},
        {"username": "alice", "roles": ["FULL_ADMIN", 1]},
        {"username": "alice", "roles": None},
        {"username": "alice", "roles": {"FULL_ADMIN": True}},
        "alice",
        ["alice", ["FULL_ADMIN"]],
        False,
        0,
    ],
)
def test_parse_rejects_malformed_credentials(credentials: Any) -> None:
    with pytest.raises(QueryError) as info:
        Caller.parse(credentials)
    assert isinstance(info.value, ValueError)


def test_parse_error_does_not_echo_values() -> None:
    with pytest.raises(QueryError) as info:
        Caller.parse({"username": "alice", "roles": [], "password": "hunter2"})
    assert "hunter2" not in str(info.value) and "password" in str(info.value)


def test_caller_is_frozen_hashable_and_strict() -> None:
    caller = Caller(username="alice", roles=["X"])
    with pytest.raises(ValidationError):
        caller.username = "bob"  # type: ignore[misc]
    assert hash(caller) == hash(Caller(username="alice", roles=("X",)))
    with pytest.raises(ValidationError):
        Caller(username="alice", roles=[], extra=1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("roles", "admin"),
    [
        (["FULL_ADMIN"], True),
        (["X", "FULL_ADMIN"], True),
        (["full_admin"], False),
        (["FULL_ADMIN "], False),
        ([], False),
    ],
)
def test_is_admin_is_exact(roles: list[str], admin: bool) -> None:
    assert Caller(username="u", roles=roles).is_admin is admin


# --- owners ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "owner"),
    [
        ({"type": "LOGIN", "data": {"username": "alice"}}, "alice"),
        ({"type": "LOGIN", "data": {"username": ""}}, ""),
        ({"type": "LOGIN", "data": {"username": 5}}, None),
        ({"type": "LOGIN", "data": {"username": ["alice"]}}, None),
        ({"type": "LOGIN", "data": {"username": None}}, None),
        ({"type": "LOGIN", "data": {}}, None),
        ({"type": "LOGIN", "data": "alice"}, None),
        ({"type": "LOGIN"}, None),
        ({"username": "alice"}, None),
        (None, None),
        ("alice", None),
    ],
)
def test_job_owner(credentials: Any, owner: str | None) -> None:
    assert job_owner({"credentials": credentials}) == owner
    assert job_owner({}) is None


# --- the matrix: callers x raw_result x jobs ---------------------------------------------

RAW_ARGUMENTS = [{"name": "n", "password": "arg-pw"}, "plain"]
REDACTED_ARGUMENTS = [{"name": "n", "password": REDACTED}, "plain"]
RAW_RESULT = {"ok": True, "access_token": "res-token", "items": [{"key": 1}]}
REDACTED_RESULT = {"ok": True, "access_token": REDACTED, "items": [{"key": 1}]}

OWNERS: dict[str, dict[str, Any] | None] = {
    "admin": None,  # started internally / by the system: no user credentials
    "alice": {"type": "LOGIN_PASSWORD", "data": {"username": "alice"}},
    "bob": {"type": "API_KEY", "data": {"username": "bob", "api_key": "k"}},
}
METHODS = ("cloud.sync", "audit.log")


def _jobs() -> list[dict[str, Any]]:
    jobs = []
    for owner, credentials in OWNERS.items():
        for method in METHODS:
            jobs.append(
                {
                    "id": len(jobs) + 1,
                    "name": f"{owner}/{method}",  # only here to name jobs in assertions
                    "method": method,
                    "arguments": copy.deepcopy(RAW_ARGUMENTS),
                    "result": copy.deepcopy(RAW_RESULT),
                    "result_encoding_error": None,
                    "credentials": copy.deepcopy(credentials),
                }
            )
    return jobs


ALL = {f"{o}/{m}" for o in OWNERS for m in METHODS}
CALLERS: dict[str, tuple[Caller | None, set[str]]] = {
    "internal": (None, ALL),
    "admin": (Caller(username="root", roles=["FULL_ADMIN"]), ALL),
    "owner": (
        Caller(username="alice", roles=["READONLY"]),
        {"alice/cloud.sync", "alice/audit.log"},
    ),
    "other user": (Caller(username="mallory", roles=[]), set()),
    "wrong case": (Caller(username="Alice", roles=["full_admin"]), set()),
    "method reader": (
        Caller(username="eve", roles=["AUDITOR"]),
        {"admin/audit.log", "alice/audit.log", "bob/audit.log"},
    ),
}


def _policy() -> AccessPolicy:
    return AccessPolicy({"audit.log": ["AUDITOR"]})


@pytest.mark.parametrize("raw_result", [True, False, None], ids=["raw", "redacted", "absent"])
@pytest.mark.parametrize("kind", list(CALLERS))
def test_matrix(kind: str, raw_result: bool | None) -> None:
    caller, expected_names = CALLERS[kind]
    policy = _policy()
    jobs = _jobs()
    pristine = copy.deepcopy(jobs)

    seen = [job for job in jobs if policy.can_see(caller, job)]
    assert {job["name"] for job in seen} == expected_names

    internal = caller is None
    raw_args = internal
    for job in seen:
        # raw_result unlocks an external caller's own results only (FULL_ADMIN: all).
        unlocked = caller is not None and (caller.is_admin or job_owner(job) == caller.username)
        raw_res = raw_result is not False if internal else raw_result is True and unlocked
        out = redact_job(job, caller, raw_result, None)
        assert out is not job
        assert out["arguments"] == (RAW_ARGUMENTS if raw_args else REDACTED_ARGUMENTS)
        assert out["result"] == (RAW_RESULT if raw_res else REDACTED_RESULT)
        assert out["result_encoding_error"] is None
        assert {k: v for k, v in out.items() if k not in ("arguments", "result")} == {
            k: v for k, v in job.items() if k not in ("arguments", "result")
        }
    assert jobs == pristine


# A redacted result may set result_encoding_error (when it cannot be redacted).
RESULT_FIELDS = ("result", "result_encoding_error")


@pytest.mark.parametrize(
    ("caller", "raw_result", "roots"),
    [
        (None, None, set()),
        (None, True, set()),
        (None, False, {"result", "result_encoding_error"}),
        (Caller(username="a", roles=["FULL_ADMIN"]), None, {"arguments", *RESULT_FIELDS}),
        (Caller(username="a", roles=["FULL_ADMIN"]), True, {"arguments"}),
        (Caller(username="a", roles=["FULL_ADMIN"]), False, {"arguments", *RESULT_FIELDS}),
        (Caller(username="a", roles=[]), True, {"arguments"}),
        (Caller(username="a", roles=[]), None, {"arguments", *RESULT_FIELDS}),
    ],
)
def test_redacted_roots(caller: Caller | None, raw_result: bool | None, roots: set[str]) -> None:
    assert redacted_roots(caller, raw_result) == roots


@pytest.mark.parametrize("raw_result", [1, 0, "true", "false", [], {}])
def test_raw_result_must_be_a_boolean(raw_result: Any) -> None:
    with pytest.raises(QueryError):
        redacted_roots(Caller(username="a", roles=[]), raw_result)
    with pytest.raises(QueryError):
        redacted_roots(None, raw_result)


def test_visibility_descriptions() -> None:
    policy = _policy()
    policy.allow_method_readers("pool.scrub", "AUDITOR")
    policy.allow_method_readers("pool.scrub", "STORAGE")
    assert policy.visibility(None) is None
    assert policy.visibility(Caller(username="r", roles=["FULL_ADMIN", "X"])) is None
    assert policy.visibility(Caller(username="alice", roles=["X"])) == Visibility("alice")
    assert policy.visibility(Caller(username="eve", roles=["AUDITOR"])) == Visibility(
        "eve", frozenset({"audit.log", "pool.scrub"})
    )
    assert policy.visibility(Caller(username="s", roles=["STORAGE"])) == Visibility(
        "s", frozenset({"pool.scrub"})
    )
    assert {Visibility("a"), Visibility("a", frozenset())} == {Visibility("a")}


@pytest.mark.parametrize(("method", "role"), [("", "R"), ("m", ""), (None, "R"), ("m", 5)])
def test_allow_method_readers_validates(method: Any, role: Any) -> None:
    with pytest.raises(ValueError):
        AccessPolicy().allow_method_readers(method, role)


def test_can_see_ignores_non_string_methods() -> None:
    caller = Caller(username="eve", roles=["AUDITOR"])
    assert not _policy().can_see(caller, {"method": ["audit.log"], "credentials": None})
    assert not _policy().can_see(caller, {"credentials": None})


# --- redact_job details ------------------------------------------------------------------


class Secretive(BaseModel):
    code: SecretStr


def _job(result: Any, method: str = "m") -> dict[str, Any]:
    return {
        "id": 1,
        "method": method,
        "arguments": [{"token": "t"}],
        "result": result,
        "result_encoding_error": None,
        "credentials": OWNERS["alice"],
    }


def _deep(levels: int) -> Any:
    value: Any = "the-raw-secret"
    for _ in range(levels):
        value = {"x": [value]}
    return value


@pytest.mark.parametrize(
    "result",
    [
        ["the-raw-secret"],  # a list where the registered model wants an object
        {"code": "c", "other": {"the-raw-secret"}},  # not JSON: cannot be checked, not shown
        {"code": "c", "deep": _deep(10_000)},
    ],
    ids=["model mismatch", "non-JSON", "deep"],
)
def test_result_redaction_failure_never_returns_the_raw_value(result: Any) -> None:
    registry = SecretsRegistry()
    registry.register("m", result=Secretive)
    job = _job(result)
    alice = Caller(username="alice", roles=[])
    for caller, raw_result in ((alice, None), (alice, False), (None, False)):
        out = redact_job(job, caller, raw_result, registry)
        assert out["result"] is None
        assert isinstance(out["result_encoding_error"], str)
        assert out["result_encoding_error"].startswith("result could not be redacted: ")
        assert "the-raw-secret" not in out["result_encoding_error"]
        assert job["result"] is result and job["result_encoding_error"] is None
    # With raw_result the caller asked for the raw value; redaction is not involved.
    assert redact_job(job, alice, True, registry)["result"] is result
    assert redact_job(job, None, None, registry)["result"] is result


def test_a_secret_field_hides_whatever_it_holds() -> None:
    registry = SecretsRegistry()
    registry.register("m", result=Secretive)
    out = redact_job(_job({"code": {"a set"}}), None, False, registry)
    assert out["result"] == {"code": REDACTED} and out["result_encoding_error"] is None


def test_hostile_arguments_never_raise() -> None:
    deep: Any = "x"
    for _ in range(10_000):
        deep = [deep]
    job = _job(None)
    job["arguments"] = [deep, {"password": "p"}, {1, 2}]
    out = redact_job(job, Caller(username="alice", roles=[]), True, None)
    assert out["arguments"] == [REDACTED, {"password": REDACTED}, REDACTED]


def test_nothing_is_copied_when_nothing_is_redacted() -> None:
    job = _job({"plain": [1, 2, {"x": "y"}]})
    internal = redact_job(job, None, None, None)
    assert internal == job and internal is not job
    assert internal["arguments"] is job["arguments"] and internal["result"] is job["result"]
    external = redact_job(job, Caller(username="alice", roles=[]), None, None)
    assert external["result"] is job["result"]
    assert external["arguments"] == [{"token": REDACTED}]


def test_registry_is_used_for_both_fields() -> None:
    registry = SecretsRegistry()
    registry.register("m", result=Secretive, arguments=[None, Secretive])
    job = _job({"code": "c1"})
    job["arguments"] = [{"code": "kept"}, {"code": "c2"}]
    out = redact_job(job, Caller(username="alice", roles=[]), None, registry)
    assert out["result"] == {"code": REDACTED}
    assert out["arguments"] == [{"code": "kept"}, {"code": REDACTED}]


def test_missing_fields_stay_missing() -> None:
    out = redact_job({"id": 1, "method": "m"}, Caller(username="a", roles=[]), None, None)
    assert out == {"id": 1, "method": "m"}


# --- the SQL description means what can_see means -----------------------------------------

# The generated column the store must have; the CASE keeps a non-string username
# (5, true, a list) from becoming an owner through TEXT affinity ('5').
_SCHEMA = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    method TEXT NOT NULL,
    credentials TEXT NOT NULL,
    owner TEXT GENERATED ALWAYS AS (
        CASE WHEN json_type(credentials, '$.data.username') = 'text'
             THEN json_extract(credentials, '$.data.username') END
    ) VIRTUAL
)
"""


def _where(visibility: Visibility) -> tuple[str, list[str]]:
    """A hand-written compilation of a Visibility (the compiler's is tested separately)."""
    clauses, params = ["owner = ?"], [visibility.username]
    if visibility.methods:
        methods = sorted(visibility.methods)
        clauses.append(f"method IN ({', '.join('?' * len(methods))})")
        params.extend(methods)
    return " OR ".join(clauses), params


_NAMES = st.sampled_from(["alice", "bob", "Alice", "5", "", " alice", "ünï", "a.b"])
_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=6)
_USERNAMES = st.one_of(
    _NAMES, _TEXT, st.integers(-3, 7), st.none(), st.booleans(), st.lists(_NAMES, max_size=2)
)
_DATA = st.one_of(
    st.fixed_dictionaries({"username": _USERNAMES}, optional={"other": _NAMES}),
    st.fixed_dictionaries({}, optional={"user": _NAMES}),
    _NAMES,
    st.lists(_NAMES, max_size=2),
    st.none(),
)
_CREDENTIALS = st.one_of(
    st.none(), st.fixed_dictionaries({"type": _NAMES, "data": _DATA}), _NAMES, st.integers()
)
_METHOD_NAMES = st.sampled_from(["cloud.sync", "audit.log", "pool.scrub", "Audit.log"])
_ROLES = st.sampled_from(["FULL_ADMIN", "full_admin", "AUDITOR", "STORAGE", "X"])
_CALLERS = st.one_of(
    st.none(),
    st.builds(
        Caller,
        username=_NAMES.filter(bool) | _TEXT.filter(bool),
        roles=st.frozensets(_ROLES, max_size=3),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    jobs=st.lists(st.tuples(_METHOD_NAMES, _CREDENTIALS), max_size=12),
    readers=st.lists(st.tuples(_METHOD_NAMES, _ROLES), max_size=4),
    caller=_CALLERS,
)
def test_visibility_in_sql_matches_can_see(
    jobs: list[tuple[str, Any]], readers: list[tuple[str, str]], caller: Caller | None
) -> None:
    policy = AccessPolicy()
    for method, role in readers:
        policy.allow_method_readers(method, role)
    rows = [
        {"id": i + 1, "method": method, "credentials": credentials}
        for i, (method, credentials) in enumerate(jobs)
    ]
    db = sqlite3.connect(":memory:")
    try:
        db.execute(_SCHEMA)
        db.executemany(
            "INSERT INTO jobs (id, method, credentials) VALUES (?, ?, ?)",
            [(r["id"], r["method"], json.dumps(r["credentials"])) for r in rows],
        )
        visibility = policy.visibility(caller)
        sql, params = "SELECT id FROM jobs", []
        if visibility is not None:
            where, params = _where(visibility)
            sql += f" WHERE {where}"
        from_sql = {row[0] for row in db.execute(sql, params)}
        owners = dict(db.execute("SELECT id, owner FROM jobs").fetchall())
    finally:
        db.close()

    assert from_sql == {r["id"] for r in rows if policy.can_see(caller, r)}
    for r in rows:
        assert owners[r["id"]] == job_owner(r)
        if visibility is not None:
            assert visibility.allows(job_owner(r), r["method"]) == policy.can_see(caller, r)
