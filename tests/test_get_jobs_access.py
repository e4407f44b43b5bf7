"""Who gets which jobs and which values: callers x raw_result x owners (QUERY.md §6).

Every expected value below is written out literally; nothing is computed with
the redaction code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from jobstore import JobNotFound, JobStore, MatchNotFound, PermissionDenied, QueryError
from jobstore.access import Caller

R = "********"
VAULT = "vault.login"
SCRUB = "pool.scrub"
AUDITOR = "AUDITOR"


class Login(BaseModel):
    """The declared type of vault.login's result and first argument: ``pin`` is secret."""

    user: str
    pin: SecretStr


def owned(username: str) -> dict[str, Any]:
    return {"type": "LOGIN_PASSWORD", "data": {"username": username}}


# Each job: (method, owner, raw arguments, redacted arguments, raw result, redacted result).
JOBS: dict[str, tuple[str, str | None, list[Any], list[Any], Any, Any]] = {
    "alice_update": (
        "user.update",
        "alice",
        [1, {"name": "a", "password": "hunter2", "nested": {"api_key": "K-alice"}}],
        [1, {"name": "a", "password": R, "nested": {"api_key": R}}],
        {"ok": 1, "token": "T-alice", "list": [{"client_secret": "cs-alice", "n": 2}]},
        {"ok": 1, "token": R, "list": [{"client_secret": R, "n": 2}]},
    ),
    "alice_vault": (
        VAULT,
        "alice",
        [{"user": "alice", "pin": "1111"}],
        [{"user": "alice", "pin": R}],
        {"user": "alice", "pin": "1111"},
        {"user": "alice", "pin": R},
    ),
    "bob_update": (
        "user.update",
        "bob",
        [2, {"name": "b", "Admin_Password": "b-pass", "nested": [{"ssh_private_key": "PK"}]}],
        [2, {"name": "b", "Admin_Password": R, "nested": [{"ssh_private_key": R}]}],
        {"ok": 2, "access_token": "T-bob"},
        {"ok": 2, "access_token": R},
    ),
    "bob_scrub": (
        SCRUB,
        "bob",
        ["tank", {"passphrase": "pp-bob"}],
        ["tank", {"passphrase": R}],
        {"errors": 0, "secret": "s-bob"},
        {"errors": 0, "secret": R},
    ),
    "system": (
        "system.update",
        None,
        [{"token": "sys-token"}],
        [{"token": R}],
        {"api_key": "sys-key", "version": "1"},
        {"api_key": R, "version": "1"},
    ),
}

ADMIN = {"username": "root", "roles": ["FULL_ADMIN"]}
ALICE = {"username": "alice", "roles": []}
BOB = {"username": "bob", "roles": ["READONLY_ADMIN"]}
EVE = {"username": "eve", "roles": [AUDITOR]}  # reads every pool.scrub job, owns none
CAROL = {"username": "carol", "roles": []}  # owns nothing, reads nothing

CALLERS: dict[str, dict[str, Any] | None] = {
    "internal": None,
    "admin": ADMIN,
    "alice": ALICE,
    "bob": BOB,
    "eve": EVE,
    "carol": CAROL,
}
VISIBLE: dict[str, set[str]] = {
    "internal": set(JOBS),
    "admin": set(JOBS),
    "alice": {"alice_update", "alice_vault"},
    "bob": {"bob_update", "bob_scrub"},
    "eve": {"bob_scrub"},
    "carol": set(),
}
RAW_RESULT: dict[str, dict[str, Any]] = {
    "absent": {},
    "true": {"extra": {"raw_result": True}},
    "false": {"extra": {"raw_result": False}},
}


def expected_values(caller: str, raw: str, name: str) -> tuple[list[Any], Any]:
    """(arguments, result) QUERY.md §6 promises this caller for this job.

    ``raw_result: true`` unlocks an external caller's own jobs' results (all of
    them for FULL_ADMIN), never those a method reader sees of other users.
    """
    _, owner, raw_args, red_args, raw_res, red_res = JOBS[name]
    if caller == "internal":
        return raw_args, red_res if raw == "false" else raw_res
    unlocked = raw == "true" and (caller == "admin" or owner == caller)
    return red_args, raw_res if unlocked else red_res


