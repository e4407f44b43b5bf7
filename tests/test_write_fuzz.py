"""Property tests of the write API against its contract (README, API.md, job.schema.json).

Whatever is given to ``create``, ``start``, ``set_progress``, ``append_log``, ``succeed``,
``fail``, ``fail_with``, ``abort`` or ``insert_many``, the call either

* succeeds, and the job then reads back exactly as written, in the JSON form of
  job.schema.json (tuples as lists, ``percent`` rounded down, an unstorable result
  as ``result: None`` with a string ``result_encoding_error``, a caught exception's
  text with escapes), while every other job stays exactly as it was; or
* raises a ``JobStoreError`` (never anything else) and leaves the database exactly
  as it was: every row of every table, the schema and every log file.

What must be stored and what must be refused is decided here by an oracle written
from the documentation (``Verdict``), not by calling the library's own checks.
A stateful test drives random lifecycles against a model of the allowed
transitions and of retention.
"""

from __future__ import annotations

import collections
import enum
import json
import math
import re
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from jobstore import (
    IllegalTransition,
    InvalidJob,
    JobNotFound,
    JobStore,
    JobStoreError,
    QueryError,
)
from jobstore.models import ExcInfo, Job, JobCredentials

# -- the documented limits -------------------------------------------------------

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
ID_MAX = 2**63 - 1  # "Ids run from 1 to 2^63 - 1"
MAX_DEPTH = 100  # "Lists and objects nest at most 100 levels"
STATES = ("WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED")
FINISHED = frozenset({"SUCCESS", "FAILED", "ABORTED"})
UNFINISHED = frozenset({"WAITING", "RUNNING"})
_SURROGATE = re.compile("[\ud800-\udfff]")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", re.ASCII)
_JOB_INDEX = re.compile(r"job #(\d+)(?!\d)")

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- job.schema.json ---------------------------------------------------------------

# The spec lives beside the repository (/work/shared/spec); a clean clone of the
# repository has only this copy, which test_schema_copy_is_the_spec keeps honest.
_SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "job.schema.json"
_NULL_OR = {"type": ["string", "null"]}
_SCHEMA_COPY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id", "message_ids", "method", "arguments", "transient", "description", "abortable",
        "logs_path", "logs_excerpt", "progress", "result", "result_encoding_error", "error",
        "exception", "exc_info", "state", "time_started", "time_finished", "credentials",
    ],
    "properties": {
        "id": {"type": "integer"},
        "message_ids": {"type": "array"},
        "method": {"type": "string"},
        "arguments": {"type": "array"},
        "transient": {"type": "boolean"},
        "description": _NULL_OR,
        "abortable": {"type": "boolean"},
        "logs_path": _NULL_OR,
        "logs_excerpt": _NULL_OR,
        "progress": {
            "type": "object",
            "additionalProperties": False,
            "required": ["percent", "description", "extra"],
            "properties": {
                "percent": {"type": ["integer", "null"]},
                "description": _NULL_OR,
                "extra": {},
            },
        },
        "result": {},
        "result_encoding_error": {},
        "error": _NULL_OR,
        "exception": _NULL_OR,
        "exc_info": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["repr", "type", "errno", "extra"],
                    "properties": {
                        "repr": _NULL_OR,
                        "type": _NULL_OR,
                        "errno": {"type": ["integer", "null"]},
                        "extra": {},
                    },
                },
            ]
        },
        "state": {"enum": list(STATES)},
        "time_started": {"type": ["string", "null"], "format": "date-time"},
        "time_finished": {"type": ["string", "null"], "format": "date-time"},
        "credentials": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type", "data"],
                    "properties": {"type": {"type": "string"}, "data": {"type": "object"}},
                },
            ]
        },
    },
}  # fmt: skip
_ANNOTATIONS = frozenset({"$schema", "title", "description"})
_KEYWORDS = frozenset(
    {"type", "enum", "oneOf", "required", "properties", "additionalProperties", "format"}
)


def _structure(schema: Any) -> Any:
    """The schema without its annotations (titles and descriptions change nothing)."""
    if isinstance(schema, dict):
        return {
            key: {name: _structure(sub) for name, sub in value.items()}
            if key == "properties"  # property names are names, not keywords
            else _structure(value)
            for key, value in schema.items()
            if key not in _ANNOTATIONS
        }
    if isinstance(schema, list):
        return [_structure(v) for v in schema]
    return schema


JOB_SCHEMA: dict[str, Any] = (
    _structure(json.loads(_SPEC.read_text())) if _SPEC.exists() else _SCHEMA_COPY
)


def _is_type(value: Any, name: str) -> bool:
    kinds: dict[str, Callable[[Any], bool]] = {
        "null": lambda v: v is None,
        "boolean": lambda v: type(v) is bool,
        "integer": lambda v: type(v) is int,
        "number": lambda v: type(v) in (int, float),
        "string": lambda v: type(v) is str,
        "array": lambda v: type(v) is list,
        "object": lambda v: type(v) is dict,
    }
    return kinds[name](value)


def schema_problem(value: Any, schema: dict[str, Any], where: str = "$") -> str | None:
    """Why ``value`` does not validate against ``schema`` (a JSON Schema subset), or None."""
    unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
    assert not unknown, f"the schema uses keywords this test cannot check: {unknown}"
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, name) for name in names):
            return f"{where}: {value!r:.80} is not of type {names}"
    if "enum" in schema and not any(
        type(value) is type(option) and value == option for option in schema["enum"]
    ):
        return f"{where}: {value!r:.80} is not one of {schema['enum']}"
    if "oneOf" in schema:
        passing = [s for s in schema["oneOf"] if schema_problem(value, s, where) is None]
        if len(passing) != 1:
            return f"{where}: {value!r:.80} matches {len(passing)} of oneOf, not exactly 1"
    if schema.get("format") == "date-time" and type(value) is str:
        problem = timestamp_problem(value)
        if problem:
            return f"{where}: {problem}"
    if type(value) is dict:
        missing = [key for key in schema.get("required", ()) if key not in value]
        if missing:
            return f"{where}: missing {missing}"
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(properties)
            if extra:
                return f"{where}: unknown keys {sorted(extra)}"
        for key, subschema in properties.items():
            if key in value:
                problem = schema_problem(value[key], subschema, f"{where}.{key}")
                if problem:
                    return problem
    return None


def timestamp_problem(text: str) -> str | None:
    """None if ``text`` is the documented form: ISO-8601 UTC, exactly 32 characters."""
    if len(text) != 32 or not _TIMESTAMP.fullmatch(text):
        return f"{text!r} is not like 2026-11-28T10:10:50.123456+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return f"{text!r} is not a valid date"
    if parsed.isoformat(timespec="microseconds") != text or parsed.utcoffset() != timedelta(0):
        return f"{text!r} is not in UTC"
    return None


