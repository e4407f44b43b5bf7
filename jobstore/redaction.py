"""Secret redaction of job values: the default key-name rule plus per-method declarations.

A value is redacted by replacing it whole with :data:`REDACTED`. Two sources
say what is secret, and both always apply together:

- the default rule (QUERY.md §6): the value of every key whose name,
  lowercased, is or ends with ``password``, ``passphrase``, ``secret``,
  ``token``, ``private_key`` or ``api_key``, at any depth;
- a :class:`SecretsRegistry`, where a method declares the types of its result
  and positional arguments (fields typed ``SecretStr``, ``SecretBytes`` or
  ``Secret[...]``, at any depth, are secret) and/or explicit secret paths.

Functions never mutate their input. To stay cheap on large answers they copy
only the containers on the way to a change: unchanged sub-values of the output
are the input's own objects, so treat both as read-only.

>>> redact_result("user.create", {"name": "bob", "admin_password": None}, None)
{'name': 'bob', 'admin_password': '********'}
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, RootModel, Secret, SecretBytes, SecretStr
from pydantic.fields import FieldInfo

from .errors import JobStoreError
from .query.paths import split_path

__all__ = [
    "MAX_DEPTH",
    "REDACTED",
    "SECRET_KEY_SUFFIXES",
    "RedactionError",
    "SecretsRegistry",
    "is_secret_key",
    "redact_arguments",
    "redact_result",
]

#: What every redacted value reads.
REDACTED = "********"

#: A key is secret when its lowercased name ends with one of these (QUERY.md §6).
SECRET_KEY_SUFFIXES: tuple[str, ...] = (
    "password",
    "passphrase",
    "secret",
    "token",
    "private_key",
    "api_key",
)

#: Deepest nesting redaction walks. orjson, which writes the stored JSON, refuses
#: more than 254 levels, so no stored value is deeper; a deeper value is hostile
#: or broken, and failing on it here keeps us clear of Python's recursion limit.
MAX_DEPTH = 256

_SECRET_TYPES = (SecretStr, SecretBytes, Secret)
# Exact types (no subclasses): values that hold nothing and need no walk.
_SCALARS = frozenset({str, int, float, bool, type(None)})


class RedactionError(JobStoreError, ValueError):
    """A value could not be redacted (does not fit its declared type, too deep, not JSON).

    Messages never quote the value: the value may be the secret.
    """


def is_secret_key(key: object) -> bool:
    """True if the default rule makes the value under ``key`` secret.

    >>> is_secret_key("Client_Secret"), is_secret_key("tokens_used")
    (True, False)
    """
    return isinstance(key, str) and key.lower().endswith(SECRET_KEY_SUFFIXES)


# --- Shapes: what a declared type says about where secrets are -----------------------
#
# A shape is a frozenset of nodes; a union type is the union of its members' nodes.
# An empty set means "nothing declared here" (only the default rule applies).


class _Node:
    __slots__ = ()


@dataclasses.dataclass(frozen=True, slots=True)
class _Leaf(_Node):
    """``secret``: the whole value is secret; otherwise a scalar type (no secrets)."""

    secret: bool


_SECRET = _Leaf(True)
_PLAIN = _Leaf(False)


@dataclasses.dataclass(frozen=True, slots=True)
class _Items(_Node):
    """A list (or tuple, set) whose every element has the shape ``item``."""

    item: frozenset[_Node]


@dataclasses.dataclass(frozen=True, slots=True)
class _Values(_Node):
    """An object whose every value has the shape ``value`` (``dict[str, X]``)."""

    value: frozenset[_Node]


# eq=False: one instance per class (memoised), compared by identity, so a
# self-referencing model is a cycle of references and not an infinite shape.
@dataclasses.dataclass(frozen=True, eq=False, slots=True)
class _Fields(_Node):
    """An object with named fields (a pydantic model, dataclass or TypedDict)."""

    name: str
    fields: dict[str, frozenset[_Node]]


@dataclasses.dataclass(frozen=True, slots=True)
class _Path(_Node):
    """An explicit secret path; lenient: a value it does not fit is left alone."""

    segments: tuple[str, ...]


_EMPTY: frozenset[_Node] = frozenset()
_SEQUENCE_ORIGINS = (
    list,
    tuple,
    set,
    frozenset,
    abc.Sequence,
    abc.MutableSequence,
    abc.Set,
    abc.MutableSet,
    abc.Iterable,
    abc.Collection,
)
_MAPPING_ORIGINS = (dict, abc.Mapping, abc.MutableMapping)
#: Qualifiers that say something about a field, not its type: the type is inside.
_QUALIFIER_NAMES = frozenset({"Required", "NotRequired", "ReadOnly", "ClassVar", "Final"})


def _unqualified(tp: Any) -> Any:
    """``tp`` without ``NotRequired[...]``-like qualifiers, ``NewType``s and type aliases.

    By name and attribute, so that typing's and typing_extensions' versions
    of each (TypedDict qualifiers, ``TypeAliasType``) are all recognised.
    """
    while True:
        origin = get_origin(tp)
        if origin is not None and getattr(origin, "_name", None) in _QUALIFIER_NAMES:
            tp = get_args(tp)[0]
        elif isinstance(tp, typing.NewType):
            tp = tp.__supertype__
        elif type(tp).__name__ == "TypeAliasType" and hasattr(tp, "__value__"):
            tp = tp.__value__
        else:
            return tp


def _is_typeddict(tp: Any) -> bool:
    """A TypedDict class from typing or typing_extensions (typing's check knows only its own)."""
    return (
        isinstance(tp, type)
        and issubclass(tp, dict)
        and hasattr(tp, "__required_keys__")
        and hasattr(tp, "__optional_keys__")
    )


class _ShapeBuilder:
    def __init__(self) -> None:
        self._records: dict[type, _Fields] = {}

    def shape(self, tp: Any) -> frozenset[_Node]:
        tp = _unqualified(tp)
        if tp is None or tp is type(None):
            # Declares nothing, and must not make a union lenient: null always fits.
            return _EMPTY
        if tp is Any:
            return frozenset({_PLAIN})
        origin = get_origin(tp)
        args = get_args(tp)
        if origin is Annotated:
            return self.shape(args[0])
        if origin is Union or origin is types.UnionType:
            return frozenset().union(*(self.shape(arg) for arg in args))
        if _is_secret_type(tp) or _is_secret_type(origin):
            return frozenset({_SECRET})
        if isinstance(tp, type) and issubclass(tp, RootModel):
            # Its data is the root value itself, not an object with a "root" key.
            return self.shape(tp.model_fields["root"].annotation)
        if isinstance(tp, type) and (
            issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp) or _is_typeddict(tp)
        ):
            return frozenset({self._record(tp)})
        if origin in _SEQUENCE_ORIGINS:
            item = frozenset().union(*(self.shape(arg) for arg in args if arg is not ...))
            # A container of plain values is plain: only be strict where secrets are.
            return frozenset({_Items(item)}) if item - {_PLAIN} else frozenset({_PLAIN})
        if origin in _MAPPING_ORIGINS and len(args) == 2:
            value = self.shape(args[1])
            return frozenset({_Values(value)}) if value - {_PLAIN} else frozenset({_PLAIN})
        # str, int, Literal, enums, bare list/dict, unknown types: nothing declared.
        return frozenset({_PLAIN})

    def _record(self, cls: type) -> _Fields:
        node = self._records.get(cls)
        if node is not None:
            return node
        node = self._records[cls] = _Fields(cls.__qualname__, {})
        for keys, annotation in _record_fields(cls):
            shape = self.shape(annotation)
            for key in keys:
                node.fields[key] = node.fields.get(key, _EMPTY) | shape
        return node


