"""Does `make demo` (python -m demo) run the instructor pipeline end to end and get every grade right?

The demo runs once, from the command line, in a temporary folder; its gradebook (through the
exported CSV), its collect report, feedback files and class report are then checked against
the class as demo.students builds it.
"""

from __future__ import annotations

import csv
import subprocess
import sys

import nbformat
import pytest

from demo.run import ASSIGNMENT, MARKER, DemoError, fresh_folder
from demo.students import add_messy_files, build_class
from grader.pipeline import course
from grader.pipeline.feedback import hidden_test_lines, visible_text


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo's folder and printed output, and the class it was built from (rebuilt here)."""
    folder = tmp_path_factory.mktemp("demo") / "course"
    result = subprocess.run([sys.executable, "-m", "demo", "--course-dir", str(folder),
                             "--seed", "11"], capture_output=True, text=True, timeout=900,
                            cwd=course.PROJECT_ROOT)
    class_folder = tmp_path_factory.mktemp("class")
    students = build_class(class_folder, ASSIGNMENT)
    messy = add_messy_files(class_folder, students)
    return folder, result, students, messy


def test_the_demo_succeeds_and_says_where_everything_is(demo_run):
    """Does the demo exit 0 and name the feedback, CSV, report and gradebook locations?"""
    folder, result, _, _ = demo_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for where in ("feedback", "grades.csv", "report.html", "gradebook.db"):
        assert where in result.stdout


def test_the_class_is_large_enough_and_covers_every_kind_of_submission(demo_run):
    """At least 12 students: full marks, blank, named mistakes, misbehaving and tampering ones?"""
    _, _, students, _ = demo_run
    assert len(students) >= 12
    totals = [sum(s.expected.values()) for s in students]
    assert max(totals) == 7 and min(totals) == 0
    assert any(s.tamper for s in students)
    kinds = {key for s in students for key in s.misconceptions.values()}
    assert {"did_not_finish", "raised", "not_implemented", "used_reference"} <= kinds


def test_every_grade_in_the_gradebook_is_the_expected_one(demo_run):
    """Does nbgrader's gradebook hold, per student and exercise, the points the class was built for?"""
    folder, _, students, _ = demo_run
    with open(folder / "export" / f"exercises-{ASSIGNMENT}.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    got = {student: {key.split(" ")[0]: float(value) for key, value in row.items()
                     if key.startswith("test_")} for student, row in rows.items()}
    assert got == {s.student: {k: float(v) for k, v in s.expected.items()} for s in students}


def test_each_bad_file_of_the_download_is_reported_and_skipped(demo_run):
    """Is every bad file named in collect's report, and none of them graded?"""
    folder, result, students, messy = demo_run
    for name, kind in messy.items():
        assert f"skipped {name}: {kind}" in result.stdout
    graded = {p.parent.parent.name for p in folder.glob(f"submitted/*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")}
    assert graded == {s.student for s in students}


def test_no_feedback_file_shows_a_hidden_test(demo_run):
    """Does every student get feedback, none of it with a line of the hidden tests?"""
    folder, _, students, _ = demo_run
    forbidden = hidden_test_lines(nbformat.read(course.SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                                                as_version=4))
    files = sorted(folder.glob(f"feedback/*/{ASSIGNMENT}/{ASSIGNMENT}.html"))
    assert {f.parts[-3] for f in files} == {s.student for s in students}
    for path in files:
        text = visible_text(path.read_text())
        assert not [line for line in forbidden if line in text], path


def test_the_report_names_the_tamperers_and_the_incidents(demo_run):
    """Does the class report list every tampering student and every misbehaving one?"""
    folder, _, students, _ = demo_run
    page = (folder / "report.html").read_text()
    tamper_section = page[page.index("Tamper guards tripped"):page.index("Grading incidents")]
    for s in students:
        assert (f"<td>{s.student}</td>" in tamper_section) == s.tamper, s.student
    incidents = page[page.index("Grading incidents"):page.index("Not graded")]
    for kind in ("timeout", "kernel_died", "output_truncated"):
        assert f"<td>{kind}</td>" in incidents


def test_the_demo_never_wipes_a_folder_that_is_not_its_own(tmp_path):
    """Does the demo refuse a non-empty folder without its marker, and reuse its own?"""
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(DemoError, match="not a demo folder"):
        fresh_folder(tmp_path)
    assert (tmp_path / "thesis.tex").read_text() == "precious"
    own = fresh_folder(tmp_path / "demo")
    (own / "old.txt").write_text("stale")
    assert (fresh_folder(own) / MARKER).exists() and not (own / "old.txt").exists()