def json_problem(value: Any, where: str = "$") -> str | None:
    """None if ``value`` holds only what ``json.loads`` can give (finite numbers, str keys)."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return None
    if kind is float:
        return None if math.isfinite(value) else f"{where}: {value!r}"
    if kind is list:
        for index, item in enumerate(value):
            problem = json_problem(item, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return f"{where}: key {key!r}"
            problem = json_problem(item, f"{where}.{key}")
            if problem:
                return problem
        return None
    return f"{where}: {kind.__name__} is not a JSON type"


def assert_job_form(job: Any) -> None:
    """``job`` validates against job.schema.json and survives ``json.dumps`` unchanged."""
    problem = schema_problem(job, JOB_SCHEMA) or json_problem(job)
    assert problem is None, problem
    assert same(json.loads(json.dumps(job, allow_nan=False)), job)


# -- the oracle: what must be stored, what must be refused ----------------------------


class Verdict(enum.Enum):
    OK = "must be stored exactly"
    MAYBE = "may be stored (as its JSON form) or refused with InvalidJob"
    BAD = "must be refused"


OK, MAYBE, BAD = Verdict.OK, Verdict.MAYBE, Verdict.BAD


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    result = OK
    for verdict in verdicts:
        if verdict is BAD:
            return BAD
        if verdict is MAYBE:
            result = MAYBE
    return result


_BASES: tuple[type, ...] = (int, float, str, list, tuple, dict)


def _base_of(value: Any) -> type | None:
    return next((base for base in _BASES if isinstance(value, base)), None)


def json_text_verdict(text: str) -> Verdict:
    """A string inside a JSON field: no NUL, no lone surrogate (README)."""
    return BAD if "\x00" in text or _SURROGATE.search(text) else OK


def verdict_json(value: Any, depth: int = 0) -> Verdict:
    """May ``value`` be stored in a JSON field, ``depth`` containers below the field's top?

    Exact JSON types are judged exactly (README: no NUL in strings, integers of 64
    bits, finite floats, string keys, 100 levels of lists and objects); subclasses
    of them (IntEnum, OrderedDict, a str subclass...) may be stored as their base
    value or refused; anything else (sets, bytes, datetimes, objects) must be refused.
    """
    kind = type(value)
    if value is None or kind is bool:
        return OK
    if kind is int:
        return OK if INT64_MIN <= value <= INT64_MAX else BAD
    if kind is float:
        return OK if math.isfinite(value) else BAD
    if kind is str:
        return json_text_verdict(value)
    if kind in (list, tuple):
        if depth >= MAX_DEPTH:
            return BAD
        return worst(verdict_json(item, depth + 1) for item in value)
    if kind is dict:
        if depth >= MAX_DEPTH:
            return BAD
        return worst(_items_verdicts(value, depth))
    base = _base_of(value)
    if base is None:
        return BAD
    return BAD if verdict_json(base(value), depth) is BAD else MAYBE


def _items_verdicts(value: dict[Any, Any], depth: int) -> Iterator[Verdict]:
    for key, item in value.items():
        if type(key) is str:
            yield json_text_verdict(key)
        elif isinstance(key, str):
            yield BAD if json_text_verdict(str(key)) is BAD else MAYBE
        else:
            yield BAD
        yield verdict_json(item, depth + 1)


def verdict_text(value: Any, *, optional: bool) -> Verdict:
    """A text column (method, description, error...): lone surrogates have no UTF-8 form.

    A NUL in a text column (not JSON) is not covered by the documentation: either way.
    """
    if value is None:
        return OK if optional else BAD
    if not isinstance(value, str):
        return BAD
    if _SURROGATE.search(value):
        return BAD
    return OK if type(value) is str and "\x00" not in value else MAYBE


def verdict_bool(value: Any) -> Verdict:
    return OK if type(value) is bool else BAD


def verdict_list_field(value: Any) -> Verdict:
    """``arguments`` / ``message_ids``: a list or a tuple (read back as a list)."""
    if type(value) in (list, tuple):
        return verdict_json(value, 0)
    if isinstance(value, list | tuple):
        return BAD if verdict_json(list(value), 0) is BAD else MAYBE
    if isinstance(value, set | frozenset | collections.UserList | range):
        return BAD if verdict_json(list(value), 0) is BAD else MAYBE
    return BAD  # None, str, bytes, dict, int, objects


def verdict_credentials(value: Any) -> Verdict:
    """``{"type": str, "data": {...}}`` (API.md), stored as JSON."""
    if value is None:
        return OK
    if isinstance(value, JobCredentials):
        value = {"type": value.type, "data": value.data}
    if not isinstance(value, dict) or set(value) != {"type", "data"}:
        return BAD
    kind, data = value["type"], value["data"]
    if not isinstance(kind, str) or not isinstance(data, dict):
        return BAD
    inner = worst([json_text_verdict(str(kind)), verdict_json(dict(data), 1)])
    if inner is BAD:
        return BAD
    exact = type(value) is dict and type(kind) is str and type(data) is dict
    return inner if exact else MAYBE


def verdict_json_text(value: Any) -> Verdict:
    """An optional string stored inside a JSON field (``progress.description``)."""
    if value is None:
        return OK
    if not isinstance(value, str):
        return BAD
    inner = json_text_verdict(str(value))
    return inner if type(value) is str or inner is BAD else MAYBE


def verdict_exc_info(value: Any) -> Verdict:
    """``exc_info``: None or exactly ``{repr, type, errno, extra}`` (job.schema.json)."""
    if value is None:
        return OK
    if isinstance(value, ExcInfo):
        value = dict(value.__dict__)
    if not isinstance(value, dict) or set(value) != {"repr", "type", "errno", "extra"}:
        return BAD
    verdicts = [OK if type(value) is dict else MAYBE]
    for key in ("repr", "type"):
        text = value[key]
        if text is None:
            continue
        if not isinstance(text, str):
            return BAD
        verdicts.append(json_text_verdict(str(text)))
        if type(text) is not str:
            verdicts.append(MAYBE)
    errno = value["errno"]
    if errno is not None:
        if isinstance(errno, bool) or not isinstance(errno, int):
            return BAD
        verdicts.append(verdict_json(int(errno)))
        if type(errno) is not int:
            verdicts.append(MAYBE)
    verdicts.append(verdict_json(value["extra"], 1))
    return worst(verdicts)


def verdict_percent(value: Any) -> Verdict:
    """``percent``: a number, rounded down to an int that must fit in 64 bits; bool is not one."""
    if value is None:
        return OK
    if isinstance(value, bool):
        return BAD
    if type(value) is int or type(value) is float:
        return OK if math.isfinite(value) and verdict_json(math.floor(value)) is OK else BAD
    if isinstance(value, int | float | Decimal | Fraction):
        finite = not isinstance(value, float | Decimal) or math.isfinite(value)
        return MAYBE if finite and INT64_MIN <= math.floor(value) <= INT64_MAX else BAD
    return BAD


def to_json(value: Any) -> Any:
    """The JSON form a stored value reads back as: tuples as lists, subclasses as their base."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind in (list, tuple):
        return [to_json(item) for item in value]
    if kind is dict:
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, JobCredentials | ExcInfo):
        return to_json(dict(value.__dict__))
    if isinstance(value, set | frozenset | collections.UserList | range):
        return to_json(list(value))
    base = _base_of(value)
    assert base is not None, f"{kind.__name__} has no JSON form"
    if base is int:
        return int(value)
    return to_json(base(value))


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values *and* of the same types (``1 == 1.0 == True`` in Python)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    return bool(a == b)


def assert_same(actual: Any, expected: Any, what: str) -> None:
    assert same(actual, expected), f"{what}: read back {actual!r:.300}, wrote {expected!r:.300}"


def escaped(text: str) -> str:
    """A caught exception's text as README says it is recorded: NUL and lone surrogates escaped."""
    return "".join(
        "\\x00" if ch == "\x00" else f"\\u{ord(ch):04x}" if _SURROGATE.match(ch) else ch
        for ch in text
    )


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

# -- the database, all of it -------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Every row of every table, the schema, and every log file, as bytes."""

    tables: dict[str, list[tuple[Any, ...]]]
    schema: list[tuple[Any, ...]]
    logs: dict[str, bytes]

    @property
    def jobs(self) -> dict[int, tuple[Any, ...]]:
        return {row[0]: row for row in self.tables["jobs"]}


