# The whole set-up is two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=
# The suite runs on every core (pytest-xdist); PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto

.PHONY: run test lint gates suite translations extract browser-deps screenshots bench bench-deps load clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# The extras the suite needs, in one resolution: test; deploy (tests/deploy starts gunicorn
# and waitress, tests/scaleout gunicorn); load (Locust, for `make load`). uv resolves and
# installs the same ranges of setup.cfg as pip would, in a quarter of the time (about 15 s
# against 50 s on a fresh machine: it downloads and unpacks in parallel).
$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml Makefile
	$(BIN)/python -m pip install -q 'uv>=0.9,<1'
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test,deploy,load]'
	@touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -f -d vaxportal/translations

# The app on its embedded defaults (SQLite under instance/, SMS on the console) with demo data.
run: $(VENV)/.installed translations
	VAXPORTAL_DEBUG=1 $(BIN)/vaxportal db upgrade
	VAXPORTAL_DEBUG=1 $(BIN)/vaxportal seed-demo
	VAXPORTAL_DEBUG=1 $(BIN)/vaxportal run --host $(HOST) --port $(PORT)

# The IE11 gates run inside the suite (tests/unit/test_static_assets.py), beside the other
# tests, not once more before it; `make gates` runs them alone.
test: lint suite

lint: $(VENV)/.installed
	$(BIN)/ruff check vaxportal tests bench migrations

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Internet Explorer 11 gates: ES5 JavaScript, IE11-safe CSS, the exact htmx 1.9.12 file.
gates: node_modules/.installed
	bash tools/ie11-gates.sh

# Byte-code caching on even where the shell turns it off: each worker would otherwise rewrite
# the asserts of every test module again (about 6 s of CPU per worker and run).
# The scale-out tests (tests/scaleout) start gunicorn: the deploy extra comes with the suite.
suite: $(VENV)/.installed translations node_modules/.installed browser-deps
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Chromium for the browser journeys (Debian's packages; browsers cannot be downloaded here):
# the journeys drive its headless shell (Chromium's own headless build, as Playwright does by
# default), which takes less than half the CPU of the full browser in headless mode (the
# browser suite: 137 s against 237 s); the screenshots are taken in the full browser.
browser-deps:
	@{ command -v chromium && command -v chromium-headless-shell; } >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  chromium chromium-headless-shell >/dev/null; }

# Refresh docs/screenshots/ from the browser journeys (JavaScript on).
screenshots: $(VENV)/.installed translations browser-deps
	VAXPORTAL_SCREENSHOTS=1 VAXPORTAL_CHROMIUM=$$(command -v chromium) \
	  $(BIN)/python -m pytest -q tests/browser -k "not nojs"

extract: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs="node_modules .* _*" -o vaxportal/translations/messages.pot .
	$(BIN)/pybabel update -i vaxportal/translations/messages.pot -d vaxportal/translations

# Benchmarks (not part of `make test`): reduced scale by default, under 15 minutes on a quiet
# machine of two cores; `make bench SCALE=full` builds a province (2 M recipients, 6 M doses).
SCALE ?= reduced
bench: $(VENV)/.installed translations bench-deps
	$(BIN)/python bench/run.py $(if $(filter full,$(SCALE)),--full) $(BENCH_ARGS)

# gunicorn (the `deploy` extra) and wrk (Debian's package) for the throughput benchmark.
bench-deps:
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# The load test (not part of `make test`): Locust's clinic staff, supervisors and exports
# against gunicorn -w $(LOAD_WORKERS) and a worker on PostgreSQL + Redis; p50/p95/p99 per
# request kind, failing on any error but the app's own 429s. It DROPS and re-creates the
# database of LOAD_DATABASE_URI (default vax_load) and empties the Redis database of
# LOAD_REDIS_URL (default number 15). .ci/run runs `make load LOAD_USERS=20 LOAD_SECONDS=30`.
LOAD_USERS ?= 100
LOAD_SECONDS ?= 120
LOAD_WORKERS ?= 4
load: $(VENV)/.installed translations
	$(BIN)/python bench/load.py --users $(LOAD_USERS) --seconds $(LOAD_SECONDS) \
	  --web-workers $(LOAD_WORKERS) $(LOAD_ARGS)

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache
