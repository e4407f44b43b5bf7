"""Values to draw, and the hypothesis strategies that draw them.

JSON values storable or not (NUL, lone surrogates, 2**64, NaN, 101 levels), subclasses
of JSON types, foreign and hostile objects, and caught exceptions of every kind
(``make_exception``). ``FAST`` and ``SLOW`` are the tests' example counts.
"""

from __future__ import annotations

import collections
import enum
import math
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from .oracle import INT64_MAX, INT64_MIN, MAX_DEPTH

# -- how many examples to draw ------------------------------------------------------

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- values to draw ---------------------------------------------------------------------


class Color(enum.IntEnum):
    RED = 1


class Text(str):
    __slots__ = ()


class Real(float):
    pass


class Items(list[Any]):
    pass


Pair = collections.namedtuple("Pair", "left right")


class Opaque:
    """A custom object with no JSON form."""

    def __repr__(self) -> str:
        return "Opaque()"


class Hostile:
    """An object whose ``repr`` and ``str`` raise (printed for hypothesis by ``_repr_pretty_``)."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("Hostile()")

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hostile)


def nested(depth: int, kinds: list[str], leaf: Any = 0) -> Any:
    """``depth`` lists/tuples/dicts inside each other (``kinds`` cycled), ``leaf`` inside."""
    value = leaf
    for level in range(depth):
        kind = kinds[level % len(kinds)]
        value = [value] if kind == "list" else (value,) if kind == "tuple" else {"k": value}
    return value


def _self_containing() -> list[Any]:
    loop: list[Any] = [1]
    loop.append(loop)
    return loop


BIG_INTS = [INT64_MAX, INT64_MIN, INT64_MAX + 1, INT64_MIN - 1, 2**64, 10**30, -(10**40)]
ODD_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1]
SPECIAL_TEXT = [
    "", "a\x00b", "\x00", "\ud800", "\udcff", "a\udc80b", "\ud83d\ude00", "😀", "é" * 50,
    "'); DROP TABLE jobs;--", '"', "\\", "\\x00", "\u2028", "\x7f", "\ufeff",
    "\U0010ffff", "{\"a\": 1}", "null", "$.a[0]",
]  # fmt: skip
FOREIGN: list[Any] = [
    {1, 2}, frozenset(), b"bytes", bytearray(b"x"), datetime(2026, 1, 2, 3, 4, 5), date(2026, 1, 1),
    Decimal("1.5"), Fraction(1, 3), 1j, Opaque(), object, range(3), _self_containing(),
    {1: "int key"}, {None: 1}, {(1, 2): "tuple key"}, {b"k": 1},
]  # fmt: skip


def long_text() -> str:
    return "x" * 150_000


def hostile_key() -> dict[Any, Any]:
    return {Hostile(): 1}


# Built by strategies, not listed: hypothesis may repr() the arguments of a strategy.
hostile = st.one_of(st.builds(Hostile), st.builds(hostile_key))
foreign = st.one_of(st.sampled_from(FOREIGN), hostile)
SUBCLASSED: list[Any] = [
    Color.RED, Text("text"), Real(1.5), Items([1, "x"]), Pair(1, [2]),
    collections.OrderedDict(a=1), {Text("k"): 1},
]  # fmt: skip

clean_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
raw_text = st.text(st.characters(exclude_categories=()))
#: Text dense in what cannot be stored: NUL and lone surrogates (and their neighbours).
nasty_text = st.text(
    st.one_of(
        st.characters(exclude_categories=()),
        st.sampled_from(["\x00", "\ud800", "\udbff", "\udc80", "\udfff", "😀", "é", "\\"]),
    ),
    min_size=1,
    max_size=20,
)
any_text = st.one_of(
    clean_text, clean_text, nasty_text, raw_text,
    st.one_of(st.sampled_from(SPECIAL_TEXT), st.builds(long_text)),
)  # fmt: skip
any_int = st.one_of(st.integers(INT64_MIN, INT64_MAX), st.integers(), st.sampled_from(BIG_INTS))
any_float = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.floats(), st.sampled_from(ODD_FLOATS)
)
ok_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(INT64_MIN, INT64_MAX),
    st.floats(allow_nan=False, allow_infinity=False), clean_text,
)  # fmt: skip
json_scalars = st.one_of(st.none(), st.booleans(), any_int, any_float, any_text)


def containers(leaves: st.SearchStrategy[Any], keys: st.SearchStrategy[Any]) -> Any:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.lists(inner, max_size=4).map(tuple),
            st.dictionaries(keys, inner, max_size=4),
        ),
        max_leaves=10,
    )


#: Storable JSON values of exact types (tuples included): must always be stored.
ok_json = containers(ok_scalars, clean_text)
#: JSON-like values of exact types, storable or not (NUL, surrogates, 2**64, NaN...).
json_values = containers(json_scalars, any_text)
#: Anything: also foreign objects, subclasses and non-string keys, at any place.
any_values = containers(
    st.one_of(json_scalars, foreign, st.sampled_from(SUBCLASSED)),
    st.one_of(any_text, st.sampled_from([1, None, (1, 2), Text("k")]), st.builds(Hostile)),
)
#: Values nesting around the documented limit of 100 levels.
deep_values = st.builds(
    nested,
    st.integers(MAX_DEPTH - 4, MAX_DEPTH + 4),
    st.lists(st.sampled_from(["list", "tuple", "dict"]), min_size=1, max_size=3),
    st.sampled_from([0, "leaf", None, [], {}]),
)
wrong_types = st.sampled_from([None, 1, 1.5, True, b"x", [1], ("a",), {"a": 1}, Opaque()])

# -- exceptions to raise: fail_with records whatever it is given ----------------------


class Unprintable(Exception):
    """An exception whose ``str`` and ``repr`` raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("Unprintable()")


class WrongStr(Exception):
    """``str()`` of it raises TypeError (``__str__`` returns an int)."""

    def __str__(self) -> Any:
        return 5


_NO_VALUE = object()
EXCEPTION_KINDS = ["plain", "os", "key", "named", "unprintable", "wrong_str", "empty", "base"]


def make_exception(
    kind: str, message: str, name: str, errno: Any = _NO_VALUE, extra: Any = _NO_VALUE
) -> BaseException:
    """An exception of ``kind``, raised and caught (so it has a traceback)."""
    exc: BaseException
    if kind == "os":
        exc = OSError(message)
    elif kind == "key":
        exc = KeyError(message)
    elif kind == "named":
        exc = type(name, (Exception,), {})(message)
    elif kind == "unprintable":
        exc = Unprintable(message)
    elif kind == "wrong_str":
        exc = WrongStr(message)
    elif kind == "empty":
        exc = ValueError()
    elif kind == "base":
        exc = KeyboardInterrupt(message)
    else:
        exc = Exception(message)
    if errno is not _NO_VALUE:
        exc.errno = errno  # type: ignore[attr-defined]
    if extra is not _NO_VALUE:
        exc.extra = extra  # type: ignore[attr-defined]
    try:
        raise exc
    except BaseException as caught:  # raised, to give it a traceback
        return caught