def snapshot(store: JobStore) -> Snapshot:
    conn = store.db.conn
    schema = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()
    schema.append(conn.execute("PRAGMA user_version").fetchone())
    tables = {
        name: conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    folder = Path(store.logs_dir)
    logs = {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}
    return Snapshot(tables, schema, logs)


def highest_id_ever(shot: Snapshot) -> int:
    """The highest id handed out so far (AUTOINCREMENT's memory or the table's max)."""
    seq = [row[1] for row in shot.tables.get("sqlite_sequence", []) if row[0] == "jobs"]
    return max([0, *seq, *shot.jobs])


def check_store(store: JobStore) -> list[dict[str, Any]]:
    """Every job, by get_jobs and by get_job, in the schema's form; returns the jobs."""
    jobs = store.get_jobs([], {"order_by": ["id"]})
    assert isinstance(jobs, list)
    for job in jobs:
        assert_job_form(job)
        assert_same(store.get_job(job["id"]), job, f"get_job({job['id']}) vs get_jobs")
    return jobs


# -- a store with a job in every state --------------------------------------------------

LOG = b"".join(b"line %d\n" % n for n in range(1, 26))
#: README: first and last 10 lines with "... N more lines ..." between.
LOG_EXCERPT = "\n".join(
    [
        *(f"line {n}" for n in range(1, 11)),
        "... 5 more lines ...",
        *(f"line {n}" for n in range(16, 26)),
    ]
)
ALICE = {"type": "LOGIN_PASSWORD", "data": {"username": "alice"}}
ALICE_CALLER = {"username": "alice", "roles": []}


@dataclass(frozen=True)
class Spec:
    """A job of the world: how it was made."""

    state: str
    abortable: bool = False
    transient: bool = False
    owned: bool = False
    logged: bool = False


SPECS: dict[str, Spec] = {
    "waiting": Spec("WAITING"),
    "waiting_abortable": Spec("WAITING", abortable=True, owned=True),
    "running": Spec("RUNNING", logged=True),
    "running_abortable": Spec("RUNNING", abortable=True, owned=True, logged=True),
    "success": Spec("SUCCESS", logged=True),
    "failed": Spec("FAILED"),
    "aborted": Spec("ABORTED", owned=True),
    "transient_waiting": Spec("WAITING", transient=True),
    "transient_running": Spec("RUNNING", abortable=True, transient=True, logged=True),
}


@dataclass
class World:
    store: JobStore
    ids: dict[str, int]
    gone: int  # an id once handed out, now deleted (a finished transient job)


@contextmanager
def world(folder: Path | None) -> Iterator[World]:
    """A fresh store (a WAL file in ``folder``, or ``:memory:``) holding one job per SPECS."""
    store = JobStore(":memory:" if folder is None else folder / "jobs.db")
    try:
        if folder is not None:
            (mode,) = store.db.conn.execute("PRAGMA journal_mode").fetchone()
            assert mode == "wal"
        ids = {}
        for name, spec in SPECS.items():
            job_id = store.create(
                f"test.{name}",
                [name, {"n": 1}],
                description=name,
                transient=spec.transient,
                abortable=spec.abortable,
                credentials=ALICE if spec.owned else None,
            )
            if spec.logged:
                store.append_log(job_id, LOG)
            if spec.state in ("RUNNING", "SUCCESS", "FAILED"):
                store.start(job_id)
                store.set_progress(job_id, 12.5, "working", {"done": [1, 2]})
            if spec.state == "SUCCESS":
                store.succeed(job_id, {"ok": True})
            elif spec.state == "FAILED":
                store.fail(job_id, "it broke")
            elif spec.state == "ABORTED":
                store.abort(job_id)
            ids[name] = job_id
        gone = store.create("test.gone", transient=True)
        store.abort(gone)
        yield World(store, ids, gone)
    finally:
        store.close()


def folder_for(factory: pytest.TempPathFactory, on_file: bool) -> Path | None:
    return factory.mktemp("store") if on_file else None


# -- targets: a job of the world, an unknown id, or no id at all ----------------------

RAW_IDS: list[Any] = [
    0, -1, INT64_MIN, ID_MAX, ID_MAX + 1, 2**64, 10**100, -(10**100),
    "1", "", 1.0, 1.5, math.nan, True, False, None, [1], (1,), b"1", Decimal(1), Opaque(),
]  # fmt: skip
# Mostly jobs of the world (7 in 10), so that most writes get as far as their values.
targets = st.sampled_from([*sorted(SPECS) * 6, "gone", "next", *(("raw", raw) for raw in RAW_IDS)])


@dataclass(frozen=True)
class Target:
    value: Any  # what is passed as job_id
    spec: Spec | None  # the job's, if it exists
    name: str

    @property
    def kind(self) -> str:
        """'job', 'missing' (an integer no job has) or 'not an id'."""
        if self.spec is not None:
            return "job"
        if type(self.value) is int:
            return "missing"
        return "not an id"


def resolve(w: World, drawn: Any) -> Target:
    if isinstance(drawn, tuple):
        return Target(drawn[1], None, f"raw {drawn[1]!r:.40}")
    if drawn == "gone":
        return Target(w.gone, None, "gone")
    if drawn == "next":
        return Target(highest_id_ever(snapshot(w.store)) + 1, None, "next")
    return Target(w.ids[drawn], SPECS[drawn], drawn)


@dataclass
class Outcome:
    """What a write did: raised, or the target job before and after."""

    error: JobStoreError | None
    before: Snapshot
    after: Snapshot
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    started: str
    ended: str


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def attempt(w: World, target: Target | None, call: Callable[[], Any]) -> Outcome:
    """Run one write; if it raises a JobStoreError, check that nothing changed.

    Any other exception propagates and fails the test.
    """
    store = w.store
    before = snapshot(store)
    old = store.get_job(target.value) if target is not None and target.kind == "job" else None
    started = now()
    error: JobStoreError | None = None
    try:
        call()
    except JobStoreError as exc:
        error = exc
    ended = now()
    after = snapshot(store)
    if error is not None:
        with suppress(InvalidArgument):  # outside of a hypothesis test
            note(f"raised {type(error).__name__}: {error}")
        assert after == before, f"{type(error).__name__} ({error}) but the database changed"
    new = None
    if target is not None and target.kind == "job" and error is None:
        found = store.get_jobs([["id", "=", target.value]])
        assert isinstance(found, list)
        new = found[0] if found else None
    check_store(store)
    return Outcome(error, before, after, old, new, started, ended)


def expect(outcome: Outcome, target: Target, allowed: bool, verdict: Verdict) -> bool:
    """Check the outcome's kind (raised or not, and what); True if the write happened."""
    error = outcome.error
    kind = target.kind
    event(f"{kind}{' (allowed)' if allowed else ''}, {verdict.name}: {type(error).__name__}")
    if kind == "job" and allowed:
        if verdict is OK:
            assert error is None, f"a valid write was refused: {error!r}"
        elif verdict is BAD:
            assert isinstance(error, InvalidJob), f"an invalid value was not refused: {error!r}"
        else:
            assert error is None or isinstance(error, InvalidJob), repr(error)
        return error is None
    assert error is not None, f"a write to a {kind} target ({target.name}) was not refused"
    if verdict is OK:
        if kind == "job":
            assert isinstance(error, IllegalTransition), repr(error)
        elif kind == "missing":
            assert isinstance(error, JobNotFound), repr(error)
    return False


def check_others_unchanged(outcome: Outcome, job_id: int) -> None:
    """Every job but ``job_id`` is exactly as it was, row for row."""
    before = {k: v for k, v in outcome.before.jobs.items() if k != job_id}
    after = {k: v for k, v in outcome.after.jobs.items() if k != job_id}
    assert after == before
    mine = f"{job_id}.log"
    logs_before = {name: data for name, data in outcome.before.logs.items() if name != mine}
    assert {name: data for name, data in outcome.after.logs.items() if name != mine} == logs_before


def check_finished(
    outcome: Outcome, w: World, target: Target, state: str, changes: dict[str, Any]
) -> None:
    """The target finished as ``state``: exactly ``changes`` (and the times) moved; a transient
    job is gone with its log (README: "transient jobs go when they finish")."""
    assert target.spec is not None and outcome.old is not None
    job_id = target.value
    check_others_unchanged(outcome, job_id)
    if target.spec.transient:
        assert outcome.new is None, "a finished transient job was kept"
        assert f"{job_id}.log" not in outcome.after.logs, "a pruned job's log was kept"
        return
    new = outcome.new
    assert new is not None, "the finished job is gone"
    assert new["time_finished"] is not None
    assert outcome.started <= new["time_finished"] <= outcome.ended
    expected = {**outcome.old, **changes, "state": state, "time_finished": new["time_finished"]}
    if outcome.old["logs_path"] is not None:
        expected["logs_excerpt"] = LOG_EXCERPT
    assert_same(new, expected, "finished job")


# -- create ---------------------------------------------------------------------------

CREATE_DEFAULTS: dict[str, Any] = {
    "arguments": (),
    "description": None,
    "transient": False,
    "abortable": False,
    "credentials": None,
    "message_ids": (),
}
list_fields = st.one_of(
    st.lists(ok_json, max_size=6),
    st.lists(ok_json, max_size=6).map(tuple),
    st.lists(json_values, max_size=4),
    st.lists(json_values, max_size=4).map(tuple),
    st.lists(any_values, max_size=3),
    st.lists(ok_json, max_size=3).map(lambda v: Items(v)),
    st.lists(ok_json, max_size=3).map(lambda v: collections.UserList(v)),
    st.sets(st.integers(0, 9), max_size=3),
    st.sampled_from(["abc", b"abc", None, 5, {"a": 1}, Opaque()]),
)
credentials_values = st.one_of(
    st.none(),
    st.builds(
        lambda t, d: {"type": t, "data": d}, any_text, st.dictionaries(any_text, json_values)
    ),
    st.builds(lambda d: {"type": "LOGIN", "data": d}, st.dictionaries(clean_text, any_values)),
    st.builds(
        lambda d: JobCredentials(type="API_KEY", data=d), st.dictionaries(clean_text, ok_json)
    ),
    st.builds(
        lambda d: collections.OrderedDict(type="T", data=d), st.dictionaries(clean_text, ok_json)
    ),
    st.sampled_from([
        {}, {"type": "t"}, {"data": {}}, {"type": "t", "data": {}, "more": 1},
        {"type": 1, "data": {}},
        {"type": "t", "data": []}, {"type": "t", "data": None}, {"type": "t", "data": {1: 2}},
        {"type": Text("t"), "data": {}}, "LOGIN", ["t", {}], Opaque(),
    ]),
)  # fmt: skip
clean_create_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "arguments": st.one_of(st.lists(ok_json, max_size=6), st.lists(ok_json).map(tuple)),
        "description": st.one_of(st.none(), clean_text),
        "transient": st.booleans(),
        "abortable": st.booleans(),
        "credentials": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"type": clean_text, "data": st.dictionaries(clean_text, ok_json)}
            ),
        ),
        "message_ids": st.one_of(st.lists(ok_json, max_size=6), st.lists(ok_json).map(tuple)),
    },
)
any_create_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "arguments": list_fields,
        "description": st.one_of(st.none(), clean_text, any_text, st.just(Text("d")), wrong_types),
        "transient": st.one_of(st.booleans(), st.booleans(), wrong_types, st.sampled_from([0, 1])),
        "abortable": st.one_of(st.booleans(), st.booleans(), wrong_types, st.sampled_from([0, 1])),
        "credentials": credentials_values,
        "message_ids": list_fields,
    },
)
create_kwargs = st.one_of(clean_create_kwargs, any_create_kwargs)
methods = st.one_of(clean_text, clean_text, any_text, st.just(Text("pool.scrub")), wrong_types)


def create_verdict(method: Any, kwargs: dict[str, Any]) -> Verdict:
    given = {**CREATE_DEFAULTS, **kwargs}
    return worst([
        verdict_text(method, optional=False),
        verdict_list_field(given["arguments"]),
        verdict_text(given["description"], optional=True),
        verdict_bool(given["transient"]),
        verdict_bool(given["abortable"]),
        verdict_credentials(given["credentials"]),
        verdict_list_field(given["message_ids"]),
    ])  # fmt: skip


def check_created(
    w: World, outcome: Outcome, job_id: Any, method: Any, kwargs: dict[str, Any]
) -> None:
    given = {**CREATE_DEFAULTS, **kwargs}
    assert type(job_id) is int
    assert job_id > highest_id_ever(outcome.before), "an id was handed out twice"
    assert outcome.after.jobs.keys() - outcome.before.jobs.keys() == {job_id}
    check_others_unchanged(outcome, job_id)
    expected = {
        "id": job_id,
        "message_ids": to_json(list(given["message_ids"])),
        "method": to_json(method),
        "arguments": to_json(list(given["arguments"])),
        "transient": given["transient"],
        "description": to_json(given["description"]),
        "abortable": given["abortable"],
        "logs_path": None,
        "logs_excerpt": None,
        "progress": {"percent": None, "description": None, "extra": None},
        "result": None,
        "result_encoding_error": None,
        "error": None,
        "exception": None,
        "exc_info": None,
        "state": "WAITING",
        "time_started": None,
        "time_finished": None,
        "credentials": to_json(given["credentials"]),
    }
    assert_same(w.store.get_job(job_id), expected, "created job")


