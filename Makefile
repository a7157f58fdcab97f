# Two commands: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export FLASK_APP := wsgi

.PHONY: install run test lint format bench audit clean

install: $(STAMP)

$(STAMP): pyproject.toml plugins/decant-whatsapp/pyproject.toml package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m pip install -q -e plugins/decant-whatsapp
	npm ci --no-audit --no-fund --loglevel=error  # browser libraries, served by app/vendor.py
	touch $(STAMP)

run: install
	DECANT_ENV=$${DECANT_ENV:-development} $(BIN)/flask setup
	DECANT_ENV=$${DECANT_ENV:-development} $(BIN)/flask serve --host 127.0.0.1 --port 5000

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy  # strict on app/ and providers/ (pyproject.toml [tool.mypy])

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m pip install -q -e ".[dev,bench]"
	$(BIN)/python -m bench

# Known vulnerabilities in the installed dependencies (needs pypi.org's JSON API or OSV:
# not reachable from this workplace's CI, see docs/decisions.md #42).
audit: install
	$(BIN)/python -m pip install -q "pip-audit>=2.7"
	$(BIN)/pip-audit --skip-editable --strict

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .mypy_cache
