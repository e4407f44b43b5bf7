"""Typed keys for plain input data: what the query memos (options, whole queries) look up by.

``plain_key(a) == plain_key(b)`` only when ``a`` and ``b`` are the same plain
data with the same types: exact ``str``/``int``/``float``/``bool``/``None``,
``list``, ``tuple``, ``dict`` with ``str`` keys. Types are tagged because
``1 == 1.0 == True`` while the query language tells them apart, and a list
and a tuple differ too (the options model refuses a tuple where it wants a
list). Anything else (a subclass, an object with its own ``__eq__``) gets no
key, so a value can never pass for another.

Keys are kept by the memos, so only small inputs get one: at most
``MAX_LEAVES`` leaves, strings of at most ``MAX_STRING`` characters, integers
below ``MAX_INT`` in magnitude. A client sending large values gets them parsed
every time instead of filling the memos.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_INT", "MAX_LEAVES", "MAX_STRING", "add_plain", "is_small", "plain_key"]

#: Inputs larger than this many leaves are not worth a key (and not likely repeated).
MAX_LEAVES = 64
MAX_STRING = 256
MAX_INT = 2**128

_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain_key(value: Any) -> tuple[Any, ...] | None:
    """The typed key of ``value``, or None if it is not plain data (or too large)."""
    out: list[Any] = []
    return tuple(out) if add_plain(value, out) else None


def add_plain(value: Any, out: list[Any], depth: int = 0) -> bool:
    """Append ``value``'s typed form to ``out``; False (stop) if it is not plain data."""
    kind = type(value)
    if kind in _SCALARS:
        if not is_small(kind, value):
            return False
        # -0.0 == 0.0 (and hashes alike): the float's exact form keeps them apart.
        out += (kind, value.hex() if kind is float else value)
        return True
    if kind is not dict and kind is not list and kind is not tuple:
        return False
    # Deep or large: give up before walking it (each element adds at least two items).
    if depth > 32 or len(out) + 2 * len(value) > 2 * MAX_LEAVES:
        return False
    out += (kind, len(value))
    if kind is dict:
        for key, item in value.items():
            item_kind = type(item)
            if type(key) is not str or len(key) > MAX_STRING:
                return False
            if item_kind in _SCALARS and is_small(item_kind, item):  # inline, without a call
                out += (key, item_kind, item.hex() if item_kind is float else item)
            else:
                out.append(key)
                if not add_plain(item, out, depth + 1):
                    return False
        return True
    for item in value:
        item_kind = type(item)
        if item_kind in _SCALARS and is_small(item_kind, item):
            out += (item_kind, item.hex() if item_kind is float else item)
        elif not add_plain(item, out, depth + 1):
            return False
    return True


def is_small(kind: type, value: Any) -> bool:
    """Is the scalar ``value`` (of type ``kind``) small enough to be part of a kept key?"""
    if kind is str:
        return len(value) <= MAX_STRING
    if kind is int:
        return -MAX_INT < value < MAX_INT
    return True
