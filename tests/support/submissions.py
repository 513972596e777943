"""Submissions of notebook 01 for the pipeline tests: the student release with chosen answers, and
LMS download folders made of them (Canvas's file names, its gradebook export as a roster)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import nbformat

from demo.students import strip_solution
from grader.pipeline import course

ASSIGNMENT = "01_attention_weights"
SOURCE = course.SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE = course.NOTEBOOKS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
#: Points of notebook 01's autograded exercises (its two written answers add 2 and 1).
AUTOGRADED_POINTS = 7.0
#: Two written answers, for a submission whose total waits for the instructor.
WRITTEN = {"written_temperature": "A higher temperature flattens the weights.",
           "written_concat": "Concatenating keeps the query's own information."}
#: A softmax that forgets to subtract the maximum (a named mistake: 4 of the 7 points are lost).
SOFTMAX_NO_MAX = '''def softmax(x, axis=-1):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)
'''


def solution_bodies() -> dict:
    """Grade id -> the source's solution code of each answer cell of notebook 01."""
    source = nbformat.read(SOURCE, as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: strip_solution(cell.source) for cell in source.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}


def answered(answers: dict) -> nbformat.NotebookNode:
    """The released notebook with some answer cells (by grade id) replaced."""
    nb = nbformat.read(RELEASE, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in answers:
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    return nb


def canvas_file_name(sortable_name: str, user_id: int, file_id: int, *, late=False, name=ASSIGNMENT) -> str:
    """The name Canvas gives a student's upload in a submissions download (ContentZipper)."""
    login = "".join(c for c in sortable_name if c.isalnum() or c == "_").lower()
    return "_".join([login, *(["LATE"] if late else []), str(user_id), str(file_id), f"{name}.ipynb"])


def canvas_roster(students: list[tuple[str, int, str, str]], columns=()) -> str:
    """Canvas's gradebook export (CSV text) for ``(sortable name, user id, SIS login id, section)``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns])
    writer.writerow(["    Points Possible", "", "", "", "", *("" for _ in columns)])
    for name, uid, login, section in students:
        writer.writerow([name, uid, f"SIS{uid}", login, section, *("" for _ in columns)])
    return out.getvalue()


def write(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