@FAST
# README's documented refusals, each at least once (and the plain cases beside them).
@example(
    method="pool.scrub",
    kwargs={"arguments": ("tank", (1, 2), None, 1.5, "x"), "message_ids": [1.5, -0.0, 2**63 - 1]},
)
@example(method="m\ud800", kwargs={})
@example(method="m", kwargs={"description": "\udcff"})
@example(method="m", kwargs={"arguments": ["a\x00b"]})
@example(method="m", kwargs={"message_ids": [2**64]})
@example(method="m", kwargs={"arguments": [math.nan]})
@example(method="m", kwargs={"arguments": [{1: "non-string key"}]})
@example(method="m", kwargs={"credentials": {"type": "T", "data": {"x": math.inf}}})
@example(method="m", kwargs={"credentials": {"type": "T", "data": {"username": "alice"}}})
@example(method="m", kwargs={"transient": 1})
@given(method=methods, kwargs=create_kwargs)
def test_create_stores_exactly_what_it_is_given_or_refuses(
    method: Any, kwargs: dict[str, Any]
) -> None:
    """A new WAITING job with exactly the given fields and a never-used id, or InvalidJob."""
    verdict = create_verdict(method, kwargs)
    event(f"verdict {verdict.name}")
    with world(None) as w:
        returned: list[Any] = []
        outcome = attempt(w, None, lambda: returned.append(w.store.create(method, **kwargs)))
        if verdict is OK:
            assert outcome.error is None, f"a valid job was refused: {outcome.error!r}"
        elif verdict is BAD:
            assert isinstance(outcome.error, InvalidJob), f"not refused: {returned}"
        else:
            assert outcome.error is None or isinstance(outcome.error, InvalidJob)
        if outcome.error is None:
            check_created(w, outcome, returned[0], method, kwargs)


@SLOW
@example(value=nested(MAX_DEPTH - 1, ["list"]), where="arguments", on_file=False)
@example(value=nested(MAX_DEPTH, ["tuple"]), where="arguments", on_file=False)
@example(value=nested(MAX_DEPTH - 2, ["dict"]), where="credentials", on_file=False)
@example(value=nested(MAX_DEPTH - 1, ["dict"]), where="credentials", on_file=False)
@example(value=nested(MAX_DEPTH, ["list", "dict"]), where="result", on_file=False)
@example(value=nested(MAX_DEPTH + 1, ["list"]), where="result", on_file=False)
@example(value=nested(MAX_DEPTH - 1, ["list"]), where="exc_info", on_file=False)
@example(value=nested(MAX_DEPTH, ["list"]), where="exc_info", on_file=False)
@given(
    value=deep_values,
    where=st.sampled_from(["arguments", "message_ids", "credentials", "result", "exc_info"]),
    on_file=st.booleans(),
)
def test_values_around_the_depth_limit(
    tmp_path_factory: pytest.TempPathFactory, value: Any, where: str, on_file: bool
) -> None:
    """README: lists and objects nest at most 100 levels *in stored values*; deeper is refused.

    The stored value is the field: ``arguments``/``message_ids`` are a level themselves, and
    ``credentials.data`` and ``exc_info.extra`` sit one level inside their field.
    """
    with world(folder_for(tmp_path_factory, on_file)) as w:
        store = w.store
        if where in ("arguments", "message_ids", "credentials"):
            kwargs = {
                "arguments": {"arguments": [value]},
                "message_ids": {"message_ids": [value]},
                "credentials": {"credentials": {"type": "T", "data": {"deep": value}}},
            }[where]
            verdict = create_verdict("m", kwargs)
            returned: list[int] = []
            outcome = attempt(w, None, lambda: returned.append(store.create("m", **kwargs)))
            assert (outcome.error is None) == (verdict is OK), repr(outcome.error)
            if verdict is not OK:
                assert isinstance(outcome.error, InvalidJob)
            else:
                check_created(w, outcome, returned[0], "m", kwargs)
            return
        target = resolve(w, "running")
        if where == "result":
            outcome = attempt(w, target, lambda: store.succeed(target.value, value))
            assert outcome.error is None, repr(outcome.error)
            assert outcome.old is not None and outcome.new is not None
            changes = {"progress": {**outcome.old["progress"], "percent": 100}}
            if verdict_json(value) is OK:
                changes.update(result=to_json(value), result_encoding_error=None)
            else:
                reason = outcome.new["result_encoding_error"]
                assert type(reason) is str and reason, f"no reason recorded: {reason!r}"
                changes.update(result=None, result_encoding_error=reason)
            check_finished(outcome, w, target, "SUCCESS", changes)
            return
        info = {"repr": "r", "type": "T", "errno": None, "extra": value}
        verdict = verdict_exc_info(info)
        outcome = attempt(w, target, lambda: store.fail(target.value, "deep", None, info))
        if expect(outcome, target, True, verdict):
            changes = {"error": "deep", "exception": None, "exc_info": to_json(info)}
            check_finished(outcome, w, target, "FAILED", changes)


# -- start and abort ------------------------------------------------------------------

abort_callers = st.sampled_from([
    None, ALICE_CALLER, {"username": "bob", "roles": []},
    {"username": "root", "roles": ["FULL_ADMIN"]},
    {}, {"username": ""}, {"username": "alice", "roles": "FULL_ADMIN"}, "alice", 5,
])  # fmt: skip


@FAST
@example(drawn="waiting", action="start", caller=None, on_file=True)
@example(drawn="running", action="start", caller=None, on_file=False)
@example(drawn="running", action="abort", caller=None, on_file=False)
@example(drawn="running_abortable", action="abort", caller=ALICE_CALLER, on_file=True)
@example(
    drawn="waiting_abortable",
    action="abort",
    caller={"username": "bob", "roles": []},
    on_file=False,
)
@example(drawn="transient_running", action="abort", caller=None, on_file=False)
@example(drawn="aborted", action="abort", caller=None, on_file=False)
@example(drawn="gone", action="start", caller=None, on_file=False)
@given(
    drawn=targets,
    action=st.sampled_from(["start", "abort"]),
    caller=abort_callers,
    on_file=st.booleans(),
)
def test_start_and_abort_follow_the_transitions(
    tmp_path_factory: pytest.TempPathFactory, drawn: Any, action: str, caller: Any, on_file: bool
) -> None:
    """API.md: WAITING -> RUNNING; a WAITING job, or a RUNNING abortable one, may be aborted."""
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        store = w.store
        if action == "start":
            outcome = attempt(w, target, lambda: store.start(target.value))
        else:
            outcome = attempt(w, target, lambda: store.abort(target.value, caller))
        spec = target.spec
        if action == "start":
            allowed = spec is not None and spec.state == "WAITING"
        else:
            allowed = spec is not None and (
                spec.state == "WAITING" or (spec.state == "RUNNING" and spec.abortable)
            )
        if action == "abort" and caller is not None:
            malformed = (
                not isinstance(caller, dict)
                or caller.get("username") in (None, "")
                or not isinstance(caller.get("roles"), list)
            )
            admin = not malformed and "FULL_ADMIN" in caller["roles"]
            owner = (
                not malformed and spec is not None and spec.owned and caller["username"] == "alice"
            )
            if malformed or not (admin or owner):
                assert outcome.error is not None, "aborted for a caller who may not abort it"
                if spec is not None:  # README: bad credentials are a QueryError, and a job
                    # the caller may not see is reported as missing.
                    error_type = QueryError if malformed else JobNotFound
                    assert isinstance(outcome.error, error_type), repr(outcome.error)
                return
        if not expect(outcome, target, allowed, OK):
            return
        assert outcome.old is not None and spec is not None
        if action == "abort":
            check_finished(outcome, w, target, "ABORTED", {})
            return
        check_others_unchanged(outcome, target.value)
        new = outcome.new
        assert new is not None and new["time_started"] is not None
        assert outcome.started <= new["time_started"] <= outcome.ended
        expected = {**outcome.old, "state": "RUNNING", "time_started": new["time_started"]}
        assert_same(new, expected, "started job")


# -- set_progress ---------------------------------------------------------------------

percents = st.one_of(
    st.none(), st.floats(-1e3, 1e3), st.integers(-(10**6), 10**6), any_int, any_float,
    st.booleans(),
    st.sampled_from([Color.RED, Real(2.5), Decimal("33.3"), Fraction(7, 2), "50", b"5", [50]]),
)  # fmt: skip
progress_descriptions = st.one_of(st.none(), clean_text, any_text, st.just(Text("d")), wrong_types)
progress_extras = st.one_of(st.none(), ok_json, ok_json, json_values, any_values)


@FAST
@example(drawn="running", percent=42.7, description="scanning", extra=None, on_file=False)
@example(drawn="waiting", percent=-0.5, description=None, extra={"a": (1, [2])}, on_file=False)
@example(drawn="running", percent=True, description=None, extra=None, on_file=False)
@example(drawn="running", percent=math.inf, description=None, extra=None, on_file=False)
@example(drawn="running", percent=1e19, description=None, extra=None, on_file=False)
@example(drawn="running", percent=None, description="a\x00b", extra=None, on_file=False)
@example(drawn="running", percent=None, description=5, extra=None, on_file=False)
@example(drawn="running", percent=None, description=None, extra=[2**64], on_file=False)
@example(drawn="success", percent=50, description=None, extra=None, on_file=False)
@given(
    drawn=targets,
    percent=percents,
    description=progress_descriptions,
    extra=progress_extras,
    on_file=st.booleans(),
)
def test_set_progress_stores_what_it_is_given_or_refuses(
    tmp_path_factory: pytest.TempPathFactory,
    drawn: Any,
    percent: Any,
    description: Any,
    extra: Any,
    on_file: bool,
) -> None:
    """Only the given parts change; percent is rounded down; only WAITING and RUNNING jobs."""
    verdict = worst(
        [
            verdict_percent(percent),
            verdict_json_text(description),
            OK if extra is None else verdict_json(extra, 1),  # extra is one level inside progress
        ]
    )
    note(f"verdict: {verdict}")
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        outcome = attempt(
            w, target, lambda: w.store.set_progress(target.value, percent, description, extra)
        )
        allowed = target.spec is not None and target.spec.state in UNFINISHED
        if not expect(outcome, target, allowed, verdict):
            return
        assert outcome.old is not None and outcome.new is not None
        check_others_unchanged(outcome, target.value)
        progress = dict(outcome.old["progress"])
        if percent is not None:
            progress["percent"] = math.floor(percent)
        if description is not None:
            progress["description"] = str(description)
        if extra is not None:
            progress["extra"] = to_json(extra)
        assert_same(outcome.new, {**outcome.old, "progress": progress}, "progress")