def build_world(store: JobStore) -> dict[str, int]:
    """Fill ``store`` with ``JOBS`` (all finished) and the policy; return name -> id."""
    store.secrets.register(VAULT, result=Login, arguments=[Login])
    store.access.allow_method_readers(SCRUB, AUDITOR)
    ids = {}
    for name, (method, owner, args, _, result, _) in JOBS.items():
        job_id = store.create(method, args, credentials=None if owner is None else owned(owner))
        store.start(job_id)
        store.succeed(job_id, result)
        ids[name] = job_id
    return ids


@pytest.fixture
def world(tmp_path: Path) -> Any:
    with JobStore(tmp_path / "jobs.db") as store:
        yield store, build_world(store)


def as_caller(credentials: dict[str, Any] | None) -> Caller | None:
    return None if credentials is None else Caller(**credentials)


@pytest.mark.parametrize("raw", list(RAW_RESULT))
@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("form", [dict, as_caller], ids=["dict", "Caller"])
def test_get_jobs_returns_exactly_the_visible_jobs_and_values(
    world: Any, caller: str, raw: str, form: Callable[[Any], Any]
) -> None:
    store, ids = world
    credentials = None if CALLERS[caller] is None else form(CALLERS[caller])
    jobs = store.get_jobs([], dict(RAW_RESULT[raw]), credentials)
    names = {job_id: name for name, job_id in ids.items()}
    assert [job["id"] for job in jobs] == sorted(ids[name] for name in VISIBLE[caller])
    for job in jobs:
        arguments, result = expected_values(caller, raw, names[job["id"]])
        assert job["arguments"] == arguments
        assert job["result"] == result
        assert job["credentials"] == (
            None if JOBS[names[job["id"]]][1] is None else owned(JOBS[names[job["id"]]][1])
        )


@pytest.mark.parametrize("raw", list(RAW_RESULT))
@pytest.mark.parametrize("caller", list(CALLERS))
def test_count_and_get_follow_visibility(world: Any, caller: str, raw: str) -> None:
    store, ids = world
    credentials = CALLERS[caller]
    options = RAW_RESULT[raw]
    visible = sorted(ids[name] for name in VISIBLE[caller])
    assert store.get_jobs([], {**options, "count": True}, credentials) == len(visible)
    assert store.get_jobs([["state", "=", "SUCCESS"]], {**options, "count": True},
                          credentials) == len(visible)  # fmt: skip
    get = {**options, "get": True, "order_by": ["-id"]}
    if not visible:
        with pytest.raises(MatchNotFound):
            store.get_jobs([], get, credentials)
        return
    job = store.get_jobs([], get, credentials)
    assert job["id"] == visible[-1]
    name = next(n for n, i in ids.items() if i == job["id"])
    assert (job["arguments"], job["result"]) == expected_values(caller, raw, name)


@pytest.mark.parametrize("raw", list(RAW_RESULT))
@pytest.mark.parametrize("caller", list(CALLERS))
def test_get_job_matches_get_jobs_and_hides_the_rest(world: Any, caller: str, raw: str) -> None:
    store, ids = world
    credentials = CALLERS[caller]
    raw_result = {"absent": None, "true": True, "false": False}[raw]
    listed = {job["id"]: job for job in store.get_jobs([], RAW_RESULT[raw], credentials)}
    for name, job_id in ids.items():
        if name in VISIBLE[caller]:
            job = store.get_job(job_id, credentials, raw_result=raw_result)
            assert job == listed[job_id]
            assert (job["arguments"], job["result"]) == expected_values(caller, raw, name)
        else:
            with pytest.raises(JobNotFound) as hidden:
                store.get_job(job_id, credentials, raw_result=raw_result)
            with pytest.raises(JobNotFound) as missing:
                store.get_job(10_000, credentials, raw_result=raw_result)
            # Same type and same words: an invisible job reads exactly like a missing one.
            assert str(hidden.value) == f"job {job_id} does not exist"
            assert str(missing.value) == "job 10000 does not exist"


def test_get_job_without_credentials_is_unchanged(world: Any) -> None:
    store, ids = world
    job = store.get_job(ids["bob_update"])
    assert job["result"] == JOBS["bob_update"][4]
    assert job["arguments"] == JOBS["bob_update"][2]


