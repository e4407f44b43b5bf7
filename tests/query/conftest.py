"""Hypothesis profiles: ``ci`` is derandomised so that a CI failure reproduces exactly."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