def _is_secret_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, _SECRET_TYPES)


def _record_fields(cls: type) -> Iterable[tuple[set[str], Any]]:
    """(JSON keys, annotation) of each field; every alias counts, since data may use either."""
    if issubclass(cls, BaseModel):
        cls.model_rebuild(raise_errors=True)
        for name, info in cls.model_fields.items():
            yield _model_keys(name, info), info.annotation
    else:
        hints = typing.get_type_hints(cls, include_extras=True)
        if dataclasses.is_dataclass(cls):
            hints = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
        for name in hints:
            yield {name}, hints[name]


def _model_keys(name: str, info: FieldInfo) -> set[str]:
    keys = {name}
    for alias in (info.alias, info.serialization_alias, info.validation_alias):
        if isinstance(alias, str):
            keys.add(alias)
        else:
            choices = getattr(alias, "choices", ())  # AliasChoices
            keys.update(choice for choice in choices if isinstance(choice, str))
    return keys


def _split_path(path: object) -> tuple[str, ...]:
    r"""Split like query paths (QUERY.md §2): ``.`` separates, ``\.`` is a literal dot."""
    if not isinstance(path, str):
        raise TypeError(f"a secret path must be a string, not {type(path).__name__}")
    return split_path(path)


def _path_shape(segments: tuple[str, ...]) -> frozenset[_Node]:
    return frozenset({_Path(segments) if segments else _SECRET})


