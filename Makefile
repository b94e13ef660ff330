# Fresh machine: `make demo` (install, build the embedded model, index the sample, serve it)
# and `make test` (install, run the whole suite). Everything runs offline but for the package registries.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/thaigov-search
DEMO_INDEX ?= demo-index
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install browser demo demo-index test lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,fast,adapt,ray]"
	touch $@

# Debian's Chromium (for the browser test) and Thai fonts (readable screenshots).
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi tlwg || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-thai-tlwg >/dev/null)

demo-index: install
	$(CLI) index --input tests/fixtures/demo-sample.jsonl.gz --index-dir $(DEMO_INDEX)
	$(CLI) search --index-dir $(DEMO_INDEX) "digital government seminar 2018" --k 3

demo: demo-index
	@echo "Serving http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(CLI) serve --index-dir $(DEMO_INDEX) --host $(HOST) --port $(PORT)

# The lint runs first: ruff, and the import contracts of pyproject.toml (the layer map of docs/design.md).
test: install browser lint
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check thaigov_search tests benchmarks scripts
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) $(DEMO_INDEX) .pytest_cache
