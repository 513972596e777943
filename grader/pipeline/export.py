"""``python -m grader export``: the gradebook as CSV files.

``--format nbgrader`` (the default):

- ``grades.csv`` — nbgrader's own export, column for column (one row per student and
  assignment: raw score, late penalty, score, max score), plus a ``status`` column:
  ``graded``, ``awaiting grading`` (a written answer not graded by hand yet: the ``score``
  cell says so instead of counting it 0) or ``no submission``.
- ``exercises-<assignment>.csv`` — one row per student, one column per graded cell
  (autograded exercises and written answers, in notebook order), the late penalty, then the
  total (late penalty deducted); a written answer not graded yet is ``awaiting grading``
  (and so is the total), an empty row means no submission.

``--format canvas`` and ``--format moodle`` write a file the LMS's gradebook imports, for the
students of ``--roster`` (:mod:`grader.pipeline.lms`).

Every cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@`` first)
is written with a leading ``'``, whatever produced it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import is_grade

from ..errors import ExportError
from ..runtime.notebook import grade_id
from ..sources import read_source, source_path
from . import config as _config
from . import course as _course
from . import grades as _grades

#: The formats ``export`` writes.
FORMATS = ("nbgrader", "canvas", "moodle")
#: nbgrader's grades.csv columns (nbgrader.plugins.export.CsvExportPlugin), then ours.
GRADES_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                  "raw_score", "late_submission_penalty", "score", "max_score", "status"]

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


def graded_cells(source):
    """Grade ids and points of the graded cells of a source notebook, in notebook order."""
    return [(grade_id(cell), float(cell.metadata["nbgrader"].get("points", 0)))
            for cell in source.cells if is_grade(cell)]


def _text(value) -> str:
    """nbgrader's grades.csv spelling of a value: ``str()``, None as empty."""
    return "" if value is None else str(value)


def grades_rows(gradebook) -> list[dict]:
    """The rows of ``grades.csv``: nbgrader's ``CsvExportPlugin`` rows, plus ``status``.

    Without a submission nbgrader writes 0 scores (kept, with status ``no submission``); a
    submission with a written answer awaiting grading gets ``awaiting grading`` as its score.
    """
    students = {s.id: s for s in gradebook.students}
    duedates = {a.name: a.duedate for a in gradebook.assignments}
    rows = []
    for grade in _grades.read_grades(gradebook):
        student = students[grade.student]
        row = {"assignment": grade.assignment, "duedate": _text(duedates[grade.assignment]),
               "timestamp": _text(grade.timestamp), "student_id": grade.student,
               "last_name": _text(student.last_name), "first_name": _text(student.first_name),
               "email": _text(student.email), "max_score": _text(grade.max_score), "status": grade.status}
        if grade.submitted:
            score = _grades.AWAITING if grade.awaiting else _text(grade.score)
            row.update(raw_score=_text(grade.raw_score), late_submission_penalty=_text(grade.penalty),
                       score=score)
        else:
            row.update(raw_score="0.0", late_submission_penalty="0.0", score="0.0")
        rows.append(row)
    return rows


def exercise_table(gradebook, assignment, source):
    """Rows ``{student_id, <grade id>..., late_penalty, total}`` of one assignment, from the gradebook.

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
        A student without a submission has an empty row; a written answer not graded by hand
        yet, and then the total, is ``awaiting grading``.
    """
    cells = graded_cells(source)
    columns = [f"{gid} (/{pts:g})" for gid, pts in cells]
    header = ["student_id", *columns, "late_penalty", "total"]
    rows = []
    for student in sorted(s.id for s in gradebook.students):
        grade = _grades.read_grade(gradebook, assignment, student)
        row = {"student_id": student}
        if grade.submitted:
            for (gid, _), column in zip(cells, columns, strict=True):
                if gid in grade.pending:
                    row[column] = _grades.AWAITING
                else:
                    row[column] = _grades.points(grade.cells.get(gid))
            row["late_penalty"] = _grades.points(grade.penalty)
            row["total"] = _grades.score_text(grade)
        rows.append(row)
    return header, rows


@dataclass
class ExportResult:
    """What ``export`` wrote, and what the instructor must know about it.

    Attributes
    ----------
    written : list of pathlib.Path
    pending : list of str
        One line per submission whose written answers await grading (its LMS cell left empty).
    unrostered : list of str
        Students with a grade but no roster entry (not in the LMS file).
    points : dict
        Assignment -> points possible (what an LMS grade item needs).
    """

    written: list[Path] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    unrostered: list[str] = field(default_factory=list)
    points: dict = field(default_factory=dict)


def export(out_dir, *, course_dir=_course.COURSE, db_url=None, solutions=_course.SOLUTIONS, course_id=None,
           config_file=None, format="nbgrader", roster=None) -> ExportResult:
    """Write the grades of the course's gradebook as CSV files.

    Parameters
    ----------
    out_dir : path-like
    course_dir : path-like
    db_url, course_id : str, optional
        Default: the course's configuration's.
    solutions : path-like
    config_file : path-like, optional
    format : {"nbgrader", "canvas", "moodle"}
        ``nbgrader``: ``grades.csv`` and one ``exercises-<assignment>.csv`` per assignment;
        ``canvas``/``moodle``: ``canvas-grades.csv``/``moodle-grades.csv`` for ``roster``.
    roster : path-like, optional
        The LMS's own gradebook export (its students); required by ``canvas`` and ``moodle``.

    Returns
    -------
    ExportResult

    Raises
    ------
    ExportError
        When the course has no gradebook yet, the format is unknown, or the roster is missing
        or unreadable.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if format != "nbgrader" and roster is None:
        raise ExportError(f"--format {format} needs --roster: the gradebook export of your {format.title()} "
                          "course (its students and their ids)")
    settings = _config.existing_gradebook(course_dir, db_url=db_url, course_id=course_id,
                                          config_file=config_file, solutions=solutions, error=ExportError)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    with _config.open_gradebook(settings, ExportError) as gb:
        if format == "nbgrader":
            result.written.append(write_csv(out_dir / "grades.csv", GRADES_COLUMNS, grades_rows(gb)))
            for assignment in sorted(a.name for a in gb.assignments):
                if not source_path(assignment, solutions).is_file():
                    continue
                header, rows = exercise_table(gb, assignment, read_source(assignment, solutions))
                result.written.append(write_csv(out_dir / f"exercises-{assignment}.csv", header, rows))
            return result
        from . import lms

        grades = _grades.read_grades(gb)
    return lms.export_lms(format, grades, lms.read_roster(roster), out_dir, course_dir=settings.root)
