"""Every lifecycle transition, legal and illegal; an illegal one changes nothing."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from jobstore import IllegalTransition, InvalidJob, JobNotFound
from jobstore.store import JobStore

CREDS = {"type": "LOGIN_PASSWORD", "data": {"username": "alice"}}


def _waiting(store: JobStore, **kwargs: Any) -> int:
    return store.create("pool.scrub", ["tank"], **kwargs)


def _running(store: JobStore, **kwargs: Any) -> int:
    job_id = _waiting(store, **kwargs)
    store.start(job_id)
    return job_id


def test_create_records_a_waiting_job(store: JobStore, check_job: Any) -> None:
    job_id = store.create(
        "pool.scrub",
        ("tank", {"threshold": 3}),
        description="Scrub tank",
        abortable=True,
        credentials=CREDS,
        message_ids=("m1",),
    )
    job = store.get_job(job_id)
    check_job(job)
    assert job["state"] == "WAITING"
    assert job["arguments"] == ["tank", {"threshold": 3}]
    assert job["message_ids"] == ["m1"]
    assert job["description"] == "Scrub tank"
    assert job["abortable"] is True and job["transient"] is False
    assert job["credentials"] == CREDS
    assert job["progress"] == {"percent": None, "description": None, "extra": None}
    assert job["time_started"] is None and job["time_finished"] is None
    owner = store._connection().execute("SELECT owner FROM jobs WHERE id = ?", (job_id,))
    assert owner.fetchone() == ("alice",)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": 5}, "method"),
        ({"method": "m", "arguments": "not a list"}, "arguments"),
        ({"method": "m", "arguments": {"a": 1}}, "arguments"),
        ({"method": "m", "message_ids": b"ab"}, "message_ids"),
        ({"method": "m", "credentials": {"type": "x"}}, "credentials.data"),
        ({"method": "m", "transient": 1}, "transient"),
        ({"method": "m", "arguments": [float("nan")]}, "arguments[0]"),
    ],
)
def test_create_validates(store: JobStore, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidJob, match=field.replace("[", r"\[").replace("]", r"\]")):
        store.create(**kwargs)
    assert store._select_all() == []


def test_create_takes_arguments_and_message_ids_from_any_iterable(store: JobStore) -> None:
    job_id = store.create("m", (x * 2 for x in (1, 2)), message_ids=iter(["a", "b"]))
    job = store.get_job(job_id)
    assert (job["arguments"], job["message_ids"]) == ([2, 4], ["a", "b"])


def test_ids_increase(store: JobStore) -> None:
    assert [_waiting(store) for _ in range(3)] == [1, 2, 3]


def test_start_sets_running_and_time_started(store: JobStore, check_job: Any) -> None:
    job_id = _waiting(store)
    store.start(job_id)
    job = store.get_job(job_id)
    check_job(job)
    assert job["state"] == "RUNNING"
    assert job["time_started"] is not None and job["time_finished"] is None


def test_succeed(store: JobStore, check_job: Any) -> None:
    job_id = _running(store)
    store.set_progress(job_id, 40, "copying", {"files": 3})
    store.succeed(job_id, {"errors": 0, "items": [1, 2]})
    job = store.get_job(job_id)
    check_job(job)
    assert job["state"] == "SUCCESS"
    assert job["result"] == {"errors": 0, "items": [1, 2]}
    assert job["result_encoding_error"] is None
    assert job["progress"] == {"percent": 100, "description": "copying", "extra": {"files": 3}}
    assert job["time_finished"] >= job["time_started"]


@pytest.mark.parametrize("result", [{1: "int key"}, object(), 2**70, float("inf"), "a\x00b"])
def test_succeed_with_unencodable_result_keeps_the_job(store: JobStore, result: Any) -> None:
    job_id = _running(store)
    store.succeed(job_id, result)
    job = store.get_job(job_id)
    assert job["state"] == "SUCCESS"
    assert job["result"] is None
    assert isinstance(job["result_encoding_error"], str) and job["result_encoding_error"]


def test_fail_with_message(store: JobStore, check_job: Any) -> None:
    job_id = _running(store)
    info = {"repr": "CallError('x')", "type": "CallError", "errno": 22, "extra": ["a"]}
    store.fail(job_id, "it broke", "Traceback ...", info)
    job = store.get_job(job_id)
    check_job(job)
    assert (job["state"], job["error"], job["exception"]) == ("FAILED", "it broke", "Traceback ...")
    assert job["exc_info"] == info
    assert job["time_finished"] is not None


def test_fail_with_a_caught_exception(store: JobStore, check_job: Any) -> None:
    job_id = _running(store)
    try:
        raise FileNotFoundError(errno.ENOENT, "no such pool", "tank")
    except OSError as exc:
        store.fail_with(job_id, exc)
    job = store.get_job(job_id)
    check_job(job)
    assert job["state"] == "FAILED"
    assert job["error"] == "[Errno 2] no such pool: 'tank'"
    assert "Traceback" in job["exception"] and "FileNotFoundError" in job["exception"]
    assert job["exc_info"] == {
        "repr": "FileNotFoundError(2, 'no such pool')",
        "type": "FileNotFoundError",
        "errno": errno.ENOENT,
        "extra": None,
    }


def test_fail_accepts_an_exception_as_error(store: JobStore) -> None:
    job_id = _waiting(store)
    store.fail(job_id, ValueError("bad value"))
    job = store.get_job(job_id)
    assert (job["state"], job["error"]) == ("FAILED", "bad value")
    assert job["exc_info"]["type"] == "ValueError" and job["exc_info"]["errno"] is None


def test_fail_rejects_a_bad_exc_info(store: JobStore) -> None:
    job_id = _running(store)
    with pytest.raises(InvalidJob, match="errno"):
        store.fail(job_id, "x", exc_info={"repr": None, "type": None, "errno": "22", "extra": 1})
    assert store.get_job(job_id)["state"] == "RUNNING"


def test_waiting_job_may_fail_or_abort(store: JobStore) -> None:
    first, second = _waiting(store), _waiting(store)
    store.fail(first, "gave up")
    store.abort(second)
    assert store.get_job(first)["state"] == "FAILED"
    assert store.get_job(second)["state"] == "ABORTED"
    assert store.get_job(second)["time_finished"] is not None


def test_abortable_running_job_may_abort(store: JobStore) -> None:
    job_id = _running(store, abortable=True)
    store.abort(job_id)
    assert store.get_job(job_id)["state"] == "ABORTED"


# (how to reach the state, the call that must be refused)
ILLEGAL = [
    ("RUNNING", "start"),
    ("SUCCESS", "start"),
    ("FAILED", "start"),
    ("ABORTED", "start"),
    ("WAITING", "succeed"),
    ("SUCCESS", "succeed"),
    ("FAILED", "succeed"),
    ("ABORTED", "succeed"),
    ("SUCCESS", "fail"),
    ("FAILED", "fail"),
    ("ABORTED", "fail"),
    ("RUNNING", "abort"),  # not abortable
    ("SUCCESS", "abort"),
    ("FAILED", "abort"),
    ("ABORTED", "abort"),
    ("SUCCESS", "set_progress"),
    ("FAILED", "set_progress"),
    ("ABORTED", "set_progress"),
]


def _job_in(store: JobStore, state: str) -> int:
    job_id = _waiting(store, abortable=state == "ABORTED")
    if state != "WAITING":
        store.start(job_id)
    if state == "SUCCESS":
        store.succeed(job_id, 1)
    elif state == "FAILED":
        store.fail(job_id, "no")
    elif state == "ABORTED":
        store.abort(job_id)
    return job_id


def _call(store: JobStore, action: str, job_id: int) -> None:
    if action == "succeed":
        store.succeed(job_id, "late")
    elif action == "fail":
        store.fail(job_id, "late")
    elif action == "set_progress":
        store.set_progress(job_id, 50, "late")
    else:
        getattr(store, action)(job_id)


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_illegal_transition_changes_nothing(store: JobStore, state: str, action: str) -> None:
    job_id = _job_in(store, state)
    before = store._select_all()
    with pytest.raises(IllegalTransition) as caught:
        _call(store, action, job_id)
    message = str(caught.value)
    assert f"job {job_id}" in message and state in message
    assert store._select_all() == before


@pytest.mark.parametrize("action", ["start", "succeed", "fail", "abort", "set_progress"])
def test_unknown_id(store: JobStore, action: str) -> None:
    _waiting(store)
    with pytest.raises(JobNotFound, match="job 99"):
        _call(store, action, 99)
    with pytest.raises(JobNotFound):
        store.get_job(99)
    assert isinstance(JobNotFound("x"), LookupError)


def test_refused_abort_of_running_job_says_why(store: JobStore) -> None:
    job_id = _running(store)
    with pytest.raises(IllegalTransition, match="not abortable"):
        store.abort(job_id)


@pytest.mark.parametrize(
    ("percent", "stored"), [(0, 0), (33.9, 33), (99.999, 99), (100, 100), (7.0, 7), (-0.5, -1)]
)
def test_set_progress_rounds_down(store: JobStore, percent: float, stored: int) -> None:
    job_id = _running(store)
    store.set_progress(job_id, percent)
    assert store.get_job(job_id)["progress"]["percent"] == stored
    row = store._connection().execute("SELECT progress_percent FROM jobs WHERE id = ?", (job_id,))
    assert row.fetchone() == (stored,)


def test_set_progress_changes_only_the_given_parts(store: JobStore) -> None:
    job_id = _running(store)
    store.set_progress(job_id, 10, "scanning", {"dirs": 1})
    store.set_progress(job_id, 20)
    assert store.get_job(job_id)["progress"] == {
        "percent": 20,
        "description": "scanning",
        "extra": {"dirs": 1},
    }
    store.set_progress(job_id, description="copying")
    store.set_progress(job_id, extra=[1, "two", None])
    assert store.get_job(job_id)["progress"] == {
        "percent": 20,
        "description": "copying",
        "extra": [1, "two", None],
    }
    store.set_progress(job_id)  # nothing given: nothing changes
    assert store.get_job(job_id)["progress"]["percent"] == 20


def test_set_progress_on_a_waiting_job_is_allowed(store: JobStore) -> None:
    job_id = _waiting(store)
    store.set_progress(job_id, 0, "queued")
    job = store.get_job(job_id)
    assert job["state"] == "WAITING"
    assert job["progress"]["description"] == "queued"


@pytest.mark.parametrize(
    "kwargs",
    [{"percent": "50"}, {"percent": True}, {"percent": float("nan")}, {"description": 5}],
)
def test_set_progress_rejects_bad_values(store: JobStore, kwargs: dict[str, Any]) -> None:
    job_id = _running(store)
    with pytest.raises(InvalidJob):
        store.set_progress(job_id, **kwargs)
    assert store.get_job(job_id)["progress"]["percent"] is None


def test_memory_store_lifecycle(memory_store: JobStore, check_job: Any) -> None:
    job_id = _running(memory_store)
    memory_store.succeed(job_id, [1])
    check_job(memory_store.get_job(job_id))
    assert [job["id"] for job in memory_store._select_all()] == [job_id]


def test_context_manager_closes(store_path: Any) -> None:
    with JobStore(store_path) as store:
        job_id = store.create("a")
    with JobStore(store_path) as again:
        assert again.get_job(job_id)["method"] == "a"


def _cyclic() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


class _HostileRepr:
    """A dict key whose repr raises: encoding a result must not depend on it."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    def __hash__(self) -> int:
        return 1


