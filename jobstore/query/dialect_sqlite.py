"""SQLite-specific pieces of compiled SQL: JSON access, list expansion, registered functions.

Everything else the compiler emits is dialect-neutral sqlglot; a PostgreSQL
(jsonb) or DuckDB back end replaces this module only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from ..jsoncodec import has_utf8_form
from . import functions
from .sqlbuild import ALL_TYPES, Cond, and_

__all__ = [
    "DIALECT",
    "ColumnTerm",
    "ElementTerm",
    "JsonTerm",
    "blob",
    "byte_length",
    "canonical_json",
    "casefold",
    "instr",
    "json_path_supported",
    "json_type",
    "json_value",
    "regexp_match",
    "tail_bytes",
]

DIALECT = "sqlite"
PathPart = str | int


def json_path_supported(key: str) -> bool:
    """Can SQLite 3.40's JSON path syntax name this object key exactly?

    Its quoted labels have no escapes, and it compares them with the stored
    text, which escapes control characters: such keys stay in Python. So do
    keys with lone surrogates: they have no UTF-8 form, so no SQL text can hold
    them (sqlite3 would raise UnicodeEncodeError), and no stored key equals them.
    """
    return (
        '"' not in key
        and "\\" not in key
        and all(ord(char) >= 0x20 for char in key)
        and has_utf8_form(key)
    )


def _json_path(parts: tuple[PathPart, ...]) -> exp.JSONPath:
    nodes: list[exp.Expr] = [exp.JSONPathRoot()]
    for part in parts:
        if isinstance(part, int):
            nodes.append(exp.JSONPathSubscript(this=part))
        else:
            nodes.append(exp.JSONPathKey(this=part))
    return exp.JSONPath(expressions=nodes)


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def json_type(doc: exp.Expr, parts: tuple[PathPart, ...]) -> exp.Expr:
    return _call("json_type", doc, _json_path(parts))


def json_value(doc: exp.Expr, parts: tuple[PathPart, ...]) -> exp.Expr:
    return _call("json_extract", doc, _json_path(parts))


def json_array_length(doc: exp.Expr, parts: tuple[PathPart, ...]) -> exp.Expr:
    return _call("json_array_length", doc, _json_path(parts))


def blob(value: exp.Expr) -> exp.Expr:
    """Byte view of a text: SQLite's length/instr/substr stop at NUL on text, not on blobs."""
    return exp.Cast(this=value, to=exp.DataType.build("BLOB"))


def instr(haystack: exp.Expr, needle: exp.Expr) -> exp.Expr:
    return _call("instr", blob(haystack), blob(needle))


def byte_length(value: exp.Expr) -> exp.Expr:
    return _call("length", blob(value))


def tail_bytes(value: exp.Expr, negative_length: exp.Expr) -> exp.Expr:
    return _call("substr", blob(value), negative_length)


def casefold(value: exp.Expr) -> exp.Expr:
    return _call(functions.CASEFOLD, value)


def regexp_match(pattern: exp.Expr, value: exp.Expr) -> exp.Expr:
    return _call(functions.REGEXP_MATCH, pattern, value)


def canonical_json(value: exp.Expr) -> exp.Expr:
    return _call(functions.CANONICAL_JSON, value)


def _type_test(type_expr: exp.Expr, kinds: frozenset[str]) -> exp.Expr:
    names = sorted(kinds)
    if len(names) == 1:
        return exp.EQ(this=type_expr, expression=exp.Literal.string(names[0]))
    return exp.In(this=type_expr, expressions=[exp.Literal.string(name) for name in names])


def _static(types: frozenset[str], kinds: frozenset[str], may_miss: bool) -> bool | None:
    """Decide ``is_type`` at compile time when the possible types allow it."""
    if not types & kinds:
        return False
    if types <= kinds and not may_miss:
        return True
    return None


@dataclass
class AliasSource:
    """Hands out unique table aliases (e1, e2, ...) for list expansions in one query."""

    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def next(self) -> str:
        return f"e{next(self.counter)}"


@dataclass(frozen=True)
class ColumnTerm:
    """A job field stored in its own typed column (bools as 0/1, None as SQL NULL)."""

    column: str
    types: frozenset[str]
    aliases: AliasSource

    def _col(self) -> exp.Expr:
        return exp.column(self.column, table="jobs")

    def is_type(self, kinds: frozenset[str]) -> Cond:
        known = _static(self.types, kinds, may_miss=False)
        if known is not None:
            return known
        wanted = self.types & kinds
        if wanted == {"null"}:
            return exp.Is(this=self._col(), expression=exp.Null())
        if "null" in self.types and "null" not in wanted and wanted == self.types - {"null"}:
            return exp.Not(this=exp.Is(this=self._col(), expression=exp.Null()))
        if wanted == {"true"}:
            return exp.EQ(this=self._col(), expression=exp.Literal.number(1))
        if wanted == {"false"}:
            return exp.EQ(this=self._col(), expression=exp.Literal.number(0))
        raise AssertionError(f"no type test for {sorted(wanted)} on {self.column}")

    def value(self) -> exp.Expr:
        return self._col()

    def any_element(self, build: Callable[[ElementTerm], Cond]) -> Cond:
        return False  # typed columns never hold lists


@dataclass(frozen=True)
class JsonTerm:
    """The value at a JSON path inside a JSON column (or inside a list element)."""

    doc: exp.Expr
    parts: tuple[PathPart, ...]
    types: frozenset[str]
    may_miss: bool
    aliases: AliasSource

    def is_type(self, kinds: frozenset[str]) -> Cond:
        known = _static(self.types, kinds, self.may_miss)
        if known is not None:
            return known
        return _type_test(json_type(self.doc.copy(), self.parts), kinds & self.types)

    def value(self) -> exp.Expr:
        return json_value(self.doc.copy(), self.parts)

    def any_element(self, build: Callable[[ElementTerm], Cond]) -> Cond:
        is_list = self.is_type(frozenset({"array"}))
        if is_list is False:
            return False
        alias = self.aliases.next()
        inner = build(ElementTerm(alias, self.aliases))
        if inner is False:
            return False
        source = exp.Table(
            this=_call("json_each", self.doc.copy(), _json_path(self.parts)),
            alias=exp.TableAlias(this=exp.to_identifier(alias)),
        )
        query = exp.Select(expressions=[exp.Literal.number(1)]).from_(source, copy=False)
        if inner is not True:
            query = query.where(inner, copy=False)
        # json_each also walks objects and scalars: the type test keeps it to lists.
        return and_(is_list, exp.Exists(this=query))


@dataclass(frozen=True)
class ElementTerm:
    """One element of a list being expanded by ``json_each``."""

    alias: str
    aliases: AliasSource

    def _type(self) -> exp.Expr:
        return exp.column("type", table=self.alias)

    def is_type(self, kinds: frozenset[str]) -> Cond:
        if kinds >= ALL_TYPES:
            return True
        return _type_test(self._type(), kinds)

    def value(self) -> exp.Expr:
        return exp.column("value", table=self.alias)

    def as_document(self) -> exp.Expr:
        """The element as JSON text when it is a list or object, else NULL (no JSON to walk)."""
        return exp.Case(
            ifs=[
                exp.If(
                    this=self.is_type(frozenset({"array", "object"})),
                    true=self.value(),
                )
            ]
        )

    def any_element(self, build: Callable[[ElementTerm], Cond]) -> Cond:
        return JsonTerm(self.as_document(), (), ALL_TYPES, True, self.aliases).any_element(build)
