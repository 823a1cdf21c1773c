# ILS Jobs: the two commands of the quick start (`make run`, `make test`) and their helpers.
# Each target installs what it needs into .venv first; only Python >= 3.11, gcc and make are
# assumed on the machine.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DOCS_PORT ?= 8001

.PHONY: run test lock lint node-deps docs docs-serve docs-reference bench bench-enqueue bench-batch bench-orders bench-check bench-pdf bench-notify bench-admin bench-ai bench-worker bench-processes bench-engine bench-schedules browser systemd-tools clean install install-dev bench-oma bench-events bench-oma-job chaos bench-webhooks bench-webhook-replay load bench-shards bench-cluster bench-delay bench-email-pool bench-idle-fetches

# The whole dependency tree is locked (requirements.lock, requirements-dev.lock: every package
# pinned, with hashes). `make run`, `make test` and CI install only from the locks;
# pyproject.toml keeps the ranges for people who install the package. `make lock` refreshes both
# locks on purpose.
RUN_LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# The resolver that writes the locks, itself pinned (only `make lock` needs it).
UV_VERSION := 0.13.9
PIP_LOCKED := $(BIN)/python -m pip install --quiet --require-hashes --no-deps --only-binary :all:
# The project itself, editable, built with the locked setuptools (no isolated build env).
PIP_SELF := $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed"'
	$(PYTHON) -m venv $(VENV)

# Both install the ai extra (numpy, pandas, statsforecast, statsmodels: the AI worker's models).
$(VENV)/.installed: $(RUN_LOCK) pyproject.toml | $(BIN)/python
	$(PIP_LOCKED) -r $(RUN_LOCK)
	$(PIP_SELF)
	touch $@

$(VENV)/.installed-dev: $(DEV_LOCK) pyproject.toml | $(BIN)/python
	$(PIP_LOCKED) -r $(DEV_LOCK)
	$(PIP_SELF)
	touch $@ $(VENV)/.installed

## lock: re-resolve the whole tree from pyproject.toml's ranges into the two lock files (run it
## on purpose, commit the result on its own, with the suite green)
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  --extra ai --extra dev pyproject.toml requirements-build.in -o $(DEV_LOCK)
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  --extra ai -c $(DEV_LOCK) pyproject.toml requirements-build.in -o $(RUN_LOCK)

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: set up, migrate and seed the demo data on first start, then serve the app with its
## workers on the embedded defaults
run: install
	$(BIN)/ils demo seed --if-empty
	$(BIN)/ils serve --host $(HOST) --port $(PORT)

## test: set up with the dev extras, the browser and the Node producer's packages, then lint,
## type-check and run the whole suite in TEST_WORKERS processes (pytest-xdist; each test module
## stays in one process, so its module-wide fixtures are made once), then build the docs site
## strictly (a broken link or a stale snippet fails CI, as `make docs` does)
TEST_WORKERS ?= 2
test: install-dev browser node-deps systemd-tools lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

## browser: Debian's chromium for the dashboard's browser tests, installed only when missing
browser:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

## systemd-tools: systemd-analyze, which verifies the deploy/ units, installed only when missing
systemd-tools:
	@command -v systemd-analyze >/dev/null || { apt-get update && apt-get install -y systemd; }

## node-deps: the Node BullMQ producer of the interop tests (tests/node, from its lock file);
## installs Node and npm with apt-get when they are missing, as `browser` does for Chromium
node-deps:
	@command -v npm >/dev/null || { apt-get update && apt-get install -y nodejs npm; }
	npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
	npm ci --prefix docs/examples/node --no-audit --no-fund --loglevel=error

## lint: ruff (lint and format), mypy, and pylint's duplicate-code check over src/ (six or more
## similar lines; imports, docstrings, comments and signatures aside; migrations left out)
lint: install-dev
	$(BIN)/ruff check src tests $(wildcard bench) docs/examples docs/generate.py docs/generate_metrics.py
	$(BIN)/ruff format --check src tests $(wildcard bench) docs/examples docs/generate.py docs/generate_metrics.py
	$(BIN)/mypy
	$(BIN)/pylint src/ils

## bench: the benchmarks of bench/README.md (not part of the test suite)
bench: install-dev
	$(BIN)/python bench/run.py

## bench-enqueue: single and bulk enqueue, ours against the engine's Queue.add and addBulk
bench-enqueue: install-dev
	$(BIN)/python bench/enqueue_bulk.py

## bench-batch: a batch of 10,000 no-op jobs and its one callback: add, progress reads, drain,
## the callback exactly once (about a minute)
bench-batch: install-dev
	$(BIN)/python bench/batch_callback.py

## bench-orders: POST /api/orders capacity: a sweep of rates (10-200/s) in the three layouts,
## the knees (p99 < 50 ms, < 500 ms) and the server's CPU per order (about 6 minutes)
bench-orders: install-dev
	$(BIN)/python bench/orders_load.py

## bench-check: a 2-minute run compared with bench/orders_recorded.json (knees, p99, CPU per
## order against the --no-workers baseline); run it before landing changes to the request path,
## the workers or the pools
bench-check: install-dev
	$(BIN)/python bench/orders_check.py

