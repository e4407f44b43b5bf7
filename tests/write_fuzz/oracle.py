"""The oracle: what the documentation says the write API must store and must refuse.

What must be stored and what must be refused is decided here by an oracle written
from the documentation (``Verdict``), not by calling the library's own checks: the
documented limits, a copy of job.schema.json (``assert_job_form``), a verdict per kind
of field, and ``to_json``, the form a stored value reads back as. ``same`` and
``assert_same`` compare what is read back with its types (``1 == 1.0 == True`` in Python).
"""

from __future__ import annotations

import collections
import enum
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from jobstore.models import ExcInfo, JobCredentials

# -- the documented limits -------------------------------------------------------

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
ID_MAX = 2**63 - 1  # "Ids run from 1 to 2^63 - 1"
MAX_DEPTH = 100  # "Lists and objects nest at most 100 levels"
STATES = ("WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED")
FINISHED = frozenset({"SUCCESS", "FAILED", "ABORTED"})
UNFINISHED = frozenset({"WAITING", "RUNNING"})
_SURROGATE = re.compile("[\ud800-\udfff]")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", re.ASCII)

# -- job.schema.json ---------------------------------------------------------------

# The spec lives beside the repository (/work/shared/spec); a clean clone of the
# repository has only this copy, which test_schema_copy_is_the_spec keeps honest.
_SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "job.schema.json"
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
