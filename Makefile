# wsattack: every target works from a fresh clone; `make install` runs first where needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
DATA ?= $(SHARED)/data
ZOO_DIR ?= $(SHARED)/checkpoints
N ?= 10000
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install test test-fast lint demo demo-assets bench clean

help:  ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-28s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install wsattack with its dev tools

test: $(STAMP)  ## run the test suite (the CI command)
	$(BIN)/pytest -q

lint: $(STAMP)  ## ruff checks
	$(BIN)/ruff check src tests scripts

clean:  ## remove build artefacts (keeps .venv and outputs)
	rm -rf build dist .pytest_cache .ruff_cache
