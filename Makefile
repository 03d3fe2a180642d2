PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip

.PHONY: setup lint test test-slow test-wheel

# CPU build of torch pinned; GPU users: install the CUDA build of torch into .venv first
# (see README), then run `$(PIP) install -e '.[dev]'`.
setup:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'

test: lint
	$(VENV)/bin/python -m pytest -q

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-slow:
	$(VENV)/bin/python -m pytest -q -m slow

# build the wheel, pip install it into a fresh venv, run `electra` from it (a few minutes)
test-wheel:
	$(VENV)/bin/python -m pytest -q -m slow tests/test_wheel.py
