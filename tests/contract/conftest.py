"""The contract tests run against the real `make run`, started as the e2e tests start it."""

from tests.e2e.conftest import e2e_stack, start_stack  # noqa: F401  (fixtures and helper)
