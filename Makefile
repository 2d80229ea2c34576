# The two commands in README.md. Both bootstrap .venv from nothing but Python 3.11 and pip,
# through scripts/install.sh (uv when it can be had, else pip; a line per step).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast lint settings-docs bench bench-edge bench-avif-effort clean

INSTALL := VENV=$(VENV) PYTHON=$(PYTHON) bash scripts/install.sh

$(VENV)/.run-installed: pyproject.toml scripts/install.sh
	$(INSTALL) -e .
	touch $@

$(VENV)/.bench-installed: pyproject.toml clients/python/pyproject.toml scripts/install.sh
	$(INSTALL) -e '.[test,bench]' -e clients/python
	touch $@

# The Python SDK is its own package (clients/python); the tests drive it against a live service.
$(VENV)/.test-installed: pyproject.toml clients/python/pyproject.toml scripts/install.sh
	$(INSTALL) -e '.[test]' -e clients/python
	touch $@

run: $(VENV)/.run-installed
	$(BIN)/promptpix serve

# ruff, mypy and the import-linter contracts in pyproject.toml; `make test` runs it first.
lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy --strict clients/python/src
	$(BIN)/lint-imports --no-cache

# The whole suite on xdist workers (pyproject's addopts); PYTEST_ARGS="-n 0" runs it in one process.
test: lint
	bash scripts/test-deps.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# tests/unit only: no servers, no lint, seconds; in one process, as starting workers costs more than they save here.
test-fast: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m unit -n 0 $(PYTEST_ARGS)

# docs/settings.md and .env.example, rendered from the fields of src/delivery/settings.py;
# tests/unit/test_settings_reference.py fails until they are rewritten after a field changes.
settings-docs: $(VENV)/.run-installed
	$(BIN)/promptpix settings --format markdown --output docs/settings.md
	$(BIN)/promptpix settings --format env --output .env.example

# promptpix vs raw pyvips/Pillow, thumbor and ipx (installed into bench/.work by the bench; ipx needs node and npm); prints the tables.
bench: $(VENV)/.bench-installed
	bash scripts/test-deps.sh
	$(BIN)/python -m bench.transform $(BENCH_ARGS)

# AVIF bytes, SSIM and encode time per effort on the bench masters: how PROMPTPIX_AVIF_EFFORT's default was chosen.
bench-avif-effort: $(VENV)/.test-installed
	$(BIN)/python -m bench.avif_effort $(BENCH_ARGS)

# Requests/s of nginx cache hits vs app cache hits vs cold transforms, in one run (bench/edge.py).
bench-edge: $(VENV)/.test-installed
	bash scripts/test-deps.sh
	$(BIN)/python bench/edge.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
