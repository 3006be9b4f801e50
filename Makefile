# Two commands: `make up` runs the whole mesh, `make test` runs every check CI runs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install up test proto lint format clean bench

# Reinstall whenever pyproject.toml changes; the stamp makes repeat runs instant.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# Node's grpc-js + proto-loader prove the protos load outside Python. On a
# developer machine without npm (or when npm fails) the check is skipped and the
# test says so; in CI (CI=true) either one fails the build.
NODE_STAMP := tools/protocheck/node_modules/.installed
$(NODE_STAMP): tools/protocheck/package.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --prefix tools/protocheck && touch $(NODE_STAMP) \
	    || { echo "npm install failed: the Node proto-loader check will be skipped"; [ "$$CI" != true ]; }; \
	else echo "npm not found: the Node proto-loader check will be skipped"; [ "$$CI" != true ]; fi

install: $(STAMP) $(NODE_STAMP)

up: install
	exec $(VENV)/bin/leadengine up

# The headline benchmark (BENCHMARKS.md): seeds the data set on first use, then measures every
# scenario through a mesh of its own, prints the table and writes the JSON (BENCH_JSON).
# `make bench LEADS=10000` for a quick one.
LEADS ?= 1000000
BENCH_JSON ?= bench-$(LEADS).json
bench: install
	$(VENV)/bin/leadengine bench --leads $(LEADS) --own-mesh --json $(BENCH_JSON)

proto: install
	$(PY) scripts/gen_protos.py

lint: install
	$(VENV)/bin/buf lint
	$(PY) scripts/gen_protos.py --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services cli

test: lint
	$(VENV)/bin/pytest -q

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .leadengine
