"""Dialect-neutral SQL building: condition algebra over sqlglot nodes, and the Term interface.

A condition is a sqlglot expression or a Python bool when it is known at
compile time; the helpers fold the constants away so that the SQL stays as
simple as the query allows. Conditions are never negated except through
``not_exists`` (EXISTS is two-valued): with no NOT over a three-valued
condition, SQL NULL always behaves as "no match", as the evaluator's False.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from sqlglot import exp

__all__ = [
    "ALL_TYPES",
    "CONTAINER",
    "NULL",
    "NUMBER",
    "TEXT",
    "Cond",
    "Term",
    "and_",
    "compare",
    "in_list",
    "not_exists",
    "or_",
    "to_sql",
]

Cond = exp.Expr | bool

NULL = frozenset({"null"})
NUMBER = frozenset({"integer", "real", "true", "false"})  # a bool counts as a number
TEXT = frozenset({"text"})
CONTAINER = frozenset({"array", "object"})
ALL_TYPES = NULL | NUMBER | TEXT | CONTAINER


class Term(Protocol):
    """A place in a job that holds at most one value (a field, a JSON path, a list element)."""

    def is_type(self, kinds: frozenset[str]) -> Cond:
        """True where the value is present and its JSON type is one of ``kinds``."""
        ...

    def value(self) -> exp.Expr:
        """The value as SQL sees it (bools as 1/0; lists and objects as JSON text)."""
        ...

    def any_element(self, build: Callable[[Term], Cond]) -> Cond:
        """True where the value is a list and ``build`` holds for one of its elements."""
        ...


def and_(*conds: Cond) -> Cond:
    """AND, folding compile-time constants (False absorbs, True drops out)."""
    return _join(conds, True, exp.and_)


def or_(*conds: Cond) -> Cond:
    """OR, folding compile-time constants (True absorbs, False drops out)."""
    return _join(conds, False, exp.or_)


def _join(conds: tuple[Cond, ...], neutral: bool, combine: Callable[..., exp.Expr]) -> Cond:
    parts: list[exp.Expr] = []
    for cond in conds:
        if isinstance(cond, bool):
            if cond is not neutral:
                return cond  # absorbing: the whole is decided
        else:
            parts.append(cond)
    if not parts:
        return neutral
    return parts[0] if len(parts) == 1 else combine(*parts, copy=False)


def not_exists(cond: Cond) -> Cond:
    """Negate a two-valued condition (an EXISTS, or a compile-time constant)."""
    if isinstance(cond, bool):
        return not cond
    return exp.Not(this=exp.Paren(this=cond))


_COMPARE: dict[str, type[exp.Binary]] = {
    "=": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}


def compare(left: exp.Expr, op: str, right: exp.Expr) -> exp.Expr:
    return _COMPARE[op](this=left, expression=right)


def in_list(left: exp.Expr, items: Sequence[exp.Expr], negate: bool = False) -> Cond:
    node = exp.In(this=left, expressions=list(items))
    return exp.Not(this=node) if negate else node


def to_sql(cond: Cond) -> exp.Expr:
    """A condition as an expression (constants become ``1``/``0``, SQLite's booleans)."""
    if cond is True:
        return exp.Literal.number(1)
    if cond is False:
        return exp.Literal.number(0)
    return cond
