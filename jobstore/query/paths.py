"""Dot-paths into a job: parsing (``\\.`` escapes) and walking them the way QUERY.md §2 says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from .caches import small_cache

__all__ = ["DATE_SUFFIX", "MISSING", "Path", "is_index", "parse_path", "walk"]


class _Missing:
    """The absence of a value (not JSON null): never matches any operator."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
DATE_SUFFIX: Final = "$date"
FANOUT: Final = "*"


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed path: its segments, and whether it ended in ``.$date``."""

    text: str
    segments: tuple[str, ...]
    is_date: bool = False

    @property
    def has_fanout(self) -> bool:
        return FANOUT in self.segments


def split_path(text: str) -> tuple[str, ...]:
    """Split ``text`` on unescaped dots; ``\\.`` is a literal dot, other backslashes are kept.

    >>> split_path(r"result.foo\\.bar.0")
    ('result', 'foo.bar', '0')
    """
    segments: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] == ".":
            current.append(".")
            index += 2
            continue
        if char == ".":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    return tuple(segments)


@small_cache(maxsize=4096)  # paths repeat from query to query; Path is immutable
def parse_path(text: str) -> Path:
    """A filter or order path: its segments, with a final ``.$date`` read as the date suffix.

    >>> parse_path("time_finished.$date")
    Path(text='time_finished.$date', segments=('time_finished',), is_date=True)
    """
    segments = split_path(text)
    if len(segments) >= 2 and segments[-1] == DATE_SUFFIX:
        return Path(text, segments[:-1], is_date=True)
    return Path(text, segments)


def is_index(segment: str) -> bool:
    """ASCII decimal digits only (``str.isdigit`` also accepts other scripts' digits)."""
    return segment.isascii() and segment.isdigit()


def walk(value: Any, segments: tuple[str, ...], start: int = 0) -> Iterator[Any]:
    """Yield every value the path reaches (several through ``*``); MISSING ones are skipped."""
    for position in range(start, len(segments)):
        if value is None:
            yield None  # null stops the walk: the rest of the path reads as null
            return
        segment = segments[position]
        if isinstance(value, dict):
            if segment not in value:
                return
            value = value[segment]
        elif isinstance(value, list):
            if segment == FANOUT:
                for element in value:
                    yield from walk(element, segments, position + 1)
                return
            if not is_index(segment):
                return
            index = int(segment)
            value = value[index] if index < len(value) else None
        else:
            return
    yield value
