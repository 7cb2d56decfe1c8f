# convstore: the two commands a new machine needs are `make run` and `make test`.
# Both create .venv and install the project from pyproject.toml first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint benchmark benchmark-bulk

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## Set up and run the server on SQLite, with a demo project, API key, staff login and data.
## (DEBUG=1: a local development server that also serves the admin's static files, with a
## development SECRET_KEY and plain HTTP; production settings refuse to start without a key.)
run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

## Set up and run every check and the whole test suite (DATABASE_URL picks the database).
test: install
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	DJANGO_SETTINGS_MODULE=convstore.test_settings $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .

benchmark: install
	$(PY) benchmarks/update_throughput.py

## Export/import throughput on PostgreSQL (BENCH_DATABASE_URL); ROWS=20000 for a quick run.
benchmark-bulk: install
	$(PY) benchmarks/bulk_export_import.py --rows $(or $(ROWS),1000000)
