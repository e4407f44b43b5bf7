"""``set_progress``: only the given parts of an unfinished job's progress change, or it refuses."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from jobstore import JobStore

from .oracle import (
    MAX_DEPTH,
    OK,
    UNFINISHED,
    assert_same,
    to_json,
    verdict_json,
    verdict_json_text,
    verdict_percent,
    worst,
)
from .values import (
    FAST,
    SLOW,
    Color,
    Real,
    Text,
    any_float,
    any_int,
    any_text,
    any_values,
    clean_text,
    deep_values,
    json_values,
    nested,
    ok_json,
    wrong_types,
)
from .world import attempt, check_others_unchanged, expect, folder_for, resolve, targets, world

# -- set_progress ---------------------------------------------------------------------

percents = st.one_of(
    st.none(), st.floats(-1e3, 1e3), st.integers(-(10**6), 10**6), any_int, any_float,
    st.booleans(),
    st.sampled_from([Color.RED, Real(2.5), Decimal("33.3"), Fraction(7, 2), "50", b"5", [50]]),
)  # fmt: skip
progress_descriptions = st.one_of(st.none(), clean_text, any_text, st.just(Text("d")), wrong_types)
progress_extras = st.one_of(st.none(), ok_json, ok_json, json_values, any_values)


@FAST
@example(drawn="running", percent=42.7, description="scanning", extra=None, on_file=False)
@example(drawn="waiting", percent=-0.5, description=None, extra={"a": (1, [2])}, on_file=False)
@example(drawn="running", percent=True, description=None, extra=None, on_file=False)
@example(drawn="running", percent=math.inf, description=None, extra=None, on_file=False)
@example(drawn="running", percent=1e19, description=None, extra=None, on_file=False)
@example(drawn="running", percent=None, description="a\x00b", extra=None, on_file=False)
@example(drawn="running", percent=None, description=5, extra=None, on_file=False)
@example(drawn="running", percent=None, description=None, extra=[2**64], on_file=False)
@example(drawn="success", percent=50, description=None, extra=None, on_file=False)
@given(
    drawn=targets,
    percent=percents,
    description=progress_descriptions,
    extra=progress_extras,
    on_file=st.booleans(),
)
def test_set_progress_stores_what_it_is_given_or_refuses(
    tmp_path_factory: pytest.TempPathFactory,
    drawn: Any,
    percent: Any,
    description: Any,
    extra: Any,
    on_file: bool,
) -> None:
    """Only the given parts change; percent is rounded down; only WAITING and RUNNING jobs."""
    verdict = worst(
        [
            verdict_percent(percent),
            verdict_json_text(description),
            OK if extra is None else verdict_json(extra, 1),  # extra is one level inside progress
        ]
    )
    note(f"verdict: {verdict}")
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        outcome = attempt(
            w, target, lambda: w.store.set_progress(target.value, percent, description, extra)
        )
        allowed = target.spec is not None and target.spec.state in UNFINISHED
        if not expect(outcome, target, allowed, verdict):
            return
        assert outcome.old is not None and outcome.new is not None
        check_others_unchanged(outcome, target.value)
        progress = dict(outcome.old["progress"])
        if percent is not None:
            progress["percent"] = math.floor(percent)
        if description is not None:
            progress["description"] = str(description)
        if extra is not None:
            progress["extra"] = to_json(extra)
        assert_same(outcome.new, {**outcome.old, "progress": progress}, "progress")


@SLOW
@example(value=nested(MAX_DEPTH, ["list"]))
@given(value=deep_values)
def test_set_progress_extra_around_the_depth_limit(value: Any) -> None:
    """README: 100 levels in stored values; ``progress.extra`` is stored inside ``progress``."""
    verdict = verdict_json(value, 1)
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.set_progress(target.value, extra=value))
        expect(outcome, target, True, verdict)
        if outcome.new is not None:
            assert_same(outcome.new["progress"]["extra"], to_json(value), "extra")
            # What was stored is a job: importing it into another store must work.
            with JobStore(":memory:") as other:
                other.insert_many([outcome.new])
                assert_same(other.get_job(target.value), outcome.new, "re-imported job")