@SLOW
@example(value=nested(MAX_DEPTH, ["list"]))
@given(value=deep_values)
def test_set_progress_extra_around_the_depth_limit(value: Any) -> None:
    """README: 100 levels in stored values; ``progress.extra`` is stored inside ``progress``."""
    verdict = verdict_json(value, 1)
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.set_progress(target.value, extra=value))
        expect(outcome, target, True, verdict)
        if outcome.new is not None:
            assert_same(outcome.new["progress"]["extra"], to_json(value), "extra")
            # What was stored is a job: importing it into another store must work.
            with JobStore(":memory:") as other:
                other.insert_many([outcome.new])
                assert_same(other.get_job(target.value), outcome.new, "re-imported job")


# -- append_log -------------------------------------------------------------------------

log_data = st.one_of(
    st.binary(max_size=300),
    clean_text,
    st.sampled_from([b"", b"\x00\xff\xfe", b"x" * 100_000, "😀\n", "a\r\nb", "\x00"]),
    st.sampled_from([None, 5, ["a"], bytearray(b"x"), memoryview(b"x"), Opaque()]),
)


def check_appended(w: World, outcome: Outcome, target: Target, data: bytes | str) -> None:
    job_id = target.value
    assert outcome.old is not None and outcome.new is not None
    check_others_unchanged(outcome, job_id)
    path = Path(w.store.logs_dir) / f"{job_id}.log"  # README: <db>.logs/<id>.log
    assert outcome.new["logs_path"] == str(path)
    assert_same(outcome.new, {**outcome.old, "logs_path": str(path)}, "job after append_log")
    written = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    assert path.read_bytes() == outcome.before.logs.get(path.name, b"") + written


@FAST
@example(drawn="running", data="é\n\udcff", on_file=False)
@example(drawn="waiting", data=b"\x00\xff", on_file=True)
@example(drawn="success", data=b"late", on_file=False)
@given(drawn=targets, data=log_data, on_file=st.booleans())
def test_append_log_appends_or_refuses(
    tmp_path_factory: pytest.TempPathFactory, drawn: Any, data: Any, on_file: bool
) -> None:
    """bytes, or str written as UTF-8, appended while the job runs; refused once it finished."""
    verdict = OK if type(data) in (bytes, str) else MAYBE if isinstance(data, bytearray) else BAD
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        outcome = attempt(w, target, lambda: w.store.append_log(target.value, data))
        allowed = target.spec is not None and target.spec.state in UNFINISHED
        if expect(outcome, target, allowed, verdict):
            check_appended(w, outcome, target, bytes(data) if verdict is MAYBE else data)


@FAST
@example(data="\ud800")
@given(data=st.tuples(clean_text, st.integers(0xD800, 0xDFFF).map(chr), clean_text).map("".join))
def test_append_log_text_with_lone_surrogates(data: str) -> None:
    """README: no lone surrogate may break a write; either recorded (escaped) or InvalidJob."""
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.append_log(target.value, data))
        if outcome.error is None:
            assert outcome.new is not None and type(outcome.new["logs_path"]) is str
        else:
            assert isinstance(outcome.error, InvalidJob)


# -- succeed ----------------------------------------------------------------------------


@FAST
@example(drawn="running", result={"a": (1, 2), "b": -0.0}, on_file=False)
@example(drawn="running", result=math.nan, on_file=False)
@example(drawn="running", result={1: 2}, on_file=False)
@example(drawn="running", result=Hostile(), on_file=False)
@example(drawn="running", result=[2**64, "\x00"], on_file=False)
@example(drawn="transient_running", result=1, on_file=True)
@example(drawn="waiting", result=1, on_file=False)
@given(
    drawn=targets,
    result=st.one_of(ok_json, json_values, any_values, foreign, st.sampled_from(SUBCLASSED)),
    on_file=st.booleans(),
)
def test_succeed_stores_the_result_or_why_it_could_not(
    tmp_path_factory: pytest.TempPathFactory, drawn: Any, result: Any, on_file: bool
) -> None:
    """RUNNING -> SUCCESS, percent 100; an unstorable result is None with a string reason."""
    stored = verdict_json(result)
    note(f"result verdict: {stored}")
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        outcome = attempt(w, target, lambda: w.store.succeed(target.value, result))
        allowed = target.spec is not None and target.spec.state == "RUNNING"
        if not expect(outcome, target, allowed, OK):  # any result: the job succeeds
            return
        assert outcome.old is not None
        progress = {**outcome.old["progress"], "percent": 100}
        if target.spec is not None and target.spec.transient:
            check_finished(outcome, w, target, "SUCCESS", {})
            return
        assert outcome.new is not None
        if stored is OK or (stored is MAYBE and outcome.new["result_encoding_error"] is None):
            changes = {"result": to_json(result), "result_encoding_error": None}
        else:
            reason = outcome.new["result_encoding_error"]
            assert type(reason) is str and reason, f"no reason recorded: {reason!r}"
            changes = {"result": None, "result_encoding_error": reason}
        check_finished(outcome, w, target, "SUCCESS", {**changes, "progress": progress})


# -- fail -------------------------------------------------------------------------------

exc_infos = st.one_of(
    st.none(),
    st.fixed_dictionaries({
        "repr": st.one_of(st.none(), clean_text), "type": st.one_of(st.none(), clean_text),
        "errno": st.one_of(st.none(), st.integers(INT64_MIN, INT64_MAX)), "extra": ok_json,
    }),
    st.fixed_dictionaries({
        "repr": st.one_of(st.none(), any_text), "type": st.one_of(st.none(), any_text),
        "errno": st.one_of(st.none(), any_int, st.booleans(), st.just("ENOENT")),
        "extra": st.one_of(json_values, any_values),
    }),
    st.builds(
        lambda e: ExcInfo(repr="r", type="OSError", errno=2, extra=e), ok_json
    ),
    st.sampled_from([
        {}, {"repr": "r"}, {"repr": "r", "type": "T", "errno": 1, "extra": None, "more": 1},
        {"repr": 1, "type": "T", "errno": 1, "extra": None}, "ValueError", ["r", "t", 1, None],
        collections.OrderedDict(repr="r", type="T", errno=1, extra=None),
        {"repr": Text("r"), "type": "T", "errno": Color.RED, "extra": None},
    ]),
)  # fmt: skip


@FAST
@example(drawn="running", error="boom", exception="Traceback", exc_info=None, on_file=False)
@example(drawn="waiting", error="a\ud800", exception=None, exc_info=None, on_file=False)
@example(
    drawn="running",
    error="e",
    exception=None,
    exc_info={"repr": "r", "type": "T", "errno": 2**64, "extra": None},
    on_file=False,
)
@example(
    drawn="running",
    error="e",
    exception=None,
    exc_info={"repr": "r", "type": "T", "errno": 2, "extra": (1, {"k": [2]})},
    on_file=False,
)
@given(
    drawn=targets,
    error=st.one_of(clean_text, any_text, st.just(Text("e")), wrong_types),
    exception=st.one_of(st.none(), clean_text, any_text, wrong_types),
    exc_info=exc_infos,
    on_file=st.booleans(),
)
def test_fail_stores_what_it_is_given_or_refuses(
    tmp_path_factory: pytest.TempPathFactory,
    drawn: Any,
    error: Any,
    exception: Any,
    exc_info: Any,
    on_file: bool,
) -> None:
    """WAITING/RUNNING -> FAILED with exactly the given error, exception and exc_info."""
    verdict = worst(
        [
            verdict_text(error, optional=False),
            verdict_text(exception, optional=True),
            verdict_exc_info(exc_info),
        ]
    )
    note(f"verdict: {verdict}")
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        outcome = attempt(w, target, lambda: w.store.fail(target.value, error, exception, exc_info))
        allowed = target.spec is not None and target.spec.state in UNFINISHED
        if expect(outcome, target, allowed, verdict):
            changes = {
                "error": str(error),
                "exception": None if exception is None else str(exception),
                "exc_info": to_json(exc_info),
            }
            check_finished(outcome, w, target, "FAILED", changes)


# -- fail_with: a caught exception is always recorded -------------------------------------


class Unprintable(Exception):
    """An exception whose ``str`` and ``repr`` raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("Unprintable()")


class BrokenAttributes(Exception):
    """An exception whose ``errno`` and ``extra`` attributes raise when read."""

    @property
    def errno(self) -> int:
        raise RuntimeError("no errno")

    @property
    def extra(self) -> Any:
        raise RuntimeError("no extra")


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


def expected_message(exc: BaseException) -> str:
    """README: the message as text with escapes; its type's name if it has none."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    return escaped(text or type(exc).__name__)


