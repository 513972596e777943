"""Does `python -m grader check` work for a self-paced learner from the installed wheels, with no checkout?

Both wheels are built from this tree and installed into a fresh virtualenv outside the checkout;
the learner's notebook lies in a folder of its own, which is also the working folder. The
assignments' sources come from the instructor's wheel (``grader/assignments``).
"""

from __future__ import annotations

import json

import nbformat
import pytest
from student_notebooks import filled_notebook
from wheels import make_venv, run

ASSIGNMENT = "01_attention_weights"
SEED = 11
SOFTMAX_NO_MAX = '''def softmax(x, axis=-1):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)'''

#: Where the installed grader finds the sources, and whether it took itself for a checkout.
WHERE = "import grader.sources as s; print(s.CHECKOUT); print(s.SOLUTIONS)"


@pytest.fixture(scope="module")
def self_study_venv(wheels, tmp_path_factory):
    """A fresh virtualenv with both wheels and their dependencies: (python, home, work folder)."""
    base = tmp_path_factory.mktemp("self-study")
    python = make_venv(base / "venv", [wheels.student, wheels.instructor], base / "home")
    work = base / "work"
    work.mkdir()
    return python, base / "home", work


def _check(self_study_venv, nb, name):
    python, home, work = self_study_venv
    nbformat.write(nb, work / name)
    done = run(python, ["-m", "grader", "check", name, "--json", "--seed", str(SEED)], cwd=work, home=home)
    return json.loads(done.stdout)


def test_the_installed_grader_reads_the_packaged_sources(self_study_venv):
    """Outside a checkout, does the installed grader know it has none and read the sources it ships?"""
    python, home, work = self_study_venv
    checkout, solutions = run(python, ["-c", WHERE], cwd=work, home=home).stdout.split()
    assert checkout == "None"
    assert solutions.endswith("site-packages/grader/assignments") and str(python.parent.parent) in solutions


def test_a_filled_in_notebook_gets_full_marks_from_the_installed_wheels(self_study_venv):
    """Does `python -m grader check` give a released notebook with the solutions filled in every point,
    hidden checks included?"""
    report = _check(self_study_venv, filled_notebook(ASSIGNMENT), f"{ASSIGNMENT}.ipynb")
    assert report["assignment"] == ASSIGNMENT, report
    failed = {e["grade_id"]: e["feedback"] for e in report["exercises"] if not e["passed"]}
    assert failed == {} and report["score"] == report["max_score"] > 0, report


def test_a_mistake_is_named_by_the_installed_wheels(self_study_venv):
    """Does the installed check name a learner's mistake (a softmax without the max subtracted)?"""
    report = _check(self_study_venv, filled_notebook(ASSIGNMENT, {"softmax": SOFTMAX_NO_MAX}),
                    f"{ASSIGNMENT}-nomax.ipynb")  # a copy, named as learners name them
    softmax = next(e for e in report["exercises"] if e["grade_id"] == "test_softmax")
    assert not softmax["passed"] and "subtract" in softmax["feedback"].lower(), softmax
    assert report["score"] < report["max_score"]
