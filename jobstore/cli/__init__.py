"""The ``jobstore`` command line: click commands that are thin shells over the Python API.

Modules by concern: ``app`` (the group, error reporting), ``args`` (shared
options), ``output`` (tables and JSON), ``history`` (history files, loading
with progress), and the commands: ``demo``, ``transfer`` (import, export),
``querying`` (query, explain), ``maintenance`` (recover, stats).
"""

from __future__ import annotations

from collections.abc import Sequence

# Imported for their side effect: each module registers its commands on ``cli``.
from . import demo, maintenance, querying, transfer  # noqa: F401
from .app import cli

__all__ = ["cli", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (the ``jobstore`` script and ``python -m jobstore``)."""
    cli.main(args=list(argv) if argv is not None else None)
