"""The docstring examples of every jobstore module run (the documented API cannot drift).

Run here rather than with ``--doctest-modules``: that would collect the source
tree, while the suite imports the installed package.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import jobstore

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(jobstore.__path__, prefix="jobstore.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_some_modules_have_examples() -> None:
    attempted = sum(
        doctest.testmod(importlib.import_module(name), report=False).attempted for name in MODULES
    )
    assert attempted >= 10
