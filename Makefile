# Bootstraps .venv with pip unless a Python with the course's dependencies is already active
# (a conda env from environment.yml, or an activated virtualenv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
HAVE_DEPS := $(shell $(PYTHON) -c "import numpy, matplotlib, nbgrader, jupyterlab, ipywidgets, pytest, playwright, psycopg, distributed, attention_ref, attention_course" >/dev/null 2>&1 && echo yes)

ifeq ($(HAVE_DEPS),yes)
PY := $(PYTHON)
ENV_TARGET :=
else
PY := $(VENV)/bin/python
ENV_TARGET := $(VENV)/.installed
endif

.PHONY: test quick lab demo bench lint env

env: $(ENV_TARGET)

# The student package (student/) and the instructor package (this folder), both editable.
$(VENV)/.installed: pyproject.toml student/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ./student -e '.[test,postgres,dask]'
	touch $@

# The whole suite: unit, kernel, end-to-end and browser tiers (what CI runs).
test: $(ENV_TARGET)
	$(PY) -m pytest

# The unit tier only, for the edit-test loop.
quick: $(ENV_TARGET)
	$(PY) -m pytest tests/unit -q

# Students: JupyterLab on notebooks/, with nbgrader's Validate button and assignment list switched on.
# Run from the repository root, so that Validate reads nbgrader_config.py (--allow-root: containers).
lab: $(ENV_TARGET)
	$(PY) -m jupyter labextension enable --level=sys_prefix \
		@jupyter/nbgrader:validate-assignment @jupyter/nbgrader:assignment-list
	$(PY) -m jupyter server extension enable --sys-prefix \
		nbgrader.server_extensions.validate_assignment nbgrader.server_extensions.assignment_list
	@# The instructor's tools (formgrader, create assignment, course list) stay out of the students' lab.
	$(PY) -m jupyter labextension disable --level=sys_prefix \
		@jupyter/nbgrader:formgrader @jupyter/nbgrader:create-assignment @jupyter/nbgrader:course-list
	$(PY) -m jupyter server extension disable --sys-prefix \
		nbgrader.server_extensions.formgrader nbgrader.server_extensions.course_list
	OPENBLAS_NUM_THREADS=1 $(PY) -m jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(ENV_TARGET)
	$(PY) -m ruff check .

# The instructor pipeline on a synthetic class: release, collect, autograde --jobs 2, feedback, export, report.
demo: $(ENV_TARGET)
	$(PY) -m demo

bench: $(ENV_TARGET)
	$(PY) benchmarks/bench_attention.py
