# productops: `make run` and `make test` are all a fresh machine needs (Python 3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
SCALE ?= 1

.PHONY: run test contract lint format migrate seed bench screenshots ci clean help

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

$(VENV)/.run-installed: $(BIN)/python requirements.txt
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: $(VENV)/.run-installed
	@mkdir -p var
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo --scale $(SCALE)
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runstack --host $(HOST) --port $(PORT)

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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

# `make bench BENCH_ARGS="priority_recompute"` runs one benchmark; `make bench SCALE=small`
# runs a quick set (1,000 features / 100,000 links, the portal pages at demo scale 1) in a
# database of its own, so the full-size data of productops_bench is kept.
bench: $(VENV)/.dev-installed
ifeq ($(SCALE),small)
	BENCH_DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/productops_bench_small} \
	  $(BIN)/python -m bench priority_recompute --features 1000 --companies 5000 --links 100000 --votes 5
	BENCH_DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/productops_bench_small} \
	  $(BIN)/python -m bench portal_pages --scale 1 --repeat 5
	BENCH_DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/productops_bench_small} \
	  $(BIN)/python -m bench digests --subscriptions 1000 --small 200 --loop-contacts 500
else
	$(BIN)/python -m bench $(BENCH_ARGS)
endif

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
