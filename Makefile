# Relais — every entry point a developer or CI needs.
# `make run` and `make test` set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv run test lint typecheck unit integration e2e browser package bench demo clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## The API on http://127.0.0.1:$(PORT)/v1 with DynamoDB Local, the Stripe sandbox and demo data.
run: venv
	$(PY) -m tools.run_local

## Every check: lint, types, all tests, the packaged CloudFormation template.
test: venv lint typecheck
	$(PY) -m pytest -q -n 2 --dist loadgroup
	$(MAKE) --no-print-directory package

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: venv
	$(PY) -m mypy chalicelib

unit: venv
	$(PY) -m pytest -q tests/unit

integration: venv
	$(PY) -m pytest -q tests/integration

e2e: venv
	$(PY) -m pytest -q tests/e2e

## The booking page in Debian's Chromium (Playwright) against a fresh `make run`.
browser: venv
	$(PY) -m pytest -q tests/browser

## `chalice package` + the table from infra/, linted with cfn-lint, into build/.
package: venv
	$(PY) -m infra.package build/package

## Benchmarks (figures printed; never asserted).
bench: venv
	$(PY) -m bench

## A guided tour against a running `make run`.
demo: venv
	$(PY) -m tools.demo

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
