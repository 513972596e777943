"""Notebook helpers of the trusted runtime: read a submission, recognise cells, restore the source's.

Cells are recognised with nbgrader's own predicates (:mod:`nbgrader.utils`), so a cell means
the same here as in nbgrader's pipeline.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearSolutions
from nbgrader.utils import is_grade, is_locked, is_solution

from ..errors import UsageError
from ..sources import SOLUTIONS, assignments

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
    return parse_notebook(path.read_bytes(), str(path))


def parse_notebook(data: bytes, name: str) -> NotebookNode:
    """A notebook from the bytes of its file (``name`` says which, in the error).

    Raises
    ------
    UsageError
        For every way the bytes are not a usable notebook.
    """
    try:
        parsed = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{name}: corrupt notebook JSON ({error})") from None
    if not isinstance(parsed, dict) or "cells" not in parsed:
        raise UsageError(f"{name}: not a notebook (the JSON has no cells)")
    try:
        return nbformat.reads(json.dumps(parsed), as_version=4)
    except Exception as error:  # nbformat's validation and reader errors
        raise UsageError(f"{name}: not a valid notebook ({type(error).__name__}: {error})") from None


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


#: Learner cells of their own (scratch work, extra plots) kept at the most; the rest are dropped.
MAX_OWN_CELLS = 200
#: What nbformat allows as a cell id.
_CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
#: Markers that nbgrader acts on, and what they become in a learner's text (no longer markers).
_DEFUSED = {"BEGIN HIDDEN TESTS": "BEGIN_HIDDEN_TESTS", "END HIDDEN TESTS": "END_HIDDEN_TESTS",
            "BEGIN SOLUTION": "BEGIN_SOLUTION", "END SOLUTION": "END_SOLUTION"}


@dataclass
class Rebuilt:
    """A learner's notebook rebuilt on the source's skeleton.

    Attributes
    ----------
    notebook : nbformat.NotebookNode
        The notebook to grade: every graded and locked cell of the source, in the source's
        order, with the source's metadata; the learner's answers in the answer cells; the
        learner's own cells where they stood, without nbgrader metadata; no outputs.
    signals : list of str
        What was not as released: forged, duplicated, retyped or missing graded cells,
        deleted locked cells. Reported to the instructor; none of it earns anything.
    """

    notebook: NotebookNode
    signals: list[str] = field(default_factory=list)


def released_answer(cell: NotebookNode) -> NotebookNode:
    """The student version of a source answer cell (solution regions replaced by stubs)."""
    released, _ = ClearSolutions().preprocess_cell(copy.deepcopy(cell), {"language": "python"}, 0)
    return released


def _own_cell(cell: NotebookNode) -> NotebookNode:
    """A learner's cell as plain content: no nbgrader metadata, no outputs, markers defused."""
    kind = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown", "raw") else "raw"
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    for marker, defused in _DEFUSED.items():
        source = source.replace(marker, defused)
    new = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
           "raw": nbformat.v4.new_raw_cell}[kind](source)
    new["id"] = cell.get("id")  # checked, and replaced if need be, when the notebook is assembled
    return new


def _answer(source_cell: NotebookNode, learner_cell: NotebookNode) -> NotebookNode:
    """The source's answer cell (metadata, type, id) holding the learner's answer."""
    new = copy.deepcopy(source_cell)
    new.source = _own_cell(learner_cell).source
    if new.cell_type == "code":
        new.outputs, new.execution_count = [], None
    return new


def _source_copy(cell: NotebookNode) -> NotebookNode:
    new = copy.deepcopy(cell)
    if new.cell_type == "code":
        new.outputs, new.execution_count = [], None
    return new


