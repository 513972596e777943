"""Does `python -m grader autograde` grade a class through real nbgrader, safely and reproducibly?

A small class of notebook 01 (full marks, blank, one named mistake, a kernel killer, a spy)
is graded twice from the command line, with two jobs and with one; nbgrader's gradebook,
the exported CSV, the feedback and the report are then read back.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

import grader.runtime.execute
from demo.students import strip_solution
from grader.errors import AutogradeError
from grader.pipeline import autograde, course, results
from grader.pipeline.feedback import hidden_test_lines, visible_text
from grader.runtime.grade import Limits

ASSIGNMENT = "01_attention_weights"
SEED = 7
SOURCE = course.SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE = course.NOTEBOOKS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
AUTOGRADED = ("test_softmax", "test_dot_scores", "test_attention_weights", "test_weighted_sum",
              "test_attend")

SOFTMAX_NO_MAX = '''def softmax(x, axis=-1):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)
'''

ATTEND_EXITS = '''import os

def attend(q, K, V, concat_query=False):
    os._exit(1)
'''

#: The spy's softmax cell reports what it can see; {course} and {solutions} are filled in.
SPY = '''import os
for name, path in [("gradebook", "{course}/gradebook.db"), ("other_student", "{course}/submitted/full"),
                   ("solutions", "{solutions}"), ("project", "{project}/attention_ref")]:
    print(name, "VISIBLE" if os.path.exists(path) else "hidden")
'''


def _solution_bodies():
    source = nbformat.read(SOURCE, as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: strip_solution(cell.source) for cell in source.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}


def _submission(answers):
    """The released notebook with some answer cells (by grade id) replaced."""
    nb = nbformat.read(RELEASE, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def _write_class(course_dir):
    full = _solution_bodies()
    spy = SPY.format(course=course_dir, solutions=course.SOLUTIONS, project=course.PROJECT_ROOT)
    written = {"written_temperature": "A higher temperature flattens the weights.",
               "written_concat": "Concatenating keeps the query's own information."}
    students = {
        "full": {**full, **written},
        "blank": {},
        "nomax": {**full, "softmax": SOFTMAX_NO_MAX},
        "crasher": {**full, "attend": ATTEND_EXITS},
        "spy": {**full, "softmax": spy + full["softmax"]},
    }
    for student, answers in students.items():
        folder = course_dir / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(_submission(answers), folder / f"{ASSIGNMENT}.ipynb")


def _grader(*args):
    result = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                            timeout=600, cwd=course.PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The class graded with --jobs 2, and a copy of it graded with --jobs 1 (same seed)."""
    parallel = tmp_path_factory.mktemp("parallel")
    _write_class(parallel)
    sequential = tmp_path_factory.mktemp("sequential")
    shutil.copytree(parallel / "submitted", sequential / "submitted")
    for folder, jobs in ((parallel, 2), (sequential, 1)):
        _grader("autograde", "--course-dir", str(folder), "--jobs", str(jobs), "--seed", str(SEED),
                "--timeout", "20")
        _grader("export", "--course-dir", str(folder))
    _grader("feedback", "--course-dir", str(parallel))
    _grader("report", "--course-dir", str(parallel))
    return parallel, sequential


