"""The contract tests run against the real `make run`, started as the e2e tests start it."""

from tests.e2e.conftest import stack_factory  # noqa: F401  (the fixture)
