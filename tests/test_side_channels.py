"""No query tells an external caller anything about a redacted value or an unseen job (§6).

The reference for "what the caller may see" is ``filter_list`` over the jobs
``get_jobs([])`` returns to that caller: every filter, ordering and count must
give exactly what it gives there.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobstore import JobNotFound, JobStore, MatchNotFound, filter_list
from tests.test_get_jobs_access import ALICE, BOB, EVE, JOBS, VAULT, Login, build_world, owned

R = "********"
BASE_OPS = ["=", "!=", "<", "<=", ">", ">=", "~", "in", "nin", "rin", "rnin",
            "^", "!^", "$", "!$"]  # fmt: skip
ALL_OPS = BASE_OPS + ["C" + op for op in BASE_OPS if op != "~"]
STRING_OPS = {"~", "^", "!^", "$", "!$"}
DATE_OPS = ["=", "!=", "<", "<=", ">", ">="]

# Every redacted path of alice's jobs, with the true secret found there.
SECRET_PATHS: dict[str, Any] = {
    "result.token": "T-alice",
    "result.list.*.client_secret": "cs-alice",
    "result.list.0.client_secret": "cs-alice",
    "result.pin": "1111",  # vault.login: SecretStr declared by a pydantic model
    "arguments.1.password": "hunter2",
    "arguments.*.password": "hunter2",
    "arguments.1.nested.api_key": "K-alice",
    "arguments.0.pin": "1111",
    "arguments.*.pin": "1111",
}
WHOLE_PATHS: dict[str, Any] = {
    "result": JOBS["alice_update"][4],
    "arguments": JOBS["alice_update"][2],
    "arguments.1": JOBS["alice_update"][2][1],
    "result.list": JOBS["alice_update"][4]["list"],
}


def probe_values(secret: Any) -> list[Any]:
    """Values a caller might try: the secret, its parts, the mask, lists holding them."""
    values: list[Any] = [secret, R, [secret], [R], [secret, R], None, 0, "", "*"]
    if isinstance(secret, str) and secret:
        values += [secret[:1], secret[:-1], secret[1:], secret.upper(), f"^{secret}", ".*",
                   f"{secret}|x", secret + "x"]  # fmt: skip
    return values


def usable(op: str, value: Any) -> bool:
    """Skip only the combinations QUERY.md makes a QueryError (checked elsewhere)."""
    if op.removeprefix("C") in STRING_OPS and not isinstance(value, str):
        return False
    if op == "~":
        try:
            re.compile(value)
        except re.error:
            return False
    return True


def visible_ids(store: JobStore, filters: list[Any], options: dict[str, Any],
                credentials: Any) -> list[int]:  # fmt: skip
    return [job["id"] for job in store.get_jobs(filters, options, credentials)]


def reference_ids(seen: list[dict[str, Any]], filters: list[Any],
                  options: dict[str, Any]) -> list[int]:  # fmt: skip
    return [job["id"] for job in filter_list(seen, filters, options)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with JobStore(tmp_path_factory.mktemp("side") / "jobs.db") as store:
        yield store, build_world(store)


CALLERS = {
    # (credentials, raw_result option): the views in which result and/or arguments are redacted
    "alice": (ALICE, {}),
    "alice_raw_result": (ALICE, {"extra": {"raw_result": True}}),  # arguments still redacted
    "bob": (BOB, {}),
    "admin": ({"username": "root", "roles": ["FULL_ADMIN"]}, {}),
    "internal_redacted": (None, {"extra": {"raw_result": False}}),
}


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("path", list(SECRET_PATHS) + list(WHOLE_PATHS))
def test_every_operator_on_a_secret_matches_only_what_the_redacted_value_does(
    world: Any, caller: str, path: str
) -> None:
    store, _ = world
    credentials, options = CALLERS[caller]
    seen = store.get_jobs([], options, credentials)
    secret = SECRET_PATHS.get(path, WHOLE_PATHS.get(path))
    checked = 0
    for op in ALL_OPS:
        for value in probe_values(secret):
            if not usable(op, value):
                continue
            filters = [[path, op, value]]
            assert visible_ids(store, filters, options, credentials) == reference_ids(
                seen, filters, options
            ), filters
            counted = store.get_jobs(filters, {**options, "count": True}, credentials)
            assert counted == len(reference_ids(seen, filters, options)), filters
            checked += 1
    assert checked > 150


def test_a_secret_value_finds_nothing(world: Any) -> None:
    store, ids = world
    for path, secret in SECRET_PATHS.items():
        assert store.get_jobs([[path, "=", secret]], {}, ALICE) == [], path
        assert store.get_jobs([[path, "=", R]], {"count": True}, ALICE) >= 1, path
        # Bob's secrets are not even reachable with raw_result, which only unmasks his own.
        assert store.get_jobs([[path, "=", secret]], {"extra": {"raw_result": True}}, BOB) == []
    raw = {"extra": {"raw_result": True}}
    assert visible_ids(store, [["result.token", "=", "T-alice"]], raw, ALICE) == [
        ids["alice_update"]
    ]
    assert visible_ids(store, [["result.access_token", "=", "T-bob"]], raw, ALICE) == []
    assert store.get_jobs([["result.access_token", "=", "T-bob"]], {}, BOB) == []


def test_date_suffix_on_a_secret_holding_a_timestamp(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.db") as store:
        stamp = "2026-11-01T10:00:00+00:00"
        job_id = store.create("m", [{"password": stamp}], credentials=owned("alice"))
        store.start(job_id)
        store.succeed(job_id, {"token": stamp, "when": stamp})
        seen = store.get_jobs([], {}, ALICE)
        for path in ("result.token.$date", "arguments.0.password.$date", "result.when.$date"):
            for op in DATE_OPS:
                for value in (stamp, "2026-01-01", "2027-01-01T00:00:00Z"):
                    filters = [[path, op, value]]
                    assert visible_ids(store, filters, {}, ALICE) == reference_ids(
                        seen, filters, {}
                    ), filters
        # The control: a non-secret timestamp still compares as an instant.
        assert visible_ids(store, [["result.when.$date", "=", stamp]], {}, ALICE) == [job_id]
        assert visible_ids(store, [["result.token.$date", "=", stamp]], {}, ALICE) == []


def _store_with_secrets(path: Path, secrets: list[str]) -> JobStore:
    store = JobStore(path)
    for secret in secrets:
        job_id = store.create("m", [{"password": secret}], credentials=owned("alice"))
        store.start(job_id)
        store.succeed(job_id, {"token": secret, "nested": {"api_key": secret}})
    return store


@pytest.mark.parametrize("key", ["result.token", "-result.token", "nulls_last:result.token",
                                 "arguments.0.password", "-result.nested.api_key",
                                 "result.nested"])  # fmt: skip
def test_order_by_a_secret_does_not_depend_on_it(tmp_path: Path, key: str) -> None:
    one = _store_with_secrets(tmp_path / "one.db", ["a", "z", "m", "B"])
    two = _store_with_secrets(tmp_path / "two.db", ["z", "a", "B", "m"])
    try:
        options = {"order_by": [key]}
        assert visible_ids(one, [], options, ALICE) == visible_ids(two, [], options, ALICE)
        assert visible_ids(one, [], options, ALICE) == [1, 2, 3, 4]  # all tie: id order
        # The control: with raw_result the owner's own secrets do order the jobs.
        raw = {"order_by": ["result.token"], "extra": {"raw_result": True}}
        assert visible_ids(one, [], raw, ALICE) != visible_ids(two, [], raw, ALICE)
    finally:
        one.close()
        two.close()


COUNT_FILTERS: list[list[Any]] = [
    [],
    [["method", "=", "user.update"]],
    [["result.token", "=", "T-bob"]],
    [["result.access_token", "=", R]],
    [["arguments.*.password", "rin", "b"]],
    [["id", ">", 0]],
    [["credentials.data.username", "=", "bob"]],
    [["owner", "=", "bob"]],
    [["OR", [["method", "=", "user.update"], ["result.ok", "=", 2]]]],
    [["state", "=", "SUCCESS"], ["method", "^", "pool"]],
]


def test_counts_and_gets_ignore_other_users_jobs(tmp_path: Path) -> None:
    def fill(store: JobStore, with_bob: bool) -> None:
        build_world(store)
        if with_bob:
            for _ in range(3):
                job_id = store.create("user.update", [{"password": "x"}],
                                      credentials=owned("bob"))  # fmt: skip
                store.start(job_id)
                store.succeed(job_id, {"token": "T-bob", "ok": 2})

    with JobStore(tmp_path / "a.db") as alone, JobStore(tmp_path / "b.db") as crowded:
        fill(alone, False)
        fill(crowded, True)
        for filters in COUNT_FILTERS:
            for options in ({}, {"extra": {"raw_result": True}}):
                counts = [s.get_jobs(filters, {**options, "count": True}, ALICE)
                          for s in (alone, crowded)]  # fmt: skip
                assert counts[0] == counts[1], filters
                answers = []
                for s in (alone, crowded):
                    try:
                        job = s.get_jobs(filters, {**options, "get": True}, ALICE)
                        answers.append((job["id"], job["arguments"], job["result"]))
                    except MatchNotFound:
                        answers.append(None)
                assert answers[0] == answers[1], filters
                assert answers[0] is None or answers[0][0] in (1, 2)  # alice's two jobs


def test_pruning_other_users_jobs_leaves_counts_alone(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.db", max_finished=3) as store:
        mine = store.create("m", credentials=owned("alice"))  # WAITING: never pruned
        before = [store.get_jobs(f, {"count": True}, ALICE) for f in COUNT_FILTERS]
        for _ in range(5):
            job_id = store.create("m", [{"password": "p"}], credentials=owned("bob"))
            store.start(job_id)
            store.succeed(job_id, {"token": "t"})
            assert [store.get_jobs(f, {"count": True}, ALICE) for f in COUNT_FILTERS] == before
        assert store.get_job(mine, ALICE)["id"] == mine


def test_get_never_returns_another_users_job(world: Any) -> None:
    store, ids = world
    for name, job_id in ids.items():
        for options in ({"get": True}, {"get": True, "extra": {"raw_result": True}}):
            try:
                job = store.get_jobs([["id", "=", job_id]], options, ALICE)
            except MatchNotFound:
                assert JOBS[name][1] != "alice"
                continue
            assert job["credentials"] == owned("alice")
        if JOBS[name][1] != "alice":
            with pytest.raises(JobNotFound):
                store.get_job(job_id, ALICE)


@pytest.mark.parametrize("path", list(SECRET_PATHS) + list(WHOLE_PATHS))
def test_explain_leaves_redacted_paths_to_python_and_hides_secrets(world: Any, path: str) -> None:
    store, _ = world
    secret = SECRET_PATHS.get(path, WHOLE_PATHS.get(path))
    for op in ("=", "!=", "in", "rin", "^", "C$", "<"):
        value = [secret] if op == "in" else secret
        if not usable(op, value):
            continue
        filters = [[path, op, value], ["method", "=", "user.update"]]
        plan = store.explain(filters, {"order_by": [path.replace("*", "0")]}, ALICE)
        assert plan["residual"] == [filters[0]]
        assert plan["order"] == "python"
        dumped = json.dumps(plan["params"])
        for known in [*SECRET_PATHS.values(), "hunter2", "K-alice", "T-alice"]:
            assert known not in plan["params"]
            assert known not in dumped
            assert known not in plan["sql"]
        assert "user.update" in plan["params"]  # the non-secret entry did reach SQL


# --- property: random secrets, random operators -------------------------------------------

# Storable text: the store refuses NUL in JSON strings, and surrogates have no UTF-8 form.
secret_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                      max_size=8)
secret_value = st.one_of(secret_text, st.integers(-5, 5), st.none(), st.booleans(),
                         st.lists(secret_text, max_size=2))  # fmt: skip
SECRET_KEYS = ["password", "Admin_Password", "client_secret", "api_key", "pin"]


@st.composite
def probes(draw: Any, secrets: list[Any]) -> list[Any]:
    op = draw(st.sampled_from(ALL_OPS))
    key = draw(st.sampled_from(SECRET_KEYS))
    root = draw(st.sampled_from(["result", "arguments.0", "arguments.*"]))
    base = draw(st.sampled_from([*secrets, R]))
    value = draw(st.one_of(
        st.just(base),
        st.just([base]),
        st.just(base[: len(base) // 2] if isinstance(base, str) else base),
        secret_value,
    ))  # fmt: skip
    if op.removeprefix("C") in STRING_OPS and not isinstance(value, str):
        value = str(value)
    if op == "~":
        value = draw(st.sampled_from([".*", "", "(?s).", "[a-z]", "\\d"]))
    return [f"{root}.{key}", op, value]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), secrets=st.lists(secret_value, min_size=1, max_size=4))
def test_random_secrets_and_operators_reveal_nothing(data: Any, secrets: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder, JobStore(Path(folder) / "j.db") as store:
        store.secrets.register(VAULT, result=Login, arguments=[Login])
        for index, secret in enumerate(secrets):
            owner = "alice" if index % 2 == 0 else "bob"
            fields = {key: secret for key in SECRET_KEYS}
            job_id = store.create("m", [fields], credentials=owned(owner))
            store.start(job_id)
            store.succeed(job_id, {**fields, "plain": index})
        seen = store.get_jobs([], {}, ALICE)
        for _ in range(5):
            entry = data.draw(probes(secrets))
            options = data.draw(st.sampled_from([{}, {"order_by": [entry[0].replace("*", "0")]},
                                                 {"count": True}]))  # fmt: skip
            expected = filter_list(seen, [entry], options)
            assert store.get_jobs([entry], options, ALICE) == expected, entry
            plan = store.explain([entry], options, ALICE)
            assert plan["residual"] == [entry]
            assert plan["params"] == [] or plan["params"] == ["alice"], plan


@pytest.mark.parametrize(
    ("credentials", "options"),
    [(ALICE, {}), (None, {"extra": {"raw_result": False}})],
    ids=["external", "internal-redacted"],
)
@pytest.mark.parametrize(
    ("filters", "options_more"),
    [
        ([["result_encoding_error", "=", None]], {}),
        ([["result_encoding_error", "!=", None]], {}),
        ([["result_encoding_error", "^", "result could not"]], {}),
        ([], {"order_by": ["-result_encoding_error"]}),
        ([["result_encoding_error", "=", None]], {"count": True}),
    ],
)
def test_result_encoding_error_is_queried_as_the_caller_sees_it(
    tmp_path: Path, credentials: Any, options: dict[str, Any], filters: Any, options_more: Any
) -> None:
    """A result that cannot be redacted comes back as null with a result_encoding_error set:
    filters, order and counts on that field act on what is returned, not on the stored null."""
    with JobStore(tmp_path / "jobs.db") as store:
        store.secrets.register(VAULT, result=Login)
        for result in ([1, 2], {"pin": "1111"}, {"pin": "2222"}):  # the list fits no Login
            job_id = store.create(VAULT, credentials=owned("alice"))
            store.start(job_id)
            store.succeed(job_id, result)
        seen = store.get_jobs([], options, credentials)
        assert isinstance(seen, list)
        assert [job["result_encoding_error"] is None for job in seen] == [False, True, True]
        query = {**options, **options_more}
        assert store.get_jobs(filters, query, credentials) == filter_list(seen, filters, query)


@pytest.mark.parametrize(
    "filters",
    [
        [["result.secret", "=", "s-bob"]],
        [["result.secret", "^", "s-"]],
        [["result.secret", "!=", R]],
        [["arguments.1.passphrase", "=", "pp-bob"]],
    ],
)
def test_raw_result_does_not_unlock_jobs_a_method_reader_does_not_own(
    world: Any, filters: Any
) -> None:
    """QUERY.md §6: raw_result gives a caller its *own* jobs' raw results. Eve reads every
    pool.scrub job through a role, owns none: bob's secret stays redacted and unfilterable."""
    store, ids = world
    raw = {"extra": {"raw_result": True}}
    seen = store.get_jobs([], raw, EVE)
    assert [job["id"] for job in seen] == [ids["bob_scrub"]]
    assert seen[0]["result"] == {"errors": 0, "secret": R}
    assert store.get_job(ids["bob_scrub"], EVE, raw_result=True)["result"]["secret"] == R
    assert store.get_jobs(filters, raw, EVE) == filter_list(seen, filters, raw) == []
    assert store.get_jobs(filters, {**raw, "count": True}, EVE) == 0
    plan = store.explain(filters, raw, EVE)
    assert plan["residual"] == filters  # left to Python, on the redacted job
    assert filters[0][2] not in plan["params"]