def test_usernames_and_roles_match_exactly(world: Any) -> None:
    store, _ = world
    assert store.get_jobs([], {"count": True}, {"username": "Alice", "roles": []}) == 0
    assert store.get_jobs([], {"count": True}, {"username": "alice ", "roles": []}) == 0
    assert store.get_jobs([], {"count": True}, {"username": "x", "roles": ["full_admin"]}) == 0
    assert store.get_jobs([], {"count": True}, {"username": "x", "roles": ["auditor"]}) == 0


@pytest.mark.parametrize(
    "credentials", [{}, {"username": "alice"}, {"username": "", "roles": []}, "alice", ["a"],
                    {"username": "alice", "roles": "FULL_ADMIN"},
                    {"username": "alice", "roles": [], "admin": True}],
)  # fmt: skip
def test_malformed_credentials_are_refused_everywhere(world: Any, credentials: Any) -> None:
    store, ids = world
    with pytest.raises(QueryError):
        store.get_jobs([], None, credentials)
    with pytest.raises(QueryError):
        store.get_job(ids["alice_update"], credentials)
    with pytest.raises(QueryError):
        store.subscribe(lambda kind, job: None, credentials)


# --- abort by id -------------------------------------------------------------------------


@pytest.fixture
def waiting(tmp_path: Path) -> Any:
    """One WAITING job per owner (alice, bob, none, and bob's scrub for eve to read)."""
    with JobStore(tmp_path / "jobs.db") as store:
        store.access.allow_method_readers(SCRUB, AUDITOR)
        ids = {
            "alice": store.create("m", credentials=owned("alice")),
            "bob": store.create("m", credentials=owned("bob")),
            "none": store.create("m"),
            "bob_scrub": store.create(SCRUB, credentials=owned("bob")),
        }
        yield store, ids


# caller -> job -> "ok" | "missing" (JobNotFound) | "denied" (PermissionDenied)
ABORT = {
    "internal": {"alice": "ok", "bob": "ok", "none": "ok", "bob_scrub": "ok"},
    "admin": {"alice": "ok", "bob": "ok", "none": "ok", "bob_scrub": "ok"},
    "alice": {"alice": "ok", "bob": "missing", "none": "missing", "bob_scrub": "missing"},
    "bob": {"alice": "missing", "bob": "ok", "none": "missing", "bob_scrub": "ok"},
    "eve": {"alice": "missing", "bob": "missing", "none": "missing", "bob_scrub": "denied"},
    "carol": {"alice": "missing", "bob": "missing", "none": "missing", "bob_scrub": "missing"},
}


@pytest.mark.parametrize("caller", list(ABORT))
@pytest.mark.parametrize("target", ["alice", "bob", "none", "bob_scrub"])
def test_abort_by_id(waiting: Any, caller: str, target: str) -> None:
    store, ids = waiting
    job_id = ids[target]
    outcome = ABORT[caller][target]
    if outcome == "ok":
        store.abort(job_id, CALLERS[caller])
        assert store.get_job(job_id)["state"] == "ABORTED"
        return
    error = JobNotFound if outcome == "missing" else PermissionDenied
    with pytest.raises(error) as raised:
        store.abort(job_id, CALLERS[caller])
    if outcome == "missing":
        assert str(raised.value) == f"job {job_id} does not exist"
    assert store.get_job(job_id)["state"] == "WAITING"
    assert [job["state"] for job in store.get_jobs()] == ["WAITING"] * 4


def test_abort_refusals_name_the_state_only_to_those_who_see_it(waiting: Any) -> None:
    store, ids = waiting
    store.start(ids["alice"])  # RUNNING, not abortable
    with pytest.raises(JobNotFound, match="does not exist"):
        store.abort(ids["alice"], BOB)
    with pytest.raises(Exception, match="RUNNING and not abortable") as raised:
        store.abort(ids["alice"], ALICE)
    assert not isinstance(raised.value, JobNotFound | PermissionDenied)
    with pytest.raises(JobNotFound, match="job 999 does not exist"):
        store.abort(999, ALICE)
    with pytest.raises(JobNotFound, match="job 999 does not exist"):
        store.abort(999)
