"""Job log files: one append-only file per job, named from the job id alone.

The folder sits beside the database (``<db path>.logs/``). File names never
contain user input, so a method name or argument can never steer a write
outside the folder.
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "EXCERPT_HEAD",
    "EXCERPT_LINE_BYTES",
    "EXCERPT_TAIL",
    "LogFolder",
    "excerpt",
    "excerpt_text",
    "log_bytes",
]

EXCERPT_HEAD = 10
EXCERPT_TAIL = 10
#: Bytes of one log line kept in the excerpt: a job that writes megabytes
#: without a newline must not make finishing it read them all into memory.
EXCERPT_LINE_BYTES = 4096
_SKIP_CHUNK = 1 << 16


class LogFolder:
    """The folder holding the log files of one database."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def path_for(self, job_id: int) -> Path:
        """The log file of ``job_id`` (which need not exist yet)."""
        # int() so that nothing but digits can ever reach the file name.
        return self.path / f"{int(job_id)}.log"

    def append(self, job_id: int, data: bytes | str, *, first: bool = False) -> Path:
        """Append ``data`` (str is written as UTF-8) to the job's log; return its path.

        ``first``: the job has no log yet, so a file already at its path is
        another job's (a deleted database's, or an id reused by a new one)
        and is replaced rather than continued.
        """
        if isinstance(data, str):
            data = log_bytes(data)
        target = self.path_for(job_id)
        self.path.mkdir(parents=True, exist_ok=True)
        with open(target, "wb" if first else "ab") as handle:
            handle.write(data)
        return target

    def excerpt(self, job_id: int) -> str | None:
        """The excerpt of the job's log, or None when it has no log file."""
        return excerpt(self.path_for(job_id))

    def remove(self, job_id: int) -> None:
        """Delete the job's log file if there is one."""
        self.path_for(job_id).unlink(missing_ok=True)


def excerpt(path: Path) -> str | None:
    """First 10 and last 10 lines of a log file, or None when the file does not exist.

    Streams the file, so a huge log costs time but not memory; a line longer
    than ``EXCERPT_LINE_BYTES`` is cut, saying how many bytes were left out.
    """
    try:
        with open(path, "rb") as handle:
            return _excerpt_lines(_capped_lines(handle))
    except FileNotFoundError:
        return None


def excerpt_text(text: bytes | str) -> str:
    """The excerpt of a whole log held in memory (same rules as ``excerpt``).

    >>> excerpt_text(b"a\\nb\\n")
    'a\\nb'
    """
    if isinstance(text, str):
        text = log_bytes(text)
    return _excerpt_lines(_capped_lines(io.BytesIO(text)))


def log_bytes(text: str) -> bytes:
    """``text`` as a log's bytes: UTF-8, undecodable bytes kept as they came.

    ``surrogateescape`` gives back the bytes a subprocess's output was decoded
    from; any other lone surrogate has no byte form and is written as ``\\udXXX``.
    """
    try:
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace")


def _capped_lines(handle: BinaryIO) -> Iterator[bytes]:
    """The lines of ``handle``, each cut to ``EXCERPT_LINE_BYTES`` (never more in memory)."""
    while line := handle.readline(EXCERPT_LINE_BYTES + 1):
        if len(line) <= EXCERPT_LINE_BYTES or line.endswith(b"\n"):
            yield line
            continue
        left_out = len(line) - EXCERPT_LINE_BYTES
        while rest := handle.readline(_SKIP_CHUNK):
            left_out += len(rest)
            if rest.endswith(b"\n"):
                left_out -= 2 if rest.endswith(b"\r\n") else 1  # the line end is not content
                break
        plural = "" if left_out == 1 else "s"
        yield line[:EXCERPT_LINE_BYTES] + f"... ({left_out} more byte{plural})".encode()


def _excerpt_lines(lines: Iterable[bytes]) -> str:
    head: list[bytes] = []
    tail: deque[bytes] = deque(maxlen=EXCERPT_TAIL)
    total = 0
    for line in lines:
        total += 1
        if len(head) < EXCERPT_HEAD:
            head.append(line)
        else:
            tail.append(line)
    return _render(head, list(tail), total)


def _render(head: list[bytes], tail: list[bytes], total: int) -> str:
    """Join the kept lines (without their line ends); mark how many were left out."""
    kept = [_decode(line) for line in head]
    skipped = total - len(head) - len(tail)
    if skipped > 0:
        kept.append(f"... {skipped} more lines ...")
    kept.extend(_decode(line) for line in tail)
    return "\n".join(kept)


def _decode(line: bytes) -> str:
    return line.rstrip(b"\r\n").decode("utf-8", errors="replace")
