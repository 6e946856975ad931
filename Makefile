# The two commands a new user runs: `make run` and `make test`. Both need only Python 3.11+;
# everything else (uv, the locked packages) is installed into .tools/ and .venv/ here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := .tools/bin/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: install run serve test e2e lint format messages bench bench-check clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	@touch $(STAMP)

install: $(STAMP)

run: install
	@$(BIN)/python manage.py describe_setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py setup_schedules
	$(BIN)/python manage.py seed_demo --once
	$(BIN)/python manage.py demo_channels
	@$(BIN)/python manage.py describe_setup --logins
	$(BIN)/honcho start

# Production-style web server: gunicorn (config/gunicorn.conf.py: WEB_BIND, WEB_WORKERS, JSON
# logs) with the workers' Prometheus counters in var/metrics (emptied at each start). Celery
# worker and beat run beside it (Procfile). docs/operations.md lists the environment.
serve: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PROMETHEUS_MULTIPROC_DIR="$${PROMETHEUS_MULTIPROC_DIR:-$${VAR_DIR:-var}/metrics}" \
		$(BIN)/gunicorn config.wsgi --config config/gunicorn.conf.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The browser tests (tests/e2e) drive Debian's Chromium: scripts/ensure-chromium installs it
# when it can (as root) and says in one line whether they run or are skipped, and why.
test: lint
	@$(BIN)/python manage.py describe_setup
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check
	@bash scripts/ensure-chromium
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

# The browser tests alone (screenshots in var/e2e-screenshots/).
e2e: install
	@bash scripts/ensure-chromium
	$(BIN)/python -m pytest -n 2 tests/e2e $(PYTEST_ARGS)

messages: install
	$(BIN)/python manage.py makemessages -l fa -l ar -l az --no-obsolete \
		--ignore=.venv --ignore=.tools --ignore=var --ignore=tests --ignore=bench
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=.tools

# Every benchmark (PostgreSQL: DATABASE_URL or BENCH_DATABASE_URL), then a summary of every
# figure with its ratio (bench/run.py). Full mode by hand; quick check mode in CI.
bench: install
	$(BIN)/python bench/run.py

bench-check: install
	$(BIN)/python bench/run.py --quick --check

clean:
	rm -rf $(VENV) .tools var