# --- The registry ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Declaration:
    result: frozenset[_Node]
    arguments: tuple[frozenset[_Node], ...]
    argument_paths: tuple[tuple[str, ...], ...]


class SecretsRegistry:
    """Per-method declarations of secrets in job results and arguments (one per store).

    >>> from pydantic import BaseModel, SecretStr
    >>> class Login(BaseModel):
    ...     user: str
    ...     pin: SecretStr
    >>> registry = SecretsRegistry()
    >>> registry.register("vault.login", arguments=[Login])
    >>> redact_arguments("vault.login", [{"user": "bob", "pin": "1234"}], registry)
    [{'user': 'bob', 'pin': '********'}]
    """

    def __init__(self) -> None:
        self._builder = _ShapeBuilder()
        self._methods: dict[str, _Declaration] = {}

    def register(
        self,
        method: str,
        *,
        result: Any = None,
        arguments: Sequence[Any] | None = None,
        result_paths: Iterable[str] = (),
        argument_paths: Iterable[str] = (),
    ) -> None:
        """Declare the secrets of ``method``'s result and positional arguments.

        ``result`` and each entry of ``arguments`` (the i-th entry types the i-th
        argument) are a pydantic model or any type annotation (``list[Model]``,
        ``SecretStr``, ``Model | None``...) or None for "nothing declared".
        Paths are dotted (``\\.`` for a literal dot, ``*`` for every element or
        key); an argument path starts with the argument's index (``"0.pin"``).
        Registering a method twice is an error: silently replacing a declaration
        could only weaken it.
        """
        if not isinstance(method, str):
            raise TypeError(f"method must be a string, not {type(method).__name__}")
        if method in self._methods:
            raise ValueError(f"secrets of {method!r} are already registered")
        if isinstance(arguments, str | bytes):
            raise TypeError("arguments must be a sequence of types, one per argument")
        # Shapes are built now so that a type we cannot read fails at registration,
        # not in the middle of a query.
        result_shape = self._shape(result)
        result_shape |= frozenset().union(*(_path_shape(_split_path(p)) for p in result_paths))
        self._methods[method] = _Declaration(
            result=result_shape,
            arguments=tuple(self._shape(tp) for tp in arguments or ()),
            argument_paths=tuple(_split_path(p) for p in argument_paths),
        )

    def __contains__(self, method: object) -> bool:
        return method in self._methods

    def _shape(self, tp: Any) -> frozenset[_Node]:
        return _EMPTY if tp is None else self._builder.shape(tp)

    def _declaration(self, method: object) -> _Declaration | None:
        return self._methods.get(method) if isinstance(method, str) else None


# --- Applying shapes ------------------------------------------------------------------


def _child_shape(shape: frozenset[_Node], key: str | int) -> frozenset[_Node]:
    """The shape of the value at ``key`` (a dict key, or a list index as int)."""
    out: set[_Node] = set()
    for node in shape:
        if isinstance(node, _Path):
            head = node.segments[0]
            if (
                head == "*"
                or head == key
                or (isinstance(key, int) and head.isascii() and head.isdigit() and int(head) == key)
            ):
                out |= _path_shape(node.segments[1:])
        elif isinstance(key, int):
            if isinstance(node, _Items):
                out |= node.item
        elif isinstance(node, _Fields):
            out |= node.fields.get(key, _EMPTY)
        elif isinstance(node, _Values):
            out |= node.value
    return frozenset(out)


