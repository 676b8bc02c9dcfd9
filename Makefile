VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
PORT ?= 8080

.PHONY: run test lint bench bench-peers system-deps assets clean

$(BIN)/fireline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

# The web app's third-party browser files (htmx; axe-core for the browser tests), from the npm
# registry at the versions package-lock.json pins; never committed.
ASSETS := node_modules/.installed
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets: $(ASSETS)

run: $(BIN)/fireline $(ASSETS)
	$(BIN)/fireline db upgrade
	$(BIN)/fireline serve --port $(PORT)

system-deps:
	./scripts/install-system-deps

lint: $(BIN)/fireline
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/mypy

test: $(BIN)/fireline $(ASSETS) system-deps lint
	$(BIN)/pytest

bench: $(BIN)/fireline $(ASSETS)
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

# The engine raced against DBOS Transact 3.4 (bench/bench_peers.py). DBOS lives in a venv of
# its own: it is a peer to measure against, never a dependency of Fireline.
PEERS := .venv-peers
$(PEERS)/bin/dbos: Makefile
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install -q --disable-pip-version-check 'dbos==3.4.0'
	touch $@

bench-peers: $(BIN)/fireline $(PEERS)/bin/dbos
	$(BIN)/python bench/bench_peers.py --peers-python $(PEERS)/bin/python

clean:
	rm -rf $(VENV) $(PEERS) .fireline node_modules