def rebuild_from_source(learner: NotebookNode, source: NotebookNode) -> Rebuilt:
    """Rebuild a learner's notebook on the source's skeleton, so that only answers come from the learner.

    Every cell nbgrader tracks in the source (answers, tests, given code, locked text) is
    placed in the source's order with the source's metadata and type; locked cells hold the
    source's text, answer cells the learner's (the released stub when the learner's is
    missing or of another type). The learner's own cells keep their place after the graded
    cell that preceded them, as plain cells. Grade ids the source does not have, second copies
    of a graded cell and graded cells of another type earn nothing and are reported.

    Parameters
    ----------
    learner, source : nbformat.NotebookNode

    Returns
    -------
    Rebuilt
    """
    tracked = {grade_id(c): c for c in source.cells if grade_id(c)}
    signals, seen = [], {}
    following = {None: []}  # grade id of the tracked cell before (None: the start) -> own cells
    anchor, own = None, 0
    for cell in learner.cells:
        gid = grade_id(cell)
        if gid is not None and gid in tracked and gid not in seen:
            seen[gid] = cell
            anchor = gid
            following.setdefault(gid, [])
            continue
        if gid is not None:
            what = (f"a second copy of graded cell {gid}" if gid in tracked
                    else f"a cell with grade id {gid!r}, which the assignment does not have")
            if is_test_cell(cell) or is_grade(cell) or is_locked(cell):
                signals.append(f"{what} (its metadata claims points or a lock) was dropped")
                continue
            signals.append(f"{what} was kept as an ordinary cell")
        if own >= MAX_OWN_CELLS:
            signals.append(f"more than {MAX_OWN_CELLS} cells of the learner's own: the rest were dropped")
            break
        own += 1
        following[anchor].append(_own_cell(cell))
    cells = list(following[None])
    for source_cell in source.cells:
        gid = grade_id(source_cell)
        if gid is None:
            continue  # the source's untracked cells (text, plots) are the learner's to keep or edit
        learner_cell = seen.get(gid)
        if is_answer_cell(source_cell):
            if learner_cell is None:
                signals.append(f"the answer cell {gid} was missing; an empty one was put back")
                cells.append(_source_copy(released_answer(source_cell)))
            elif learner_cell.get("cell_type") != source_cell.cell_type:
                signals.append(f"the answer cell {gid} was turned into a {learner_cell.get('cell_type')} "
                               "cell; its content was not graded")
                cells.append(_source_copy(released_answer(source_cell)))
            else:
                cells.append(_answer(source_cell, learner_cell))
        else:
            if learner_cell is None and (is_test_cell(source_cell) or source_cell.cell_type == "code"):
                signals.append(f"the locked cell {gid} was deleted; the source's was put back")
            cells.append(_source_copy(source_cell))
        cells += following.get(gid, [])
    ids = set()
    for index, cell in enumerate(cells):  # unique, valid and the same every time the notebook is rebuilt
        if not (isinstance(cell.get("id"), str) and _CELL_ID.fullmatch(cell["id"])) or cell["id"] in ids:
            cell["id"] = next(f"cell-{index}-{n}" for n in range(len(cells) + 1)
                              if f"cell-{index}-{n}" not in ids)
        ids.add(cell["id"])
    notebook = nbformat.v4.new_notebook(metadata=copy.deepcopy(source.metadata), cells=cells)
    return Rebuilt(notebook, signals)


def side_files(notebook_path: Path | str) -> list[Path]:
    """The small files next to a notebook that it may open by relative path, within :data:`COPY_LIMIT`.

    Regular files only (no link, folder or other notebook), by name, while their sizes add up
    to at most :data:`COPY_LIMIT` bytes.
    """
    found, budget = [], COPY_LIMIT
    for item in sorted(Path(notebook_path).resolve().parent.iterdir()):
        if item.is_file() and not item.is_symlink() and item.suffix != ".ipynb" \
                and item.stat().st_size <= budget:
            found.append(item)
            budget -= item.stat().st_size
    return found


def make_workdir(notebook_path: Path | str) -> Path:
    """A fresh temporary folder holding copies of the small files next to the notebook.

    The notebook runs there, so data files it opens by relative path are found, while
    nothing else of the learner's folder (other notebooks, big files, links) is.
    """
    work = Path(tempfile.mkdtemp(prefix="grader-work-"))
    for item in side_files(notebook_path):
        shutil.copy2(item, work / item.name)
    return work
