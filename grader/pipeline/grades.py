"""What the gradebook says about each submission: one typed record, read the same way everywhere.

The class table that ``autograde`` prints, ``export``'s CSV files, the LMS files and ``report``
all read their scores through :func:`read_grade` and :func:`read_grades`, so that they agree:

- the **score** is nbgrader's final one, ``max(0, raw score - late penalty)`` (what nbgrader's own
  ``grades.csv`` calls ``score``); the raw score and the penalty are kept beside it;
- a **written answer not graded by hand yet** is *awaiting grading*: it has no score (nbgrader
  would count it as 0), and the submission's total is not final until it has one;
- **no submission** is no score at all, never 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: How a score that waits for the instructor is written wherever a number would be.
AWAITING = "awaiting grading"
#: The status words of :attr:`AssignmentGrade.status`.
GRADED, NO_SUBMISSION = "graded", "no submission"


@dataclass(frozen=True)
class AssignmentGrade:
    """One student's grade on one assignment, from nbgrader's gradebook.

    Attributes
    ----------
    student, assignment : str
    max_score : float
        The assignment's points.
    raw_score : float or None
        nbgrader's sum of the grades (written answers awaiting grading count 0 in it); None
        without a submission.
    penalty : float
        nbgrader's late-submission penalty.
    pending : tuple of str
        Grade ids of the written answers awaiting grading by hand.
    timestamp : datetime.datetime or None
        The submission time nbgrader recorded (naive UTC), if any.
    cells : dict
        Grade id -> score of each graded cell (None while it awaits grading).
    """

    student: str
    assignment: str
    max_score: float
    raw_score: float | None = None
    penalty: float = 0.0
    pending: tuple[str, ...] = ()
    timestamp: dt.datetime | None = None
    cells: dict | None = None

    @property
    def submitted(self) -> bool:
        return self.raw_score is not None

    @property
    def awaiting(self) -> bool:
        """Does a written answer still wait for the instructor (so the total is not final)?"""
        return bool(self.pending)

    @property
    def score(self) -> float | None:
        """The final score, ``max(0, raw - penalty)``; None without a submission or while awaiting."""
        if not self.submitted or self.awaiting:
            return None
        return max(0.0, self.raw_score - self.penalty)

    @property
    def points_so_far(self) -> float | None:
        """``max(0, raw - penalty)`` even while some answer awaits grading (those count nothing yet)."""
        return None if not self.submitted else max(0.0, self.raw_score - self.penalty)

    @property
    def status(self) -> str:
        """``"graded"``, ``"awaiting grading"`` or ``"no submission"``."""
        if not self.submitted:
            return NO_SUBMISSION
        return AWAITING if self.awaiting else GRADED


def points(value: float | None) -> str:
    """A score as a CSV or table cell: ``7``, ``2.5``; empty for None."""
    return "" if value is None else f"{value:g}"


def score_text(grade: AssignmentGrade) -> str:
    """The total as the class table, the report and the CSV files write it.

    ``"7"``; ``"awaiting grading"`` while a written answer waits; ``""`` without a submission.
    """
    if not grade.submitted:
        return ""
    return AWAITING if grade.awaiting else points(grade.score)


def cell_scores(submission) -> dict:
    """Grade id -> score of every graded cell of an nbgrader ``SubmittedAssignment``.

    A written answer nbgrader left for the instructor (``needs_manual_grade``) is None, not 0.
    """
    return {g.name: None if g.needs_manual_grade else float(g.score)
            for nb in submission.notebooks for g in nb.grades}


def from_submission(submission) -> AssignmentGrade:
    """The :class:`AssignmentGrade` of an nbgrader ``SubmittedAssignment``."""
    cells = cell_scores(submission)
    return AssignmentGrade(
        student=submission.student.id, assignment=submission.assignment.name,
        max_score=float(submission.max_score), raw_score=float(submission.score),
        penalty=float(submission.late_submission_penalty or 0.0),
        pending=tuple(name for name, value in cells.items() if value is None),
        timestamp=submission.timestamp, cells=cells)


def read_grade(gradebook, assignment: str, student: str) -> AssignmentGrade:
    """One student's grade on one assignment (no submission: an empty record).

    Parameters
    ----------
    gradebook : nbgrader.api.Gradebook
    assignment, student : str

    Raises
    ------
    nbgrader.api.MissingEntry
        When the gradebook does not know the assignment.
    """
    from nbgrader.api import MissingEntry

    try:
        return from_submission(gradebook.find_submission(assignment, student))
    except MissingEntry:
        return AssignmentGrade(student, assignment, float(gradebook.find_assignment(assignment).max_score))


def read_grades(gradebook, assignments=None) -> list[AssignmentGrade]:
    """Every student's grade on every assignment of the gradebook (or of ``assignments``).

    Returns
    -------
    list of AssignmentGrade
        Sorted by assignment, then student; students without a submission included.
    """
    names = sorted(a.name for a in gradebook.assignments if assignments is None or a.name in assignments)
    students = sorted(s.id for s in gradebook.students)
    return [read_grade(gradebook, name, student) for name in names for student in students]
