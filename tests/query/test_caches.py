"""Caches of paths and patterns keep only small arguments (a client cannot park big ones)."""

from __future__ import annotations

from jobstore.query.caches import MAX_CACHED_LENGTH, compile_pattern, small_cache
from jobstore.query.paths import parse_path


def test_small_arguments_are_computed_once_and_large_ones_every_time() -> None:
    calls: list[str] = []

    @small_cache(maxsize=8)
    def measure(text: str) -> int:
        calls.append(text)
        return len(text)

    small, large = "a" * MAX_CACHED_LENGTH, "b" * (MAX_CACHED_LENGTH + 1)
    assert [measure(small), measure(small), measure(large), measure(large)] == [
        len(small), len(small), len(large), len(large),
    ]
    assert calls == [small, large, large]


def test_the_size_of_an_argument_can_be_measured_otherwise() -> None:
    calls: list[tuple[str, ...]] = []

    @small_cache(maxsize=8, size=lambda parts: sum(map(len, parts)))
    def join(parts: tuple[str, ...]) -> str:
        calls.append(parts)
        return ".".join(parts)

    few, many = ("a",) * 3, ("b" * 100,) * 3  # short tuples, 3 and 300 characters
    for _ in range(2):
        join(few)
        join(many)
    assert calls == [few, many, many]


def test_paths_and_patterns_use_them() -> None:
    short = "result." + "k" * 10
    long = "result." + "k" * MAX_CACHED_LENGTH
    assert parse_path(short) is parse_path(short)
    assert parse_path(long) is not parse_path(long)
    assert parse_path(long) == parse_path(long)
    assert compile_pattern("^a+") is compile_pattern("^a+")
