"""Does `python -m grader check` grade a notebook, report in the documented JSON, and fail cleanly?"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import fixture_course as fc
import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(*args):
    """Run the CLI in a subprocess, as a learner would."""
    return subprocess.run([sys.executable, "-m", "grader", "check", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The fixture course's solutions folder, a full-marks and a blank submission."""
    root = tmp_path_factory.mktemp("course")
    solutions = fc.write_course(root)
    good = fc.write_submission(root / "good")
    blank = fc.write_submission(root / "blank", softmax=fc.STUB.format(name="softmax"),
                                dot_scores=fc.STUB.format(name="dot_scores"))
    return {"solutions": solutions, "good": good, "blank": blank, "root": root}


def test_json_report_has_exactly_the_documented_schema(course):
    """Does --json print exactly the documented object, with full marks for the solution?"""
    done = run_check(course["good"], "--json", "--seed", 5, "--solutions", course["solutions"])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert list(report) == ["notebook", "assignment", "seed", "score", "max_score", "exercises", "signals"]
    assert report["signals"] == []
    assert report["assignment"] == fc.ASSIGNMENT and report["seed"] == 5
    assert report["score"] == report["max_score"] == 3.0
    for exercise in report["exercises"]:
        assert list(exercise) == ["grade_id", "function", "points", "max_points", "passed", "feedback"]
        assert exercise["grade_id"] == f"test_{exercise['function']}"
        assert exercise["passed"] is True
    assert [e["function"] for e in report["exercises"]] == ["softmax", "dot_scores"]


def test_a_blank_notebook_scores_zero_and_still_exits_zero(course):
    """Does grading a notebook of stubs give zero points, say what to do, and exit 0?"""
    done = run_check(course["blank"], "--json", "--solutions", course["solutions"])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["score"] == 0.0 and report["max_score"] == 3.0
    assert all("not implemented yet" in e["feedback"] for e in report["exercises"])


def test_the_hidden_tests_source_is_never_printed(course):
    """Does neither the text nor the JSON report show the hidden check lines?"""
    for extra in ([], ["--json"]):
        done = run_check(course["blank"], *extra, "--solutions", course["solutions"])
        assert "hidden=True" not in done.stdout and "BEGIN HIDDEN" not in done.stdout


def test_text_report_names_the_seed_to_reproduce(course):
    """Does the text report say how to reproduce the run (--seed)?"""
    done = run_check(course["good"], "--seed", 42, "--solutions", course["solutions"])
    assert done.returncode == 0 and "--seed 42" in done.stdout and "Score: 3 / 3" in done.stdout


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "missing.ipynb", "no such file"),
        (lambda root: _write(root / "notes.txt", "hello"), "not a notebook"),
        (lambda root: _write(root / f"{fc.ASSIGNMENT}.ipynb", "{not json"), "corrupt notebook JSON"),
        (lambda root: _write(root / "99_unknown.ipynb", json.dumps(fc.notebook())), "unknown assignment"),
    ],
    ids=["missing", "not-a-notebook", "corrupt-json", "unknown-assignment"],
)
def test_bad_input_exits_2_with_one_clear_line(course, tmp_path, make, message):
    """Do a missing file, a non-notebook, corrupt JSON and an unknown assignment exit 2 with one line?"""
    path = make(tmp_path)
    done = run_check(path, "--json", "--solutions", course["solutions"])
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path.name) in lines[0]


def _write(path, text):
    path.write_text(text)
    return path
