"""The operator table: every operator of QUERY.md §4 is declared once, with both of its forms."""

from __future__ import annotations

import pytest

from jobstore.query.ops import DATE_OPERATORS, OPERATORS, SqlPlan, next_prefix

#: QUERY.md §4's operators (the C forms are derived from these, '~' excepted).
SPEC_OPERATORS = {"=", "!=", "<", "<=", ">", ">=", "~", "in", "nin", "rin", "rnin",
                  "^", "!^", "$", "!$"}


def test_the_table_holds_exactly_the_spec_operators() -> None:
    assert set(OPERATORS) == SPEC_OPERATORS
    assert {"=", "!=", "<", "<=", ">", ">="} == DATE_OPERATORS


@pytest.mark.parametrize("name", sorted(SPEC_OPERATORS))
def test_every_operator_has_a_python_meaning_and_an_sql_form(name: str) -> None:
    operator = OPERATORS[name]
    assert operator.name == name and operator.description
    assert callable(operator.python) and callable(operator.plan) and callable(operator.build)
    # A plain string value always reaches SQL exactly: no operator is Python-only.
    plan = operator.plan("ab")
    assert isinstance(plan, SqlPlan) and plan.exact
    # Values SQLite cannot bind stay in Python rather than being approximated.
    assert operator.plan("\ud800") is None


@pytest.mark.parametrize("name", ["=", "!=", "in", "nin", "rin", "rnin"])
def test_list_values_are_narrowed_in_sql_and_decided_in_python(name: str) -> None:
    # Python equality by value (1 == 1.0, key order) has no exact SQL form.
    plan = OPERATORS[name].plan([[1], {"a": 1}])
    assert plan is not None and not plan.exact


@pytest.mark.parametrize("name", ["<", "<=", ">", ">="])
def test_lists_never_compare_and_sql_says_so_exactly(name: str) -> None:
    plan = OPERATORS[name].plan([1])
    assert plan is not None and plan.exact and plan.shape == ("never",)


def test_the_shape_holds_what_the_sql_text_depends_on() -> None:
    # Same shape for values of the same kind, different shapes otherwise.
    equal = OPERATORS["="]
    assert equal.plan("a").shape == equal.plan("b").shape
    assert equal.plan("a").shape != equal.plan(1).shape
    regex = OPERATORS["~"]
    assert regex.plan("a*").shape != regex.plan("a").shape  # one matches null ('' ), one not


@pytest.mark.parametrize(
    ("prefix", "bound"),
    [("ab", "ac"), ("a\U0010ffff", "b"), ("\U0010ffff", None), ("\ud7ff", "\ue000"), ("", None)],
)
def test_next_prefix_bounds_every_string_with_the_prefix(prefix: str, bound: str | None) -> None:
    assert next_prefix(prefix) == bound
