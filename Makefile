# convstore: the two commands a new machine needs are `make run` and `make test`.
# Both create .venv and install the project from pyproject.toml first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint benchmark benchmark-bulk openapi mutation

# One OpenAPI document per wire format (conversations/formats/*/schema.py).
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
	DEBUG=1 CONVSTORE_CHAT_RESPONDER=$${CONVSTORE_CHAT_RESPONDER:-conversations.responders.echo} \
		$(PY) manage.py runserver $(HOST):$(PORT)

## Set up and run every check and the whole test suite (DATABASE_URL picks the database).
test: install
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	DJANGO_SETTINGS_MODULE=convstore.test_settings $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m ruff check .
	$(MAKE) --no-print-directory openapi
	$(PY) -m pytest

## Generate and validate each format's OpenAPI document (fails on any generator warning).
openapi: install
	@for g in $(OPENAPI_GENERATORS); do \
		echo "spectacular --validate --fail-on-warn: $$g"; \
		DEBUG=1 $(PY) manage.py spectacular --validate --fail-on-warn --format openapi-json \
			--generator-class conversations.formats.$$g --file /dev/null || exit 1; \
	done

lint: install
	$(PY) -m ruff check .

## Write-path benchmark (PostgreSQL, BENCH_DATABASE_URL; loads with wrk, installed if missing).
benchmark: install
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(PY) benchmarks/update_throughput.py $(BENCHMARK_ARGS)

## Export/import throughput on PostgreSQL (BENCH_DATABASE_URL); ROWS=20000 for a quick run.
benchmark-bulk: install
	$(PY) benchmarks/bulk_export_import.py --rows $(or $(ROWS),1000000)

## Mutation testing of the core with mutmut (slow: not part of `make test`). Prints the score
## and every surviving mutant. MODULES and TESTS narrow it, e.g.
##   make mutation MODULES=conversations/metadata.py TESTS=tests/test_metadata.py
## See docs/mutation-testing.md.
mutation: install
	$(PY) tools/mutation.py $(if $(MODULES),--modules $(MODULES)) $(if $(TESTS),--tests $(TESTS)) \
		$(MUTATION_ARGS)
