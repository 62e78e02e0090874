# Two commands set the project up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
export PORTAL_ENV ?= development
DEMO := portal/data/demo_jurisdiction.toml

.PHONY: run test lint migrate clean bench lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

migrate: $(VENV)/.installed
	$(FLASK) db upgrade

## make run: install, migrate, load the demo jurisdiction and its sample reports and cases
## (first time only: a portal with data never gets samples), print a first admin login if
## none exists, and serve on http://127.0.0.1:5000
run: migrate
	$(FLASK) portal load-jurisdiction --if-empty $(DEMO)
	$(FLASK) portal load-samples --if-new
	$(FLASK) users ensure-admin
	$(FLASK) run --host 127.0.0.1 --port 5000

## make test: install the dev extras, lint, check types and import contracts, and run the
## whole suite with branch coverage (TEST_DATABASE_URL=postgresql://… runs it on PostgreSQL)
# The floor is the branch coverage of portal/ and admin/ measured on both databases before
# the domain was regrouped (94 % on SQLite and on PostgreSQL); it may rise, never fall.
COVERAGE_FLOOR := 94
# The suite runs on this many workers (pytest-xdist, a file per worker at a time; each has its
# own database). tests/reliability stops and starts Redis, PostgreSQL connections and servers
# that every test shares, so it runs after them, alone, and its coverage is appended.
TEST_WORKERS ?= 2
test: $(VENV)/.installed-dev tests/browser/node_modules/axe-core/axe.min.js
	$(BIN)/ruff check .
	$(BIN)/bandit -q -c pyproject.toml -r portal admin
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --cov --cov-report= \
	  --ignore=tests/reliability $(PYTEST_ARGS)
	$(BIN)/pytest --cov --cov-append --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR) \
	  tests/reliability $(PYTEST_ARGS)

# axe-core for the accessibility checks of the browser tests (skipped if npm is missing).
tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package.json
	-command -v npm >/dev/null && cd tests/browser && npm install --no-audit --no-fund --silent

## make bench: seed and measure at each size on SQLite and PostgreSQL, then tabulate
## into docs/performance.md (BENCH_SIZES="1000 100000 1000000" for the city-scale run)
BENCH_SIZES ?= 1000 100000
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432/bench
bench: $(VENV)/.installed-dev
	for n in $(BENCH_SIZES); do \
	  $(BIN)/python -m bench.seed --fresh --cases $$n --database-url sqlite:///$(CURDIR)/instance/bench-$$n.db && \
	  $(BIN)/python -m bench.http --label $$n --database-url sqlite:///$(CURDIR)/instance/bench-$$n.db || exit 1; \
	  createdb -h 127.0.0.1 -U postgres bench 2>/dev/null; \
	  $(BIN)/python -m bench.seed --fresh --cases $$n --database-url $(BENCH_PG) && \
	  $(BIN)/python -m bench.http --label $$n --database-url $(BENCH_PG) || exit 1; \
	done
	$(BIN)/python -m bench.report

## make lock: pin exact versions with hashes for production installs
## (pip install --require-hashes -r requirements.lock); a test keeps it in step with pyproject
lock: $(VENV)/.installed-dev
	$(BIN)/pip-compile --quiet --generate-hashes --extra prod --strip-extras --no-emit-index-url \
	  --no-emit-find-links --output-file requirements.lock pyproject.toml

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
