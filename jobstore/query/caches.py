"""Caches for what queries repeat (paths, patterns), that keep only small arguments.

Every query from a client passes through these, so a plain ``lru_cache`` would
let a client park its largest paths or patterns in memory, thousands of them.
``small_cache`` keeps an entry only when its argument is at most
``MAX_CACHED_LENGTH`` long; a longer one is computed every time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

__all__ = ["MAX_CACHED_LENGTH", "compile_pattern", "small_cache"]

MAX_CACHED_LENGTH = 256

Arg = TypeVar("Arg")
Result = TypeVar("Result")


class _Decorator(Protocol):
    def __call__(self, function: Callable[[Arg], Result], /) -> Callable[[Arg], Result]: ...


def small_cache(maxsize: int, size: Callable[[Any], int] = len) -> _Decorator:
    """``functools.lru_cache(maxsize)`` for a one-argument function, for small arguments only.

    ``size(argument)`` (its ``len`` by default) decides what is small.
    """

    def decorate(function: Callable[[Arg], Result]) -> Callable[[Arg], Result]:
        cached = functools.lru_cache(maxsize=maxsize)(function)

        @functools.wraps(function)
        def call(argument: Arg) -> Result:
            if size(argument) <= MAX_CACHED_LENGTH:
                return cached(argument)
            return function(argument)

        return call

    return decorate


@small_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``re.compile(pattern)``, cached for short patterns (``~`` in Python and in SQL)."""
    return re.compile(pattern)
