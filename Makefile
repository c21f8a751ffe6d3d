# The README's two commands: `make demo` (the main job) and `make test` (every test).
# Each creates .venv on first use and installs what it needs; re-running is cheap.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/campaignkit demo

test: $(VENV)/.installed-test
	$(VENV)/bin/pytest

bench: $(VENV)/.installed-test
	$(PY) benchmarks/run.py