def _check_fits(shape: frozenset[_Node], kinds: tuple[type[_Node], ...], value: Any) -> None:
    """Raise unless some declared node accepts a value of this kind.

    A declared secret may sit where the data does not match the declaration;
    guessing would risk a leak, so the mismatch fails instead.
    """
    for node in shape:
        if node is _PLAIN or isinstance(node, (_Path, *kinds)):
            return
    found = type(value).__name__
    expected = sorted(type(node).__name__.strip("_") for node in shape)
    raise RedactionError(f"a {found} where the declared type expects {', '.join(expected)}")


def _walk(value: Any, shape: frozenset[_Node], depth: int) -> Any:
    """Redact ``value``; returns ``value`` itself when nothing in it changes.

    One function (not one per container kind) so that each level costs one
    stack frame.
    """
    if depth > MAX_DEPTH:
        raise RedactionError(f"value nested deeper than {MAX_DEPTH} levels")
    if shape and _SECRET in shape:
        return REDACTED
    if isinstance(value, dict):
        if shape:
            _check_fits(shape, (_Fields, _Values), value)
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            if isinstance(key, str) and key.lower().endswith(SECRET_KEY_SUFFIXES):
                new = REDACTED
            elif not shape and type(item) in _SCALARS:
                continue  # most values are plain scalars: skip the call (jobs come by 100k)
            else:
                new = _walk(item, _child_shape(shape, key) if shape else _EMPTY, depth + 1)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, list | tuple):
        if shape:
            _check_fits(shape, (_Items,), value)
        items: list[Any] | None = None
        for index, item in enumerate(value):
            if not shape and type(item) in _SCALARS:
                continue
            new = _walk(item, _child_shape(shape, index) if shape else _EMPTY, depth + 1)
            if new is not item:
                if items is None:
                    items = list(value)
                items[index] = new
        if items is None:
            return value
        return tuple(items) if isinstance(value, tuple) else items
    if value is None or isinstance(value, str | int | float):
        if shape and value is not None:
            _check_fits(shape, (), value)
        return value
    if isinstance(value, _SECRET_TYPES):
        return REDACTED
    # Not JSON (a set, an object...): we cannot see inside it, so we cannot vouch for it.
    raise RedactionError(f"cannot redact a value of type {type(value).__name__}")


def redact_result(method: object, result: Any, registry: SecretsRegistry | None) -> Any:
    """``result`` with its secrets redacted; raises :class:`RedactionError` if it cannot be.

    Any failure (declared type not fitting, nesting too deep, non-JSON value) is a
    ``RedactionError`` whose message does not quote the value.
    """
    declaration = registry._declaration(method) if registry is not None else None
    shape = declaration.result if declaration is not None else _EMPTY
    try:
        return _walk(result, shape, 0)
    except RedactionError:
        raise
    except Exception as exc:  # RecursionError, a hostile __eq__...: never let a raw value out
        raise RedactionError(f"redaction failed ({type(exc).__name__})") from exc


def redact_arguments(method: object, arguments: Any, registry: SecretsRegistry | None) -> list[Any]:
    """A new list of ``arguments`` with their secrets redacted; never raises.

    An argument that cannot be redacted (see :func:`redact_result`) is replaced
    whole by ``REDACTED``; so is ``arguments`` itself if it is not a list, giving
    ``[REDACTED]``: schema-valid jobs never have that, and failing closed is safe.
    """
    if not isinstance(arguments, list | tuple):
        return [REDACTED]
    declaration = registry._declaration(method) if registry is not None else None
    out = []
    for index, argument in enumerate(arguments):
        shape = _EMPTY
        if declaration is not None:
            if index < len(declaration.arguments):
                shape = declaration.arguments[index]
            for segments in declaration.argument_paths:
                head = segments[0]
                if head == "*" or (head.isascii() and head.isdigit() and int(head) == index):
                    shape |= _path_shape(segments[1:])
        try:
            out.append(_walk(argument, shape, 1))
        except Exception:  # any failure must redact the argument, never leak it or raise
            out.append(REDACTED)
    return out
