"""Settings for the property-based tests (Hypothesis): the same examples on every run, so CI
never passes or fails by chance, and no example database written into the repository.
Applied per test rather than as a global profile, which would also bind other suites."""

from __future__ import annotations

from hypothesis import settings

reproducible = settings(derandomize=True, database=None, deadline=None, max_examples=200)
