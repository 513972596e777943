"""Notebook helpers of the trusted runtime: read a submission, recognise cells, restore the source's.

Cells are recognised with nbgrader's own predicates (:mod:`nbgrader.utils`), so a cell means
the same here as in nbgrader's pipeline.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.utils import is_grade, is_locked, is_solution

from ..errors import UsageError
from ..sources import SOLUTIONS, assignments, source_path

#: Files of the learner's folder copied next to the notebook when it runs (bytes).
COPY_LIMIT = 20 * 2**20


def grade_id(cell: NotebookNode) -> str | None:
    """The cell's nbgrader grade id, or None for a cell nbgrader does not track.

    Safe on untrusted JSON too: anything that is not a string where the id should be is None.
    """
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    found = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return found if isinstance(found, str) else None


def is_test_cell(cell: NotebookNode) -> bool:
    """True for an autograded test cell: a grade cell that is not an answer (nbgrader's terms)."""
    return cell.cell_type == "code" and bool(is_grade(cell)) and not is_solution(cell)


def is_answer_cell(cell: NotebookNode) -> bool:
    """True for a cell the learner writes: nbgrader's solution cells (code or written answers)."""
    return bool(is_solution(cell))


def locked_code(nb: NotebookNode) -> dict[str, str]:
    """Source of the locked code cells that are not tests (setup and given code), by grade id."""
    return {grade_id(cell): cell.source for cell in nb.cells
            if cell.cell_type == "code" and is_locked(cell) and not is_test_cell(cell) and grade_id(cell)}


def read_notebook(path: Path | str) -> NotebookNode:
    """Read a notebook, turning every way it can be unreadable into a :class:`UsageError`."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir() or path.suffix != ".ipynb":
        raise UsageError(f"{path}: not a notebook (expected a .ipynb file)")
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: corrupt notebook JSON ({error})") from None
    if not isinstance(data, dict) or "cells" not in data:
        raise UsageError(f"{path}: not a notebook (the JSON has no cells)")
    try:
        return nbformat.reads(json.dumps(data), as_version=4)
    except Exception as error:  # nbformat's validation and reader errors
        raise UsageError(f"{path}: not a valid notebook ({type(error).__name__}: {error})") from None


def find_assignment(path: Path | str, solutions: Path | str = SOLUTIONS) -> str:
    """The assignment a learner's notebook belongs to.

    Recognised by the notebook's file name (``01_attention_weights.ipynb`` or a copy such as
    ``01_attention_weights-alice.ipynb``), else by its folder's name.
    """
    path = Path(path)
    known = assignments(solutions)
    for candidate in (path.stem, path.stem.split("-")[0].split(" ")[0], path.parent.name):
        if candidate in known:
            return candidate
    raise UsageError(f"{path}: unknown assignment; expected one of: {', '.join(known) or '(none)'}")


def merge_with_source(learner: NotebookNode, source: NotebookNode) -> NotebookNode:
    """The learner's notebook with every locked cell restored from the source.

    Parameters
    ----------
    learner, source : nbformat.NotebookNode

    Returns
    -------
    nbformat.NotebookNode
        Learner cells in the learner's order; cells locked in the source (test cells with
        their hidden checks, instructions, given code) replaced by the source's; test cells
        the learner deleted put back at the end; outputs cleared.
    """
    locked = {grade_id(c): c for c in source.cells if grade_id(c) and (is_locked(c) or is_test_cell(c))}
    merged = nbformat.v4.new_notebook(metadata=copy.deepcopy(source.metadata))
    seen = set()
    for cell in learner.cells:
        gid = grade_id(cell)
        if gid in locked:
            cell = locked[gid]
            seen.add(gid)
        new = copy.deepcopy(cell)
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        merged.cells.append(new)
    for gid, cell in locked.items():
        if gid not in seen and is_test_cell(cell):
            merged.cells.append(copy.deepcopy(cell))
    return merged


def make_workdir(notebook_path: Path | str) -> Path:
    """A fresh temporary folder holding copies of the small files next to the notebook.

    The notebook runs there, so data files it opens by relative path are found, while
    nothing else of the learner's folder (other notebooks, big files, links) is.
    """
    work = Path(tempfile.mkdtemp(prefix="grader-work-"))
    budget = COPY_LIMIT
    for item in sorted(Path(notebook_path).resolve().parent.iterdir()):
        if item.is_file() and not item.is_symlink() and item.suffix != ".ipynb" \
                and item.stat().st_size <= budget:
            shutil.copy2(item, work / item.name)
            budget -= item.stat().st_size
    return work


__all__ = ["COPY_LIMIT", "find_assignment", "grade_id", "is_answer_cell", "is_locked", "is_test_cell",
           "locked_code", "make_workdir", "merge_with_source", "read_notebook", "source_path"]
