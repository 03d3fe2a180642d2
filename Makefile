PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip

.PHONY: setup test test-slow

# CPU build of torch pinned; GPU users: install the CUDA build of torch into .venv first
# (see README), then run `$(PIP) install -e '.[dev]'`.
setup:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'

test:
	$(VENV)/bin/python -m pytest -q

test-slow:
	$(VENV)/bin/python -m pytest -q -m slow
