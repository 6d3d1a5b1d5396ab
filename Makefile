# The two set-up commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test bench clean readme

# Run the main job on the embedded demo: no server, no network at run time.
demo: $(VENV)/.installed-demo
	$(BIN)/reportupdater run queries output --now 2026-11-01T00:00:00 --no-graphite

# Install what the tests need (Python packages, npm's statsd, MariaDB if down)
# and run the whole suite against the real servers.
test:
	bash .ci/setup-test-env
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)
	$(BIN)/python -m reportupdater test queries

bench: $(VENV)/.installed-demo
	bash .ci/setup-test-env
	$(BIN)/python -m bench

$(VENV)/.installed-demo: setup.cfg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	touch $@

clean:
	rm -rf output/* $(VENV)

# Regenerate the --help blocks of docs/cli.md.
readme:
	$(BIN)/python tools/readme.py
