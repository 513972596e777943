"""The course's notebooks under test: their paths, and each notebook graded once per session.

Grading runs a real kernel (a few seconds a notebook), so every notebook is graded once
and the results are shared by the tests that read them.
"""

from __future__ import annotations

import functools

from grader import course, selfcheck

#: Seed of the hidden checks in these tests (fixed, so that a failure can be replayed).
SEED = 20261124

ASSIGNMENTS = course.assignments()


def source_path(assignment):
    return course.SOLUTIONS / assignment / f"{assignment}.ipynb"


def release_path(assignment):
    return course.NOTEBOOKS / assignment / f"{assignment}.ipynb"


@functools.cache
def graded(tree, assignment):
    """``selfcheck.grade`` of the solutions (``tree="solutions"``) or the release (``"notebooks"``).

    Returns
    -------
    report : dict
    graded : nbformat.NotebookNode
        The executed notebook with the feedback in its test cells.
    """
    path = source_path(assignment) if tree == "solutions" else release_path(assignment)
    report, _, nb = selfcheck.grade(path, seed=SEED)
    return report, nb