## bench-pdf: PDFs/s per document type, the full job path next to bare reportlab rendering
bench-pdf: install-dev
	$(BIN)/python bench/pdf_throughput.py

## bench-shards: a no-op load on notification + oma, both queues on one Redis against oma on a
## second Redis (two embedded servers on free ports), the same worker processes (about 2 minutes)
bench-shards: install-dev
	$(BIN)/python bench/shards.py

## bench-cluster: the same load on one Redis against a 3-node Redis Cluster the bench starts
bench-cluster: install-dev
	$(BIN)/python bench/shards.py --cluster --trials 5

## bench-notify: helper call -> WebSocket receipt of a notification, 200 connected clients
bench-notify: install-dev
	$(BIN)/python bench/notify_latency.py

## bench-webhooks: event -> webhook received p50/p99 at 100 events/s for a minute, against a direct POST
bench-webhooks: install-dev
	$(BIN)/python bench/webhooks.py

## bench-delay: how late a delayed job runs after its due time, ILS's worker against bare bullmq's
bench-delay: install-dev
	$(BIN)/python bench/delay_accuracy.py

## bench-email-pool: emails/s through the SMTP transport at concurrency 5 to a local server that
## takes 20 ms a message, a pool of 1 connection against pools of 2 and 5
bench-email-pool: install-dev
	$(BIN)/python bench/email_pool.py

## bench-idle-fetches: fetch scripts and CPU a job when jobs reach an idle queue, against bare bullmq
bench-idle-fetches: install-dev
	$(BIN)/python bench/idle_fetches.py

## bench-webhook-replay: replay of 10,000 events to one webhook endpoint, each received once, against direct POSTs
bench-webhook-replay: install-dev
	$(BIN)/python bench/webhook_replay.py

## bench-admin: latency of the queue admin API with 100,000 jobs in the queues
bench-admin: install-dev
	$(BIN)/python bench/admin_latency.py

## bench-ai: demand forecasts per second (statsforecast against the former Holt-Winters, side by
## side) and holdout MASE, RMSSE, WAPE, bias and band coverage per demand pattern, on the demo
## data and a simulated catalogue of known processes
bench-ai: install-dev
	$(BIN)/python bench/ai_forecast.py

## bench-oma: OMA/DCS files parsed and validated per second (2048- and 400-point files), next to a
## bare tokenizer of the same bytes
bench-oma: install-dev
	$(BIN)/python bench/oma_parse.py

## bench-oma-job: OMA files per second through the process-oma-file job path (queue, database,
## file storage, the trace's drawing), next to the bare parser of the same bytes
bench-oma-job: install-dev
	$(BIN)/python bench/oma_job.py

## bench-engine: ILS against bare bullmq in one run, on a Redis the bench starts: enqueue, bulk
## enqueue, drain at 1 and 2 processes, worker start and RSS, Redis commands and CPU per 1,000 jobs
bench-engine: install-dev
	$(BIN)/python bench/engine.py

## bench-schedules: Redis memory and reconcile/tick time of 1,000, 5,000 and 10,000 schedules
bench-schedules: install-dev
	$(BIN)/python bench/schedules.py

## bench-worker: launch-to-ready time and peak RSS of `ils worker --queues notification` and
## `ils worker` next to a bare bullmq worker (about a minute)
bench-worker: install-dev
	$(BIN)/python bench/worker_start.py

## bench-processes: no-op jobs/s of `ils worker --processes 2` against `--processes 1`, next to
## bare bullmq's own 2 against 1 in the same run (a few minutes)
bench-processes: install-dev
	$(BIN)/python bench/worker_processes.py

## bench-events: the event log's cursor pages (p50/p99) at 1,000,000 events against 10,000, on
## SQLite and PostgreSQL (a few minutes, most of it filling the log)
bench-events: install-dev
	$(BIN)/python bench/events_pages.py

## chaos: the chaos suite (bench/chaos): its own embedded server, workers, web server and SMTP sink
## through kill -9 of workers, Redis restarts, a 2-minute Redis outage during orders, a killed
## embedded server and poison jobs; every side effect audited (not part of `make test`)
chaos: install-dev
	$(BIN)/python -m bench.chaos.run

## load: the real app (`ils serve` beside 3 `ils worker` processes, a fresh demo, its own
## embedded server and SQLite file) under 1,000 simulated users doing the seed's mix; p50/p99 per
## action, errors, jobs per queue, the seed's targets met or not, into bench/README.md and
## bench/results/load.json (about 5 minutes; LOAD_ARGS="--users 200 --duration 60" to change it)
LOAD_ARGS ?=
load: install-dev
	$(BIN)/python bench/load.py --record $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

## docs: build the documentation site strictly (a broken link or reference fails); docs-serve:
## serve it with live reload; docs-reference: regenerate the reference pages from the code
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: install-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr $(HOST):$(DOCS_PORT)

docs-reference: install-dev
	$(BIN)/python -m docs.generate
	$(BIN)/ils queue docs --output docs/jobs.md
