# supabase-monitoring — every entry point a developer or CI needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  := scripts/local-stack.sh
SUPABASE := .tools/node_modules/.bin/supabase
DENO     := .tools/node_modules/.bin/deno
# Deno's cache stays in the checkout (gitignored), whatever $HOME is.
export DENO_DIR ?= $(CURDIR)/.deno
export DENO_NO_UPDATE_CHECK := 1
# Edge Function tests: the stack's API, env, the contract file, and `deno serve` for the example function.
DENO_TEST_FLAGS := --allow-net --allow-env --allow-read --allow-run
# SM_PG_PORT / SM_API_PORT / SM_PGRST_PORT / SM_STACK_DIR select a private stack (see scripts/local-stack.sh).
SM_PG_PORT ?= 54322
export SM_PG_PORT
DB_URL := postgresql://postgres:postgres@127.0.0.1:$(SM_PG_PORT)/postgres?sslmode=disable
STACK_ENV = eval "$$($(STACK) env)"

.PHONY: help setup stack deploy stack-down release-check check lint edge-lint typecheck unit integration servers browser db-lint db-test py-test edge-test e2e-test wheel test demo bench soak clean

help:
	@echo "make check  - ruff and mypy (Python venv only: no apt, no stack)"
	@echo "make unit   - unit tests (tests/unit; no stack)"
	@echo "make integration / make browser - tests against the stack / in headless Chromium"
	@echo "make servers - alerting and exporter against real Alertmanager / Prometheus (and the stack)"
	@echo "make test   - install everything, start the local stack, deploy, run linters, pgTAP, Deno tests and pytest"
	@echo "make demo   - start the stack, deploy, run a short simulated pipeline and show health and reports"
	@echo "make stack / make deploy / make stack-down / make bench"
	@echo "make soak   - SDK writers at 1,000 metrics/s for 30 min with every cron job on (SOAK_ARGS=\"--minutes 3\")"
	@echo "make e2e-test - a user's project: the built wheel, db install, db push (its own stack)"
	@echo "make wheel  - build the wheel (with the migrations) into dist/"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed
	$(STACK) install

stack: setup
	$(STACK) up

stack-down:
	$(STACK) down

# supabase db push, then PostgREST schema reload. A second push must be a no-op.
deploy: stack
	$(STACK) deploy
	@out=$$($(SUPABASE) db push --db-url "$(DB_URL)" --yes 2>&1); echo "$$out"; \
	  grep -q "database is up to date" <<<"$$out" || { echo "second db push was not a no-op" >&2; exit 1; }

# Released migrations never change (supabase/releases.json); no stack needed.
release-check:
	$(PYTHON) scripts/release_manifest.py check

# Test tiers: check and unit need only the venv; integration needs the stack;
# servers needs the stack and Prometheus + Alertmanager (apt, via setup);
# browser needs Chromium (apt, via setup). py-test runs every tier.
check: release-check lint typecheck

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# The npm binaries (PostgREST, Supabase CLI, Deno), again whenever the lockfile changes.
$(DENO): .tools/package-lock.json
	cd .tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Edge Functions (supabase/functions) and the Deno side of tests/contract.
edge-lint: $(DENO)
	$(DENO) fmt --check
	$(DENO) lint
	$(DENO) check supabase/functions tests/contract

typecheck: $(VENV)/.installed
	$(PY) -m mypy

unit: $(VENV)/.installed
	$(PY) -m pytest -q -ra tests/unit

integration: deploy
	$(STACK_ENV) && $(PY) -m pytest -q -ra tests/integration

servers: deploy
	$(STACK_ENV) && $(PY) -m pytest -q -ra tests/servers

browser: setup
	$(PY) -m pytest -q -ra tests/browser

db-lint: deploy
	$(SUPABASE) db lint --db-url "$(DB_URL)" --fail-on error --level warning

db-test: deploy
	PGPASSWORD=postgres pg_prove -h 127.0.0.1 -p $(SM_PG_PORT) -U postgres -d postgres --ext .sql -r supabase/tests/

# Everything under tests/, including tests/e2e (which builds the wheel and runs its own stack:
# the main stack's ports + 100, or SM_E2E_STACK_DIR / SM_E2E_PG_PORT / _API_PORT / _PGRST_PORT).
py-test: deploy
	$(STACK_ENV) && $(PY) -m pytest -q -ra

edge-test: deploy $(DENO)
	$(STACK_ENV) && $(DENO) test $(DENO_TEST_FLAGS)

e2e-test: setup
	$(PY) -m pytest -q -ra tests/e2e

wheel: setup
	rm -rf dist && $(PY) -m pip wheel -q --no-deps -w dist .

# From nothing: a fresh cluster every time (a stale one could hide a migration
# that only works on top of an older version of itself).
test: setup
	$(STACK) destroy
	$(MAKE) --no-print-directory check edge-lint db-lint db-test edge-test py-test

demo: deploy
	$(STACK_ENV) && $(PY) examples/demo.py

bench: deploy
	$(STACK_ENV) && $(PY) benchmarks/ingest.py

# Sustained ingestion against the deployed stack's cron jobs; verdicts, exit 1 on FAIL.
SOAK_ARGS ?=
soak: deploy
	$(STACK_ENV) && $(PY) benchmarks/soak.py $(SOAK_ARGS)

clean: stack-down
	rm -rf $(VENV) .tools/node_modules .deno