class _SurrogateRepr:
    def __repr__(self) -> str:
        return "key\udcff"

    def __hash__(self) -> int:
        return 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"percent": 2**70},
        {"percent": 1e20},
        {"description": "a\x00b"},
        {"description": "lone \ud800"},
        {"extra": _cyclic()},
        {"extra": _nested(5000)},
        {"extra": {"k\udcff": 1}},
    ],
    ids=["huge-int", "huge-float", "nul", "surrogate", "cyclic", "deep", "surrogate-key"],
)
def test_set_progress_refuses_what_cannot_be_stored(
    store: JobStore, kwargs: dict[str, Any]
) -> None:
    job_id = _running(store)
    before = store._select_all()
    with pytest.raises(InvalidJob):
        store.set_progress(job_id, **kwargs)
    assert store._select_all() == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "pool.\ud800"},
        {"method": "m", "description": "x\udcff"},
        {"method": "m", "arguments": [_cyclic()]},
        {"method": "m", "arguments": _nested(5000)},
    ],
    ids=["surrogate-method", "surrogate-description", "cyclic", "deep"],
)
def test_create_refuses_what_cannot_be_stored(store: JobStore, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidJob):
        store.create(**kwargs)
    assert store._select_all() == []


@pytest.mark.parametrize("field", ["error", "exception"])
def test_fail_and_recover_refuse_a_lone_surrogate(store: JobStore, field: str) -> None:
    job_id = _running(store)
    before = store._select_all()
    with pytest.raises(InvalidJob, match=field):
        store.fail(job_id, **{"error": "boom", field: "lone \ud800"})
    if field == "error":
        with pytest.raises(InvalidJob, match="error"):
            store.recover(error="lone \ud800")
    assert store._select_all() == before


