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

.PHONY: help setup stack deploy stack-down lint edge-lint typecheck db-lint db-test py-test edge-test test demo bench clean

help:
	@echo "make test   - install everything, start the local stack, deploy, run linters, pgTAP, Deno tests and pytest"
	@echo "make demo   - start the stack, deploy, run a short simulated pipeline and show health and reports"
	@echo "make stack / make deploy / make stack-down / make bench"

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

lint: setup edge-lint
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

typecheck: setup
	$(PY) -m mypy

db-lint: deploy
	$(SUPABASE) db lint --db-url "$(DB_URL)" --fail-on error --level warning

db-test: deploy
	PGPASSWORD=postgres pg_prove -h 127.0.0.1 -p $(SM_PG_PORT) -U postgres -d postgres --ext .sql -r supabase/tests/

py-test: deploy
	$(STACK_ENV) && $(PY) -m pytest -q -ra

edge-test: deploy $(DENO)
	$(STACK_ENV) && $(DENO) test $(DENO_TEST_FLAGS)

# From nothing: a fresh cluster every time (a stale one could hide a migration
# that only works on top of an older version of itself).
test: setup
	$(STACK) destroy
	$(MAKE) --no-print-directory lint typecheck db-lint db-test edge-test py-test

demo: deploy
	$(STACK_ENV) && $(PY) examples/demo.py

bench: deploy
	$(STACK_ENV) && $(PY) benchmarks/ingest.py

clean: stack-down
	rm -rf $(VENV) .tools/node_modules .deno
