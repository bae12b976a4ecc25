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

# `make test` runs a test file per worker process, one worker per core up to four (10 to 13
# minutes on 2 cores, against 14 in one process); PYTEST_WORKERS= runs it in one process.
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile

.PHONY: install demo test test-integration lint bench clean-data portal portal-assets system-deps airflow-ui

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

test: $(STAMP) portal-assets system-deps
	$(BIN)/ruff check src dags expectations tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not integration" $(PYTEST_WORKERS)

# The Celery deployment against this machine's PostgreSQL and Redis, the 36-month backfills
# and the SIGKILL crash scenarios: minutes each, so kept out of `make test`; CI runs both.
test-integration: $(STAMP) portal-assets system-deps
	$(BIN)/python -m pytest -q -m integration

# Every stage against its floor and its peer: one table and benchmarks/results/*.json (about 25
# minutes; BENCH_ARGS=--quick for a few, or e.g. BENCH_ARGS="--only intake"). Run it alone.
bench: $(STAMP) portal-assets
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/portal_bench.py $(if $(findstring --quick,$(BENCH_ARGS)),--quick,)

lint: $(STAMP)
	$(BIN)/ruff check src dags expectations tests
	$(BIN)/ruff format --check src dags expectations tests
	$(BIN)/mypy

# The returns service's styles and scripts: GOV.UK Frontend compiled with a system font (npm ci
# installs exactly frontend/package-lock.json). The built files are not committed.
PORTAL_BUILD := src/stls_portal/static/stls_portal/build/portal.css
portal-assets: $(PORTAL_BUILD)

$(PORTAL_BUILD): frontend/package-lock.json frontend/build.mjs frontend/scss/portal.scss
	cd frontend && npm ci --no-audit --no-fund --ignore-scripts && node build.mjs

# The returns service on http://127.0.0.1:8000 over $(STLS_HOME) (run `make demo` first for
# published returns), with the demo accounts: their passwords are printed the first time.
PORTAL_PORT ?= 8000
portal: $(STAMP) portal-assets
	$(BIN)/stls-portal migrate --no-input
	$(BIN)/stls-portal portal_demo_users
	@echo "Sign in at http://127.0.0.1:$(PORTAL_PORT)/ as e.g. swa.submitter or swa.approver with the password above."
	@echo "(Forgotten: $(BIN)/stls-portal portal_demo_users --reset prints new ones.)"
	$(BIN)/gunicorn stls_portal.wsgi --bind 127.0.0.1:$(PORTAL_PORT) --workers 2 --threads 4 --timeout 120

# Airflow's UI over the local home (what `stls run` and `make demo` record), on 127.0.0.1 only.
airflow-ui: $(STAMP)
	$(BIN)/stls airflow-ui --port $(or $(PORT),8080)

# Debian packages the tests need (Chromium, Pango, fonts, poppler), installed when missing.
system-deps:
	scripts/system-deps.sh

clean-data:
	rm -rf "$(STLS_HOME)"
