"""``start`` and ``abort`` follow API.md's transitions, and ``abort`` the caller's rights."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from jobstore import JobNotFound, QueryError

from .oracle import OK, assert_same
from .values import FAST
from .world import (
    ALICE_CALLER,
    attempt,
    check_finished,
    check_others_unchanged,
    expect,
    folder_for,
    resolve,
    targets,
    world,
)

# -- start and abort ------------------------------------------------------------------

abort_callers = st.sampled_from([
    None, ALICE_CALLER, {"username": "bob", "roles": []},
    {"username": "root", "roles": ["FULL_ADMIN"]},
    {}, {"username": ""}, {"username": "alice", "roles": "FULL_ADMIN"}, "alice", 5,
])  # fmt: skip


@FAST
@example(drawn="waiting", action="start", caller=None, on_file=True)
@example(drawn="running", action="start", caller=None, on_file=False)
@example(drawn="running", action="abort", caller=None, on_file=False)
@example(drawn="running_abortable", action="abort", caller=ALICE_CALLER, on_file=True)
@example(
    drawn="waiting_abortable",
    action="abort",
    caller={"username": "bob", "roles": []},
    on_file=False,
)
@example(drawn="transient_running", action="abort", caller=None, on_file=False)
@example(drawn="aborted", action="abort", caller=None, on_file=False)
@example(drawn="gone", action="start", caller=None, on_file=False)
@given(
    drawn=targets,
    action=st.sampled_from(["start", "abort"]),
    caller=abort_callers,
    on_file=st.booleans(),
)
def test_start_and_abort_follow_the_transitions(
    tmp_path_factory: pytest.TempPathFactory, drawn: Any, action: str, caller: Any, on_file: bool
) -> None:
    """API.md: WAITING -> RUNNING; a WAITING job, or a RUNNING abortable one, may be aborted."""
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        store = w.store
        if action == "start":
            outcome = attempt(w, target, lambda: store.start(target.value))
        else:
            outcome = attempt(w, target, lambda: store.abort(target.value, caller))
        spec = target.spec
        if action == "start":
            allowed = spec is not None and spec.state == "WAITING"
        else:
            allowed = spec is not None and (
                spec.state == "WAITING" or (spec.state == "RUNNING" and spec.abortable)
            )
        if action == "abort" and caller is not None:
            malformed = (
                not isinstance(caller, dict)
                or caller.get("username") in (None, "")
                or not isinstance(caller.get("roles"), list)
            )
            admin = not malformed and "FULL_ADMIN" in caller["roles"]
            owner = (
                not malformed and spec is not None and spec.owned and caller["username"] == "alice"
            )
            if malformed or not (admin or owner):
                assert outcome.error is not None, "aborted for a caller who may not abort it"
                if spec is not None:  # README: bad credentials are a QueryError, and a job
                    # the caller may not see is reported as missing.
                    error_type = QueryError if malformed else JobNotFound
                    assert isinstance(outcome.error, error_type), repr(outcome.error)
                return
        if not expect(outcome, target, allowed, OK):
            return
        assert outcome.old is not None and spec is not None
        if action == "abort":
            check_finished(outcome, w, target, "ABORTED", {})
            return
        check_others_unchanged(outcome, target.value)
        new = outcome.new
        assert new is not None and new["time_started"] is not None
        assert outcome.started <= new["time_started"] <= outcome.ended
        expected = {**outcome.old, "state": "RUNNING", "time_started": new["time_started"]}
        assert_same(new, expected, "started job")
