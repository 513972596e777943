"""Does a whole class work through JupyterHub and nbgrader's exchange, as deploy/hub/README.md sets it up?

One instructor and two students, real unix users on this machine, each in their own
JupyterLab started by a real JupyterHub (tests/support/hub.py) from their role's Python
environment, driven in a headless Chromium: the instructor releases 01 from the formgrader;
student 1 fetches it from the Assignment List, answers everything, validates and submits;
student 2 submits a wrong weighted sum and one written answer; the instructor collects with
``nbgrader collect``, autogrades with ``python -m grader autograde``, grades student 1's
written answers in the formgrader, writes the feedback with ``python -m grader feedback`` and
releases it; each student fetches their own feedback and reads the mistakes named in it
(student 2's ungraded written answer awaiting grading) — and student 2 can read neither
student 1's work, the exchange's submissions, the solutions, the gradebook nor the
instructors' environment, and cannot import the reference or the grader.

Needs root and ``make hub-env`` (the class's two Python environments and
configurable-http-proxy); screenshots and the hub's log go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import time

import nbformat
import pytest
from browser_formgrader import formgrader_grade, formgrader_release, formgrader_release_feedback
from browser_hub import (
    answer_sources,
    fetch_assignment,
    fetch_feedback,
    fill_in,
    log_in,
    nbgrader_menu,
    open_assignment_list,
    open_fetched_notebook,
    save,
    submit,
    user_url,
)
from browser_lab import close_dialog, validate
from hub import HubUnavailable, missing_prerequisites, running_hub

from grader.pipeline import course

ASSIGNMENT = "01_attention_weights"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
#: Student 2's wrong answer: the weighted sum divided by n, a mistake the checks name — and, printed by
#: the answer cell whenever it runs (in student 2's kernel, and in the grader's, which runs for the
#: instructor), a look into the exchange's submissions (which student 2 may not list) and an attempt
#: to import the reference.
WRONG_WEIGHTED_SUM = '''import os
try:
    print("INBOUND:", sorted(os.listdir({inbound!r})))
except OSError as error:
    print("INBOUND:", type(error).__name__)
try:
    import attention_ref
    print("REFERENCE: imported from", attention_ref.__file__)
except ImportError as error:
    print("REFERENCE:", type(error).__name__)


def weighted_sum(w, V):
    w = np.asarray(w)
    V = np.asarray(V)
    return (w[..., None, :] @ V)[..., 0, :] / w.shape[-1]'''
WRONG_MISTAKE = "the weighted sum is divided by n"
#: Student 2's one written answer, which nobody grades: the feedback says it awaits grading.
SECOND_WRITTEN = "Dividing by a temperature above one flattens the weights."
#: Points the instructor gives student 1's written answers in the formgrader (the maxima).
WRITTEN_SCORES = {"written_temperature": 2, "written_concat": 1}
COMMENT = "Good: the length of q acts as an inverse temperature."


@pytest.fixture(scope="module")
def hub(chromium, artifacts):
    """The running class; a missing prerequisite fails the test with the fix (skips it when not root)."""
    missing = missing_prerequisites()
    if missing and os.geteuid() != 0 and not os.environ.get("CI"):
        pytest.skip("the JupyterHub class test creates unix users: it runs as root (CI does)")
    if missing:
        pytest.fail("the JupyterHub class test needs: " + "; ".join(missing), pytrace=False)
    try:
        with running_hub(log_copy=artifacts / "hub-class-jupyterhub.log") as running:
            yield running
    except HubUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def pages(artifacts, request):
    """The users' pages by name, filled in by the test; on failure their screenshots go to the artifacts."""
    opened = {}
    yield opened
    failed = getattr(request.node, "rep_call", None)
    for name, page in opened.items():
        if failed is not None and failed.failed:
            page.screenshot(path=artifacts / f"hub-class-failure-{name}.png")
        page.context.close()


class Steps:
    """Wall-clock time of each step, printed (pytest -s, or the report's captured output on failure)."""

    def __init__(self):
        self.start = self.last = time.monotonic()

    def __call__(self, name):
        now = time.monotonic()
        print(f"[{now - self.start:7.1f} s] {name} ({now - self.last:.1f} s)", flush=True)
        self.last = now


def _shot(page, artifacts, name):
    page.screenshot(path=artifacts / f"hub-class-{name}.png")


