"""``python -m grader check``: grade one notebook with the hidden tests, for self-paced learners.

The learner's answer cells are kept; every locked cell (instructions, test
cells) is taken from the instructor's source notebook in ``solutions/``, so the
hidden checks run whatever the learner did to their copy. The notebook runs in
a fresh, sandboxed kernel in record mode, and the verdicts are computed here,
outside it.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import nbformat

from .course import SOLUTIONS
from .course import assignments as _assignments
from .execute import execute_notebook
from .verify import is_test_cell, verify_notebook

#: Files of the learner's folder copied next to the notebook when it runs (bytes).
COPY_LIMIT = 20 * 2**20


class UsageError(Exception):
    """A problem with the command's input, reported as one line and exit status 2."""


def load_notebook(path):
    """Read a notebook, turning every way it can be unreadable into a UsageError."""
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


def find_source(path, solutions=SOLUTIONS):
    """The source notebook of the assignment ``path`` belongs to.

    The assignment is recognised by the notebook's file name (``01_attention_weights.ipynb``
    or a copy such as ``01_attention_weights-alice.ipynb``), else by its folder's name.
    """
    path = Path(path)
    known = _assignments(solutions)
    for candidate in (path.stem, path.stem.split("-")[0].split(" ")[0], path.parent.name):
        source = Path(solutions) / candidate / f"{candidate}.ipynb"
        if candidate in known and source.exists():
            return candidate, source
    raise UsageError(f"{path}: unknown assignment; expected one of: {', '.join(known) or '(none)'}")


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def merge_with_source(learner, source):
    """The learner's notebook with every locked cell restored from the source.

    Parameters
    ----------
    learner, source : nbformat.NotebookNode

    Returns
    -------
    nbformat.NotebookNode
        Learner cells in the learner's order; cells locked in the source (test
        cells with their hidden checks, instructions) replaced by the source's;
        test cells the learner deleted put back at the end; outputs cleared.
    """
    locked = {_grade_id(c): c for c in source.cells
              if _grade_id(c) and (c.metadata["nbgrader"].get("locked") or is_test_cell(c))}
    merged = nbformat.v4.new_notebook(metadata=source.metadata)
    seen = set()
    for cell in learner.cells:
        gid = _grade_id(cell)
        if gid in locked:
            cell = locked[gid]
            seen.add(gid)
        new = nbformat.from_dict(json.loads(json.dumps(cell)))
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        merged.cells.append(new)
    for gid, cell in locked.items():
        if gid not in seen and is_test_cell(cell):
            merged.cells.append(nbformat.from_dict(json.loads(json.dumps(cell))))
    return merged


def make_workdir(notebook_path):
    """A fresh temporary folder holding copies of the small files next to the notebook.

    The notebook runs there, so data files it opens by relative path are found,
    while nothing else of the learner's folder (other notebooks, big files) is.
    """
    work = Path(tempfile.mkdtemp(prefix="grader-check-"))
    budget = COPY_LIMIT
    for item in Path(notebook_path).resolve().parent.iterdir():
        if item.is_file() and item.suffix != ".ipynb" and item.stat().st_size <= budget:
            shutil.copy2(item, work / item.name)
            budget -= item.stat().st_size
    return work


def grade(path, seed=None, solutions=SOLUTIONS, **execute_options):
    """Grade one notebook.

    Returns
    -------
    report : dict
        Notebook, assignment, seed, score, max_score and one entry per exercise
        (the JSON schema of ``--json``).
    results : list of grader.verify.ExerciseResult
    graded : nbformat.NotebookNode
        The executed notebook, test cells holding the feedback instead of their outputs.
    """
    learner = load_notebook(path)
    assignment, source_path = find_source(path, solutions)
    source = nbformat.read(source_path, as_version=4)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    merged = merge_with_source(learner, source)
    work = make_workdir(path)
    try:
        env = {"ATTENTION_GRADER_MODE": "record", "ATTENTION_GRADER_SEED": str(seed)}
        executed, _ = execute_notebook(merged, workdir=work, env=env, **execute_options)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    graded, results = verify_notebook(executed, seed)
    exercises = [{k: v for k, v in asdict(r).items() if k in _SCHEMA_KEYS} for r in results]
    return {
        "notebook": str(path),
        "assignment": assignment,
        "seed": seed,
        "score": float(sum(r.points for r in results)),
        "max_score": float(sum(r.max_points for r in results)),
        "exercises": exercises,
    }, results, graded


_SCHEMA_KEYS = ("grade_id", "function", "points", "max_points", "passed", "feedback")


def format_report(report):
    """The human-readable report."""
    lines = [f"{report['notebook']} — assignment {report['assignment']} — seed {report['seed']} "
             f"(rerun with --seed {report['seed']} to reproduce)", ""]
    for ex in report["exercises"]:
        mark = "✔" if ex["passed"] else "✘"
        lines.append(f"{mark} {ex['function'] or ex['grade_id']}: {ex['points']:g}/{ex['max_points']:g}")
        if not ex["passed"]:
            lines += ["    " + line for line in ex["feedback"].splitlines()]
    lines += ["", f"Score: {report['score']:g} / {report['max_score']:g} "
                  "(autograded exercises; written answers are graded by your instructor)"]
    return "\n".join(lines)


def main(args):
    """Run ``check`` for parsed CLI arguments; return the exit status."""
    try:
        report, _, _ = grade(args.notebook, seed=args.seed,
                          solutions=Path(args.solutions) if args.solutions else SOLUTIONS)
    except UsageError as error:
        print(f"grader check: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        print(format_report(report))
    return 0
