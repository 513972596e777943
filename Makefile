# Bootstraps .venv with pip unless a Python with the course's dependencies is already active
# (a conda env from environment.yml, or an activated virtualenv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
HAVE_DEPS := $(shell $(PYTHON) -c "import numpy, matplotlib, nbgrader, jupyterlab, pytest, attention_ref" >/dev/null 2>&1 && echo yes)

ifeq ($(HAVE_DEPS),yes)
PY := $(PYTHON)
ENV_TARGET :=
else
PY := $(VENV)/bin/python
ENV_TARGET := $(VENV)/.installed
endif

.PHONY: test lab demo bench lint env

env: $(ENV_TARGET)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

test: $(ENV_TARGET)
	$(PY) -m pytest

lint: $(ENV_TARGET)
	$(PY) -m ruff check .

bench: $(ENV_TARGET)
	$(PY) benchmarks/bench_attention.py
