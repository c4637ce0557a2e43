# The two commands: `make up` runs the whole stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test install services lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[embedded,test]'
	touch $(STAMP)

install: $(STAMP)

up: install
	@scripts/ensure-services.sh
	$(BIN)/sluice up

test: install
	@scripts/ensure-services.sh --for-tests
	$(BIN)/lint-imports
	$(BIN)/pytest -q -m "not faults"
	$(BIN)/pytest -q -m faults

clean:
	rm -rf $(VENV) .sluice
