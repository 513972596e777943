# Bootstraps .venv with pip unless a Python with the course's dependencies is already active
# (a conda env from environment.yml, or an activated virtualenv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
HAVE_DEPS := $(shell $(PYTHON) -c "import numpy, matplotlib, nbgrader, jupyterlab, ipywidgets, nh3, pytest, playwright, jupyterhub, psycopg, distributed, attention_ref, attention_course" >/dev/null 2>&1 && echo yes)

ifeq ($(HAVE_DEPS),yes)
PY := $(PYTHON)
ENV_TARGET :=
else
PY := $(VENV)/bin/python
ENV_TARGET := $(VENV)/.installed
endif

.PHONY: test quick lab demo bench lint env hub-env

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

# Students: JupyterLab on notebooks/, with nbgrader's Validate button and Assignment List and without the
# instructor's tools. The student role's Jupyter config folder (deploy/hub/jupyter/attention/student, what
# the hub gives students) goes in front for this server only: the environment's own settings are left
# alone, so an instructor's `jupyter lab` (or `python -m grader formgrader`) in the same environment keeps
# the formgrader. Run from the repository root, so that Validate reads nbgrader_config.py (--allow-root:
# containers).
STUDENT_CONFIG := $(CURDIR)/deploy/hub/jupyter/attention/student
lab: $(ENV_TARGET)
	@# Undo what earlier versions of this target did: switch the instructor's tools off environment-wide.
	@$(PY) -m jupyter server extension enable --sys-prefix \
		nbgrader.server_extensions.formgrader nbgrader.server_extensions.course_list >/dev/null 2>&1 || true
	@$(PY) -m jupyter labextension enable --level=sys_prefix \
		@jupyter/nbgrader:formgrader @jupyter/nbgrader:create-assignment @jupyter/nbgrader:course-list \
		>/dev/null 2>&1 || true
	JUPYTER_CONFIG_PATH="$(STUDENT_CONFIG)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" OPENBLAS_NUM_THREADS=1 \
		$(PY) -m jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# A class on one machine (deploy/hub/README.md, tests/browser/test_hub_class.py): configurable-http-proxy
# from npm in .hub/node, and the class's two Python environments under HUB_ENVS, built from HUB_PYTHON (a
# system Python every user can run; the developer's own may live in an unreadable home):
#   student/     the student wheel, JupyterLab, nbgrader and jupyterhub: readable by everyone
#   instructor/  both wheels and jupyterhub: mode 0750, group HUB_INSTRUCTORS (root only)
# JupyterHub, JupyterLab and nbgrader have the versions of the environment that runs the tests.
HUB_ENVS ?= /opt/attention-course
HUB_PYTHON ?= /usr/bin/python3
HUB_INSTRUCTORS ?= attention-instructors
CHP_VERSION := 4.6.3
HUB_PROXY := .hub/node/node_modules/.bin/configurable-http-proxy
HUB_WHEELS := .hub/wheels
PACKAGE_FILES := pyproject.toml student/pyproject.toml $(shell find grader attention_ref student/attention_course \
	solutions -type f \( -name '*.py' -o -name '*.ipynb' -o -name '*.json' -o -name '*.j2' \) \
	-not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*')
PINNED = $(shell $(PY) -c "from importlib.metadata import version as v; \
	print(' '.join(f'{p}=={v(p)}' for p in ('jupyterhub', 'jupyterlab', 'nbgrader')))")

hub-env: $(HUB_PROXY) $(HUB_ENVS)/.installed

$(HUB_PROXY):
	npm install --prefix .hub/node --no-audit --no-fund --loglevel=error configurable-http-proxy@$(CHP_VERSION)

$(HUB_ENVS)/.installed: $(ENV_TARGET) $(PACKAGE_FILES)
	rm -rf $(HUB_WHEELS) && mkdir -p $(HUB_WHEELS)
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir $(HUB_WHEELS) ./student .
	rm -rf build student/build
	for env in student instructor; do \
		test -x $(HUB_ENVS)/$$env/bin/python || $(HUB_PYTHON) -m venv $(HUB_ENVS)/$$env || exit 1; \
		$(HUB_ENVS)/$$env/bin/python -m pip install --quiet --upgrade pip || exit 1; \
	done
	$(HUB_ENVS)/student/bin/python -m pip install --quiet $(HUB_WHEELS)/attention_course-*.whl $(PINNED)
	$(HUB_ENVS)/student/bin/python -m pip uninstall --quiet --yes attention-course-grader 2>/dev/null || true
	$(HUB_ENVS)/instructor/bin/python -m pip install --quiet $(HUB_WHEELS)/*.whl $(PINNED)
	@# The same version number may hold new code: put this tree's wheels in, whatever pip thinks is installed.
	$(HUB_ENVS)/student/bin/python -m pip install --quiet --no-deps --force-reinstall $(HUB_WHEELS)/attention_course-*.whl
	$(HUB_ENVS)/instructor/bin/python -m pip install --quiet --no-deps --force-reinstall $(HUB_WHEELS)/*.whl
	chmod -R a+rX $(HUB_ENVS)/student $(HUB_ENVS)/instructor
	chmod 0755 $(HUB_ENVS)
	if [ "$$(id -u)" = 0 ]; then \
		getent group $(HUB_INSTRUCTORS) >/dev/null || groupadd --system $(HUB_INSTRUCTORS); \
		chgrp $(HUB_INSTRUCTORS) $(HUB_ENVS)/instructor && chmod 0750 $(HUB_ENVS)/instructor; \
	else \
		echo "not root: $(HUB_ENVS)/instructor stays readable by every user (see deploy/hub/README.md)"; \
	fi
	touch $@

lint: $(ENV_TARGET)
	$(PY) -m ruff check .

# The instructor pipeline on a synthetic class: release, collect, autograde --jobs 2, feedback, export, report.
demo: $(ENV_TARGET)
	$(PY) -m demo

bench: $(ENV_TARGET)
	$(PY) benchmarks/bench_attention.py
