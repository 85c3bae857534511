# lrnotes: the two commands of the README, and a few helpers.
#   make book            install into .venv, execute every chapter, build _build/html/
#   make test            install into .venv, run the test suite on the full-profile book (as CI)
#   make test PROFILE=quick   the same on the quick profile: a smoke run that skips the chapters' claims
# Variables: PROFILE=full|quick, PYTHON=python3.11, JOBS=2.

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
	LRNOTES_TEST_PROFILE=$(PROFILE) $(BIN)/python -m pytest

benchmark: install
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf _build
