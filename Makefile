# One command to run the product, one to check it. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make demo: the whole loop against the sandbox vendors, on SQLite
demo: $(STAMP)
	$(BIN)/connector demo

## make test: every check CI runs (lint, types, the whole pytest suite incl. PostgreSQL and e2e)
test: $(STAMP) lint
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadgroup

## make test-fast: unit and contract tests only, for the edit-run loop
test-fast: $(STAMP)
	$(BIN)/pytest -q -x -m "not slow and not postgres" tests/unit tests/contract

lint: $(STAMP)
	$(BIN)/ruff check connector mappings webhooks tests bench bench/run
	$(BIN)/mypy

## make screenshots: the console's browser flows, keeping their PNGs in docs/console/
screenshots: $(STAMP)
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console $(BIN)/pytest -q -p no:cacheprovider -m browser tests/browser

bench: $(STAMP)
	$(BIN)/python bench/run

clean:
	rm -rf $(VENV) connector.db* .pytest_cache .mypy_cache .ruff_cache
