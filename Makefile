# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export STLS_HOME ?= $(CURDIR)/data
export GX_ANALYTICS_ENABLED := False
export TQDM_DISABLE := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False

.PHONY: install demo test test-integration lint bench clean-data

install: $(STAMP)

# A fresh machine installs exactly the versions in constraints.txt (uv resolves in seconds).
# Bytecode is compiled at install, as in a deployment image: every Airflow task, dbt and
# GX process then starts from .pyc files, even where PYTHONDONTWRITEBYTECODE is set.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.*" || $(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode --constraint constraints.txt -e ".[dev,postgres,portal]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/stls demo-data
	$(BIN)/stls run
	@echo
	$(BIN)/stls outturn --year 2021-22

test: $(STAMP)
	$(BIN)/ruff check src dags expectations tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not integration"

# The Celery deployment against this machine's PostgreSQL and Redis, the 36-month backfills
# and the SIGKILL crash scenarios: minutes each, so kept out of `make test`; CI runs both.
test-integration: $(STAMP)
	$(BIN)/python -m pytest -q -m integration

# Every stage against its floor and its peer: one table and benchmarks/results/*.json (about 25
# minutes; BENCH_ARGS=--quick for a few, or e.g. BENCH_ARGS="--only intake"). Run it alone.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src dags expectations tests
	$(BIN)/ruff format --check src dags expectations tests
	$(BIN)/mypy

clean-data:
	rm -rf "$(STLS_HOME)"
