"""JSON in and out of the JSON columns, with the limits SQLite's JSON functions need.

SQLite 3.40's JSON functions cut strings at a NUL character, turn integers
beyond 64 bits into reals and have no NaN; a value they would misread is
refused here, at write time, so that SQL and Python always see the same data.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from .errors import InvalidJob

__all__ = [
    "MAX_DEPTH",
    "JSONValueError",
    "check_json_value",
    "check_text",
    "dumps",
    "fits_int64",
    "has_utf8_form",
    "loads",
    "safe_repr",
    "storable_text",
]

#: Lists and objects nest at most this deep, in stored values and in filter values
#: alike (so a filter can always spell a stored value); deeper is refused.
MAX_DEPTH = 100
_TOO_DEEP = f"lists and objects may nest at most {MAX_DEPTH} levels deep"
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class JSONValueError(InvalidJob):
    """A value that cannot be stored exactly; ``where`` is its path."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def fits_int64(value: int) -> bool:
    """True if SQLite's JSON reads ``value`` back as the same integer."""
    return _INT64_MIN <= value <= _INT64_MAX


def has_utf8_form(text: str) -> bool:
    """True if ``text`` can be sent to SQLite: lone surrogates have no UTF-8 form."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_NO_UTF8 = "strings may not contain lone surrogates (they have no UTF-8 form)"


def check_text(value: str | None, where: str) -> None:
    """Raise JSONValueError if the text column value ``value`` cannot be sent to SQLite."""
    if value is not None and not value.isascii() and not has_utf8_form(value):
        raise JSONValueError(where, _NO_UTF8)


def storable_text(text: str) -> str:
    """``text`` with what no column can hold written as escapes: ``\\x00``, ``\\udcff``.

    For text we record rather than refuse, such as a caught exception's
    message (decoded with ``surrogateescape`` from a subprocess's output).
    """
    if not text.isascii() and not has_utf8_form(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def safe_repr(value: object) -> str:
    """``repr(value)``, or a stand-in when that raises (hostile ``__repr__``)."""
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"


def check_json_value(value: Any, where: str = "$", depth: int = 0) -> None:
    """Raise JSONValueError if ``value`` is not JSON that SQLite reads back unchanged.

    ``depth``: how many lists or objects hold ``value`` in the stored field
    (``progress.extra`` is one level down in ``progress``).
    """
    found = _problem(value, depth)  # a value that contains itself is too deep, too
    if found is not None:
        suffix, problem = found
        # A depth error's path would be a hundred steps long: name the field.
        raise JSONValueError(where if problem is _TOO_DEEP else where + suffix, problem)


def _problem(value: Any, depth: int) -> tuple[str, str] | None:
    """None if ``value`` is fine, else (path below ``value``, what is wrong).

    The path is built only on the way out of an error: every job write checks
    its JSON fields, and formatting a path per element cost more than the check.
    """
    if value is None or value is True or value is False:
        return None
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            return "", "strings may not contain NUL characters"
        return None if value.isascii() or has_utf8_form(value) else ("", _NO_UTF8)
    if kind is int:
        return None if fits_int64(value) else ("", "integers must fit in 64 bits")
    if kind is float:
        return None if math.isfinite(value) else ("", f"{value!r} has no JSON form")
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            return "", _TOO_DEEP
        for index, item in enumerate(value):
            found = _problem(item, depth + 1)
            if found is not None:
                return f"[{index}]{found[0]}", found[1]
        return None
    if kind is dict:
        if depth >= MAX_DEPTH:
            return "", _TOO_DEEP
        for key, item in value.items():
            if type(key) is not str:
                return "", f"object keys must be strings, not {safe_repr(key)}"
            if "\x00" in key:
                return "", "object keys may not contain NUL characters"
            if not key.isascii() and not has_utf8_form(key):
                return "", f"object keys: {_NO_UTF8}"
            found = _problem(item, depth + 1)
            if found is not None:
                return f".{key}{found[0]}", found[1]
        return None
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        # Subclasses (IntEnum, OrderedDict, ...) are checked as their base type.
        base: type[Any] = next(
            t for t in (bool, int, float, str, list, tuple, dict) if isinstance(value, t)
        )
        return _problem(base(value), depth)
    return "", f"{type(value).__name__} is not a JSON type"


def dumps(value: Any, where: str = "$", depth: int = 0) -> str:
    """Serialise a checked JSON value to compact text (surrogates and the like refused).

    ``depth`` as for ``check_json_value``.
    """
    check_json_value(value, where, depth)
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise JSONValueError(where, str(exc)) from exc


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)
