# Entry points: `make test` (what CI runs), `make test-fast` (unit tests, under a minute),
# `make test-loaded` (integration tests with one core kept busy), `make demo`, `make lint`.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: venv test test-fast test-loaded lint demo

venv: $(STAMP)

# Re-installed only when pyproject.toml changes. ensure-services also installs
# python3-venv, which Debian needs for `python3 -m venv`.
$(STAMP): pyproject.toml
	scripts/ensure-services.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $@

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: venv
	CRMKPI_WITH_PROMETHEUS=1 CRMKPI_WITH_CHROMIUM=1 scripts/ensure-services.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

# The unit tests only: no broker, Redis, Prometheus or browser.
test-fast: venv
	$(VENV)/bin/pytest -q -m "not integration"

# The integration tests on a loaded machine (issue 22, docs/busy-machine.md): not in CI,
# but it must pass before a change to the worker, the consumer or recovery is done.
test-loaded: venv
	CRMKPI_WITH_PROMETHEUS=1 CRMKPI_WITH_CHROMIUM=1 scripts/ensure-services.sh
	scripts/with-busy-core.sh $(VENV)/bin/pytest -q -m integration

demo: venv
	scripts/ensure-services.sh
	$(VENV)/bin/crmkpi up --demo
