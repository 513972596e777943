"""The test suite's tiers and shared helpers.

Tiers are folders, each marked with a pytest marker of the same name:

- ``tests/unit`` (``unit``) — in-process and fast: the reference against oracles, the
  student package, the checks on hundreds of buggy and valid implementations, the pipeline's
  pure parts, the notebooks' static quality bar. ``make quick`` runs this tier.
- ``tests/kernel`` (``kernel``) — notebooks run in real Jupyter kernels, in the sandbox.
- ``tests/e2e`` (``e2e``) — the class pipeline end to end, with real nbgrader and servers.
- ``tests/browser`` (``browser``) — JupyterLab driven in a headless Chromium.

``tests/support`` holds helpers shared by the tiers (imported as top-level modules).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # every tier draws without a display

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS / "support"))

TIERS = ("unit", "kernel", "e2e", "browser")


def pytest_collection_modifyitems(items):
    for item in items:
        tier = Path(str(item.fspath)).resolve().relative_to(TESTS).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


def pytest_generate_tests(metafunc):
    """Parametrise ``assignment`` over the course's assignments (the notebooks' tests)."""
    if "assignment" in metafunc.fixturenames:
        from course_runs import ASSIGNMENTS

        metafunc.parametrize("assignment", ASSIGNMENTS)


@pytest.fixture(params=["solutions", "notebooks"])
def tree(request):
    """The sources or the student release."""
    return request.param


#: The packages under test; a test folder's subfolder of the same name must not reach sys.path.
PACKAGES = ("attention_course", "attention_ref", "grader", "demo")


def pytest_collect_file(file_path, parent):
    """Refuse a test module beside a folder named like a package (tests/unit/grader, ...): pytest
    would put their common folder on sys.path, where that subfolder would shadow the package in
    every process the tests spawn."""
    if file_path.suffix == ".py" and file_path.name.startswith("test_") \
            and any((file_path.parent / name).is_dir() for name in PACKAGES):
        raise pytest.UsageError(f"{file_path}: move it into a subfolder; it would shadow "
                                "a package of the course (see tests/conftest.py)")
