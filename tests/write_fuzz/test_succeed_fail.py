"""``succeed``, ``fail`` and ``fail_with`` finish a job with exactly what they are given.

``succeed`` records an unstorable result as ``result: None`` with a string reason;
``fail_with`` records any caught exception, its text with escapes (README).
"""

from __future__ import annotations

import collections
import math
import traceback
from typing import Any

import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from jobstore import InvalidJob
from jobstore.models import ExcInfo

from .oracle import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAYBE,
    OK,
    UNFINISHED,
    escaped,
    to_json,
    verdict_exc_info,
    verdict_json,
    verdict_text,
    worst,
)
from .values import (
    _NO_VALUE,
    BIG_INTS,
    EXCEPTION_KINDS,
    FAST,
    SUBCLASSED,
    Color,
    Hostile,
    Opaque,
    Real,
    Text,
    any_int,
    any_text,
    any_values,
    clean_text,
    deep_values,
    foreign,
    json_values,
    make_exception,
    nested,
    ok_json,
    wrong_types,
)
from .world import (
    Outcome,
    Target,
    World,
    attempt,
    check_finished,
    expect,
    folder_for,
    resolve,
    targets,
    world,
)

# -- succeed ----------------------------------------------------------------------------


@FAST
@example(drawn="running", result={"a": (1, 2), "b": -0.0}, on_file=False)
@example(drawn="running", result=math.nan, on_file=False)
@example(drawn="running", result={1: 2}, on_file=False)
@example(drawn="running", result=Hostile(), on_file=False)
@example(drawn="running", result=[2**64, "\x00"], on_file=False)
@example(drawn="transient_running", result=1, on_file=True)
@example(drawn="waiting", result=1, on_file=False)
@given(
    drawn=targets,
    result=st.one_of(ok_json, json_values, any_values, foreign, st.sampled_from(SUBCLASSED)),
    on_file=st.booleans(),
)
def test_succeed_stores_the_result_or_why_it_could_not(
    tmp_path_factory: pytest.TempPathFactory, drawn: Any, result: Any, on_file: bool
) -> None:
    """RUNNING -> SUCCESS, percent 100; an unstorable result is None with a string reason."""
    stored = verdict_json(result)
    note(f"result verdict: {stored}")
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        outcome = attempt(w, target, lambda: w.store.succeed(target.value, result))
        allowed = target.spec is not None and target.spec.state == "RUNNING"
        if not expect(outcome, target, allowed, OK):  # any result: the job succeeds
            return
        assert outcome.old is not None
        progress = {**outcome.old["progress"], "percent": 100}
        if target.spec is not None and target.spec.transient:
            check_finished(outcome, w, target, "SUCCESS", {})
            return
        assert outcome.new is not None
        if stored is OK or (stored is MAYBE and outcome.new["result_encoding_error"] is None):
            changes = {"result": to_json(result), "result_encoding_error": None}
        else:
            reason = outcome.new["result_encoding_error"]
            assert type(reason) is str and reason, f"no reason recorded: {reason!r}"
            changes = {"result": None, "result_encoding_error": reason}
        check_finished(outcome, w, target, "SUCCESS", {**changes, "progress": progress})


# -- fail -------------------------------------------------------------------------------

exc_infos = st.one_of(
    st.none(),
    st.fixed_dictionaries({
        "repr": st.one_of(st.none(), clean_text), "type": st.one_of(st.none(), clean_text),
        "errno": st.one_of(st.none(), st.integers(INT64_MIN, INT64_MAX)), "extra": ok_json,
    }),
    st.fixed_dictionaries({
        "repr": st.one_of(st.none(), any_text), "type": st.one_of(st.none(), any_text),
        "errno": st.one_of(st.none(), any_int, st.booleans(), st.just("ENOENT")),
        "extra": st.one_of(json_values, any_values),
    }),
    st.builds(
        lambda e: ExcInfo(repr="r", type="OSError", errno=2, extra=e), ok_json
    ),
    st.sampled_from([
        {}, {"repr": "r"}, {"repr": "r", "type": "T", "errno": 1, "extra": None, "more": 1},
        {"repr": 1, "type": "T", "errno": 1, "extra": None}, "ValueError", ["r", "t", 1, None],
        collections.OrderedDict(repr="r", type="T", errno=1, extra=None),
        {"repr": Text("r"), "type": "T", "errno": Color.RED, "extra": None},
    ]),
)  # fmt: skip