def check_failed_with(
    w: World, outcome: Outcome, target: Target, exc: BaseException, exception: str | None
) -> None:
    """The job failed with the exception's message, traceback and exc_info (README)."""
    if target.spec is not None and target.spec.transient:
        check_finished(outcome, w, target, "FAILED", {})
        return
    new = outcome.new
    assert new is not None and type(new["exc_info"]) is dict, new
    info = new["exc_info"]
    try:
        shown = escaped(repr(exc))
    except Exception:  # a hostile __repr__: some stand-in text (not documented)
        shown = info["repr"]
        assert type(shown) is str and shown, info
    errno = getattr(exc, "errno", None)
    extra = getattr(exc, "extra", None)
    verdict = verdict_json(extra, 1)
    if verdict is OK or (verdict is MAYBE and type(info["extra"]) is not str):
        stored_extra = to_json(extra)
    else:  # no JSON form: recorded as text instead
        stored_extra = info["extra"]
        assert type(stored_extra) is str, info
    expected_info = {
        "repr": shown,
        "type": escaped(type(exc).__name__),
        "errno": errno if type(errno) is int and INT64_MIN <= errno <= INT64_MAX else None,
        "extra": stored_extra,
    }
    if exception is None:
        exception = escaped("".join(traceback.format_exception(exc)))
    changes = {"error": expected_message(exc), "exception": exception, "exc_info": expected_info}
    check_finished(outcome, w, target, "FAILED", changes)


exception_kinds = st.sampled_from(EXCEPTION_KINDS)
type_names = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=20
)
ok_errnos = st.one_of(
    st.integers(INT64_MIN, INT64_MAX), st.sampled_from([None, True, "ENOENT", 2.0, _NO_VALUE])
)


@FAST
@example(
    drawn="running",
    kind="plain",
    message="a\x00b\udcff\ud800😀",
    name="E",
    errno=_NO_VALUE,
    extra=_NO_VALUE,
    explicit=None,
    on_file=False,
)
@example(
    drawn="waiting",
    kind="os",
    message="Connection refused",
    name="E",
    errno=111,
    extra={"host": "nas"},
    explicit=None,
    on_file=True,
)
@example(
    drawn="running",
    kind="unprintable",
    message="",
    name="E",
    errno=_NO_VALUE,
    extra=math.nan,
    explicit=None,
    on_file=False,
)
@example(
    drawn="running",
    kind="wrong_str",
    message="x",
    name="E",
    errno=True,
    extra=_NO_VALUE,
    explicit="given traceback",
    on_file=False,
)
@example(
    drawn="running",
    kind="empty",
    message="",
    name="E",
    errno=_NO_VALUE,
    extra=_NO_VALUE,
    explicit=None,
    on_file=False,
)
@given(
    drawn=targets,
    kind=exception_kinds,
    message=any_text,
    name=type_names,
    errno=ok_errnos,
    extra=st.one_of(st.just(_NO_VALUE), json_values, foreign),
    explicit=st.one_of(st.none(), clean_text),
    on_file=st.booleans(),
)
def test_fail_with_records_any_caught_exception(
    tmp_path_factory: pytest.TempPathFactory,
    drawn: Any,
    kind: str,
    message: str,
    name: str,
    errno: Any,
    extra: Any,
    explicit: str | None,
    on_file: bool,
) -> None:
    """README: fail_with records the text with escapes (NUL, lone surrogates), so the job
    still fails, whatever the exception says or cannot say."""
    exc = make_exception(kind, message, name, errno, extra)
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        store = w.store
        if explicit is None:
            outcome = attempt(w, target, lambda: store.fail_with(target.value, exc))
        else:  # fail(job, exc, exception=...): the explicit traceback text wins
            outcome = attempt(w, target, lambda: store.fail(target.value, exc, explicit))
        allowed = target.spec is not None and target.spec.state in UNFINISHED
        if expect(outcome, target, allowed, OK):
            check_failed_with(w, outcome, target, exc, explicit)


@FAST
@given(drawn=targets, exc=st.sampled_from([None, 5, b"boom", ["boom"], Exception, Opaque()]))
def test_fail_with_refuses_what_is_not_an_exception(drawn: Any, exc: Any) -> None:
    """``fail_with(job_id, exc)`` records exceptions; anything else is an InvalidJob."""
    with world(None) as w:
        target = resolve(w, drawn)
        outcome = attempt(w, target, lambda: w.store.fail_with(target.value, exc))
        assert outcome.error is not None, "fail_with recorded something that is no exception"
        if target.kind == "job" and target.spec is not None and target.spec.state in UNFINISHED:
            assert isinstance(outcome.error, InvalidJob), repr(outcome.error)


def test_fail_with_an_exception_whose_attributes_raise() -> None:
    """Like a hostile __str__ or __repr__ (which are survived), a hostile attribute."""
    exc = BrokenAttributes("boom")
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.fail_with(target.value, exc))
        assert outcome.error is None, repr(outcome.error)
        assert outcome.new is not None and outcome.new["state"] == "FAILED"
        assert outcome.new["error"] == "boom"


@FAST
@example(errno=2**64, kind="os")
@given(errno=st.one_of(st.integers(), st.sampled_from(BIG_INTS)), kind=exception_kinds)
def test_fail_with_any_errno(errno: int, kind: str) -> None:
    """Any ``errno`` attribute: an int that fits is recorded, anything else is None."""
    exc = make_exception(kind, "boom", "Boom", errno)
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.fail_with(target.value, exc))
        assert expect(outcome, target, True, OK)
        check_failed_with(w, outcome, target, exc, None)


@FAST
@example(extra=nested(MAX_DEPTH, ["list"]), kind="plain")
@example(extra=Real(1.5), kind="plain")
@given(extra=st.one_of(deep_values, st.sampled_from(SUBCLASSED)), kind=exception_kinds)
def test_fail_with_any_extra(extra: Any, kind: str) -> None:
    """Any ``extra`` attribute: stored as JSON if it can be, as text otherwise; never refused."""
    exc = make_exception(kind, "boom", "Boom", _NO_VALUE, extra)
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.fail_with(target.value, exc))
        assert expect(outcome, target, True, OK)
        check_failed_with(w, outcome, target, exc, None)


# -- insert_many ----------------------------------------------------------------------

JOB_DEFAULTS: dict[str, Any] = {
    "message_ids": [], "arguments": [], "transient": False, "description": None,
    "abortable": False, "logs_path": None, "logs_excerpt": None,
    "progress": {"percent": None, "description": None, "extra": None}, "result": None,
    "result_encoding_error": None, "error": None, "exception": None, "exc_info": None,
    "state": "WAITING", "time_started": None, "time_finished": None, "credentials": None,
}  # fmt: skip
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_datetimes = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1))
moments = st.one_of(_datetimes, _datetimes.map(lambda moment: moment.replace(microsecond=0)))
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
)


@st.composite
def timestamps(draw: st.DrawFn) -> tuple[Any, str]:
    """(a timestamp insert_many accepts, the stored form README documents)."""
    moment = draw(moments)
    zone = draw(offsets)
    aware = moment.replace(tzinfo=zone)
    stored = aware.astimezone(UTC).isoformat(timespec="microseconds")
    form = draw(st.sampled_from(["stored", "aware", "naive", "iso", "iso_naive", "date_ms"]))
    if form == "stored":
        return stored, stored
    if form == "aware":
        return aware, stored
    if form == "naive":  # taken as UTC
        return moment, moment.replace(tzinfo=UTC).isoformat(timespec="microseconds")
    if form == "iso":
        return aware.isoformat(), stored
    if form == "iso_naive":
        return moment.isoformat(), moment.replace(tzinfo=UTC).isoformat(timespec="microseconds")
    millis = draw(st.integers(-4 * 10**12, 4 * 10**12))  # exact in a float of seconds
    return {"$date": millis}, (EPOCH + timedelta(milliseconds=millis)).isoformat(
        timespec="microseconds"
    )


optional_text = st.one_of(st.none(), clean_text)
ok_text = clean_text  # inside JSON: no NUL, no lone surrogate
good_fields: dict[str, st.SearchStrategy[Any]] = {
    "message_ids": st.lists(ok_json, max_size=3),
    "arguments": st.lists(ok_json, max_size=3),
    "transient": st.booleans(),
    "description": optional_text,
    "abortable": st.booleans(),
    "logs_path": optional_text,
    "logs_excerpt": optional_text,
    "progress": st.fixed_dictionaries({
        "percent": st.one_of(st.none(), st.integers(INT64_MIN, INT64_MAX)),
        "description": st.one_of(st.none(), ok_text), "extra": ok_json,
    }),
    "result": ok_json,
    "result_encoding_error": ok_json,
    "error": optional_text,
    "exception": optional_text,
    "exc_info": st.one_of(st.none(), st.fixed_dictionaries({
        "repr": st.one_of(st.none(), ok_text), "type": st.one_of(st.none(), ok_text),
        "errno": st.one_of(st.none(), st.integers(INT64_MIN, INT64_MAX)), "extra": ok_json,
    })),
    "state": st.sampled_from(STATES),
    "credentials": st.one_of(
        st.none(),
        st.fixed_dictionaries({"type": ok_text, "data": st.dictionaries(ok_text, ok_json)}),
    ),
}  # fmt: skip


@dataclass
class Incoming:
    """One job of a batch: what is given, and (for a good one) how it must read back."""

    given: Any
    expected: dict[str, Any] | None  # None: a bad job
    explicit_id: int | None = None
    why: str = ""


