# Arxiv Atlas: every set-up step lives here, so a fresh machine needs only `make demo` / `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ATLAS := $(VENV)/bin/atlas
ATLAS_SAMPLE ?= $(abspath ../shared/data/arxiv-10k.jsonl.gz)
export ATLAS_SAMPLE

.PHONY: install demo test lint bench-load bench-projection bench-maps bench-api clean-db

install: $(VENV)/.installed

# torch first, pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

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
	$(ATLAS) serve

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .

bench-load: install
	$(PY) bench/load.py

bench-projection: install
	$(PY) bench/projection.py

bench-maps: install
	$(PY) bench/maps.py

bench-api: install
	$(PY) bench/api.py

clean-db:
	-$(ATLAS) db stop
	rm -rf .atlas
