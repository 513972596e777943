"""The course's notebooks under test: their paths, and each notebook graded once per session.

Grading runs a real kernel (a few seconds a notebook), so every notebook is graded once
and the results are shared by the tests that read them.
"""

from __future__ import annotations

import functools

from grader.pipeline.course import NOTEBOOKS
from grader.runtime.grade import check_notebook
from grader.sources import assignments
from grader.sources import source_path as _source_path

#: Seed of the hidden checks in these tests (fixed, so that a failure can be replayed).
SEED = 20261124

ASSIGNMENTS = assignments()


def source_path(assignment):
    return _source_path(assignment)


def release_path(assignment):
    return NOTEBOOKS / assignment / f"{assignment}.ipynb"


@functools.cache
def graded(tree, assignment):
    """The self-check of the solutions (``tree="solutions"``) or the release (``"notebooks"``).

    Returns
    -------
    report : dict
        As ``python -m grader check --json`` prints it.
    graded : nbformat.NotebookNode
        The executed notebook with the feedback in its test cells.
    """
    path = source_path(assignment) if tree == "solutions" else release_path(assignment)
    report = check_notebook(path, seed=SEED)
    return report.as_dict(), report.graded.notebook
