"""Does the whole pipeline keep its gradebook in a real PostgreSQL server as it does in sqlite, and does what
it hands an LMS round-trip from a Canvas download folder?

A throw-away PostgreSQL cluster is started for the module (tests/support/postgres.py). One Canvas-style
download — Canvas's file names with user ids and a LATE flag, an earlier upload, a student not on the
roster — with the LMS's submission times and Canvas's gradebook export as the roster goes through
release (with a due date) → collect → autograde --jobs 2 → feedback → export → report twice, in a
course folder on PostgreSQL and in one on sqlite, both with a late penalty in their nbgrader_config.py.
Then two concurrent `autograde` runs of one course on PostgreSQL, on different students.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from lms_importers import canvas_import, moodle_import
from postgres import postgres_server, require_postgres
from submissions import (
    ASSIGNMENT,
    AUTOGRADED_POINTS,
    SOFTMAX_NO_MAX,
    WRITTEN,
    answered,
    canvas_file_name,
    canvas_roster,
    solution_bodies,
    write,
)

from grader.pipeline import course, results
from grader.pipeline.release import release

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

SEED = 11
COURSE_ID = "attention-pg"
DUE = "2026-03-01 12:00:00 UTC"
ON_TIME, LATE = "2026-03-01T11:00:00Z", "2026-03-01T13:30:00Z"
#: (sortable name, Canvas user id, SIS login, section) of the roster, as Canvas's export lists them.
ROSTER = [("Lovelace, Ada", 101, "ada", "A"), ("Turing, Alan", 102, "alan", "A"),
          ("Hopper, Grace", 103, "grace", "B"), ("Curie, Marie", 104, "marie", "B")]
ROSTER_COLUMNS = [f"{ASSIGNMENT} (555)", "Current Score"]
CANVAS_STUDENTS = {str(uid): {"name": " ".join(reversed(name.split(", "))), "sortable_name": name,
                              "sis_user_id": f"SIS{uid}", "sis_login_id": login}
                   for name, uid, login, _ in ROSTER}


def _canvas_download(folder: Path) -> Path:
    """Ada: full marks and both written answers (so her total waits for the instructor); Alan: full
    marks, handed in late (and an earlier blank upload); Grace: softmax without the max; Ghost: not
    on the roster. Marie (on the roster) hands in nothing."""
    full = solution_bodies()
    write(folder / canvas_file_name("Lovelace, Ada", 101, 9001), answered({**full, **WRITTEN}))
    write(folder / canvas_file_name("Turing, Alan", 102, 9002), answered({}))
    write(folder / canvas_file_name("Turing, Alan", 102, 9010, late=True, name=f"{ASSIGNMENT}-1"),
          answered(full))
    write(folder / canvas_file_name("Hopper, Grace", 103, 9003),
          answered({**full, "softmax": SOFTMAX_NO_MAX}))
    write(folder / canvas_file_name("Ghost, Casper", 199, 9004), answered(full))
    return folder


def _grader(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                            timeout=1800, cwd=course.PROJECT_ROOT)
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    with postgres_server(tmp_path_factory.mktemp("postgres"), binaries=require_postgres()) as server:
        yield server


@pytest.fixture(scope="module")
def lms_files(tmp_path_factory):
    """The Canvas download, the LMS's submission times and Canvas's gradebook export (the roster)."""
    base = tmp_path_factory.mktemp("lms")
    download = _canvas_download(base / "download")
    times = base / "submissions.csv"
    times.write_text(f"user_id,submitted_at\n101,{ON_TIME}\n102,{LATE}\n103,{ON_TIME}\n199,{ON_TIME}\n")
    roster = base / "canvas-export.csv"
    roster.write_text(canvas_roster(ROSTER, ROSTER_COLUMNS))
    return download, times, roster


def _pipeline(folder: Path, lms_files, db: list[str]) -> dict:
    """release (due date) → collect → autograde --jobs 2 → feedback → export (nbgrader, canvas) → report."""
    download, times, roster = lms_files
    (folder / "nbgrader_config.py").write_text('c = get_config()\n'
                                               'c.LateSubmissionPlugin.penalty_method = "zero"\n')
    db_url = db[1] if db else None
    release([ASSIGNMENT], notebooks=folder / "release", course_dir=folder, db_url=db_url,
            course_id=COURSE_ID if db else None, due=DUE)
    course_options = ["--course-dir", str(folder), *db, *(["--course-id", COURSE_ID] if db else [])]
    runs = {"collect": _grader("collect", str(download), "--course-dir", str(folder),
                               "--submissions", str(times)),
            "autograde": _grader("autograde", "--jobs", "2", "--seed", str(SEED), "--timeout", "30",
                                 *course_options),
            "feedback": _grader("feedback", "--course-dir", str(folder), *db)}
    _grader("export", *course_options)
    runs["canvas"] = _grader("export", "--format", "canvas", "--roster", str(roster), *course_options,
                             check=False)
    runs["report"] = _grader("report", *course_options)
    return runs


@pytest.fixture(scope="module")
def both(postgres, lms_files, tmp_path_factory):
    """The class through the pipeline on PostgreSQL and on sqlite; and the wall time of each."""
    import time

    url = postgres.create_database("pipeline")
    on_pg, on_sqlite = tmp_path_factory.mktemp("on-postgres"), tmp_path_factory.mktemp("on-sqlite")
    seconds = {}
    start = time.perf_counter()
    runs = {"postgres": _pipeline(on_pg, lms_files, ["--db-url", url])}
    seconds["postgres"] = time.perf_counter() - start
    runs["sqlite"] = _pipeline(on_sqlite, lms_files, [])
    seconds["sqlite"] = time.perf_counter() - start - seconds["postgres"]
    print(f"\npipeline wall time: {seconds}")
    return {"postgres": on_pg, "sqlite": on_sqlite, "url": url, "runs": runs}


def _csv(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def _by_student(path):
    with open(path, newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_the_gradebook_is_in_postgres_and_not_in_a_file(both):
    """Does the PostgreSQL run write its gradebook to the server, under its course id, and no sqlite file?"""
    from nbgrader.api import Course, Gradebook

    assert not (both["postgres"] / "gradebook.db").exists()
    with Gradebook(both["url"], COURSE_ID) as gb:
        assert {s.student.id for s in gb.find_assignment(ASSIGNMENT).submissions} == {
            "lovelaceada", "turingalan", "hoppergrace", "ghostcasper"}
        assert COURSE_ID in {c.id for c in gb.db.query(Course)}


def test_grades_on_postgres_equal_the_sqlite_runs(both):
    """Same class, same seed: are grades.csv, the per-exercise table and the Canvas file the same?"""
    for name in ("export/grades.csv", f"export/exercises-{ASSIGNMENT}.csv", "export/canvas-grades.csv"):
        assert _csv(both["postgres"] / name) == _csv(both["sqlite"] / name), name
    for stage in ("autograde", "canvas"):
        outputs = [both["runs"][run][stage].stdout.replace(str(both[run]), "COURSE")
                   for run in ("postgres", "sqlite")]
        assert outputs[0] == outputs[1], stage
    assert both["runs"]["postgres"]["feedback"].returncode == 0
    assert (both["postgres"] / "feedback" / "hoppergrace" / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file()


def test_collect_keeps_canvas_ids_the_late_flag_and_the_lms_times(both):
    """Did collect keep Alan's later (LATE) upload with his LMS time, and Canvas's user ids?"""
    from grader.pipeline.lms import load_records

    records = {r.student: r for r in load_records(both["postgres"])}
    assert {s: (r.lms_user_id, r.late) for s, r in records.items()} == {
        "lovelaceada": ("101", False), "turingalan": ("102", True), "hoppergrace": ("103", False),
        "ghostcasper": ("199", False)}
    assert records["turingalan"].submitted_at == "2026-03-01 13:30:00.000000 UTC"
    assert records["turingalan"].origin.endswith(f"_LATE_102_9010_{ASSIGNMENT}-1.ipynb")
    assert "duplicate of" in both["runs"]["postgres"]["collect"].stdout


def test_the_canvas_file_imports_with_the_late_penalty_blanks_and_the_roster(both):
    """Does Canvas's importer read one row per roster student with the final scores: Alan's late penalty
    (zero), Ada empty while her written answers wait, Marie empty (no submission), and is the
    student who is not on the roster reported instead?"""
    imported = canvas_import(both["postgres"] / "export" / "canvas-grades.csv", CANVAS_STUDENTS)
    assert imported.unknown_students == []
    assert imported.assignments == [(ASSIGNMENT, "555", "10")]
    assert imported.grades == {"101": {ASSIGNMENT: None}, "102": {ASSIGNMENT: "0"}, "103": {ASSIGNMENT: "2"},
                               "104": {ASSIGNMENT: None}}
    canvas = both["runs"]["postgres"]["canvas"]
    assert canvas.returncode == 1
    assert "not on the roster ghostcasper: no roster entry" in canvas.stderr
    assert f"awaiting grading lovelaceada {ASSIGNMENT}: written_temperature, written_concat" in canvas.stdout


def test_a_written_answer_waiting_for_the_instructor_is_never_a_zero(both, lms_files):
    """Before the instructor grades Ada's written answers, do the class table, the CSVs and the report say
    "awaiting grading"; and once they are graded in the gradebook, do the report and the LMS files count
    them?"""
    from nbgrader.api import Gradebook

    folder, url = both["postgres"], both["url"]
    table = both["runs"]["postgres"]["autograde"].stdout
    assert next(line for line in table.splitlines() if line.startswith("lovelaceada")).split()[2:4] == [
        "awaiting", "grading"]
    rows = _by_student(folder / f"export/exercises-{ASSIGNMENT}.csv")
    assert rows["lovelaceada"]["written_temperature (/2)"] == "awaiting grading"
    assert rows["lovelaceada"]["total"] == "awaiting grading"
    grades = _by_student(folder / "export/grades.csv")
    assert (grades["lovelaceada"]["score"], grades["lovelaceada"]["status"]) == ("awaiting grading",
                                                                                "awaiting grading")
    assert (grades["turingalan"]["raw_score"], grades["turingalan"]["score"]) == ("7.0", "0.0")
    assert "awaiting grading" in (folder / "report.html").read_text()

    with Gradebook(url, COURSE_ID) as gb:  # the instructor grades both answers (what formgrader does)
        marks = {"written_temperature": 1.5, "written_concat": 1.0}
        for grade in gb.find_submission(ASSIGNMENT, "lovelaceada").notebooks[0].grades:
            if grade.name in marks:
                grade.manual_score, grade.needs_manual_grade = marks[grade.name], False
        gb.db.commit()
    options = ["--course-dir", str(folder), "--db-url", url, "--course-id", COURSE_ID]
    _grader("report", *options)
    assert "9.5/10" in (folder / "report.html").read_text()
    roster = folder.parent / "moodle-export.csv"
    roster.write_text("First name,Last name,ID number,Institution,Department,Email address\n"
                      "Ada,Lovelace,lovelaceada,,,ada@uni.example\nMarie,Curie,marie,,,marie@uni.example\n")
    _grader("export", "--format", "canvas", "--roster", str(lms_files[2]), *options, check=False)
    imported = canvas_import(folder / "export" / "canvas-grades.csv", CANVAS_STUDENTS)
    assert imported.grades["101"] == {ASSIGNMENT: "9.5"}
    moodle = _grader("export", "--format", "moodle", "--roster", str(roster), *options, check=False)
    assert "grade item 01_attention_weights: maximum grade 10" in moodle.stdout
    imported = moodle_import(folder / "export" / "moodle-grades.csv",
                             {"ada@uni.example": "u1", "marie@uni.example": "u2"},
                             map_from="Email address", item_columns=[f"{ASSIGNMENT} (Real)"])
    assert imported.grades == {"u1": {f"{ASSIGNMENT} (Real)": AUTOGRADED_POINTS + 2.5}, "u2": {
        f"{ASSIGNMENT} (Real)": None}}


def test_two_concurrent_autograde_runs_on_different_students_both_land(postgres, tmp_path):
    """Two `python -m grader autograde` processes at once on one course folder and one PostgreSQL
    gradebook, one student each: do both finish and both grades land?"""
    url = postgres.create_database("concurrent")
    folder = tmp_path / "course"
    release([ASSIGNMENT], notebooks=tmp_path / "release", course_dir=folder, db_url=url, course_id=COURSE_ID)
    full = solution_bodies()
    for student in ("kim", "lee"):
        write(folder / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", answered(full))
    options = ["--course-dir", str(folder), "--db-url", url, "--course-id", COURSE_ID, "--seed", str(SEED)]
    command = [sys.executable, "-m", "grader", "autograde", *options]
    processes = [subprocess.Popen([*command, "--student", student], cwd=course.PROJECT_ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for student in ("kim", "lee")]
    outputs = [p.communicate(timeout=1800)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], "\n".join(outputs)

    from nbgrader.api import Gradebook

    with Gradebook(url, COURSE_ID) as gb:
        assert {s: gb.find_submission(ASSIGNMENT, s).score for s in ("kim", "lee")} == {
            "kim": AUTOGRADED_POINTS, "lee": AUTOGRADED_POINTS}
    assert sorted(r.student for r in results.load(folder, ASSIGNMENT)) == ["kim", "lee"]
    assert not list((folder / "grader" / "pregraded").iterdir())  # each run removed its own folder