def _exercise_csv(course_dir):
    with open(course_dir / "export" / f"exercises-{ASSIGNMENT}.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _points(row):
    return {key.split(" ")[0]: value for key, value in row.items() if key.startswith("test_")}


def test_each_student_gets_exactly_the_points_of_the_exercises_they_solved(graded_class):
    """Is every autograded cell in nbgrader's gradebook scored as the class was written?"""
    rows = _exercise_csv(graded_class[0])
    full = dict.fromkeys(AUTOGRADED)
    expected = {
        "full": {**full, "test_softmax": "2", "test_dot_scores": "1", "test_attention_weights": "1",
                 "test_weighted_sum": "1", "test_attend": "2"},
        "blank": dict.fromkeys(AUTOGRADED, "0"),
        "nomax": {"test_softmax": "0", "test_dot_scores": "1", "test_attention_weights": "0",
                  "test_weighted_sum": "1", "test_attend": "0"},
        "crasher": {"test_softmax": "2", "test_dot_scores": "1", "test_attention_weights": "1",
                    "test_weighted_sum": "1", "test_attend": "0"},
        "spy": {"test_softmax": "2", "test_dot_scores": "1", "test_attention_weights": "1",
                "test_weighted_sum": "1", "test_attend": "2"},
    }
    assert {student: _points(row) for student, row in rows.items()} == expected
    # A written answer waits for the instructor (not 0), and so does the total; nbgrader gives an
    # untouched one 0.
    assert rows["full"]["written_temperature (/2)"] == "awaiting grading"
    assert rows["full"]["total"] == "awaiting grading"
    assert rows["blank"]["written_temperature (/2)"] == "0"


def test_a_kernel_killer_loses_only_its_own_exercise_and_the_reason_is_recorded(graded_class):
    """Does os._exit in one answer cost only that exercise, with the incident in the summary?"""
    result = next(r for r in results.load(graded_class[0], ASSIGNMENT) if r.student == "crasher")
    assert result.graded
    # Its test cell, and the plot cell that calls attend again, each killed a kernel.
    assert [(i.cell, i.kind) for i in result.incidents] == [
        ("test_attend", "kernel_died"), ("plot-lookup", "kernel_died")]
    attend = next(e for e in result.exercises if e.function == "attend")
    assert not attend.passed and "kernel died" in attend.feedback


def test_learner_code_cannot_see_the_gradebook_the_solutions_or_other_students(graded_class):
    """While the spy's notebook ran, were the course folder and the project hidden from it?"""
    nb = nbformat.read(graded_class[0] / "autograded" / "spy" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                       as_version=4)
    printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                      for out in cell.outputs)
    for name in ("gradebook", "other_student", "solutions", "project"):
        assert f"{name} hidden" in printed, printed


def test_parallel_and_sequential_runs_give_the_same_grades(graded_class):
    """With the same seed, do --jobs 2 and --jobs 1 write the same gradebook?"""
    assert _exercise_csv(graded_class[0]) == _exercise_csv(graded_class[1])


