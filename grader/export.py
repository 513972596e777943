"""``python -m grader export``: the gradebook as CSV files.

- ``grades.csv`` — nbgrader's own export (one row per student and assignment:
  raw score, late penalty, score, max score).
- ``exercises-<assignment>.csv`` — one row per student, one column per graded
  cell (autograded exercises and written answers, in notebook order), then the
  total; an empty field means no submission, or a written answer not graded yet.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import nbformat

from . import course as _course


def graded_cells(source):
    """Grade ids and points of the graded cells of a source notebook, in notebook order."""
    cells = []
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            cells.append((meta["grade_id"], float(meta.get("points", 0))))
    return cells


def exercise_table(gradebook, assignment, source):
    """Rows ``{student_id, <grade id>..., total}`` of one assignment, from an nbgrader Gradebook.

    Parameters
    ----------
    gradebook : nbgrader.api.Gradebook
    assignment : str
    source : nbformat.NotebookNode
        The assignment's source notebook (gives the columns and their order).

    Returns
    -------
    header : list of str
    rows : list of dict
    """
    from nbgrader.api import MissingEntry

    cells = graded_cells(source)
    header = ["student_id", *(f"{gid} (/{pts:g})" for gid, pts in cells), "total"]
    rows = []
    for student in sorted(gradebook.students, key=lambda s: s.id):
        row = {"student_id": student.id}
        try:
            submission = gradebook.find_submission(assignment, student.id)
        except MissingEntry:
            rows.append(row)
            continue
        # A written answer not graded by hand yet has neither score: leave it empty, not 0.
        scores = {g.name: None if g.manual_score is None and g.needs_manual_grade else g.score
                  for nb in submission.notebooks for g in nb.grades}
        for (gid, _), column in zip(cells, header[1:-1], strict=True):
            graded = scores.get(gid)
            row[column] = "" if graded is None else f"{graded:g}"
        row["total"] = f"{submission.score:g}"
        rows.append(row)
    return header, rows


def export(out_dir, *, course_dir=_course.COURSE, db_url=None, solutions=_course.SOLUTIONS):
    """Write ``grades.csv`` (nbgrader's) and one ``exercises-<assignment>.csv`` per assignment.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    course_dir = Path(course_dir).resolve()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    url = _course.gradebook_url(course_dir, db_url)
    written = [out_dir / "grades.csv"]
    with Gradebook(url) as gb:
        CsvExportPlugin(to=str(written[0])).export(gb)
        for assignment in sorted(a.name for a in gb.assignments):
            source_path = Path(solutions) / assignment / f"{assignment}.ipynb"
            if not source_path.is_file():
                continue
            header, rows = exercise_table(gb, assignment, nbformat.read(source_path, as_version=4))
            path = out_dir / f"exercises-{assignment}.csv"
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=header)
                writer.writeheader()
                writer.writerows(rows)
            written.append(path)
    return written


def main(args):
    """Run ``export`` for parsed CLI arguments; return the exit status."""
    course_dir = Path(args.course_dir)
    if not (args.db_url or (course_dir / "gradebook.db").is_file()):
        print(f"grader export: no gradebook in {course_dir}; run release and autograde first",
              file=sys.stderr)
        return 2
    for path in export(args.out or course_dir / "export", course_dir=course_dir, db_url=args.db_url):
        print(f"wrote {path}")
    return 0
