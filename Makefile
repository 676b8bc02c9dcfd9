VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
PORT ?= 8080

.PHONY: run test lint bench system-deps clean

$(BIN)/fireline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(BIN)/fireline
	$(BIN)/fireline db upgrade
	$(BIN)/fireline serve --port $(PORT)

system-deps:
	./scripts/install-system-deps

lint: $(BIN)/fireline
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/mypy

test: $(BIN)/fireline system-deps lint
	$(BIN)/pytest

bench: $(BIN)/fireline
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .fireline