@FAST
@example(drawn="running", error="boom", exception="Traceback", exc_info=None, on_file=False)
@example(drawn="waiting", error="a\ud800", exception=None, exc_info=None, on_file=False)
@example(
    drawn="running",
    error="e",
    exception=None,
    exc_info={"repr": "r", "type": "T", "errno": 2**64, "extra": None},
    on_file=False,
)
@example(
    drawn="running",
    error="e",
    exception=None,
    exc_info={"repr": "r", "type": "T", "errno": 2, "extra": (1, {"k": [2]})},
    on_file=False,
)
@given(
    drawn=targets,
    error=st.one_of(clean_text, any_text, st.just(Text("e")), wrong_types),
    exception=st.one_of(st.none(), clean_text, any_text, wrong_types),
    exc_info=exc_infos,
    on_file=st.booleans(),
)
def test_fail_stores_what_it_is_given_or_refuses(
    tmp_path_factory: pytest.TempPathFactory,
    drawn: Any,
    error: Any,
    exception: Any,
    exc_info: Any,
    on_file: bool,
) -> None:
    """WAITING/RUNNING -> FAILED with exactly the given error, exception and exc_info."""
    verdict = worst(
        [
            verdict_text(error, optional=False),
            verdict_text(exception, optional=True),
            verdict_exc_info(exc_info),
        ]
    )
    note(f"verdict: {verdict}")
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        outcome = attempt(w, target, lambda: w.store.fail(target.value, error, exception, exc_info))
        allowed = target.spec is not None and target.spec.state in UNFINISHED
        if expect(outcome, target, allowed, verdict):
            changes = {
                "error": str(error),
                "exception": None if exception is None else str(exception),
                "exc_info": to_json(exc_info),
            }
            check_finished(outcome, w, target, "FAILED", changes)


# -- fail_with: a caught exception is always recorded -------------------------------------


class BrokenAttributes(Exception):
    """An exception whose ``errno`` and ``extra`` attributes raise when read."""

    @property
    def errno(self) -> int:
        raise RuntimeError("no errno")

    @property
    def extra(self) -> Any:
        raise RuntimeError("no extra")


def expected_message(exc: BaseException) -> str:
    """README: the message as text with escapes; its type's name if it has none."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    return escaped(text or type(exc).__name__)


def check_failed_with(
    w: World, outcome: Outcome, target: Target, exc: BaseException, exception: str | None
) -> None:
    """The job failed with the exception's message, traceback and exc_info (README)."""
    if target.spec is not None and target.spec.transient:
        check_finished(outcome, w, target, "FAILED", {})
        return
    new = outcome.new
    assert new is not None and type(new["exc_info"]) is dict, new
    info = new["exc_info"]
    try:
        shown = escaped(repr(exc))
    except Exception:  # a hostile __repr__: some stand-in text (not documented)
        shown = info["repr"]
        assert type(shown) is str and shown, info
    errno = getattr(exc, "errno", None)
    extra = getattr(exc, "extra", None)
    verdict = verdict_json(extra, 1)
    if verdict is OK or (verdict is MAYBE and type(info["extra"]) is not str):
        stored_extra = to_json(extra)
    else:  # no JSON form: recorded as text instead
        stored_extra = info["extra"]
        assert type(stored_extra) is str, info
    expected_info = {
        "repr": shown,
        "type": escaped(type(exc).__name__),
        "errno": errno if type(errno) is int and INT64_MIN <= errno <= INT64_MAX else None,
        "extra": stored_extra,
    }
    if exception is None:
        exception = escaped("".join(traceback.format_exception(exc)))
    changes = {"error": expected_message(exc), "exception": exception, "exc_info": expected_info}
    check_finished(outcome, w, target, "FAILED", changes)


exception_kinds = st.sampled_from(EXCEPTION_KINDS)
type_names = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=20
)
ok_errnos = st.one_of(
    st.integers(INT64_MIN, INT64_MAX), st.sampled_from([None, True, "ENOENT", 2.0, _NO_VALUE])
)


