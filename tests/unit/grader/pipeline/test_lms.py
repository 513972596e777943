"""Do the Canvas and Moodle files of `export` import as their LMS reads them, one row per roster student,
with empty cells (never 0) for no submission and for answers awaiting grading?

The files are read back by transcriptions of the LMSs' own importers (tests/support/lms_importers.py).
"""

from __future__ import annotations

import csv

import pytest
from lms_importers import ImportRejected, canvas_import, moodle_import

from grader.errors import ExportError
from grader.pipeline.collect import normalise_student_id
from grader.pipeline.grades import AssignmentGrade
from grader.pipeline.lms import (
    CANVAS_STUDENT_COLUMNS,
    MOODLE_USER_COLUMNS,
    LmsRecord,
    lms_table,
    match_students,
    number,
    read_roster,
    write_table,
)

A1, A2 = "01_attention_weights", "02_scaled_dot_product"

#: Canvas's gradebook export, as an instructor downloads it: a points row, a read-only total column.
CANVAS_ROSTER = f"""Student,ID,SIS User ID,SIS Login ID,Section,{A1} (98765),Current Score
    Points Possible,,,,,11,(read only)
"Smith, John",12345,S-1,jsmith,Section A,,
"Doe, Jane",23456,S-2,jdoe,Section A,,
"Zed, Zoe",34567,S-3,zzed,Section B,,
"=cmd, Eve",45678,S-4,eve,Section B,,
"""

MOODLE_ROSTER = ("First name,Last name,ID number,Institution,Department,Email address,"
                 f"{A1} (Real),Last downloaded from this course\n") + """\
John,Smith,jsmith,Uni,CS,john.smith@uni.example,-,1767225600
Jane,Doe,jdoe,Uni,CS,jane@uni.example,-,1767225600
Zoe,Zed,zzed,Uni,CS,zoe@uni.example,-,1767225600
"""

FIELDS = ("name", "sortable_name", "sis_user_id", "sis_login_id")
CANVAS_STUDENTS = {uid: dict(zip(FIELDS, values, strict=True))
                   for uid, values in {"12345": ("John Smith", "Smith, John", "S-1", "jsmith"),
                                       "23456": ("Jane Doe", "Doe, Jane", "S-2", "jdoe"),
                                       "34567": ("Zoe Zed", "Zed, Zoe", "S-3", "zzed"),
                                       "45678": ("Eve =cmd", "=cmd, Eve", "S-4", "eve")}.items()}


def grades():
    """smithjohn (Canvas name) graded on both, jdoe (SIS login) late on 01 and awaiting on 02,
    zzed nothing submitted, mallory graded but on no roster."""
    return [
        AssignmentGrade("smithjohn", A1, 11.0, raw_score=9.0),
        AssignmentGrade("smithjohn", A2, 9.0, raw_score=2.5),
        AssignmentGrade("jdoe", A1, 11.0, raw_score=7.0, penalty=7.0),
        AssignmentGrade("jdoe", A2, 9.0, raw_score=4.0, pending=("written_scaling",)),
        AssignmentGrade("zzed", A1, 11.0),
        AssignmentGrade("zzed", A2, 9.0),
        AssignmentGrade("mallory", A1, 11.0, raw_score=11.0),
        AssignmentGrade("mallory", A2, 9.0),
    ]


RECORDS = [LmsRecord("smithjohn", A1, "smithjohn_12345_1_01.ipynb", "canvas", "12345")]


@pytest.fixture
def canvas_roster(tmp_path):
    path = tmp_path / "canvas-export.csv"
    path.write_text(CANVAS_ROSTER)
    return read_roster(path)


@pytest.fixture
def moodle_roster(tmp_path):
    path = tmp_path / "moodle-export.csv"
    path.write_text(MOODLE_ROSTER)
    return read_roster(path)


def rows_of(path):
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_the_canvas_file_is_what_canvas_imports(canvas_roster, tmp_path):
    """Does Canvas's importer accept the file, match every roster row by its Canvas ID, read each
    assignment's points, and give each student the final score, or no score at all?"""
    table = lms_table("canvas", grades(), canvas_roster, RECORDS, normalise_student_id)
    path = write_table(tmp_path / "canvas-grades.csv", table)
    imported = canvas_import(path, CANVAS_STUDENTS)
    assert imported.unknown_students == []
    assert imported.assignments == [(A1, "98765", "11"), (A2, None, "9")]  # the roster's column, by id
    assert imported.grades == {
        "12345": {A1: "9", A2: "2.5"},
        "23456": {A1: "0", A2: None},   # late: 7 - 7; 02 awaits a written answer: no score, not 0
        "34567": {A1: None, A2: None},  # on the roster, no submission: empty, not 0
        "45678": {A1: None, A2: None},
    }
    assert rows_of(path)[0] == [*CANVAS_STUDENT_COLUMNS, f"{A1} (98765)", A2]


def test_canvas_refuses_a_header_without_sis_login_id_after_sis_user_id(tmp_path):
    """Is the issue's column list (Student, ID, SIS User ID, Section) really refused by Canvas, which is
    why SIS Login ID is written too?"""
    path = tmp_path / "bad.csv"
    path.write_text(f"Student,ID,SIS User ID,Section,{A1}\n\"Smith, John\",12345,S-1,A,9\n")
    with pytest.raises(ImportRejected, match="Section"):
        canvas_import(path, CANVAS_STUDENTS)


