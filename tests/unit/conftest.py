"""Hypothesis profiles for the unit tests.

- ``ci`` (default): derandomised, so ``make test`` is reproducible run after run; no
  deadline, because the 2-core machine is shared and timings are noisy.
- ``dev``: random exploration, same example counts (``HYPOTHESIS_PROFILE=dev``).
- ``thorough``: ten times the examples, for a deliberate long hunt.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", deadline=None, derandomize=True, max_examples=100, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
