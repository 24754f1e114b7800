# Arxiv Atlas: every set-up step lives here, so a fresh machine needs only `make demo` / `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ATLAS := $(VENV)/bin/atlas
ATLAS_SAMPLE ?= $(abspath ../shared/data/arxiv-10k.jsonl.gz)
export ATLAS_SAMPLE

.PHONY: install frontend browser compose demo test lint bench-browser bench-load bench-projection bench-maps bench-api bench-install bench-ann bench-scale bench-loadtest bench-footprint scale-db clean-db

install: $(VENV)/.installed frontend browser compose

# torch first, pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The web map (frontend/): npm packages from the lock file, bundled by Vite into frontend/dist,
# which `atlas serve` serves at /. Rebuilt when a source file changes.
FRONTEND_SOURCES := $(wildcard frontend/src/*.js frontend/src/*.css frontend/src/ui/*.js frontend/src/explain/*.js) \
	frontend/index.html frontend/vite.config.js frontend/package.json frontend/package-lock.json

frontend: frontend/dist/index.html

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && npm run build --silent

# Browser tests drive Debian's chromium through Playwright (never `playwright install`, which
# downloads a browser): install the Debian package when it is missing (needs root, as in CI).
CHROMIUM ?= /usr/bin/chromium

browser: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then echo "chromium is missing: run 'apt-get install chromium' as root"; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# compose.yaml is validated by `docker-compose config` (tests/test_compose.py), which needs no Docker
# engine: install Debian's docker-compose when it is missing (needs root, as in CI).
DOCKER_COMPOSE ?= /usr/bin/docker-compose

compose: $(DOCKER_COMPOSE)

$(DOCKER_COMPOSE):
	@command -v docker-compose >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "docker-compose is missing: run 'apt-get install docker-compose' as root"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }

demo: install
	$(ATLAS) db start
	$(ATLAS) db upgrade
	$(ATLAS) load "$(ATLAS_SAMPLE)" --embeddings auto
	$(ATLAS) build
	@echo
	@$(ATLAS) db status
	@echo
	@echo "The papers and their maps are in PostgreSQL. Query them:"
	@echo "  psql \"\$$($(ATLAS) db url)\""
	@echo "  select * from similar_papers('0705.1986', 5);"
	@echo "  select label, size from map_topics where level = 0 order by size desc;"
	@echo "  $(ATLAS) search 'minimization of automata' --mode hybrid"
	@echo
	@echo "The web map: http://$${ATLAS_API_HOST:-127.0.0.1}:$${ATLAS_API_PORT:-8000}/ (the start page lists the maps)"
	$(ATLAS) serve

test: install
	$(PY) -m ruff check .
	$(PY) -m mypy
	cd frontend && npm run lint --silent
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15  # two workers (2 cores), one test file per worker at a time, in tests/conftest.py's order

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy
	cd frontend && npm run lint --silent

bench-load: install
	$(PY) bench/load.py

bench-projection: install
	$(PY) bench/projection.py

bench-maps: install
	$(PY) bench/maps.py

bench-api: install
	$(PY) bench/api.py

# 50 concurrent clients for 60 s of mixed traffic against `atlas serve` (after `make demo`); fails on any error.
bench-loadtest: install
	$(PY) bench/load_test.py

bench-browser: install
	$(PY) bench/browser.py

# A query's footprint (map_footprint, map_footprint_topics) at 100k; writes nothing when the load average is above 1.
bench-footprint: install
	$(PY) bench/footprint.py

# The 1.2M-paper benchmarks (not part of `make test`); PAPERS=100000 for a quicker run.
PAPERS ?= 1200000

# Chroma (the `bench` extra) joins pgvector and FAISS in the nearest-neighbour comparison.
bench-install: install
	$(PY) -m pip install --quiet -e '.[bench]'

bench-ann: bench-install
	$(PY) bench/ann.py --papers $(PAPERS)

bench-scale: bench-install
	$(PY) bench/scale.py --papers $(PAPERS)

# A kept database `atlas_scale` with the scale set and its all-papers map (for the web map at scale).
scale-db: install
	$(PY) bench/make_scale.py --papers $(PAPERS) --database atlas_scale

clean-db:
	-$(ATLAS) db stop
	rm -rf .atlas
