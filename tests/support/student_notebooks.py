"""Student notebooks for the tests: the release as a student gets it, or with answers filled in.

Answers are the solutions' cells (code and written) without their solution markers, as a
student's own answer would be; some may be replaced by other sources (a wrong answer).
"""

from __future__ import annotations

import nbformat

from grader.pipeline import course

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def answers(assignment, solutions=course.SOLUTIONS):
    """The solutions' answer cells of an assignment: grade id -> (cell type, source without markers)."""
    source = nbformat.read(solutions / assignment / f"{assignment}.ipynb", as_version=4)
    found = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [line for line in cell.source.splitlines() if line.strip() not in SOLUTION_MARKERS]
            found[meta["grade_id"]] = (cell.cell_type, "\n".join(lines).strip("\n"))
    return found


def blank_notebook(assignment, notebooks=course.NOTEBOOKS):
    """The released notebook as a student first gets it."""
    return nbformat.read(notebooks / assignment / f"{assignment}.ipynb", as_version=4)


def filled_notebook(assignment, replace=None, *, notebooks=course.NOTEBOOKS, solutions=course.SOLUTIONS):
    """The released notebook with every answer cell, code and written, filled in from the solutions.

    Parameters
    ----------
    assignment : str
    replace : dict, optional
        grade id -> the source to write instead (a wrong answer), or None to leave the cell as
        released.

    Returns
    -------
    nbformat.NotebookNode
    """
    released = blank_notebook(assignment, notebooks)
    chosen = {grade_id: text for grade_id, (_, text) in answers(assignment, solutions).items()}
    for grade_id, text in (replace or {}).items():
        if grade_id not in chosen:
            raise ValueError(f"{assignment} has no answer cell {grade_id!r}")
        if text is None:
            del chosen[grade_id]
        else:
            chosen[grade_id] = text
    filled = 0
    for cell in released.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in chosen:
            cell.source = chosen[grade_id]
            filled += 1
    if not filled:
        raise ValueError(f"{assignment} has no answer cell to fill in")
    return released
