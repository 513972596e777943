"""A two-exercise fixture course (softmax, dot_scores) built on the fly for the grader's tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

ASSIGNMENT = "00_fixture"

SOFTMAX = '''def softmax(x, axis=-1):
    """Softmax of x (..., n) along `axis`."""
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
'''

DOT_SCORES = '''def dot_scores(q, K):
    """Scores (..., n) of q (..., d) against K (..., n, d)."""
    return (np.asarray(K) @ np.asarray(q)[..., None])[..., 0]
'''

STUB = '''def {name}(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()
'''


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=0):
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id,
            "schema_version": 3, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _test_cell(name, points):
    source = f'check("{name}", {name})\n### BEGIN HIDDEN TESTS\ncheck("{name}", {name}, hidden=True)\n' \
             "### END HIDDEN TESTS"
    return nbformat.v4.new_code_cell(source, metadata=_meta(f"test_{name}", grade=True, locked=True,
                                                            points=points))


def notebook(softmax=SOFTMAX, dot_scores=DOT_SCORES, public_only=False, setup_extra=""):
    """The fixture notebook with the given answer-cell sources (the solution by default)."""
    cells = [
        nbformat.v4.new_markdown_cell("# Fixture assignment", metadata=_meta("intro", locked=True)),
        nbformat.v4.new_code_cell("import numpy as np\nfrom attention_course import check" + setup_extra,
                                  metadata=_meta("setup", locked=True)),
        nbformat.v4.new_code_cell(softmax, metadata=_meta("softmax", solution=True)),
        _test_cell("softmax", 2),
        nbformat.v4.new_code_cell(dot_scores, metadata=_meta("dot_scores", solution=True)),
        _test_cell("dot_scores", 1),
    ]
    if public_only:
        for cell in cells:
            if cell.source.startswith("check("):
                cell.source = cell.source.split("\n### BEGIN")[0]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def write_course(root):
    """Write solutions/00_fixture/00_fixture.ipynb under ``root``; return the solutions folder."""
    solutions = Path(root) / "solutions"
    (solutions / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(), solutions / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    return solutions


def write_submission(folder, name=ASSIGNMENT, files=None, **answers):
    """Write a learner's copy (public tests only, like a release) with the given answers."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook(public_only=True, **answers), path)
    for file_name, text in (files or {}).items():
        (folder / file_name).write_text(text)
    return path
