"""Redaction of job values: the default key rule, declared secrets, failures, properties."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Annotated, Any, NewType, NotRequired, Optional, Required, TypedDict

import pytest
import typing_extensions
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AliasChoices, BaseModel, Field, RootModel, Secret, SecretBytes, SecretStr

from jobstore.errors import JobStoreError
from jobstore.redaction import (
    MAX_DEPTH,
    REDACTED,
    RedactionError,
    SecretsRegistry,
    is_secret_key,
    redact_arguments,
    redact_result,
)

# --- the default key rule ---------------------------------------------------------------

KEY_TABLE = [
    ("password", True),
    ("PASSWORD", True),
    ("admin_password", True),
    ("Admin_Password", True),
    ("passphrase", True),
    ("key_passphrase", True),
    ("secret", True),
    ("client_secret", True),
    ("token", True),
    ("access_token", True),
    ("refreshToken", True),
    ("private_key", True),
    ("ssh_private_key", True),
    ("api_key", True),
    ("NAS_API_KEY", True),
    ("xpassword", True),  # "ends with", literally
    ("passwords", False),
    ("password_hash", False),
    ("secrets", False),
    ("secret_name", False),
    ("tokens_used", False),
    ("token_count", False),
    ("privatekey", False),
    ("apikey", False),
    ("api-key", False),
    ("private key", False),
    ("pass", False),
    ("", False),
    ("username", False),
]


@pytest.mark.parametrize(("key", "secret"), KEY_TABLE)
def test_default_key_rule(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret
    assert redact_result("m", {key: "value"}, None) == {key: REDACTED if secret else "value"}


@pytest.mark.parametrize("key", [1, None, ("password",), b"password"])
def test_non_string_keys_are_not_secret(key: object) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    "value", [None, "", "x", 0, 1.5, True, [], {}, ["a"], {"a": 1}, {"password": "inner"}]
)
def test_any_present_value_under_a_secret_key_is_redacted_whole(value: Any) -> None:
    # null too: a null secret would tell that no secret was set.
    assert redact_result("m", {"token": value}, None) == {"token": REDACTED}


def test_nested_structures() -> None:
    value = {
        "users": [
            {"name": "a", "password": "p1", "keys": [{"api_key": "k1", "id": 1}]},
            {"name": "b", "settings": {"smtp": {"pass": "ok", "smtp_password": "p2"}}},
        ],
        "by_name": {"x": [[{"TOKEN": "t"}]]},
        "tokens_used": 3,
    }
    assert redact_result("m", value, None) == {
        "users": [
            {"name": "a", "password": REDACTED, "keys": [{"api_key": REDACTED, "id": 1}]},
            {"name": "b", "settings": {"smtp": {"pass": "ok", "smtp_password": REDACTED}}},
        ],
        "by_name": {"x": [[{"TOKEN": REDACTED}]]},
        "tokens_used": 3,
    }


def test_absent_secret_keys_stay_absent() -> None:
    assert redact_result("m", {"name": "a"}, None) == {"name": "a"}


def test_tuples_keep_their_type() -> None:
    assert redact_result("m", ({"secret": 1}, 2), None) == ({"secret": REDACTED}, 2)


def test_inputs_are_not_mutated_and_unchanged_parts_are_shared() -> None:
    value = {"a": {"b": [1, 2]}, "c": [{"password": "p"}], "d": {"e": 1}}
    before = copy.deepcopy(value)
    out = redact_result("m", value, None)
    assert value == before
    assert out is not value and out["c"] is not value["c"]
    assert out["a"] is value["a"] and out["d"] is value["d"]


def test_nothing_to_redact_returns_the_same_object() -> None:
    value = {"a": [{"b": 1}, "x"], "n": None}
    assert redact_result("m", value, None) is value


def test_arguments_returns_a_new_list() -> None:
    arguments = [{"password": "p"}, "plain"]
    out = redact_arguments("m", arguments, None)
    assert out == [{"password": REDACTED}, "plain"]
    assert arguments == [{"password": "p"}, "plain"]
    plain = [1]
    assert redact_arguments("m", plain, None) is not plain
    assert redact_arguments("m", (1, {"token": 2}), None) == [1, {"token": REDACTED}]


@pytest.mark.parametrize("arguments", [None, "password", {"password": "p"}, 5])
def test_arguments_that_are_not_a_list_fail_closed(arguments: Any) -> None:
    assert redact_arguments("m", arguments, None) == [REDACTED]


# --- declared secrets ------------------------------------------------------------------


class Key(BaseModel):
    label: str
    material: SecretStr


class Remote(BaseModel):
    host: str
    pin: SecretBytes | None = None
    port_code: Secret[int]
    key: Key | None = None
    keys: list[Key] = []
    named: dict[str, Key] = {}
    alias_field: SecretStr = Field(alias="aliasField")
    choice_field: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("choiceA", "choiceB")
    )


def _registry(**kwargs: Any) -> SecretsRegistry:
    registry = SecretsRegistry()
    registry.register("m", **kwargs)
    return registry


def test_registered_model_fields_at_any_depth() -> None:
    registry = _registry(result=Remote)
    result = {
        "host": "h",
        "pin": "1234",
        "port_code": 99,
        "key": {"label": "main", "material": "m1"},
        "keys": [{"label": "a", "material": "m2"}, {"label": "b", "material": "m3"}],
        "named": {"x": {"label": "x", "material": "m4"}},
        "aliasField": "m5",
        "alias_field": "m6",
        "choiceB": "m7",
        "other": {"client_secret": "s"},
    }
    assert redact_result("m", result, registry) == {
        "host": "h",
        "pin": REDACTED,
        "port_code": REDACTED,
        "key": {"label": "main", "material": REDACTED},
        "keys": [{"label": "a", "material": REDACTED}, {"label": "b", "material": REDACTED}],
        "named": {"x": {"label": "x", "material": REDACTED}},
        "aliasField": REDACTED,
        "alias_field": REDACTED,
        "choiceB": REDACTED,
        "other": {"client_secret": REDACTED},  # the default rule always applies too
    }


def test_optional_parts_may_be_null_or_absent() -> None:
    registry = _registry(result=Remote)
    assert redact_result("m", {"host": "h", "key": None, "keys": None}, registry) == {
        "host": "h",
        "key": None,
        "keys": None,
    }
    # A declared secret that is null is still redacted, like the default rule.
    assert redact_result("m", {"pin": None}, registry) == {"pin": REDACTED}


def test_result_types_other_than_models() -> None:
    assert redact_result("m", [{"material": "x", "label": "l"}], _registry(result=list[Key])) == [
        {"material": REDACTED, "label": "l"}
    ]
    assert redact_result("m", "hunter2", _registry(result=SecretStr)) == REDACTED
    assert redact_result("m", None, _registry(result=Optional[SecretStr])) == REDACTED  # noqa: UP045
    assert redact_result("m", {"k": "v"}, _registry(result=dict[str, Secret[str]])) == {
        "k": REDACTED
    }
    annotated = Annotated[list[Annotated[Key, "doc"]], "doc"]
    assert redact_result("m", [{"material": 1}], _registry(result=annotated)) == [
        {"material": REDACTED}
    ]


def test_union_of_shapes() -> None:
    registry = _registry(result=Key | list[Key] | str)
    assert redact_result("m", {"material": "x"}, registry) == {"material": REDACTED}
    assert redact_result("m", [{"material": "x"}], registry) == [{"material": REDACTED}]
    assert redact_result("m", "plain", registry) == "plain"


@dataclasses.dataclass
class DataKey:
    seed: SecretStr
    note: str = ""


class TypedKey(TypedDict):
    seed: SecretStr
    note: str


class ExtensionsKey(typing_extensions.TypedDict):
    """The TypedDict pydantic asks for on Python < 3.12; typing.is_typeddict misses it."""

    seed: SecretStr
    note: str


class QualifiedKey(TypedDict, total=False):
    seed: Required[SecretStr]
    note: NotRequired[str]


class ExtensionsQualifiedKey(typing_extensions.TypedDict):
    seed: typing_extensions.ReadOnly[SecretStr]
    note: typing_extensions.NotRequired[str]


Seed = NewType("Seed", SecretStr)
SeedAlias = typing_extensions.TypeAliasType("SeedAlias", SecretStr)


class NewTypeKey(BaseModel):
    seed: Seed
    note: str


class AliasKey(BaseModel):
    seed: SeedAlias
    note: str


class RootKeys(RootModel[list[NewTypeKey]]):
    pass


@pytest.mark.parametrize(
    "cls",
    [DataKey, TypedKey, ExtensionsKey, QualifiedKey, ExtensionsQualifiedKey, NewTypeKey, AliasKey],
)
def test_dataclasses_typeddicts_and_wrapped_secret_types(cls: type) -> None:
    """Every way pydantic accepts of typing a secret field declares it secret here too."""
    registry = _registry(result=list[cls])
    assert redact_result("m", [{"seed": "s", "note": "n"}], registry) == [
        {"seed": REDACTED, "note": "n"}
    ]


def test_a_root_model_declares_its_root_value() -> None:
    registry = _registry(result=RootKeys, arguments=[RootKeys])
    value = [{"seed": "s", "note": "n"}, {"seed": "t", "note": "m"}]
    redacted = [{"seed": REDACTED, "note": "n"}, {"seed": REDACTED, "note": "m"}]
    assert redact_result("m", value, registry) == redacted
    assert redact_arguments("m", [value], registry) == [redacted]


class Node(BaseModel):
    code: SecretStr | None = None
    children: list[Node] = []


def test_recursive_models() -> None:
    registry = _registry(result=Node)
    value = {"code": "a", "children": [{"code": "b", "children": [{"code": "c"}]}]}
    assert redact_result("m", value, registry) == {
        "code": REDACTED,
        "children": [{"code": REDACTED, "children": [{"code": REDACTED}]}],
    }


def test_registered_arguments_are_positional() -> None:
    registry = _registry(arguments=[None, Key, SecretStr])
    arguments = [{"material": "kept"}, {"material": "m"}, "pw", {"material": "extra"}]
    assert redact_arguments("m", arguments, registry) == [
        {"material": "kept"},
        {"material": REDACTED},
        REDACTED,
        {"material": "extra"},
    ]
    assert redact_arguments("other", arguments, registry) == arguments


def test_explicit_paths() -> None:
    registry = _registry(
        result_paths=["conn.pin", r"a\.b", "list.*.code", "rows.1"],
        argument_paths=["0.pin", "*.otp"],
    )
    result = {
        "conn": {"pin": 1, "x": 2},
        "a.b": "dotted",
        "a": {"b": "not it"},
        "list": [{"code": 1}, {"code": 2, "y": 3}],
        "rows": ["r0", "r1", "r2"],
    }
    assert redact_result("m", result, registry) == {
        "conn": {"pin": REDACTED, "x": 2},
        "a.b": REDACTED,
        "a": {"b": "not it"},
        "list": [{"code": REDACTED}, {"code": REDACTED, "y": 3}],
        "rows": ["r0", REDACTED, "r2"],
    }
    # Paths are lenient: a value they do not fit is left alone.
    assert redact_result("m", {"conn": "string", "list": 5}, registry) == {
        "conn": "string",
        "list": 5,
    }
    assert redact_arguments("m", [{"pin": 1, "otp": 2}, {"pin": 3, "otp": 4}], registry) == [
        {"pin": REDACTED, "otp": REDACTED},
        {"pin": 3, "otp": REDACTED},
    ]


def test_register_errors() -> None:
    registry = _registry(result=Key)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("m", result=Key)
    with pytest.raises(TypeError):
        registry.register(5, result=Key)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        registry.register("n", arguments="Key")
    with pytest.raises(TypeError):
        registry.register("n", result_paths=[5])  # type: ignore[list-item]
    assert "m" in registry and "n" not in registry


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "value"),
    [
        (Key, ["material", "s3cr3t-value"]),  # a list where an object is declared
        (Key, "s3cr3t-value"),
        (list[Key], {"material": "s3cr3t-value"}),
        (dict[str, Key], ["s3cr3t-value"]),
        (Remote, {"key": "s3cr3t-value"}),
    ],
)
def test_data_not_fitting_the_declaration_fails_without_quoting_it(
    declared: Any, value: Any
) -> None:
    with pytest.raises(RedactionError) as info:
        redact_result("m", value, _registry(result=declared))
    assert "s3cr3t" not in str(info.value)
    assert isinstance(info.value, JobStoreError) and isinstance(info.value, ValueError)
    assert redact_arguments("m", [value], _registry(arguments=[declared])) == [REDACTED]


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes", {"a": [frozenset()]}])
def test_non_json_values_fail(value: Any) -> None:
    with pytest.raises(RedactionError):
        redact_result("m", value, None)
    assert redact_arguments("m", ["ok", value], None) == ["ok", REDACTED]


def test_secret_type_instances_are_redacted() -> None:
    assert redact_result("m", {"x": SecretStr("s")}, None) == {"x": REDACTED}


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize("leaf", [{"password": "p"}, "plain"])
def test_hostile_nesting(leaf: Any) -> None:
    value = _nested(10_000, leaf)
    with pytest.raises(RedactionError, match="deeper"):
        redact_result("m", value, None)
    with pytest.raises(RedactionError):
        redact_result("m", value, _registry(result=Node))
    assert redact_arguments("m", [value, 1], None) == [REDACTED, 1]


def test_nesting_up_to_the_limit_works() -> None:
    value = _nested(MAX_DEPTH - 1, {"password": "p"})
    assert json.dumps(redact_result("m", value, None)).count(REDACTED) == 1


def test_recursion_error_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    import jobstore.redaction as redaction

    def explode(*args: Any) -> Any:
        raise RecursionError("s3cr3t")

    monkeypatch.setattr(redaction, "_walk", explode)
    with pytest.raises(RedactionError) as info:
        redact_result("m", {"a": 1}, None)
    assert "s3cr3t" not in str(info.value)
    assert redact_arguments("m", [{"a": 1}], None) == [REDACTED]


# --- properties ------------------------------------------------------------------------

_KEYS = st.one_of(
    st.sampled_from([k for k, _ in KEY_TABLE] + ["Password", "x_Token", "name", "id"]),
    st.text(max_size=12),
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.just(REDACTED),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=30,
)


def _reference(value: Any) -> Any:
    """The default rule written as plainly as possible."""
    suffixes = ("password", "passphrase", "secret", "token", "private_key", "api_key")
    if isinstance(value, dict):
        return {
            k: REDACTED if any(k.lower().endswith(s) for s in suffixes) else _reference(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_reference(v) for v in value]
    return value


def _secret_values(before: Any, after: Any) -> list[tuple[Any, Any]]:
    """(original, redacted) for every secret key, walking both values in step."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(before, dict):
        for key, value in before.items():
            if is_secret_key(key):
                pairs.append((value, after[key]))
            else:
                pairs.extend(_secret_values(value, after[key]))
    elif isinstance(before, list):
        for value, new in zip(before, after, strict=True):
            pairs.extend(_secret_values(value, new))
    return pairs


@given(_JSON)
def test_property_no_secret_survives_and_idempotent(value: Any) -> None:
    before = copy.deepcopy(value)
    out = redact_result("m", value, None)
    assert value == before
    for original, redacted in _secret_values(value, out):
        assert redacted == REDACTED
        assert redacted != original or original == REDACTED
    assert out == _reference(value)
    assert redact_result("m", out, None) == out
    assert redact_arguments("m", [value], None) == [out]
