# rivers development tasks. `make dev` and `make test` are the README's first two commands.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rivers-installed
PACKAGES := -e libs/rivers-sdk -e services/planner -e services/daemon -e services/codeserver -e services/ui-gateway
EXAMPLE ?= examples.analytics

.PHONY: setup browser dev test lint typecheck proto bench clean

$(STAMP): requirements-dev.txt libs/rivers-sdk/pyproject.toml services/*/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt $(PACKAGES)
	@touch $(STAMP)

setup: $(STAMP)

dev: setup
	$(BIN)/rivers dev $(EXAMPLE)

# The browser tests drive Debian's Chromium; install it when it is missing (needs root).
browser:
	@test -x /usr/bin/chromium || scripts/install_chromium.sh

test: setup browser
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

proto: setup
	$(BIN)/python scripts/gen_protos.py

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .rivers .pytest_cache .mypy_cache .ruff_cache
