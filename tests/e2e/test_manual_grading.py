"""Does feedback tell a written answer that awaits the instructor from one that scored 0?

Two submissions of notebook 01 are autograded through nbgrader: ada answered the written
questions (nbgrader leaves them to the instructor), bob left them as released (nbgrader
scores them 0 itself). Their feedback is read back before and after one written answer is
graded in the gradebook.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook
from student_notebooks import filled_notebook

from grader.pipeline import course
from grader.pipeline.feedback import visible_text

ASSIGNMENT = "01_attention_weights"


def _grader(*args):
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=900, cwd=course.PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _page(course_dir, student):
    html = (course_dir / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    return re.sub(r"\s+", " ", visible_text(html))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A course folder with ada's and bob's submissions autograded and their feedback written."""
    course_dir = tmp_path_factory.mktemp("manual") / "course"
    for student, replace in (("ada", {}), ("bob", {"written_temperature": None, "written_concat": None})):
        folder = course_dir / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(filled_notebook(ASSIGNMENT, replace), folder / f"{ASSIGNMENT}.ipynb")
    _grader("autograde", ASSIGNMENT, "--course-dir", str(course_dir), "--seed", "5")
    _grader("feedback", ASSIGNMENT, "--course-dir", str(course_dir))
    return course_dir


def test_written_answers_nobody_has_graded_say_awaiting_grading_not_zero(graded):
    """Do ada's written answers show as awaiting grading with their points, in the list and in the cells,
    and does the total say how many points are still to come?"""
    page = _page(graded, "ada")
    assert "(Score: 7.0 / 10.0; 3.0 points awaiting grading)" in page, page[:600]
    assert page.count("awaiting grading (2.0 points)") == 2  # the list at the top, and the answer's cell
    assert page.count("awaiting grading (1.0 points)") == 2
    assert "Written response (Score: 0.0" not in page and "Score: 0.0 / 2.0" not in page


def test_written_answers_left_as_released_score_zero(graded):
    """Are bob's untouched written answers scored 0, as nbgrader scores them, with nothing awaiting?"""
    page = _page(graded, "bob")
    assert "awaiting grading" not in page
    assert "Written response (Score: 0.0 / 2.0)" in page and "Written response (Score: 0.0 / 1.0)" in page


def test_a_graded_written_answer_shows_its_points_and_the_other_still_awaits(graded, tmp_path):
    """Once the instructor has graded one written answer, does the feedback show its points, and the
    other one still as awaiting grading?"""
    course_dir = tmp_path / "course"
    shutil.copytree(graded, course_dir)
    with Gradebook(course.gradebook_url(course_dir)) as gradebook:
        grade = gradebook.find_grade("written_temperature", ASSIGNMENT, ASSIGNMENT, "ada")
        grade.manual_score = 2.0  # what the formgrader saves
        grade.needs_manual_grade = False
        gradebook.db.commit()
    _grader("feedback", ASSIGNMENT, "--course-dir", str(course_dir))
    page = _page(course_dir, "ada")
    assert "(Score: 9.0 / 10.0; 1.0 points awaiting grading)" in page, page[:600]
    assert "Written response (Score: 2.0 / 2.0)" in page
    assert "Written response (awaiting grading (1.0 points))" in page
