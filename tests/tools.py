"""The project's tools (``tools/`` is not a package) as modules, for tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "tools" / "generate_history.py"


def load_generator() -> ModuleType:
    """``tools/generate_history.py`` as the module ``generate_history`` (loaded once)."""
    loaded = sys.modules.get("generate_history")
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location("generate_history", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_history"] = module  # dataclasses look the module up while loading
    spec.loader.exec_module(module)
    return module
