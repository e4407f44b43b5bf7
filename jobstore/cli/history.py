"""Job histories as files (a JSON list or JSON lines), and loading them with a progress bar."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import InvalidJob
from ..store import JobStore
from .app import TOO_DEEP, CLIError
from .output import json_text, stderr

__all__ = ["History", "load", "read_history", "sample_history", "write_history"]

_JOB_INDEX = re.compile(r"^job #(\d+)")


class History:
    """The jobs of one history file, read lazily, with their number when known up front."""

    def __init__(self, name: str, jobs: Iterable[Any], total: int | None) -> None:
        self.name = name
        self.jobs = jobs
        self.total = total
        self._seen: list[Any] = []  # kept so an error can name the bad job's id

    def __iter__(self) -> Iterator[Any]:
        for job in self.jobs:
            self._seen.append(job)
            yield job

    def job_id(self, index: int) -> int | None:
        """The ``id`` of the ``index``-th job read, if it has an integer one."""
        if 0 <= index < len(self._seen) and isinstance(self._seen[index], dict):
            value = self._seen[index].get("id")
            return value if isinstance(value, int) and not isinstance(value, bool) else None
        return None


def _jsonl(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise CLIError(f"{path}: line {number}: not valid JSON: {exc.msg}") from None
            except RecursionError:
                raise CLIError(f"{path}: line {number}: {TOO_DEEP}") from None


def read_history(path: str | os.PathLike[str]) -> History:
    """Open a ``.jsonl`` file (one job per line) or a JSON file holding a list of jobs."""
    path = Path(path)
    try:
        if path.suffix == ".jsonl":
            # Counting lines first is cheap and gives the progress bar its end.
            with path.open(encoding="utf-8") as lines:
                total = sum(1 for line in lines if line.strip())
            return History(str(path), _jsonl(path), total)
        with path.open(encoding="utf-8") as file:
            data = json.load(file)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise CLIError(f"{path}: {TOO_DEEP}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, list):
        raise CLIError(f"{path}: expected a JSON list of jobs, found {type(data).__name__}")
    return History(str(path), data, len(data))


def sample_history() -> History:
    """The sample history bundled with the package (``jobstore.data/history.json``)."""
    from importlib.resources import files

    resource = files("jobstore.data") / "history.json"
    data = json.loads(resource.read_text(encoding="utf-8"))
    return History("the bundled sample history", data, len(data))


def load(store: JobStore, history: History, *, batch_size: int = 5000) -> list[int]:
    """``store.insert_many`` the whole history in one call (all or nothing), with progress.

    The bar on stderr first follows validation (jobs read), then the writes
    (insert_many's progress callback); only on a terminal.
    """
    console = stderr()
    try:
        if not console.is_terminal:
            # No Progress at all: rich 13.0's disabled bar still printed a blank
            # line, which broke the one-line error of a failed import.
            return store.insert_many(history, batch_size=batch_size)
        return _load_with_bar(store, history, batch_size, console)
    except InvalidJob as exc:
        raise CLIError(f"{history.name}: {_name_job(str(exc), history)}") from None


def _load_with_bar(
    store: JobStore, history: History, batch_size: int, console: Console
) -> list[int]:
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        reading = progress.add_task("reading", total=history.total)
        writing = progress.add_task("writing", total=history.total, visible=False)

        def read() -> Iterator[Any]:
            for job in history:
                progress.advance(reading)
                yield job

        def written(count: int) -> None:
            progress.update(writing, completed=count, visible=True)

        return store.insert_many(read(), batch_size=batch_size, progress=written)


def _name_job(message: str, history: History) -> str:
    """Add the job's id to insert_many's ``job #<index>, field ...`` message."""
    match = _JOB_INDEX.match(message)
    if match is None:
        return message
    job_id = history.job_id(int(match.group(1)))
    if job_id is None:
        return message
    return f"{match.group(0)} (id {job_id}){message[match.end() :]}"


def _dump(jobs: list[dict[str, Any]], out: TextIO, jsonl: bool) -> None:
    lines = (json_text(job) for job in jobs)
    if jsonl:
        for line in lines:
            out.write(line + "\n")
        return
    # One job per line inside the list: readable, diffable, still one JSON document.
    out.write("[\n" + ",\n".join(lines) + "\n]\n" if jobs else "[]\n")


def write_history(jobs: list[dict[str, Any]], out: str | os.PathLike[str] | TextIO) -> None:
    """Write jobs as a JSON list (or JSON lines for a ``.jsonl`` path) that load() reads back.

    A file is written under a temporary name and renamed, so a failed export
    never leaves half a history behind.
    """
    if not isinstance(out, str | os.PathLike):
        _dump(jobs, out, jsonl=False)
        return
    path = Path(out)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            _dump(jobs, file, jsonl=path.suffix == ".jsonl")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
