"""Can an instructor grade the written answers in the formgrader that `python -m grader formgrader` opens?

The command is run as an instructor would run it, on a course folder that does not exist yet
(a real Jupyter server on 127.0.0.1 with a token); a student's submission is autograded into
that folder, one of its written answers is graded in the formgrader in a headless Chromium,
and `python -m grader export` is read back.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import nbformat
import pytest
from browser_formgrader import formgrader_grade
from browser_lab import ROOT, _lab_environment, free_port
from student_notebooks import filled_notebook

from grader.sources import assignments

ASSIGNMENT = "01_attention_weights"
STUDENT = "ada"


def _get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _grader(*args):
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def formgrader(chromium, tmp_path_factory):
    """`python -m grader formgrader` on a course folder that does not exist yet: (url, token, course folder).

    Stopped at the end (SIGTERM, which the command passes on to its Jupyter server)."""
    base = tmp_path_factory.mktemp("formgrader")
    course_dir = base / "course"
    token, port = secrets.token_hex(16), free_port()
    env = {**_lab_environment(base / "home"), "JUPYTER_TOKEN": token}
    log = base / "formgrader.log"
    with open(log, "wb") as out:
        command = [sys.executable, "-m", "grader", "formgrader", "--course-dir", str(course_dir),
                   "--port", str(port), "--no-browser"]
        process = subprocess.Popen(command, cwd=base, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while _get_status(url, token) != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the formgrader did not start:\n{tail}")
            time.sleep(0.5)
        yield url, token, course_dir, log
    finally:
        process.terminate()  # the command passes SIGTERM on: Jupyter's clean shutdown
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything left of the group we started
        except ProcessLookupError:
            pass


def _get_status(url, token):
    try:
        return _get(f"{url}/api/status", token)[0]
    except OSError:
        return None


def test_the_formgrader_opens_a_course_folder_that_does_not_exist_yet(formgrader):
    """On a fresh course folder, does the formgrader list the course's assignments (no HTTP 500) and the
    folder and its gradebook get created?"""
    url, token, course_dir, log = formgrader
    status, body = _get(f"{url}/formgrader/api/assignments", token)
    assert status == 200, (status, body[:500], log.read_text(errors="replace")[-3000:])
    listed = sorted(item["name"] for item in json.loads(body))
    assert listed == assignments()
    assert (course_dir / "gradebook.db").is_file()
    status, page = _get(f"{url}/formgrader/manage_assignments", token)
    assert status == 200 and "Manage Assignments" in page


def test_a_written_answer_graded_in_the_formgrader_is_exported_with_its_points(formgrader, browser):
    """Autograded, then one written answer graded by hand in the formgrader: does the export show those
    points, and the answer nobody graded still as ungraded?"""
    url, token, course_dir, _ = formgrader
    folder = course_dir / "submitted" / STUDENT / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(filled_notebook(ASSIGNMENT), folder / f"{ASSIGNMENT}.ipynb")
    _grader("autograde", ASSIGNMENT, "--course-dir", str(course_dir), "--jobs", "1")

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        page.goto(f"{url}/formgrader?token={token}")  # the token becomes a cookie
        formgrader_grade(page, url, ASSIGNMENT, STUDENT, {"written_temperature": 2})
    finally:
        context.close()

    _grader("export", "--course-dir", str(course_dir))
    with open(course_dir / "export" / f"exercises-{ASSIGNMENT}.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["student_id"] == STUDENT)
    written = {key.split(" ")[0]: value for key, value in row.items() if key.startswith("written_")}
    assert float(written["written_temperature"]) == 2.0, row
    assert written["written_concat"] == "awaiting grading", row  # not a 0
