# lrnotes: the two commands of the README, and a few helpers.
#   make book            install into .venv, execute every chapter, build _build/html/
#   make test            install into .venv, run the test suite
# Variables: PROFILE=full|quick (make book), PYTHON=python3.11, JOBS=2.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= full
JOBS ?= 2

.PHONY: install book test benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[test]"
	touch $@

book: install
	$(BIN)/lrnotes build --profile $(PROFILE) --jobs $(JOBS)

test: install
	$(BIN)/python -m pytest

benchmark: install
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf _build
