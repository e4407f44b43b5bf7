"""JSON in and out of the JSON columns, with the limits SQLite's JSON functions need.

SQLite 3.40's JSON functions cut strings at a NUL character, turn integers
beyond 64 bits into reals and have no NaN; a value they would misread is
refused here, at write time, so that SQL and Python always see the same data.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

__all__ = ["JSONValueError", "check_json_value", "dumps", "has_utf8_form", "loads"]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class JSONValueError(ValueError):
    """A value that cannot be stored as JSON exactly; ``where`` is its path."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def has_utf8_form(text: str) -> bool:
    """True if ``text`` can be sent to SQLite: lone surrogates have no UTF-8 form."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_json_value(value: Any, where: str = "$") -> None:
    """Raise JSONValueError if ``value`` is not JSON that SQLite reads back unchanged."""
    found = _problem(value)
    if found is not None:
        suffix, problem = found
        raise JSONValueError(where + suffix, problem)


def _problem(value: Any) -> tuple[str, str] | None:
    """None if ``value`` is fine, else (path below ``value``, what is wrong).

    The path is built only on the way out of an error: every job write checks
    its JSON fields, and formatting a path per element cost more than the check.
    """
    if value is None or value is True or value is False:
        return None
    kind = type(value)
    if kind is str:
        return ("", "strings may not contain NUL characters") if "\x00" in value else None
    if kind is int:
        return None if _INT64_MIN <= value <= _INT64_MAX else ("", "integers must fit in 64 bits")
    if kind is float:
        return None if math.isfinite(value) else ("", f"{value!r} has no JSON form")
    if kind is list or kind is tuple:
        for index, item in enumerate(value):
            found = _problem(item)
            if found is not None:
                return f"[{index}]{found[0]}", found[1]
        return None
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return "", f"object keys must be strings, not {key!r}"
            if "\x00" in key:
                return "", "object keys may not contain NUL characters"
            found = _problem(item)
            if found is not None:
                return f".{key}{found[0]}", found[1]
        return None
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        # Subclasses (IntEnum, OrderedDict, ...) are checked as their base type.
        base: type[Any] = next(
            t for t in (bool, int, float, str, list, tuple, dict) if isinstance(value, t)
        )
        return _problem(base(value))
    return "", f"{type(value).__name__} is not a JSON type"


def dumps(value: Any, where: str = "$") -> str:
    """Serialise a checked JSON value to compact text (surrogates and the like refused)."""
    check_json_value(value, where)
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise JSONValueError(where, str(exc)) from exc


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)