def test_a_class_releases_submits_grades_and_returns_feedback_through_the_hub(hub, browser, artifacts, pages):
    """Does a class go round the whole loop through the hub: release, fetch, submit, collect, autograde,
    grade by hand, return feedback — each student reading only their own, with their named mistakes?"""
    step = Steps()
    instructor, (student1, student2) = hub.instructor, hub.students
    solutions = instructor.checkout / "solutions"
    teacher_base = user_url(hub, instructor)

    # ---- the instructor releases 01 ---------------------------------------------------------------
    teacher = pages["instructor"] = log_in(browser, hub, instructor)
    step("instructor logged in, server started")
    assert {"Formgrader", "Assignment List"} <= set(nbgrader_menu(teacher)), nbgrader_menu(teacher)
    hub.run_as(instructor, ["python", "-m", "grader", "release", ASSIGNMENT], cwd=instructor.checkout)
    formgrader_release(teacher, teacher_base, ASSIGNMENT)
    _shot(teacher, artifacts, "1-released")
    assert (hub.exchange / hub.course_id / "outbound" / NOTEBOOK).is_file()
    step("01 generated (python -m grader release) and released (formgrader)")

    # ---- student 1 fetches, answers everything, validates and submits -------------------------------
    first = pages["student1"] = log_in(browser, hub, student1)
    step("student 1 logged in, server started")
    menu = nbgrader_menu(first)
    assert "Assignment List" in menu and "Formgrader" not in menu and "Course List" not in menu, menu
    open_assignment_list(first)
    fetch_assignment(first, ASSIGNMENT)
    open_fetched_notebook(first, ASSIGNMENT)
    assert first.locator(".jp-NotebookPanel-toolbar .validate-button").count() == 1  # Validate is there
    answers = answer_sources(solutions, ASSIGNMENT)
    fill_in(first, answers)
    save(first)
    _shot(first, artifacts, "2-student1-answered")
    assert _typed(student1.home / NOTEBOOK, answers) == {}
    dialog = validate(first)  # nbgrader runs the notebook with the visible tests, in the students' env
    assert dialog.locator(".validation-success").count() == 1, dialog.inner_text()
    close_dialog(first)
    step("student 1 fetched, answered, validated")
    submit(first, ASSIGNMENT)
    _shot(first, artifacts, "3-student1-submitted")
    step("student 1 submitted")

    # ---- student 2 submits a wrong weighted sum and one written answer ------------------------------
    second = pages["student2"] = log_in(browser, hub, student2)
    open_assignment_list(second)
    fetch_assignment(second, ASSIGNMENT)
    open_fetched_notebook(second, ASSIGNMENT)
    inbound = hub.exchange / hub.course_id / "inbound"
    wrong = answer_sources(solutions, ASSIGNMENT, {
        "weighted_sum": WRONG_WEIGHTED_SUM.format(inbound=str(inbound)),
        "written_temperature": SECOND_WRITTEN, "written_concat": None})
    fill_in(second, wrong)
    save(second)
    assert _typed(student2.home / NOTEBOOK, wrong) == {}
    submit(second, ASSIGNMENT)
    step("student 2 logged in, fetched, answered wrongly, submitted")

    # ---- the instructor collects, autogrades, grades the written answers, returns feedback -----------
    collected = hub.run_as(instructor, ["nbgrader", "collect", ASSIGNMENT], cwd=instructor.checkout)
    submitted = instructor.checkout / "course" / "submitted"
    for student in (student1, student2):
        assert (submitted / student.name / NOTEBOOK).is_file(), collected.stdout
    step("nbgrader collect")
    hub.run_as(instructor, ["python", "-m", "grader", "autograde", ASSIGNMENT], cwd=instructor.checkout)
    # The written answers await a grader: student 1 has the 7 points of the code, student 2 fewer.
    assert _gradebook_score(hub, instructor, student1.name) == (7.0, 10.0)
    assert _gradebook_score(hub, instructor, student2.name)[0] < 7.0
    step("python -m grader autograde")

    formgrader_grade(teacher, teacher_base, ASSIGNMENT, student1.name, WRITTEN_SCORES,
                     comments={"written_temperature": COMMENT})
    _shot(teacher, artifacts, "4-graded-in-formgrader")
    assert _gradebook_score(hub, instructor, student1.name) == (10.0, 10.0)
    step("student 1's written answers graded in the formgrader")

    written = hub.run_as(instructor, ["python", "-m", "grader", "feedback", ASSIGNMENT],
                         cwd=instructor.checkout)
    assert written.stdout.count("feedback ") == 2, written.stdout
    formgrader_release_feedback(teacher, teacher_base, ASSIGNMENT)
    step("python -m grader feedback, released from the formgrader")

    # ---- each student reads their own feedback --------------------------------------------------------
    text1 = fetch_feedback(first, ASSIGNMENT)
    _shot(first, artifacts, "5-student1-feedback")
    assert re.search(r"Score:\s*10(\.0)?\s*/\s*10", text1), text1[:2000]
    assert COMMENT in text1 and "awaiting grading" not in text1
    text2 = fetch_feedback(second, ASSIGNMENT)
    _shot(second, artifacts, "6-student2-feedback")
    assert WRONG_MISTAKE in text2, text2[:3000]
    assert re.search(r"awaiting grading\s*\(2(\.0)? points\)", text2), text2[:3000]  # graded by nobody yet
    # The grader ran student 2's code for the instructor, who may list the exchange's submissions and whose
    # environment holds the reference: its sandbox must hide both, or the feedback hands them back.
    # What the code printed, not its source (shown above each output): no quote follows the prefix.
    inbound_lines = re.findall(r"INBOUND: [^\"\n]*$", text2, re.M)
    reference_lines = re.findall(r"REFERENCE: [^\"\n]*$", text2, re.M)
    assert [line.strip() for line in inbound_lines] == ["INBOUND: FileNotFoundError"], inbound_lines
    assert student1.name not in text2
    assert len(reference_lines) == 1, reference_lines  # the grader's kernel could not import the reference
    assert re.fullmatch(r"REFERENCE: (ModuleNotFound|Import)Error", reference_lines[0].strip())
    assert not re.search(r"Score:\s*10(\.0)?\s*/\s*10", text2), text2[:2000]
    for text in (text1, text2):
        assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text
    step("both students fetched and read their feedback")

    # ---- ... and nothing of anyone else's -----------------------------------------------------------------
    checkout = instructor.checkout
    private = {
        "student 1's notebook": student1.home / NOTEBOOK,
        "student 1's home": student1.home,
        "the exchange's submissions": hub.exchange / hub.course_id / "inbound",
        "the exchange's feedback folder": hub.exchange / hub.course_id / "feedback",
        "the instructor's checkout": checkout,
        "the solutions": checkout / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        "the gradebook": checkout / "course" / "gradebook.db",
        "student 1's submission as collected": checkout / "course" / "submitted" / student1.name / NOTEBOOK,
        "the instructors' environment": hub.instructor_env / "bin" / "python",
    }
    for what, path in private.items():
        assert path.exists(), path
        assert not hub.can_read(student2, path), f"student 2 can read {what}: {path}"
    assert hub.can_read(student2, student2.home / NOTEBOOK)  # the probe itself works
    answer = second.request.get(user_url(hub, student1, f"api/contents/{NOTEBOOK}"), max_redirects=10)
    assert answer.status in (403, 404) and '"cells"' not in answer.text(), (answer.status, answer.url)
    answer = second.request.get(user_url(hub, student2, "formgrader/api/assignments"))
    assert answer.status == 404, answer.status  # no formgrader in a student's server
    step("student 2 kept out of student 1's files, the exchange, the solutions and the gradebook")


