# convstore: the two commands a new machine needs are `make run` and `make test`.
# Both create .venv and install the project from pyproject.toml first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint benchmark

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## Set up and run the server on SQLite, with a demo project, API key, staff login and data.
## (DEBUG=1: a local development server that also serves the admin's static files.)
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

## Set up and run every check and the whole test suite (DATABASE_URL picks the database).
test: install
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .

## Write-path benchmark (PostgreSQL, BENCH_DATABASE_URL; loads with wrk, installed if missing).
benchmark: install
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(PY) benchmarks/update_throughput.py $(BENCHMARK_ARGS)