@st.composite
def good_job(draw: st.DrawFn, explicit_id: int | None) -> Incoming:
    given: dict[str, Any] = {"method": draw(clean_text)}
    expected = {**JOB_DEFAULTS, "method": given["method"]}
    for name in draw(st.sets(st.sampled_from(sorted(good_fields)))):
        value = draw(good_fields[name])
        given[name] = value
        expected[name] = to_json(value)
    for name in draw(st.sets(st.sampled_from(["time_started", "time_finished"]))):
        value, stored = draw(st.one_of(st.just((None, None)), timestamps()))
        given[name] = value
        expected[name] = stored
    if explicit_id is not None:
        given["id"] = explicit_id
    if draw(st.booleans()):  # a Job model instead of a dict
        return Incoming(Job.model_validate(given), expected, explicit_id)
    return Incoming(given, expected, explicit_id)


BAD_CHANGES: list[tuple[str, Any]] = [
    # (why, a change that makes a good job bad): pydantic errors...
    ("no method", {"method": None}), ("method not a string", {"method": 5}),
    ("unknown field", {"bogus": 1}), ("arguments not a list", {"arguments": "abc"}),
    ("transient not a bool", {"transient": 1}), ("bad state", {"state": "DONE"}),
    ("float percent", {"progress": {"percent": 1.5, "description": None, "extra": None}}),
    ("partial progress", {"progress": {"percent": 1}}),
    ("description not text", {"description": 5}),
    ("credentials without data", {"credentials": {"type": "t"}}),
    ("exc_info errno bool",
     {"exc_info": {"repr": "r", "type": None, "errno": True, "extra": None}}),
    ("id not an int", {"id": "3"}), ("id a bool", {"id": True}),
    ("not a timestamp", {"time_started": "yesterday"}), ("timestamp int", {"time_finished": 5}),
    ("bad $date", {"time_finished": {"$date": "soon"}}),
    ("month 13", {"time_started": "2026-13-01T00:00:00"}),
    # ...values that cannot be stored...
    ("NaN argument", {"arguments": [math.nan]}), ("int beyond 64 bits", {"result": 2**64}),
    ("NUL in JSON", {"result": "a\x00b"}), ("surrogate in JSON", {"message_ids": ["\ud800"]}),
    ("surrogate in method", {"method": "m\udcff"}), ("surrogate in text", {"error": "\ud83d"}),
    ("object in JSON", {"result_encoding_error": Opaque()}), ("set in JSON", {"arguments": [{1}]}),
    ("non-string key", {"result": {1: 2}}),
    ("too deep", {"result": nested(MAX_DEPTH + 1, ["list"])}),
    ("too deep in progress", {"progress": {"percent": None, "description": None,
                                           "extra": nested(MAX_DEPTH, ["dict"])}}),
    ("inf in credentials", {"credentials": {"type": "t", "data": {"x": math.inf}}}),
    # ...and ids no job can have.
    ("id 0", {"id": 0}), ("negative id", {"id": -5}), ("id beyond 2^63-1", {"id": 2**63}),
]  # fmt: skip
NOT_JOBS: list[Any] = [None, "job", 5, ["method", "m"], Opaque()]


@st.composite
def bad_job(draw: st.DrawFn, earlier_ids: list[int]) -> Incoming:
    """A job that must be refused: a broken good job, a non-job, or a duplicate id."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return Incoming(draw(st.sampled_from(NOT_JOBS)), None, why="not a job")
    if choice == 1 and earlier_ids:
        duplicate = draw(st.sampled_from(earlier_ids))
        return Incoming({"method": "dup", "id": duplicate}, None, why="duplicate id")
    why, change = draw(st.sampled_from(BAD_CHANGES))
    if choice == 2:
        why, change = "hostile key", {"arguments": [draw(st.builds(hostile_key))]}
    base = draw(good_job(None)).given
    given = dict(base.model_dump() if isinstance(base, Job) else base)
    given.update(change)
    if change.get("method", "") is None:
        del given["method"]
    return Incoming(given, None, why=why)


@st.composite
def batches(draw: st.DrawFn, bad: int) -> list[Incoming]:
    """Up to 6 good jobs (some with their own ids) with ``bad`` bad ones at random places,
    sometimes after plain jobs that push them across insert_many's chunks of 50."""
    padding = draw(st.sampled_from([0, 0, 0, 47, 50, 98]))
    pad = {**JOB_DEFAULTS, "method": "pad"}
    batch: list[Incoming] = [Incoming({"method": "pad"}, pad) for _ in range(padding)]
    size = padding + draw(st.integers(max(bad, 1), 6 + bad))
    bad_at = set(
        draw(st.lists(st.integers(padding, size - 1), min_size=bad, max_size=bad, unique=True))
    )
    for index in range(padding, size):
        earlier = [job.explicit_id for job in batch if job.expected is not None and job.explicit_id]
        if index in bad_at:
            batch.append(draw(bad_job(earlier)))
        else:
            explicit = 1000 + index if draw(st.booleans()) else None
            batch.append(draw(good_job(explicit)))
    return batch


def insert(w: World, batch: list[Incoming]) -> tuple[Outcome, list[Any]]:
    returned: list[Any] = []
    outcome = attempt(w, None, lambda: returned.extend(w.store.insert_many(j.given for j in batch)))
    return outcome, returned


def check_inserted(w: World, outcome: Outcome, batch: list[Incoming], ids: list[Any]) -> None:
    assert outcome.error is None, f"a good batch was refused: {outcome.error!r}"
    assert len(ids) == len(batch) and len(set(ids)) == len(ids)
    last = highest_id_ever(outcome.before)
    for job_id, job in zip(ids, batch, strict=True):
        assert job.expected is not None and type(job_id) is int
        if job.explicit_id is not None:
            assert job_id == job.explicit_id, "insert_many did not keep the job's id"
        else:
            assert job_id > last, "insert_many handed out an id that was used before"
        assert_same(w.store.get_job(job_id), {"id": job_id, **job.expected}, f"job {job_id}")
    assert outcome.after.jobs.keys() == outcome.before.jobs.keys() | set(ids)
    assert {k: outcome.after.jobs[k] for k in outcome.before.jobs} == outcome.before.jobs


def first_bad_index(error: JobStoreError | None, batch: list[Incoming]) -> tuple[int, int]:
    """(the index the error names, the index of the first bad job)."""
    assert isinstance(error, InvalidJob), f"a bad batch was not refused with InvalidJob: {error!r}"
    found = _JOB_INDEX.match(str(error))
    assert found, f"the error does not start with 'job #<index>': {error}"
    first = next(i for i, job in enumerate(batch) if job.expected is None)
    return int(found.group(1)), first


@FAST
@example(
    batch=[
        Incoming(
            {"method": "update.download", "state": "SUCCESS", "arguments": [(1, 2)],
             "time_started": datetime(2026, 11, 28, 10, 10, 50),
             "time_finished": {"$date": 1_700_000_000_000}},
            {**JOB_DEFAULTS, "method": "update.download", "state": "SUCCESS",
             "arguments": [[1, 2]], "time_started": "2026-11-28T10:10:50.000000+00:00",
             "time_finished": "2023-11-14T22:13:20.000000+00:00"},
        ),
        Incoming(
            {"method": "m", "id": 4000, "time_started": "2026-11-28T12:10:50.5+02:00"},
            {**JOB_DEFAULTS, "method": "m", "time_started": "2026-11-28T10:10:50.500000+00:00"},
            explicit_id=4000,
        ),
    ],
    on_file=False,
)  # fmt: skip
@given(batch=batches(bad=0), on_file=st.booleans())
def test_insert_many_stores_good_jobs_exactly(
    tmp_path_factory: pytest.TempPathFactory, batch: list[Incoming], on_file: bool
) -> None:
    """Missing fields take a new job's defaults, ids are kept, timestamps normalised."""
    with world(folder_for(tmp_path_factory, on_file)) as w:
        outcome, ids = insert(w, batch)
        check_inserted(w, outcome, batch, ids)


@FAST
@given(batch=batches(bad=1), on_file=st.booleans())
def test_insert_many_refuses_a_batch_with_a_bad_job(
    tmp_path_factory: pytest.TempPathFactory, batch: list[Incoming], on_file: bool
) -> None:
    """All or nothing: InvalidJob starting 'job #<index>' of the bad job, nothing written."""
    note(f"bad job: {[(i, j.why) for i, j in enumerate(batch) if j.expected is None]}")
    with world(folder_for(tmp_path_factory, on_file)) as w:
        outcome, _ = insert(w, batch)
        named, first = first_bad_index(outcome.error, batch)
        assert named == first, f"the error names job #{named}, the bad job is #{first}"


@FAST
@given(drawn=st.sampled_from(sorted(SPECS)), position=st.integers(0, 3))
def test_insert_many_refuses_an_id_already_taken(drawn: str, position: int) -> None:
    """insert_many: an id that is already in the store makes the batch fail, naming its job."""
    with world(None) as w:
        batch = [Incoming({"method": "m"}, {}) for _ in range(3)]
        batch.insert(position, Incoming({"method": "m", "id": w.ids[drawn]}, None, why="taken"))
        outcome, _ = insert(w, batch)
        named, first = first_bad_index(outcome.error, batch)
        assert named == first


@FAST
@example(
    batch=[
        Incoming({"method": "a"}, {}),
        Incoming({"method": "b", "arguments": ["\x00"]}, None, why="NUL in JSON"),
        Incoming({"method": 5}, None, why="method not a string"),
    ]
)
@given(batch=batches(bad=2))
def test_insert_many_names_the_first_of_several_bad_jobs(batch: list[Incoming]) -> None:
    """batch.py: 'Raises InvalidJob naming the first bad job's index and field'."""
    note(f"bad jobs: {[(i, j.why) for i, j in enumerate(batch) if j.expected is None]}")
    with world(None) as w:
        outcome, _ = insert(w, batch)
        named, first = first_bad_index(outcome.error, batch)
        assert named == first, f"the error names job #{named}, the first bad job is #{first}"


