"""The parsed query: a small immutable tree that both the evaluator and the SQL compiler read.

Nothing here is ever malformed: the parser (``parse.py``) refuses bad input
before a tree is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from .paths import Path

__all__ = [
    "And",
    "Comparison",
    "Node",
    "Options",
    "Or",
    "OrderKey",
    "Query",
    "Selector",
    "position_text",
]

Position = tuple[int, ...]


def position_text(position: Position) -> str:
    """``(0, 1, 2)`` -> ``filters[0][1][2]``: where an entry sits in the nested filter list."""
    return "filters" + "".join(f"[{index}]" for index in position)


# The filter nodes and the query are NamedTuples: immutable, and several times
# cheaper to build than frozen dataclasses (they are built on every query).


class Comparison(NamedTuple):
    """``[path, op, value]``; ``op`` is the base operator, ``fold`` marks its ``C`` form."""

    path: Path
    op: str
    value: Any
    fold: bool
    position: Position
    source: Any  # the entry as the caller wrote it (a private copy), for explain and errors

    @property
    def op_text(self) -> str:
        return ("C" if self.fold else "") + self.op


class And(NamedTuple):
    """All children hold (an empty And holds)."""

    children: tuple[Node, ...]
    position: Position = ()
    source: Any = None


class Or(NamedTuple):
    """At least one branch holds."""

    branches: tuple[Node, ...]
    position: Position
    source: Any = None


Node = Comparison | And | Or


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One ``order_by`` entry: ``[nulls_first:|nulls_last:][-]path``."""

    path: Path
    descending: bool
    nulls: Literal["first", "last"] | None

    @property
    def nulls_first(self) -> bool:
        """Where nulls go once the prefix and the direction are both taken into account."""
        if self.nulls is None:
            return not self.descending
        return self.nulls == "first"


@dataclass(frozen=True, slots=True)
class Selector:
    """One ``select`` entry: a path, and the top-level name it lands under if aliased."""

    path: Path
    alias: str | None


class Options(NamedTuple):
    """A query's options, validated.

    Running SQL that needs no Python reads only these (the filters are in the SQL).
    """

    order_by: tuple[OrderKey, ...] = ()
    select: tuple[Selector, ...] = ()
    count: bool = False  # type: ignore[assignment]  # the option's name; shadows tuple.count
    get: bool = False
    offset: int = 0
    limit: int = 0
    force_sql_filters: bool = False
    extra: Mapping[str, Any] = MappingProxyType({})


class Query(NamedTuple):
    """A whole validated query: the filter tree and the options."""

    where: And
    options: Options = Options()
