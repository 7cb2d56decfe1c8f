# convstore: the two commands a new machine needs are `make run` and `make test`.
# Both create .venv and install the project from pyproject.toml first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-all lint docs benchmark benchmark-bulk openapi mutation

# One OpenAPI document per wire format (its generator in conversations/formats/*/schema).
OPENAPI_GENERATORS := openai.schema.OpenAISchemaGenerator openai.schema.AzureSchemaGenerator \
	telnyx.schema.TelnyxSchemaGenerator agentphone.schema.AgentPhoneSchemaGenerator

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## Set up and run the server on SQLite, with a demo project, API key, staff login and data.
## (DEBUG=1: a local development server that also serves the admin's static files, with a
## development SECRET_KEY and plain HTTP; production settings refuse to start without a key.
## The Telnyx chat answers with the example responder unless CONVSTORE_CHAT_RESPONDER names
## another.) Safe to run again: seed_demo keeps the same login, key and demo data.
run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	DEBUG=1 CONVSTORE_CHAT_RESPONDER=$${CONVSTORE_CHAT_RESPONDER:-conversations.formats.telnyx.responders.echo} \
		$(PY) manage.py runserver $(HOST):$(PORT)

## Set up and run every check and the whole test suite (DATABASE_URL picks the database).
test: install
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	test -x /usr/sbin/pgbouncer || command -v pgbouncer >/dev/null || \
		(apt-get update -q && apt-get install -y -q pgbouncer)
	command -v npm >/dev/null || (apt-get update -q && apt-get install -y -q nodejs npm)
	npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
	DJANGO_SETTINGS_MODULE=convstore.test_settings $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(MAKE) --no-print-directory openapi
	$(MAKE) --no-print-directory docs
	$(PY) -m pytest

## Every test, those needing PostgreSQL and Redis included (`make test` on SQLite skips them),
## as CI's first run: a fresh database $(TEST_ALL_DB) on PostgreSQL at 127.0.0.1:5432 (user
## postgres), Redis database $(TEST_ALL_REDIS_DB) at 127.0.0.1:6379 (started if none answers).
TEST_ALL_DB ?= convstore_test_all
TEST_ALL_REDIS_DB ?= 0
test-all: install
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "make test-all needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust)"; exit 1; }
	psql -q -h 127.0.0.1 -U postgres -d postgres \
		-c "DROP DATABASE IF EXISTS test_$(TEST_ALL_DB) WITH (FORCE)" \
		-c "DROP DATABASE IF EXISTS $(TEST_ALL_DB) WITH (FORCE)" -c "CREATE DATABASE $(TEST_ALL_DB)"
	redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { \
		command -v redis-server >/dev/null || (apt-get update -q && apt-get install -y -q redis-server); \
		redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no; }
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(TEST_ALL_DB) \
		REDIS_URL=redis://127.0.0.1:6379/$(TEST_ALL_REDIS_DB) $(MAKE) --no-print-directory test

## Generate and validate each format's OpenAPI document (fails on any generator warning).
openapi: install
	@for g in $(OPENAPI_GENERATORS); do \
		echo "spectacular --validate --fail-on-warn: $$g"; \
		DEBUG=1 $(PY) manage.py spectacular --validate --fail-on-warn --format openapi-json \
			--generator-class conversations.formats.$$g --file /dev/null || exit 1; \
	done

## Build the documentation site (MkDocs Material, docs/ and mkdocs.yml) into site/; strict: a
## broken link, anchor or missing page fails the build.
docs: install
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet --site-dir site

lint: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

## Write-path benchmark (PostgreSQL, BENCH_DATABASE_URL; loads with wrk, installed if missing).
benchmark: install
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(PY) benchmarks/update_throughput.py $(BENCHMARK_ARGS)

## Export/import throughput on PostgreSQL (BENCH_DATABASE_URL); ROWS=20000 for a quick run.
benchmark-bulk: install
	$(PY) benchmarks/bulk_export_import.py --rows $(or $(ROWS),1000000)

## Mutation testing of the core with mutmut (slow: not part of `make test`). Prints the score
## and every surviving mutant. MODULES and TESTS narrow it, e.g.
##   make mutation MODULES=conversations/domain/metadata.py TESTS=tests/test_metadata.py
## See docs/mutation-testing.md.
mutation: install
	$(PY) tools/mutation.py $(if $(MODULES),--modules $(MODULES)) $(if $(TESTS),--tests $(TESTS)) \
		$(MUTATION_ARGS)
