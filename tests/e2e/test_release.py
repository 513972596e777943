"""Does `python -m grader release` turn a source notebook into a student version with nbgrader?"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fixture_course as fc
import nbformat
import pytest

from grader.errors import ReleaseError
from grader.pipeline.release import release

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The fixture course with a solution region, released into a temporary folder."""
    root = tmp_path_factory.mktemp("release")
    solutions = fc.write_course(root)
    path = solutions / fc.ASSIGNMENT / f"{fc.ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = ("def softmax(x, axis=-1):\n    \"\"\"Softmax of x (..., n).\"\"\"\n"
                          "    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n")
    nbformat.write(nb, path)
    written = release(solutions=solutions, notebooks=root / "notebooks", course_dir=root / "course")
    return {"root": root, "solutions": solutions, "written": written,
            "nb": nbformat.read(written[0], as_version=4)}


def test_the_student_version_keeps_the_signature_and_stubs_the_body(released):
    """Is the solution region replaced by a NotImplementedError stub, docstring kept?"""
    source = released["nb"].cells[2].source
    assert source.startswith("def softmax(x, axis=-1):\n    \"\"\"Softmax of x (..., n).\"\"\"")
    assert "raise NotImplementedError()" in source and "return x" not in source


def test_the_student_version_has_no_hidden_tests_and_locked_test_cells(released):
    """Are the hidden checks gone and the test cells locked against editing?"""
    tests = [c for c in released["nb"].cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.source for c in tests] == ['check("softmax", softmax)', 'check("dot_scores", dot_scores)']
    assert all(c.metadata.get("editable") is False for c in tests)


def test_the_release_lands_in_the_release_folder_and_the_gradebook_in_the_course_folder(released):
    """Does the notebook go to notebooks/NN_topic/ and the gradebook to the course folder?"""
    assert released["written"] == [released["root"] / "notebooks" / fc.ASSIGNMENT / f"{fc.ASSIGNMENT}.ipynb"]
    assert (released["root"] / "course" / "gradebook.db").is_file()


def test_an_unknown_assignment_is_refused_with_the_known_ones_named(released):
    """Does asking for an assignment that does not exist name the ones that do?"""
    with pytest.raises(ReleaseError, match=f"unknown assignment.*{fc.ASSIGNMENT}"):
        release(["99_nothing"], solutions=released["solutions"], notebooks=released["root"] / "nb2",
                course_dir=released["root"] / "course2")


def test_the_command_exits_2_with_one_line_for_an_unknown_assignment(tmp_path):
    """Does the CLI report an unknown assignment as one line on stderr and exit 2?"""
    done = subprocess.run([sys.executable, "-m", "grader", "release", "99_nothing", "--course-dir",
                           str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "99_nothing" in done.stderr
