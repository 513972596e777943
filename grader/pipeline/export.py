"""``python -m grader export``: the gradebook as CSV files.

- ``grades.csv`` — nbgrader's own export (one row per student and assignment:
  raw score, late penalty, score, max score).
- ``exercises-<assignment>.csv`` — one row per student, one column per graded
  cell (autograded exercises and written answers, in notebook order), then the
  total; an empty field means no submission, or a written answer not graded yet.

Every cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@`` first)
is written with a leading ``'``, whatever produced it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import CsvExportPlugin
from nbgrader.utils import is_grade

from ..errors import ExportError
from ..runtime.notebook import grade_id
from ..sources import read_source, source_path
from . import course as _course

#: First characters that make a spreadsheet read a cell as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: a formula-like text gets a leading ``'``.

    Numbers (``-0.5``, ``3``) are left as they are.
    """
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def write_csv(path: Path, header: list[str], rows: list[dict]) -> Path:
    """Write rows under a header, every cell made :func:`spreadsheet_safe`."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([spreadsheet_safe(h) for h in header])
        writer.writerows([[spreadsheet_safe(row.get(h, "")) for h in header] for row in rows])
    return path


def _neutralise(path: Path) -> None:
    """Rewrite a CSV file (nbgrader's grades.csv) with every cell made :func:`spreadsheet_safe`."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([[spreadsheet_safe(cell) for cell in row] for row in rows])


def graded_cells(source):
    """Grade ids and points of the graded cells of a source notebook, in notebook order."""
    return [(grade_id(cell), float(cell.metadata["nbgrader"].get("points", 0)))
            for cell in source.cells if is_grade(cell)]


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

    Raises
    ------
    ExportError
        When the course folder has no gradebook (and no ``db_url`` is given).
    """
    course_dir = Path(course_dir).resolve()
    if not (db_url or (course_dir / "gradebook.db").is_file()):
        raise ExportError(f"no gradebook in {course_dir}; run release and autograde first")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    url = _course.gradebook_url(course_dir, db_url)
    written = [out_dir / "grades.csv"]
    with Gradebook(url) as gb:
        CsvExportPlugin(to=str(written[0])).export(gb)
        _neutralise(written[0])
        for assignment in sorted(a.name for a in gb.assignments):
            if not source_path(assignment, solutions).is_file():
                continue
            header, rows = exercise_table(gb, assignment, read_source(assignment, solutions))
            written.append(write_csv(out_dir / f"exercises-{assignment}.csv", header, rows))
    return written