def test_insert_many_names_a_taken_id_before_a_later_bad_job() -> None:
    """The first bad job may be bad for its id being taken in the store."""
    with world(None) as w:
        batch = [
            Incoming({"method": "m", "id": w.ids["waiting"]}, None, why="taken"),
            Incoming({"method": 5}, None, why="method not a string"),
        ]
        outcome, _ = insert(w, batch)
        named, first = first_bad_index(outcome.error, batch)
        assert named == first


@given(jobs=st.sampled_from([None, 5, 1.5, Opaque()]))
@settings(max_examples=4, deadline=None)
def test_insert_many_refuses_what_is_not_a_collection_of_jobs(jobs: Any) -> None:
    """Whatever ``jobs`` is, a JobStoreError (InvalidJob) or success, never a TypeError."""
    with world(None) as w:
        outcome = attempt(w, None, lambda: w.store.insert_many(jobs))
        assert isinstance(outcome.error, InvalidJob)


def test_the_highest_id_once_taken_refuses_new_jobs() -> None:
    """README: once 2^63 - 1 is taken, create raises JobStoreError, insert_many refuses
    jobs without an id; nothing changes."""
    with world(None) as w:
        assert w.store.insert_many([{"method": "last", "id": ID_MAX}]) == [ID_MAX]
        outcome = attempt(w, None, lambda: w.store.create("m"))
        assert outcome.error is not None, "create handed out an id beyond 2^63 - 1"
        batch = [Incoming({"method": "m", "id": 5000}, {}), Incoming({"method": "m"}, None)]
        outcome, _ = insert(w, batch)
        assert first_bad_index(outcome.error, batch) == (1, 1)


def test_schema_copy_is_the_spec() -> None:
    """The copy of job.schema.json used when the spec folder is absent is the spec."""
    if not _SPEC.exists():
        pytest.skip("the spec folder is not beside this checkout")
    assert _structure(json.loads(_SPEC.read_text())) == _SCHEMA_COPY


# -- a stateful model of the lifecycle and of retention ---------------------------------


@dataclass
class ModelJob:
    state: str
    abortable: bool
    transient: bool
    percent: int | None = None
    finished: tuple[str, int] | None = None  # (time_finished, id): retention's order


ACTIONS = ["start", "succeed", "fail", "fail_with", "abort", "set_progress", "append_log"]
NEXT_STATE: dict[str, Callable[[ModelJob], str | None]] = {
    "start": lambda j: "RUNNING" if j.state == "WAITING" else None,
    "succeed": lambda j: "SUCCESS" if j.state == "RUNNING" else None,
    "fail": lambda j: "FAILED" if j.state in UNFINISHED else None,
    "fail_with": lambda j: "FAILED" if j.state in UNFINISHED else None,
    "abort": lambda j: (
        "ABORTED" if j.state == "WAITING" or (j.state == "RUNNING" and j.abortable) else None
    ),
    "set_progress": lambda j: j.state if j.state in UNFINISHED else None,
    "append_log": lambda j: j.state if j.state in UNFINISHED else None,
}


class LifecycleMachine(RuleBasedStateMachine):
    """Random lifecycle calls on existing and unknown ids, against a model (API.md, README)."""

    folder: ClassVar[Path]
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(dir=self.folder))
        self.store: JobStore | None = None
        self.path: Path | None = None
        self.max_finished = 3
        self.model: dict[int, ModelJob] = {}
        self.issued: list[int] = []

    @property
    def db(self) -> JobStore:
        assert self.store is not None
        return self.store

    @initialize(max_finished=st.integers(0, 3), on_file=st.booleans())
    def open_store(self, max_finished: int, on_file: bool) -> None:
        self.max_finished = max_finished
        self.path = self.dir / "jobs.db" if on_file else None
        self.store = JobStore(self.path or ":memory:", max_finished=max_finished)

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _issue(self, job_id: int) -> None:
        assert job_id > max(self.issued, default=0), f"id {job_id} was handed out before"
        self.issued.append(job_id)

    @rule(target=jobs, transient=st.booleans(), abortable=st.booleans())
    def create(self, transient: bool, abortable: bool) -> int:
        return self._create(transient, abortable)

    def _create(self, transient: bool, abortable: bool) -> int:
        job_id = self.db.create("model.job", transient=transient, abortable=abortable)
        self._issue(job_id)
        self.model[job_id] = ModelJob("WAITING", abortable, transient)
        return job_id

    @rule(
        target=jobs,
        states=st.lists(st.sampled_from(["WAITING", "RUNNING"]), min_size=1, max_size=3),
        transient=st.booleans(),
    )
    def import_jobs(self, states: list[str], transient: bool) -> Any:
        batch = [{"method": "model.imported", "state": s, "transient": transient} for s in states]
        ids = self.db.insert_many(batch)
        for job_id, state in zip(ids, states, strict=True):
            self._issue(job_id)
            self.model[job_id] = ModelJob(state, False, transient)
        return multiple(*ids)

    @precondition(lambda self: self.path is not None)
    @rule()
    def reopen(self) -> None:
        """Ids are never reused, also after the newest jobs were pruned and the file reopened."""
        self.db.close()
        self.store = JobStore(self.path or ":memory:", max_finished=self.max_finished)

    @rule(
        target=jobs,
        transient=st.booleans(),
        abortable=st.booleans(),
        moves=st.lists(st.sampled_from(["start", "succeed", "fail", "abort"]), max_size=3),
    )
    def run(self, transient: bool, abortable: bool, moves: list[str]) -> int:
        """A new job taken through a few moves at once (so that retention has work)."""
        job_id = self._create(transient, abortable)
        for action in moves:
            self._call(job_id, action, 50.0)
        return job_id

    @rule(job_id=jobs, action=st.sampled_from(ACTIONS), percent=st.floats(0, 100))
    def act(self, job_id: int, action: str, percent: float) -> None:
        """Any call on a job handed out before (maybe finished, maybe pruned since)."""
        self._call(job_id, action, percent)

    @rule(job_id=jobs, action=st.sampled_from(["start", "succeed", "fail", "abort"]))
    def advance(self, job_id: int, action: str) -> None:
        """A move of the lifecycle (so that jobs finish often, and retention has work)."""
        self._call(job_id, action, 50.0)

    @rule(
        job_id=st.one_of(st.integers(10**6, ID_MAX), st.integers(INT64_MIN, 0)),
        action=st.sampled_from(ACTIONS),
    )
    def act_on_unknown(self, job_id: int, action: str) -> None:
        self._call(job_id, action, 50.0)

    def _call(self, job_id: int, action: str, percent: float) -> None:
        store = self.db
        job = self.model.get(job_id)
        expected = None if job is None else NEXT_STATE[action](job)
        before = snapshot(store)
        calls: dict[str, Callable[[], None]] = {
            "start": lambda: store.start(job_id),
            "succeed": lambda: store.succeed(job_id, {"n": job_id}),
            "fail": lambda: store.fail(job_id, "failed"),
            "fail_with": lambda: store.fail_with(job_id, make_exception("os", "boom", "E", 5)),
            "abort": lambda: store.abort(job_id),
            "set_progress": lambda: store.set_progress(job_id, percent, "step"),
            "append_log": lambda: store.append_log(job_id, b"log line\n"),
        }
        try:
            calls[action]()
        except (JobNotFound, IllegalTransition) as exc:
            assert expected is None, f"{action} of job {job_id} refused: {exc!r}"
            assert isinstance(exc, JobNotFound) == (job is None), repr(exc)
            assert snapshot(store) == before, "a refused call changed the database"
            return
        assert job is not None and expected is not None, f"{action} of job {job_id} accepted"
        job.state = expected
        if action == "set_progress":
            job.percent = math.floor(percent)
        elif action == "succeed":
            job.percent = 100
        if expected in FINISHED:
            self._finished(job_id, job)

    def _finished(self, job_id: int, job: ModelJob) -> None:
        """Retention: a transient job goes; the newest max_finished others are kept."""
        if job.transient:
            del self.model[job_id]
            return
        found = self.db.get_jobs([["id", "=", job_id]])
        assert isinstance(found, list)
        job.finished = (found[0]["time_finished"] if found else now(), job_id)
        done = sorted((j.finished, i) for i, j in self.model.items() if j.finished is not None)
        for _, old in done[: max(len(done) - self.max_finished, 0)]:
            del self.model[old]

    @invariant()
    def store_matches_model(self) -> None:
        if self.store is None:
            return
        jobs = check_store(self.store)
        assert [j["id"] for j in jobs] == sorted(self.model), "jobs kept differ from the model"
        for j in jobs:
            model = self.model[j["id"]]
            assert j["state"] == model.state, j
            assert j["progress"]["percent"] == model.percent, j
            assert (j["time_finished"] is None) == (j["state"] not in FINISHED)
        finished = [j for j in jobs if j["state"] in FINISHED]
        assert not [j for j in finished if j["transient"]], "a finished transient job was kept"
        assert len(finished) <= self.max_finished
        logs = Path(self.store.logs_dir)
        for job_id in set(self.issued) - set(self.model):
            assert not (logs / f"{job_id}.log").exists(), f"job {job_id} is gone, its log is not"


def test_lifecycle_state_machine(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Random lifecycles (max_finished 0-3, transient jobs, reopened files) match the model."""

    class Machine(LifecycleMachine):
        folder = tmp_path_factory.mktemp("lifecycle")

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=60,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
