"""The project's tools (``tools/`` is not a package) as modules, for tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "tools" / "generate_history.py"


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as the module ``name`` (loaded once).

    ``tools/`` goes on ``sys.path`` first, as when a tool runs as a script,
    since the tools import one another by their bare names.
    """
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    folder = str(ROOT / "tools")
    if folder not in sys.path:
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look the module up while loading
    spec.loader.exec_module(module)
    return module


def load_generator() -> ModuleType:
    """``tools/generate_history.py`` as the module ``generate_history``."""
    return load_tool("generate_history")
