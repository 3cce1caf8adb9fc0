# Tagwise: every command a developer or CI needs. Only Python 3.11+ is assumed.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## Apply migrations and serve web, worker and beat on http://127.0.0.1:$${PORT:-8000}.
run: $(STAMP)
	$(BIN)/tagwise db upgrade
	$(BIN)/tagwise run

## Lint, layer contracts (ARCHITECTURE.md) and the whole test suite (SQLite + embedded Redis unless DATABASE_URL / REDIS_URL are set).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmark (bench/REPORT.md + bench/results.json); QUICK=1 for a < 2 min smoke run into
## bench/out/. Needs the PostgreSQL and Redis of BENCH_DATABASE_URL / BENCH_REDIS_URL
## (default: wt_bench on 127.0.0.1:5432, Redis db 5 on 127.0.0.1:6379) and wrk (installed
## with apt-get when missing).
bench: $(STAMP)
	$(MAKE) -f bench/Makefile bench-venv wrk
	bench/.venv/bin/python -m bench.run $(if $(QUICK),--quick)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo --no-cache

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
