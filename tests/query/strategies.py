"""Hypothesis strategies: random valid jobs and random valid (and malformed) queries.

Values come from small pools so that random filters often match random jobs:
parity tests are only as good as the share of comparisons that can go
either way.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

KEYS = ["a", "b", "items", "name", "0", "1", "*", "", "x.y", "size", "password"]
STRINGS = ["", "a", "A", "ab", "aB", "b", "ba", "ß", "SS", "ss", "straße", "STRASSE", "é", "1",
           "a%", "_b", "x.y", "ab\\", "ǅ", "\U0010ffff", "z\U0010ffff"]
NUMBERS = [0, 1, -1, 2, 1.0, 2.5, -0.5, 10**12, 2**63 - 1]
TIMESTAMPS = [
    None,
    "2026-11-01T00:00:00.000000+00:00",
    "2026-11-01T10:00:00.500000+00:00",
    "2026-11-02T23:59:59.999999+00:00",
    "2025-01-01T00:00:00.000000+00:00",
]
METHODS = ["pool.scrub", "pool.scrub.scrub", "replication.run", "cloudsync.sync", "Pool.x", ""]
USERS = ["alice", "bob", "Alice", ""]

scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(NUMBERS), st.sampled_from(STRINGS)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    ),
    max_leaves=8,
)


@st.composite
def jobs(draw: Any) -> dict[str, Any]:
    credentials = draw(st.one_of(
        st.none(),
        st.builds(lambda user: {"type": "LOGIN_PASSWORD", "data": {"username": user}},
                  st.sampled_from(USERS)),
        st.builds(lambda data: {"type": "API_KEY", "data": data},
                  st.dictionaries(st.sampled_from(KEYS), json_values, max_size=2)),
    ))
    exc_info = draw(st.one_of(st.none(), st.fixed_dictionaries({
        "repr": st.one_of(st.none(), st.sampled_from(STRINGS)),
        "type": st.one_of(st.none(), st.sampled_from(["OSError", "ValueError", "a"])),
        "errno": st.one_of(st.none(), st.integers(0, 3)),
        "extra": json_values,
    })))
    return {
        "message_ids": draw(st.lists(scalars, max_size=2)),
        "method": draw(st.sampled_from(METHODS)),
        "arguments": draw(st.lists(json_values, max_size=3)),
        "transient": draw(st.booleans()),
        "description": draw(st.one_of(st.none(), st.sampled_from(STRINGS))),
        "abortable": draw(st.booleans()),
        "progress": {
            "percent": draw(st.one_of(st.none(), st.sampled_from([0, 1, 2, 50, 100]))),
            "description": draw(st.one_of(st.none(), st.sampled_from(STRINGS))),
            "extra": draw(json_values),
        },
        "result": draw(json_values),
        "result_encoding_error": draw(st.one_of(st.none(), json_values)),
        "error": draw(st.one_of(st.none(), st.sampled_from(STRINGS))),
        "exc_info": exc_info,
        "state": draw(st.sampled_from(["WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED"])),
        "time_started": draw(st.sampled_from(TIMESTAMPS)),
        "time_finished": draw(st.sampled_from(TIMESTAMPS)),
        "credentials": credentials,
    }


PATHS = [
    "id", "method", "state", "description", "transient", "abortable", "error",
    "time_started", "time_finished", "message_ids", "message_ids.0", "message_ids.*",
    "arguments", "arguments.0", "arguments.1", "arguments.*", "arguments.*.a", "arguments.0.a",
    "arguments.*.*", "progress", "progress.percent", "progress.description", "progress.extra",
    "progress.extra.a", "progress.extra.0", "progress.extra.*", "progress.extra.*.name",
    "result", "result.a", "result.a.b", "result.0", "result.1", "result.*", "result.*.a",
    "result.items.*.name", "result.a.0.b", "result.*.*", "result.x\\.y", "result.", "result..a",
    "result.password", "result.01", "exc_info", "exc_info.type", "exc_info.errno",
    "exc_info.extra.a", "credentials.data.username", "credentials.type", "credentials.data.*",
    "nonexistent", "state.x", "description.a", "result_encoding_error.a", "id.x",
]
ORDER_PATHS = [p for p in PATHS if "*" not in p]
#: Paths that reach the secrets in RICH_VALUES (and their non-secret neighbours).
SECRET_PATHS = ["result.password", "result.a.password", "result.a.api_key", "result.api_key",
                "result.items.*.token", "result.a.items.*.token", "result.*.client_secret",
                "result.a.*.client_secret", "result.b", "result.a.b", "arguments.0.password",
                "arguments.*.a.api_key"]
DATE_PATHS = ["time_started.$date", "time_finished.$date", "result.a.$date", "description.$date"]
DATE_VALUES = ["2026-11-01", "2026-11-01T00:00:00Z", "2026-11-01T12:00:00+02:00",
               "2026-11-02T23:59:59.999999", "2025-06-01T00:00:00-05:00"]
PATTERNS = ["a", "^a", "a*", ".*", "A|b", "(?i)a", "", "b$", "\\d", "[ßs]"]
BASE_OPS = ["=", "!=", "<", "<=", ">", ">=", "~", "in", "nin", "rin", "rnin", "^", "!^", "$", "!$"]
STRING_OPS = {"~", "^", "!^", "$", "!$"}


@st.composite
def comparisons(draw: Any, paths: list[str] | None = None) -> list[Any]:
    if paths is None and draw(st.integers(0, 9)) == 0:
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return [draw(st.sampled_from(DATE_PATHS)), op, draw(st.sampled_from(DATE_VALUES))]
    base = draw(st.sampled_from(BASE_OPS))
    folded = base != "~" and draw(st.booleans())
    op = ("C" if folded else "") + base
    if base == "~":
        value: Any = draw(st.sampled_from(PATTERNS))
    elif base in STRING_OPS:
        value = draw(st.sampled_from(STRINGS))
    elif base in ("in", "nin"):
        value = draw(st.one_of(st.lists(json_values, max_size=4), st.sampled_from(STRINGS),
                               scalars))
    else:
        value = draw(json_values)
    return [draw(st.sampled_from(paths or PATHS)), op, value]


def _entries(depth: int) -> st.SearchStrategy[list[Any]]:
    if depth >= 3:
        return comparisons()
    branch = st.one_of(
        _entries(depth + 1),
        st.lists(_entries(depth + 1), min_size=1, max_size=2),
    )
    return st.one_of(
        comparisons(),
        comparisons(),
        st.builds(lambda branches: ["OR", branches], st.lists(branch, min_size=1, max_size=3)),
    )


filters = st.lists(_entries(0), max_size=2)


@st.composite
def order_keys(draw: Any, paths: list[str] | None = None) -> str:
    prefix = draw(st.sampled_from(["", "", "nulls_first:", "nulls_last:"]))
    sign = draw(st.sampled_from(["", "-"]))
    return prefix + sign + draw(st.sampled_from(paths or ORDER_PATHS))


@st.composite
def options(draw: Any) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    if draw(st.booleans()):
        chosen["order_by"] = draw(st.lists(order_keys(), max_size=3))
    mode = draw(st.sampled_from(["list", "list", "count", "get"]))
    if mode == "count":
        chosen["count"] = True
    if mode == "get":
        chosen["get"] = True
        chosen["limit"] = draw(st.sampled_from([0, 1]))
    else:
        chosen["offset"] = draw(st.sampled_from([0, 0, 1, 3]))
        chosen["limit"] = draw(st.sampled_from([0, 0, 1, 2, 5]))
    if draw(st.integers(0, 3)) == 0:
        chosen["select"] = draw(st.lists(
            st.one_of(st.sampled_from(ORDER_PATHS),
                      st.tuples(st.sampled_from(ORDER_PATHS), st.sampled_from(["k", "id"]))
                      .map(list)),
            max_size=3,
        ))
    return chosen


#: Values placed at every JSON path of the rich job set: each kind of value SQL must tell apart.
RICH_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2, 1.0, 2.5, 10**12, 2**63 - 1, "", "a", "A", "ab", "aB", "b",
    "ß", "SS", "straße", "STRASSE", "1", "a%", "_b", "x.y", "ǅ", "\U0010ffff",
    [], [None], [1, 2], ["a", "b"], ["A", 1, None], [[1, 2]], [{"a": 1}], [{"name": "a"}, {}],
    {}, {"a": None}, {"a": 1}, {"a": {"b": 2}}, {"a": [1, "a"]}, {"0": "zero"}, {"*": 5},
    {"items": [{"name": "ab"}, {"name": None}, "x"]}, {"x.y": 1, "": 2}, {"b": [{"a": 1.0}]},
    # secrets (default key rule), so that redaction changes what some callers see
    {"password": "a"}, {"a": {"api_key": 2}}, {"items": [{"name": "a", "token": "ab"}]},
    {"password": None, "b": "ß"}, [{"client_secret": "A"}], {"password": "b"}, {"password": "A"},
]


def rich_jobs() -> list[dict[str, Any]]:
    """A fixed job set that puts every RICH_VALUES kind at every path the strategies use."""
    count = len(RICH_VALUES)
    built = []
    for i, value in enumerate(RICH_VALUES):
        def nth(offset: int, i: int = i) -> Any:
            return RICH_VALUES[(i + offset) % count]

        built.append({
            "message_ids": [nth(5)] if i % 3 else [],
            "method": METHODS[i % len(METHODS)],
            "arguments": [value, nth(7)][: i % 3],
            "transient": i % 2 == 0,
            "description": None if i % 4 == 0 else STRINGS[i % len(STRINGS)],
            "abortable": i % 3 == 0,
            "progress": {"percent": [None, 0, 50, 100][i % 4],
                         "description": None if i % 5 else "x", "extra": nth(3)},
            "result": value if i % 2 else {"a": value, "items": nth(11), "0": nth(2), "*": nth(4)},
            "result_encoding_error": nth(9) if i % 6 == 0 else None,
            "error": STRINGS[(i * 3) % len(STRINGS)] if i % 2 else None,
            "exc_info": None if i % 3 else {"repr": "r", "type": STRINGS[i % len(STRINGS)],
                                            "errno": i % 4 or None, "extra": nth(1)},
            "state": ["WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED"][i % 5],
            "time_started": TIMESTAMPS[i % len(TIMESTAMPS)],
            "time_finished": TIMESTAMPS[(i + 2) % len(TIMESTAMPS)],
            "credentials": [None, {"type": "LOGIN_PASSWORD", "data": {"username": USERS[i % 4]}},
                            {"type": "API_KEY", "data": {"username": 5, "a": nth(6)}}][i % 3],
        })
    return built


def same_type_values(value: Any) -> st.SearchStrategy[Any]:
    """Values of ``value``'s exact type, edge cases included (beyond 64 bits, -0.0, bad
    dates and patterns): what a remembered query shape may be asked with next."""
    kind = type(value)
    if kind is bool:
        return st.booleans()
    if kind is int:
        return st.sampled_from([0, 1, -1, 2, 7, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**30])
    if kind is float:
        return st.floats(allow_nan=False) | st.sampled_from([0.0, -0.0, 2.5])
    if kind is str:
        return st.sampled_from([*STRINGS, *DATE_VALUES, *PATTERNS, "(", "not a date"])
    return st.none()