def test_fail_keeps_nul_in_its_text_fields_as_create_does(store: JobStore) -> None:
    """error and exception are plain text columns, like description: a NUL is stored as is."""
    job_id = store.create("m", description="d\x00d")
    store.start(job_id)
    store.fail(job_id, "e\x00rr", exception="Traceback\x00")
    job = store.get_jobs([["error", "=", "e\x00rr"]], {"get": True})
    assert (job["id"], job["description"], job["exception"]) == (job_id, "d\x00d", "Traceback\x00")


@pytest.mark.parametrize(
    ("message", "stored"),
    [
        # rsync output decoded with surrogateescape: the undecodable byte is kept as an escape
        (b"rsync: \xff\n".decode("utf-8", "surrogateescape"), "rsync: \\udcff\n"),
        ("a\x00b", "a\\x00b"),
    ],
    ids=["surrogateescape", "nul"],
)
def test_fail_with_records_any_exception_text(store: JobStore, message: str, stored: str) -> None:
    """A caught exception is recorded, never refused: unstorable text becomes escapes."""
    job_id = _running(store)
    try:
        raise RuntimeError(message)
    except RuntimeError as caught:
        exc = caught
        store.fail_with(job_id, exc)
    job = store.get_job(job_id)
    assert (job["state"], job["error"]) == ("FAILED", stored)
    assert job["exc_info"]["repr"] == repr(exc)  # repr escapes both already
    assert "RuntimeError" in job["exception"]
    job["exception"].encode("utf-8")  # storable text, whatever the exception said


