# ILS Jobs: the two commands of the quick start (`make run`, `make test`) and their helpers.
# Each target installs what it needs into .venv first; only Python >= 3.11, gcc and make are
# assumed on the machine.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench bench-orders bench-pdf bench-notify bench-admin bench-ai browser clean install install-dev

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Both install the ai extra (numpy, pandas, statsmodels: the AI worker's models).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[ai]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,ai]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: set up, migrate and seed the demo data on first start, then serve the app with its
## workers on the embedded defaults
run: install
	$(BIN)/ils demo seed --if-empty
	$(BIN)/ils serve --host $(HOST) --port $(PORT)

## test: set up with the dev extras and the browser, then lint, type-check and run the whole suite
test: install-dev browser lint
	$(BIN)/python -m pytest

## browser: Debian's chromium for the dashboard's browser tests, installed only when missing
browser:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

lint: install-dev
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy

## bench: the benchmarks of bench/README.md (not part of the test suite)
bench: install-dev
	$(BIN)/python bench/run.py

## bench-orders: POST /api/orders at 100 requests/s for 30 s (needs Debian's `hey`)
bench-orders: install-dev
	$(BIN)/python bench/orders_load.py

## bench-pdf: PDFs/s per document type, the full job path next to bare reportlab rendering
bench-pdf: install-dev
	$(BIN)/python bench/pdf_throughput.py

## bench-notify: helper call -> WebSocket receipt of a notification, 200 connected clients
bench-notify: install-dev
	$(BIN)/python bench/notify_latency.py

## bench-admin: latency of the queue admin API with 100,000 jobs in the queues
bench-admin: install-dev
	$(BIN)/python bench/admin_latency.py

## bench-ai: demand forecasts per second and holdout MAPE against seasonal naive, demo data
bench-ai: install-dev
	$(BIN)/python bench/ai_forecast.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
