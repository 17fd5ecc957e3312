# make demo: set up, fill an embedded store with a demo shop and serve it.
# make test: set up and run every test (SQLite, PostgreSQL, Redis, headless Chromium).
VENV := .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint bench clean

demo: node_modules/.installed $(STAMP)
	@scripts/system-packages demo
	$(VENV)/bin/kefu demo

test: node_modules/.installed $(STAMP)
	@scripts/system-packages test
	scripts/run-tests

setup: node_modules/.installed $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -c requirements.lock -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || scripts/system-packages demo
	npm ci --no-audit --no-fund --silent
	@touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

bench: $(STAMP)
	$(VENV)/bin/python bench/import.py --messages 1000000

clean:
	rm -rf $(VENV) node_modules data
