"""Does grading name the real cause of a failure, the way a novice needs it? (Real kernels.)

A syntax error in an answer cell is reported with its line, not as the NameError it causes; an
exercise that fails because it calls an earlier exercise's failing function says to fix that one
first; a function that never returns costs its time limit once, not once per cell that calls it.
"""

from __future__ import annotations

import nbformat
import pytest

from demo.students import strip_solution
from grader.pipeline.course import NOTEBOOKS
from grader.runtime.grade import Limits, check_notebook
from grader.runtime.notebook import grade_id
from grader.sources import read_source

ASSIGNMENT = "01_attention_weights"


def _notebook(tmp_path, **answers):
    """The released notebook 01 with the solutions, some answer cells replaced by ``answers``."""
    source = read_source(ASSIGNMENT)
    solutions = {grade_id(c): strip_solution(c.source) for c in source.cells
                 if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(NOTEBOOKS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in nb.cells:
        if grade_id(cell) in solutions:
            cell.source = answers.get(grade_id(cell), solutions[grade_id(cell)])
    path = tmp_path / f"{ASSIGNMENT}.ipynb"
    nbformat.write(nb, path)
    return path


def _exercises(report):
    return {e["function"]: e for e in report.as_dict()["exercises"]}


@pytest.fixture(scope="module")
def syntax_error(tmp_path_factory):
    broken = ("def softmax(x, axis=-1):\n    x = np.asarray(x)\n"
              "    e = np.exp(x - x.max(axis=axis keepdims=True))\n"
              "    return e / e.sum(axis=axis, keepdims=True)\n")
    return check_notebook(_notebook(tmp_path_factory.mktemp("syntax"), softmax=broken), seed=1)


def test_a_syntax_error_is_reported_with_its_line_not_as_a_name_error(syntax_error):
    softmax = _exercises(syntax_error)["softmax"]
    assert softmax["points"] == 0
    first = softmax["feedback"].splitlines()[0]
    assert first.startswith("Your answer cell for softmax did not run — SyntaxError")
    assert "line 3: e = np.exp(x - x.max(axis=axis keepdims=True))" in first


def test_an_exercise_that_calls_a_failing_one_says_to_fix_that_one_first(syntax_error):
    exercises = _exercises(syntax_error)
    assert exercises["attention_weights"]["feedback"].startswith(
        "attention_weights calls your `softmax`, which fails its own check above: fix `softmax` first")
    assert exercises["attend"]["feedback"].startswith(
        "attend calls your `attention_weights`, which fails its own check above because of `softmax`: "
        "fix `softmax` first")
    assert exercises["dot_scores"]["passed"] and exercises["weighted_sum"]["passed"]


def test_a_function_that_never_returns_costs_its_limit_once(tmp_path):
    """With softmax looping forever, is only its own check stopped at the limit, and are the later
    cells that call it (a check, plots) told at once why softmax is not called again?"""
    loop = "def softmax(x, axis=-1):\n    while True:\n        pass\n"
    report = check_notebook(_notebook(tmp_path, softmax=loop), seed=1, limits=Limits(cell_timeout=15))
    timeouts = [e for e in report.graded.events if e.kind == "timeout"]
    assert [grade_id(report.graded.notebook.cells[e.index]) for e in timeouts] == ["test_softmax"]
    exercises = _exercises(report)
    assert exercises["softmax"]["feedback"].startswith("softmax did not return")
    weights = exercises["attention_weights"]["feedback"]
    assert "not called again" in weights and weights.startswith("attention_weights calls your `softmax`")
