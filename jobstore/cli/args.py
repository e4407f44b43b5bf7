"""Options shared by several commands: JSON filters and options, caller credentials, formats."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .app import TOO_DEEP, CLIError

__all__ = [
    "caller",
    "credentials",
    "format_option",
    "json_argument",
    "pick_format",
    "query_options",
]

F = TypeVar("F", bound=Callable[..., Any])


def _parse_json(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Click callback: the option's JSON text as a Python value (None if not given)."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        # A CLIError, not click's BadParameter: bad JSON is bad input (exit 1), not bad usage.
        raise CLIError(f"{param.opts[-1]} is not valid JSON: {exc}") from None
    except RecursionError:
        raise CLIError(f"{param.opts[-1]}: {TOO_DEEP}") from None


def json_argument(name: str, help_text: str) -> Callable[[F], F]:
    """An option taking JSON text, e.g. ``--filters '[["state", "=", "FAILED"]]'``."""
    return click.option(name, metavar="JSON", callback=_parse_json, help=help_text)


def query_options(function: F) -> F:
    """``--filters`` and ``--options``, as get_jobs takes them."""
    function = json_argument(
        "--options",
        'get_jobs options as a JSON object, e.g. \'{"order_by": ["-id"], "limit": 5}\'.',
    )(function)
    return json_argument(
        "--filters",
        'get_jobs filters as a JSON list, e.g. \'[["state", "=", "FAILED"]]\'.',
    )(function)


def credentials(function: F) -> F:
    """``--as-user NAME`` and repeatable ``--role ROLE``: query as an external caller."""
    function = click.option(
        "--role",
        "roles",
        multiple=True,
        metavar="ROLE",
        help="A role of the --as-user caller (repeatable); FULL_ADMIN sees every job.",
    )(function)
    return click.option(
        "--as-user",
        "as_user",
        metavar="NAME",
        help="Query as this user (sees only its own jobs, secrets redacted) "
        "instead of as an internal caller.",
    )(function)


def caller(as_user: str | None, roles: tuple[str, ...]) -> dict[str, Any] | None:
    """The get_jobs ``credentials`` for ``--as-user``/``--role`` (None: internal caller)."""
    if as_user is None:
        if roles:
            raise click.UsageError("--role needs --as-user")
        return None
    return {"username": as_user, "roles": list(roles)}


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format``; left out, it is a table on a terminal and JSON in a pipe."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=None,
        help=f"Output format (default: {choices[0]} on a terminal, json otherwise).",
    )


def pick_format(output_format: str | None, on_terminal: str) -> str:
    """The explicit ``--format``, else ``on_terminal`` on a terminal and json in a pipe."""
    if output_format is not None:
        return output_format
    return on_terminal if sys.stdout.isatty() else "json"