@pytest.mark.parametrize("not_exception", ["a message", None, RuntimeError])
def test_fail_with_refuses_what_is_not_an_exception(store: JobStore, not_exception: Any) -> None:
    job_id = _running(store)
    before = store._select_all()
    with pytest.raises(InvalidJob, match="fail_with: exc must be an exception"):
        store.fail_with(job_id, not_exception)
    assert store._select_all() == before


def test_fail_with_survives_an_exception_that_cannot_describe_itself(store: JobStore) -> None:
    class Broken(Exception):
        extra = _cyclic()

        def __str__(self) -> str:
            raise RuntimeError("no str")

        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    job_id = _running(store)
    store.fail_with(job_id, Broken())
    job = store.get_job(job_id)
    assert (job["state"], job["error"]) == ("FAILED", "Broken")
    assert job["exc_info"]["type"] == "Broken"
    assert job["exc_info"]["repr"] == "<Broken object>"
    assert job["exc_info"]["extra"] == "[[...]]"


@pytest.mark.parametrize(
    "result", [{_HostileRepr(): 1}, {_SurrogateRepr(): 1}], ids=["raising-repr", "surrogate-repr"]
)
def test_succeed_records_why_a_hostile_result_was_not_stored(store: JobStore, result: Any) -> None:
    job_id = _running(store)
    store.succeed(job_id, result)
    job = store.get_job(job_id)
    assert (job["state"], job["result"]) == ("SUCCESS", None)
    assert "object keys must be strings" in job["result_encoding_error"]


@pytest.mark.parametrize("job_id", [2**63, 2**100, -(2**63) - 1, -1])
def test_ids_no_job_can_have_are_not_found(store: JobStore, job_id: int) -> None:
    _running(store)
    before = store._select_all()
    for action in ("start", "succeed", "fail", "abort", "set_progress"):
        with pytest.raises(JobNotFound, match=f"job {job_id} does not exist"):
            _call(store, action, job_id)
    with pytest.raises(JobNotFound):
        store.get_job(job_id)
    with pytest.raises(JobNotFound):
        store.append_log(job_id, "x\n")
    assert store._select_all() == before


def test_refused_start_does_not_blame_abortable(store: JobStore) -> None:
    job_id = _running(store)
    with pytest.raises(IllegalTransition) as caught:
        store.start(job_id)
    assert "abortable" not in str(caught.value)
    assert "it is RUNNING; only a WAITING job can start" in str(caught.value)


def test_fail_with_records_an_exception_whatever_its_attributes(store: JobStore) -> None:
    class Odd(OSError):
        @property
        def extra(self) -> Any:
            raise RuntimeError("no extra")

    for errno_value, extra_owner in ((2**64, None), (-(2**63), None), (5, Odd)):
        job_id = _running(store)
        exc: BaseException = Odd("x") if extra_owner else OSError("x")
        exc.errno = errno_value  # type: ignore[attr-defined]
        store.fail_with(job_id, exc)
        info = store.get_job(job_id)["exc_info"]
        assert info["errno"] == (None if errno_value == 2**64 else errno_value)
        assert info["extra"] is None


def test_an_extra_too_deep_where_it_is_stored_is_refused_or_recorded_as_text(
    store: JobStore,
) -> None:
    """progress.extra and exc_info.extra sit one level down: 99 levels fit, 100 do not."""
    job_id = _running(store)
    store.set_progress(job_id, extra=_nested(98))  # 99 lists: the innermost counts too
    with pytest.raises(InvalidJob, match=r"progress\.extra"):
        store.set_progress(job_id, extra=_nested(99))
    exc = RuntimeError("x")
    exc.extra = _nested(99)  # type: ignore[attr-defined]
    store.fail_with(job_id, exc)
    assert store.get_job(job_id)["exc_info"]["extra"] == repr(_nested(99))
