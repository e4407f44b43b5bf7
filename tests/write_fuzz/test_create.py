"""``create``: exactly the given fields under a never-used id, or InvalidJob.

Also README's depth limit (100 levels) in every stored value: ``arguments``,
``message_ids``, ``credentials``, ``result`` and ``exc_info``.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from jobstore import InvalidJob
from jobstore.models import JobCredentials

from .oracle import (
    BAD,
    MAX_DEPTH,
    OK,
    Verdict,
    assert_same,
    to_json,
    verdict_bool,
    verdict_credentials,
    verdict_exc_info,
    verdict_json,
    verdict_list_field,
    verdict_text,
    worst,
)
from .values import (
    FAST,
    SLOW,
    Items,
    Opaque,
    Text,
    any_text,
    any_values,
    clean_text,
    deep_values,
    json_values,
    nested,
    ok_json,
    wrong_types,
)
from .world import (
    Outcome,
    World,
    attempt,
    check_finished,
    check_others_unchanged,
    expect,
    folder_for,
    highest_id_ever,
    resolve,
    world,
)

# -- create ---------------------------------------------------------------------------

CREATE_DEFAULTS: dict[str, Any] = {
    "arguments": (),
    "description": None,
    "transient": False,
    "abortable": False,
    "credentials": None,
    "message_ids": (),
}
list_fields = st.one_of(
    st.lists(ok_json, max_size=6),
    st.lists(ok_json, max_size=6).map(tuple),
    st.lists(json_values, max_size=4),
    st.lists(json_values, max_size=4).map(tuple),
    st.lists(any_values, max_size=3),
    st.lists(ok_json, max_size=3).map(lambda v: Items(v)),
    st.lists(ok_json, max_size=3).map(lambda v: collections.UserList(v)),
    st.sets(st.integers(0, 9), max_size=3),
    st.sampled_from(["abc", b"abc", None, 5, {"a": 1}, Opaque()]),
)
credentials_values = st.one_of(
    st.none(),
    st.builds(
        lambda t, d: {"type": t, "data": d}, any_text, st.dictionaries(any_text, json_values)
    ),
    st.builds(lambda d: {"type": "LOGIN", "data": d}, st.dictionaries(clean_text, any_values)),
    st.builds(
        lambda d: JobCredentials(type="API_KEY", data=d), st.dictionaries(clean_text, ok_json)
    ),
    st.builds(
        lambda d: collections.OrderedDict(type="T", data=d), st.dictionaries(clean_text, ok_json)
    ),
    st.sampled_from([
        {}, {"type": "t"}, {"data": {}}, {"type": "t", "data": {}, "more": 1},
        {"type": 1, "data": {}},
        {"type": "t", "data": []}, {"type": "t", "data": None}, {"type": "t", "data": {1: 2}},
        {"type": Text("t"), "data": {}}, "LOGIN", ["t", {}], Opaque(),
    ]),
)  # fmt: skip
clean_create_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "arguments": st.one_of(st.lists(ok_json, max_size=6), st.lists(ok_json).map(tuple)),
        "description": st.one_of(st.none(), clean_text),
        "transient": st.booleans(),
        "abortable": st.booleans(),
        "credentials": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"type": clean_text, "data": st.dictionaries(clean_text, ok_json)}
            ),
        ),
        "message_ids": st.one_of(st.lists(ok_json, max_size=6), st.lists(ok_json).map(tuple)),
    },
)
any_create_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "arguments": list_fields,
        "description": st.one_of(st.none(), clean_text, any_text, st.just(Text("d")), wrong_types),
        "transient": st.one_of(st.booleans(), st.booleans(), wrong_types, st.sampled_from([0, 1])),
        "abortable": st.one_of(st.booleans(), st.booleans(), wrong_types, st.sampled_from([0, 1])),
        "credentials": credentials_values,
        "message_ids": list_fields,
    },
)
create_kwargs = st.one_of(clean_create_kwargs, any_create_kwargs)
methods = st.one_of(clean_text, clean_text, any_text, st.just(Text("pool.scrub")), wrong_types)


def create_verdict(method: Any, kwargs: dict[str, Any]) -> Verdict:
    given = {**CREATE_DEFAULTS, **kwargs}
    return worst([
        verdict_text(method, optional=False),
        verdict_list_field(given["arguments"]),
        verdict_text(given["description"], optional=True),
        verdict_bool(given["transient"]),
        verdict_bool(given["abortable"]),
        verdict_credentials(given["credentials"]),
        verdict_list_field(given["message_ids"]),
    ])  # fmt: skip


def check_created(
    w: World, outcome: Outcome, job_id: Any, method: Any, kwargs: dict[str, Any]
) -> None:
    given = {**CREATE_DEFAULTS, **kwargs}
    assert type(job_id) is int
    assert job_id > highest_id_ever(outcome.before), "an id was handed out twice"
    assert outcome.after.jobs.keys() - outcome.before.jobs.keys() == {job_id}
    check_others_unchanged(outcome, job_id)
    expected = {
        "id": job_id,
        "message_ids": to_json(list(given["message_ids"])),
        "method": to_json(method),
        "arguments": to_json(list(given["arguments"])),
        "transient": given["transient"],
        "description": to_json(given["description"]),
        "abortable": given["abortable"],
        "logs_path": None,
        "logs_excerpt": None,
        "progress": {"percent": None, "description": None, "extra": None},
        "result": None,
        "result_encoding_error": None,
        "error": None,
        "exception": None,
        "exc_info": None,
        "state": "WAITING",
        "time_started": None,
        "time_finished": None,
        "credentials": to_json(given["credentials"]),
    }
    assert_same(w.store.get_job(job_id), expected, "created job")


@FAST
# README's documented refusals, each at least once (and the plain cases beside them).
@example(
    method="pool.scrub",
    kwargs={"arguments": ("tank", (1, 2), None, 1.5, "x"), "message_ids": [1.5, -0.0, 2**63 - 1]},
)
@example(method="m\ud800", kwargs={})
@example(method="m", kwargs={"description": "\udcff"})
@example(method="m", kwargs={"arguments": ["a\x00b"]})
@example(method="m", kwargs={"message_ids": [2**64]})
@example(method="m", kwargs={"arguments": [math.nan]})
@example(method="m", kwargs={"arguments": [{1: "non-string key"}]})
@example(method="m", kwargs={"credentials": {"type": "T", "data": {"x": math.inf}}})
@example(method="m", kwargs={"credentials": {"type": "T", "data": {"username": "alice"}}})
@example(method="m", kwargs={"transient": 1})
@given(method=methods, kwargs=create_kwargs)
def test_create_stores_exactly_what_it_is_given_or_refuses(
    method: Any, kwargs: dict[str, Any]
) -> None:
    """A new WAITING job with exactly the given fields and a never-used id, or InvalidJob."""
    verdict = create_verdict(method, kwargs)
    event(f"verdict {verdict.name}")
    with world(None) as w:
        returned: list[Any] = []
        outcome = attempt(w, None, lambda: returned.append(w.store.create(method, **kwargs)))
        if verdict is OK:
            assert outcome.error is None, f"a valid job was refused: {outcome.error!r}"
        elif verdict is BAD:
            assert isinstance(outcome.error, InvalidJob), f"not refused: {returned}"
        else:
            assert outcome.error is None or isinstance(outcome.error, InvalidJob)
        if outcome.error is None:
            check_created(w, outcome, returned[0], method, kwargs)


@SLOW
@example(value=nested(MAX_DEPTH - 1, ["list"]), where="arguments", on_file=False)
@example(value=nested(MAX_DEPTH, ["tuple"]), where="arguments", on_file=False)
@example(value=nested(MAX_DEPTH - 2, ["dict"]), where="credentials", on_file=False)
@example(value=nested(MAX_DEPTH - 1, ["dict"]), where="credentials", on_file=False)
@example(value=nested(MAX_DEPTH, ["list", "dict"]), where="result", on_file=False)
@example(value=nested(MAX_DEPTH + 1, ["list"]), where="result", on_file=False)
@example(value=nested(MAX_DEPTH - 1, ["list"]), where="exc_info", on_file=False)
@example(value=nested(MAX_DEPTH, ["list"]), where="exc_info", on_file=False)
@given(
    value=deep_values,
    where=st.sampled_from(["arguments", "message_ids", "credentials", "result", "exc_info"]),
    on_file=st.booleans(),
)
def test_values_around_the_depth_limit(
    tmp_path_factory: pytest.TempPathFactory, value: Any, where: str, on_file: bool
) -> None:
    """README: lists and objects nest at most 100 levels *in stored values*; deeper is refused.

    The stored value is the field: ``arguments``/``message_ids`` are a level themselves, and
    ``credentials.data`` and ``exc_info.extra`` sit one level inside their field.
    """
    with world(folder_for(tmp_path_factory, on_file)) as w:
        store = w.store
        if where in ("arguments", "message_ids", "credentials"):
            kwargs = {
                "arguments": {"arguments": [value]},
                "message_ids": {"message_ids": [value]},
                "credentials": {"credentials": {"type": "T", "data": {"deep": value}}},
            }[where]
            verdict = create_verdict("m", kwargs)
            returned: list[int] = []
            outcome = attempt(w, None, lambda: returned.append(store.create("m", **kwargs)))
            assert (outcome.error is None) == (verdict is OK), repr(outcome.error)
            if verdict is not OK:
                assert isinstance(outcome.error, InvalidJob)
            else:
                check_created(w, outcome, returned[0], "m", kwargs)
            return
        target = resolve(w, "running")
        if where == "result":
            outcome = attempt(w, target, lambda: store.succeed(target.value, value))
            assert outcome.error is None, repr(outcome.error)
            assert outcome.old is not None and outcome.new is not None
            changes = {"progress": {**outcome.old["progress"], "percent": 100}}
            if verdict_json(value) is OK:
                changes.update(result=to_json(value), result_encoding_error=None)
            else:
                reason = outcome.new["result_encoding_error"]
                assert type(reason) is str and reason, f"no reason recorded: {reason!r}"
                changes.update(result=None, result_encoding_error=reason)
            check_finished(outcome, w, target, "SUCCESS", changes)
            return
        info = {"repr": "r", "type": "T", "errno": None, "extra": value}
        verdict = verdict_exc_info(info)
        outcome = attempt(w, target, lambda: store.fail(target.value, "deep", None, info))
        if expect(outcome, target, True, verdict):
            changes = {"error": "deep", "exception": None, "exc_info": to_json(info)}
            check_finished(outcome, w, target, "FAILED", changes)
