# The usual tasks. Every target builds its own virtualenv first, so each works on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv demo demo-incremental test unit integration bench bench-small bench-schedule bench-schedule-small image-test pyairbyte-test ci lint clean

$(BIN)/.installed: setup.py pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[tests]'
	touch $@

venv: $(BIN)/.installed

## The built-in demo: a local fake Mixpanel, a real `read`, a summary. No Mixpanel account needed.
demo: venv
	$(BIN)/python scripts/demo.py

## The next sync after `make demo`: the fake again on the same data (plus late events), `read --state .demo/state.json`.
demo-incremental: venv
	$(BIN)/python scripts/demo.py --incremental

## All quick tests: unit, integration over real HTTP against the fake server, acceptance suite.
test: venv
	$(BIN)/python -m pytest -m "not heavy"

unit: venv
	$(BIN)/python -m pytest unit_tests

integration: venv
	$(BIN)/python -m pytest integration_tests -m "not heavy"

bench: venv
	$(BIN)/python bench/bench.py

bench-small: venv
	$(BIN)/python bench/bench.py --events 20000 --scaling 2000,10000,50000 --profiles 2000,10000

## A simulated week of hourly and 15-minute syncs on one clock: transfer, loss, late-event delay, requests/hour, vs today's plan.
bench-schedule: venv
	$(BIN)/python bench/schedule.py

bench-schedule-small: venv
	$(BIN)/python bench/schedule.py --events-per-day 100 --drop-day 70000

image-test: venv
	PYTHON=$(BIN)/python bash scripts/test-image.sh

## End to end through PyAirbyte into DuckDB. Heavy (~800 MB), so in a venv of its own: PyAirbyte
## pins older cryptography/protobuf/rich than the connector alone gets, and .venv stays lean.
## The test itself pip-installs the connector into a fresh temp venv, as a user would.
pyairbyte-test:
	test -x .venv-pyairbyte/bin/python || $(PYTHON) -m venv .venv-pyairbyte
	.venv-pyairbyte/bin/pip install --quiet --upgrade pip
	.venv-pyairbyte/bin/pip install --quiet -c constraints.txt -e '.[tests]' 'airbyte>=0.71,<1'
	.venv-pyairbyte/bin/python -m pytest -m heavy --durations=3 integration_tests/test_pyairbyte.py

ci: test bench-small bench-schedule-small image-test pyairbyte-test

lint: venv
	$(BIN)/pip install --quiet ruff
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .demo .bench build *.egg-info