def test_feedback_names_the_mistake_shows_the_plots_and_hides_the_hidden_tests(graded_class):
    """Does the handed-back HTML explain the failure without any hidden-test source?"""
    forbidden = hidden_test_lines(nbformat.read(SOURCE, as_version=4))
    files = sorted(graded_class[0].glob(f"feedback/*/{ASSIGNMENT}/{ASSIGNMENT}.html"))
    assert [f.parts[-3] for f in files] == sorted(["full", "blank", "nomax", "crasher", "spy"])
    for path in files:
        raw = path.read_text()
        text = visible_text(raw)
        assert "hidden=True" not in text.replace(" ", "") and "HIDDEN TESTS" not in raw
        assert not [line for line in forbidden if line in text]
    nomax = (graded_class[0] / "feedback" / "nomax" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "subtract" in visible_text(nomax).lower()  # the named mistake's hint
    assert "data:image/png;base64" in nomax  # the student's own plots


def test_the_report_lists_mistakes_incidents_and_every_student(graded_class):
    """Does the class report show pass rates, the named mistake, the incident and the class table?"""
    page = (graded_class[0] / "report.html").read_text()
    text = visible_text(page)
    assert page.count("data:image/png;base64") == 2
    assert "kernel_died" in text and "crasher" in text
    for student in ("full", "blank", "nomax", "crasher", "spy"):
        assert student in text


def _grade_full_marks_with(tmp_path, monkeypatch, setup_kernel):
    """A full-marks submission graded in this process, ``setup_kernel`` replacing nbclient's (no back-off)."""
    monkeypatch.setattr(grader.runtime.execute._CappedClient, "setup_kernel", setup_kernel)
    monkeypatch.setattr(grader.runtime.execute.time, "sleep", lambda seconds: None)
    folder = tmp_path / "submitted" / "ada" / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(_submission(_solution_bodies()), folder / f"{ASSIGNMENT}.ipynb")
    return autograde.grade_submission(
        autograde.Submission("ada", ASSIGNMENT, folder / f"{ASSIGNMENT}.ipynb"), solutions=course.SOLUTIONS,
        seed=SEED, limits=Limits(), out_dir=tmp_path / "pregraded")


def test_a_kernel_that_fails_to_start_is_retried(tmp_path, monkeypatch):
    """Is a submission whose kernel could not start run again instead of scored 0?"""
    calls = []
    real = grader.runtime.execute._CappedClient.setup_kernel

    def flaky(self, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("ZMQError: Address already in use")
        return real(self, **kwargs)

    result = _grade_full_marks_with(tmp_path, monkeypatch, flaky)
    assert len(calls) == 2 and not result.incidents
    assert all(e.passed for e in result.exercises)


def test_a_kernel_that_never_starts_leaves_the_submission_ungraded_not_zero(tmp_path, monkeypatch):
    """Is a submission whose kernels all fail to start (a fault of the grading host) reported as
    not graded, with no pre-graded notebook for nbgrader to score 0?"""
    def broken(self, **kwargs):
        raise RuntimeError("the kernel template could not fork a kernel")

    result = _grade_full_marks_with(tmp_path, monkeypatch, broken)
    assert result.status == "error" and "could not fork" in result.reason
    assert not list((tmp_path / "pregraded").rglob("*.ipynb"))


def test_bad_arguments_are_refused_with_a_clear_message(tmp_path):
    """Do an empty course folder, an unknown assignment and --jobs 0 each get one clear line?"""
    with pytest.raises(AutogradeError, match="no submissions"):
        autograde.autograde(course_dir=tmp_path)
    with pytest.raises(AutogradeError, match="unknown assignment"):
        autograde.autograde(["99_nothing"], course_dir=tmp_path)
    with pytest.raises(AutogradeError, match="at least 1"):
        autograde.autograde(course_dir=tmp_path, jobs=0)


def test_results_are_kept_per_submission(graded_class):
    """Is there one JSON summary per submission, with its seed?"""
    kept = results.load(graded_class[0], ASSIGNMENT)
    assert sorted(r.student for r in kept) == ["blank", "crasher", "full", "nomax", "spy"]
    assert {r.seed for r in kept} == {SEED}
    assert all(Path(r.notebook).is_file() for r in kept)


def test_a_course_folder_outside_tmp_is_hidden_too(tmp_path):
    """Is the course folder hidden from learner code even where the sandbox hides nothing by default?

    The other tests keep their course under /tmp, which the sandbox always hides; /var/tmp is not."""
    course_dir = Path(tempfile.mkdtemp(prefix="course-", dir="/var/tmp"))
    try:
        folder = course_dir / "submitted" / "spy" / ASSIGNMENT
        folder.mkdir(parents=True)
        (course_dir / "gradebook.db").write_text("grades")
        spy = SPY.format(course=course_dir, solutions=course.SOLUTIONS, project=course.PROJECT_ROOT)
        full = _solution_bodies()
        nbformat.write(_submission({**full, "softmax": spy + full["softmax"]}),
                       folder / f"{ASSIGNMENT}.ipynb")
        hidden = autograde._hidden_folders(course_dir, course.SOLUTIONS, None)
        autograde.grade_submission(
            autograde.Submission("spy", ASSIGNMENT, folder / f"{ASSIGNMENT}.ipynb"),
            solutions=course.SOLUTIONS, seed=SEED, limits=Limits(), hidden=hidden, out_dir=tmp_path)
        nb = nbformat.read(tmp_path / ASSIGNMENT / "spy" / f"{ASSIGNMENT}.ipynb", as_version=4)
        printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                          for out in cell.outputs)
        assert "gradebook hidden" in printed and "other_student hidden" in printed, printed
    finally:
        shutil.rmtree(course_dir, ignore_errors=True)


def test_a_submission_nbgrader_fails_on_leaves_nothing_in_the_gradebook(tmp_path, monkeypatch):
    """When nbgrader's scoring fails on one submission, is it reported, absent from the gradebook and
    the autograded folder, and is the other student graded all the same?"""
    from nbgrader.api import Gradebook, MissingEntry

    from grader.pipeline import nbgrader_bridge

    for student in ("ada", "bob"):
        folder = tmp_path / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(_submission(_solution_bodies()), folder / f"{ASSIGNMENT}.ipynb")
    real = nbgrader_bridge.LoadPregraded.preprocess

    def fail_for_bob(self, nb, resources):
        nb, resources = real(self, nb, resources)
        if resources["nbgrader"]["student"] == "bob":
            nb.cells[0].metadata["nbgrader"] = {"grade": True}  # nbgrader's own checks reject this
        return nb, resources

    monkeypatch.setattr(nbgrader_bridge.LoadPregraded, "preprocess", fail_for_bob)
    done = {r.student: r for r in autograde.autograde(course_dir=tmp_path, jobs=1, seed=SEED, progress=False)}
    assert done["ada"].graded and done["ada"].score == 7
    assert done["bob"].status == "error" and "nbgrader autograde failed" in done["bob"].reason
    with Gradebook(course.gradebook_url(tmp_path)) as gb:
        gb.find_submission(ASSIGNMENT, "ada")
        with pytest.raises(MissingEntry):
            gb.find_submission(ASSIGNMENT, "bob")
    assert not (tmp_path / "autograded" / "bob" / ASSIGNMENT).exists()