def test_unrostered_and_pending_students_are_reported(canvas_roster):
    """Is a graded student with no roster entry reported (and not in the file), and each answer awaiting
    grading listed with the points so far?"""
    table = lms_table("canvas", grades(), canvas_roster, RECORDS, normalise_student_id)
    assert table.unrostered == ["mallory: no roster entry; not in the canvas file"]
    assert table.pending == [f"jdoe {A2}: written_scaling awaiting grading (4/9 so far); left empty"]
    assert len(table.rows) == 1 + len(canvas_roster.entries)  # the points row, then the roster


def test_text_cells_are_spreadsheet_safe_and_grades_stay_numbers(canvas_roster, tmp_path):
    """Does a roster name a spreadsheet would run come out as text, while the grader's own cells stay
    numbers?"""
    path = write_table(tmp_path / "c.csv", lms_table("canvas", grades(), canvas_roster, RECORDS,
                                                     normalise_student_id))
    rows = rows_of(path)
    assert ["'=cmd, Eve", "45678", "S-4", "eve", "Section B", "", ""] in rows
    assert rows[1][5:] == ["11", "9"]


def test_the_moodle_file_is_what_moodle_imports(moodle_roster, tmp_path):
    """Does Moodle's CSV import, mapping Email address to useremail, take every row, with '-' (no grade)
    for no submission and for an answer awaiting grading?"""
    table = lms_table("moodle", grades(), moodle_roster, [], normalise_student_id)
    path = write_table(tmp_path / "moodle-grades.csv", table)
    assert rows_of(path)[0] == [*MOODLE_USER_COLUMNS, f"{A1} (Real)", f"{A2} (Real)"]
    users = {"john.smith@uni.example": "u1", "jane@uni.example": "u2", "zoe@uni.example": "u3"}
    imported = moodle_import(path, users, map_from="Email address",
                             item_columns=[f"{A1} (Real)", f"{A2} (Real)"])
    assert imported.grades == {
        "u1": {f"{A1} (Real)": None, f"{A2} (Real)": None},  # smithjohn matches no Moodle id
        "u2": {f"{A1} (Real)": 0.0, f"{A2} (Real)": None},
        "u3": {f"{A1} (Real)": None, f"{A2} (Real)": None},
    }
    assert sorted(table.unrostered) == ["mallory: no roster entry; not in the moodle file",
                                        "smithjohn: no roster entry; not in the moodle file"]


def test_moodle_would_abort_on_an_unknown_user_so_only_roster_rows_are_written(moodle_roster, tmp_path):
    """Is every row of the Moodle file a roster user (one Moodle cannot map would abort the import)?"""
    table = lms_table("moodle", grades(), moodle_roster, [], normalise_student_id)
    path = write_table(tmp_path / "m.csv", table)
    emails = [row[5] for row in rows_of(path)[1:]]
    assert emails == ["john.smith@uni.example", "jane@uni.example", "zoe@uni.example"]
    with pytest.raises(ImportRejected, match="not found"):
        moodle_import(path, {"jane@uni.example": "u2"}, map_from="Email address", item_columns=[])


def test_students_are_matched_by_canvas_id_then_ids_then_name(canvas_roster):
    """Does the Canvas user id collect recorded win, then an SIS id, then Canvas's file-name form of the
    name; and is a student two entries fit reported as ambiguous?"""
    records = [LmsRecord("renamed", A1, "x", "canvas", "34567")]
    matches = match_students(["renamed", "jdoe", "smithjohn", "s-2", "nobody"], canvas_roster, records,
                             normalise_student_id)
    assert [(m.student, m.entry and m.entry.lms_id) for m in matches] == [
        ("renamed", "34567"), ("jdoe", "23456"), ("smithjohn", "12345"), ("s-2", "23456"), ("nobody", None)]


def test_an_ambiguous_student_is_reported_not_guessed(tmp_path):
    """Two roster entries with the same email local part: is a student id equal to it matched to neither?"""
    path = tmp_path / "m.csv"
    path.write_text("First name,Last name,ID number,Institution,Department,Email address\n"
                    "Al,One,,,,al@a.example\nAl,Two,,,,al@b.example\nBo,Three,,,,bo@a.example\n")
    matches = match_students(["al", "bo"], read_roster(path), [], normalise_student_id)
    assert [(m.student, m.entry and m.entry.email) for m in matches] == [("al", None), ("bo", "bo@a.example")]


def test_a_roster_of_neither_lms_is_refused(tmp_path):
    """Does a CSV that is neither LMS's gradebook export give one clear error?"""
    path = tmp_path / "r.csv"
    path.write_text("name,mark\nann,3\n")
    with pytest.raises(ExportError, match="neither Canvas"):
        read_roster(path)


@pytest.mark.parametrize(("value", "text"), [(7.0, "7"), (2.5, "2.5"), (2 / 3, "0.666667"), (0.0, "0"),
                                             (1e-9, "0"), (123456.0, "123456")])
def test_scores_are_plain_numbers(value, text):
    """Is a score written as the importers parse numbers: no exponent, no trailing zeros?"""
    assert number(value) == text