def _typed(path, answers):
    """The answer cells whose saved source is not what was typed: grade id -> saved source."""
    nb = nbformat.read(path, as_version=4)
    saved = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("solution")}
    return {grade_id: saved.get(grade_id) for grade_id, (_, text) in answers.items()
            if saved.get(grade_id, "").strip() != text.strip()}


def _gradebook_score(hub, instructor, student):
    """(score, max score) of a submission, read from the gradebook as the instructor."""
    code = ("from nbgrader.api import Gradebook\n"
            f"with Gradebook({course.gradebook_url(instructor.checkout / 'course')!r}) as gb:\n"
            f"    s = gb.find_submission({ASSIGNMENT!r}, {student!r})\n"
            "    print(s.score, s.max_score)\n")
    done = hub.run_as(instructor, ["python", "-c", code], cwd=instructor.home)
    score, max_score = done.stdout.split()[-2:]
    return float(score), float(max_score)


def test_students_cannot_import_the_reference_implementation(hub):
    """Can a student's Python import the student package, but neither the reference nor the grader?"""
    student = hub.students[0]
    python = str(hub.student_env / "bin" / "python")

    def imports(module):
        done = hub.run_as(student, [python, "-c", f"import {module}"], check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(student.home)})
        return done.returncode == 0

    assert imports("attention_course.checks")  # the probe works: the student package is there
    for module in ("attention_ref", "grader", "grader.checks"):
        assert not imports(module), f"a student can import {module}"
