"""Is a score read from the gradebook the same everywhere: penalised, never 0 for an answer awaiting grading,
never 0 without a submission; and are due dates read as nbgrader reads them?"""

from __future__ import annotations

import datetime as dt

import pytest

from grader.errors import ReleaseError
from grader.pipeline.autograde import format_table, score_cell
from grader.pipeline.grades import AWAITING, AssignmentGrade, score_text
from grader.pipeline.release import parse_due
from grader.pipeline.results import SubmissionResult


@pytest.mark.parametrize(("grade", "score", "text", "status"), [
    (AssignmentGrade("a", "x", 11.0, raw_score=9.0), 9.0, "9", "graded"),
    (AssignmentGrade("a", "x", 11.0, raw_score=9.0, penalty=2.5), 6.5, "6.5", "graded"),
    (AssignmentGrade("a", "x", 11.0, raw_score=2.0, penalty=9.0), 0.0, "0", "graded"),  # never below 0
    (AssignmentGrade("a", "x", 11.0, raw_score=7.0, pending=("written_concat",)), None, AWAITING, AWAITING),
    (AssignmentGrade("a", "x", 11.0), None, "", "no submission"),
])
def test_the_score_is_penalised_and_never_invented(grade, score, text, status):
    """Is the final score nbgrader's max(0, raw - penalty), and None (not 0) while a written answer waits
    or without a submission?"""
    assert (grade.score, score_text(grade), grade.status) == (score, text, status)


def test_the_class_table_says_awaiting_grading_not_a_number():
    """Does autograde's class table show a submission whose written answers wait as "awaiting grading",
    with the points so far in its notes, and a late penalty beside a final score?"""
    waiting = SubmissionResult("ada", "01", "n.ipynb", 1, score=7.0, max_score=11.0, raw_score=7.0,
                               pending=["written_temperature", "written_concat"])
    late = SubmissionResult("alan", "01", "n.ipynb", 1, score=5.0, max_score=11.0, raw_score=7.0,
                            late_penalty=2.0)
    assert score_cell(waiting) == AWAITING and score_cell(late) == "5/11 (late -2)"
    table = format_table([waiting, late]).splitlines()
    assert AWAITING in table[1]
    assert "7/11 so far; written_temperature, written_concat awaiting grading" in table[1]
    assert "5/11 (late -2)" in table[2]


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-03-01 12:00:00 UTC", dt.datetime(2026, 3, 1, 12)),
    ("2026-03-01 13:00:00 Europe/Paris", dt.datetime(2026, 3, 1, 12)),
    ("2026-03-01T13:00:00+01:00", dt.datetime(2026, 3, 1, 12)),
    ("2026-03-01 12:00:00", dt.datetime(2026, 3, 1, 12)),  # no zone: UTC, as nbgrader
])
def test_due_dates_are_read_as_nbgraders_duedate_option(text, utc):
    """Is --due read as `nbgrader db assignment add --duedate` reads it (its parse_utc), naive UTC?"""
    from nbgrader.utils import parse_utc

    assert parse_due(text) == parse_utc(text) == utc


@pytest.mark.parametrize(("text", "message"), [
    ("2026-03-01 12:00:00 Mars/Olympus", "unknown time zone"),
    ("2026-03-01 14:00:00 +0200", "as seconds; write 2026-03-01T14:00:00[+]02:00"),
    ("next friday", "not a date"),
])
def test_a_due_date_nbgrader_would_misread_is_refused(text, message):
    """Is a zone nbgrader would silently take for UTC, an offset it would take for seconds (its parse_utc
    reads "+0200" as 200 s), or no date at all, refused with the reason?"""
    with pytest.raises(ReleaseError, match=message):
        parse_due(text)