@FAST
@example(
    drawn="running",
    kind="plain",
    message="a\x00b\udcff\ud800😀",
    name="E",
    errno=_NO_VALUE,
    extra=_NO_VALUE,
    explicit=None,
    on_file=False,
)
@example(
    drawn="waiting",
    kind="os",
    message="Connection refused",
    name="E",
    errno=111,
    extra={"host": "nas"},
    explicit=None,
    on_file=True,
)
@example(
    drawn="running",
    kind="unprintable",
    message="",
    name="E",
    errno=_NO_VALUE,
    extra=math.nan,
    explicit=None,
    on_file=False,
)
@example(
    drawn="running",
    kind="wrong_str",
    message="x",
    name="E",
    errno=True,
    extra=_NO_VALUE,
    explicit="given traceback",
    on_file=False,
)
@example(
    drawn="running",
    kind="empty",
    message="",
    name="E",
    errno=_NO_VALUE,
    extra=_NO_VALUE,
    explicit=None,
    on_file=False,
)
@given(
    drawn=targets,
    kind=exception_kinds,
    message=any_text,
    name=type_names,
    errno=ok_errnos,
    extra=st.one_of(st.just(_NO_VALUE), json_values, foreign),
    explicit=st.one_of(st.none(), clean_text),
    on_file=st.booleans(),
)
def test_fail_with_records_any_caught_exception(
    tmp_path_factory: pytest.TempPathFactory,
    drawn: Any,
    kind: str,
    message: str,
    name: str,
    errno: Any,
    extra: Any,
    explicit: str | None,
    on_file: bool,
) -> None:
    """README: fail_with records the text with escapes (NUL, lone surrogates), so the job
    still fails, whatever the exception says or cannot say."""
    exc = make_exception(kind, message, name, errno, extra)
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        store = w.store
        if explicit is None:
            outcome = attempt(w, target, lambda: store.fail_with(target.value, exc))
        else:  # fail(job, exc, exception=...): the explicit traceback text wins
            outcome = attempt(w, target, lambda: store.fail(target.value, exc, explicit))
        allowed = target.spec is not None and target.spec.state in UNFINISHED
        if expect(outcome, target, allowed, OK):
            check_failed_with(w, outcome, target, exc, explicit)


@FAST
@given(
    drawn=targets, exc=st.sampled_from([None, 5, "boom", b"boom", ["boom"], Exception, Opaque()])
)
def test_fail_with_refuses_what_is_not_an_exception(drawn: Any, exc: Any) -> None:
    """``fail_with(job_id, exc)`` records exceptions; anything else is an InvalidJob."""
    with world(None) as w:
        target = resolve(w, drawn)
        outcome = attempt(w, target, lambda: w.store.fail_with(target.value, exc))
        assert outcome.error is not None, "fail_with recorded something that is no exception"
        if target.kind == "job" and target.spec is not None and target.spec.state in UNFINISHED:
            assert isinstance(outcome.error, InvalidJob), repr(outcome.error)


def test_fail_with_an_exception_whose_attributes_raise() -> None:
    """Like a hostile __str__ or __repr__ (which are survived), a hostile attribute."""
    exc = BrokenAttributes("boom")
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.fail_with(target.value, exc))
        assert outcome.error is None, repr(outcome.error)
        assert outcome.new is not None and outcome.new["state"] == "FAILED"
        assert outcome.new["error"] == "boom"


@FAST
@example(errno=2**64, kind="os")
@given(errno=st.one_of(st.integers(), st.sampled_from(BIG_INTS)), kind=exception_kinds)
def test_fail_with_any_errno(errno: int, kind: str) -> None:
    """Any ``errno`` attribute: an int that fits is recorded, anything else is None."""
    exc = make_exception(kind, "boom", "Boom", errno)
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.fail_with(target.value, exc))
        assert expect(outcome, target, True, OK)
        check_failed_with(w, outcome, target, exc, None)


@FAST
@example(extra=nested(MAX_DEPTH, ["list"]), kind="plain")
@example(extra=Real(1.5), kind="plain")
@given(extra=st.one_of(deep_values, st.sampled_from(SUBCLASSED)), kind=exception_kinds)
def test_fail_with_any_extra(extra: Any, kind: str) -> None:
    """Any ``extra`` attribute: stored as JSON if it can be, as text otherwise; never refused."""
    exc = make_exception(kind, "boom", "Boom", _NO_VALUE, extra)
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.fail_with(target.value, exc))
        assert expect(outcome, target, True, OK)
        check_failed_with(w, outcome, target, exc, None)
