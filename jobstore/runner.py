"""Who runs a job: a process identity that survives pid reuse, and a liveness check.

The identity is ``"<boot id>:<pid>:<start ticks>"``: the kernel's boot id (a
reboot kills every process), the pid, and the process start time from
``/proc/<pid>/stat`` (a recycled pid has a different start time). Where
``/proc`` is missing, boot id and start time are empty and liveness falls
back to ``os.kill(pid, 0)``.

SQLite's WAL mode only works for processes on one host, so every runner
recorded in a store's file is a process of this host (and PID namespace,
when the store is not shared across containers).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

__all__ = ["current_runner", "is_alive", "runner_pid"]

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@functools.cache
def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str | None:
    """The process start time in clock ticks since boot; None if it is gone (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat.rpartition(")")[2].split()
    if not fields or fields[0] in ("Z", "X"):
        return None  # a zombie has finished; it only waits to be reaped
    return fields[19]


_identity: str | None = None


def current_runner() -> str:
    """This process's identity (recomputed in a forked child)."""
    global _identity
    if _identity is None:
        pid = os.getpid()
        ticks = _start_ticks(pid) if _boot_id() else None
        _identity = f"{_boot_id()}:{pid}:{ticks or ''}"
    return _identity


def _forget_identity() -> None:
    global _identity
    _identity = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_identity)


def runner_pid(runner: str | None) -> int | None:
    """The pid recorded in a runner identity, if it has one."""
    if not runner:
        return None
    try:
        return int(runner.split(":")[1])
    except (IndexError, ValueError):
        return None


def is_alive(runner: str | None) -> bool:
    """True when the process named by ``runner`` is still running on this host.

    None or an unreadable identity is not alive: such a job has no process
    that could still finish it (e.g. one loaded with ``insert_many``).
    """
    if not runner:
        return False
    parts = runner.split(":")
    if len(parts) != 3:
        return False
    boot_id, pid_text, ticks = parts
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if boot_id and boot_id != _boot_id():
        return False  # recorded before the last reboot
    if boot_id and ticks:
        return _start_ticks(pid) == ticks
    return _pid_exists(pid)


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
