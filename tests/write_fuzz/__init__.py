"""Property tests of the write API against its contract (README, API.md, job.schema.json)."""

import pytest

# The checks live in helper modules, which pytest would not rewrite: keep its assert messages.
pytest.register_assert_rewrite(f"{__name__}.oracle", f"{__name__}.world")
