"""The ``jobstore`` command group, and the one place library errors become CLI messages."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import click

from ..errors import JobStoreError
from ..store import JobStore

__all__ = ["TOO_DEEP", "CLIError", "JobStoreGroup", "cli", "one_line", "open_store"]

#: Python's json parser recurses once per nesting level and gives up near 1000.
TOO_DEEP = "JSON nested too deeply to read (arrays or objects about 1000 levels deep)"


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines too) made one space."""
    return " ".join(str(text).split())


class CLIError(click.ClickException):
    """A failure shown as one ``error: ...`` line on stderr, with exit code 1.

    Usage errors (unknown option, missing argument) stay click's own, exit 2.
    """

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {one_line(self.format_message())}", err=True, file=file)


class JobStoreGroup(click.Group):
    """A group that reports every ``JobStoreError`` (and SQLite failure) as a CLIError."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JobStoreError as exc:
            raise CLIError(str(exc)) from None
        except sqlite3.Error as exc:
            # e.g. "file is not a database": the user's file, not a bug of ours.
            raise CLIError(f"sqlite: {exc}") from None


@click.group(cls=JobStoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jobstore", prog_name="jobstore")
def cli() -> None:
    """A persistent, queryable store of long-running jobs on SQLite.

    Each command is a thin shell over the Python API (jobstore.JobStore):
    DB is an SQLite file. Filters and options are JSON, with the semantics of
    TrueNAS's core.get_jobs. Start with `jobstore demo`.
    """


@contextmanager
def open_store(
    path: str | os.PathLike[str], *, create: bool, **settings: Any
) -> Iterator[JobStore]:
    """``with open_store(path, create=...) as store``: closed however the command ends.

    ``create=False`` for the commands that read or change an existing store:
    they refuse an empty file or another application's database, untouched.
    ``settings`` go to ``JobStore`` as they are.
    """
    store = JobStore(path, create=create, **settings)
    try:
        yield store
    finally:
        store.close()


#: DB argument of the commands that only read or change an existing store: a
#: mistyped path must not silently create an empty database.
existing_db = click.argument("db", type=click.Path(exists=True, dir_okay=False, readable=True))
