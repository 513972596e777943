"""Do the notebooks grade as they should, run top to bottom and draw their plots? (Real kernels.)"""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest
from course_runs import graded, release_path, source_path

from grader.pipeline import course
from grader.pipeline.release import release, release_to_temp

PLOT_SKIPPED = "Plot skipped"


def _outputs(cell):
    return cell.get("outputs", [])


def _text(cell):
    return "".join(o.get("text", "") for o in _outputs(cell) if o.get("output_type") == "stream")


def _has_figure(cell):
    return any("image/png" in o.get("data", {}) for o in _outputs(cell))


def _is_explorer_cell(cell):
    """A cell that opens the interactive explorer on the learner's own function."""
    return cell.cell_type == "code" and "_explorer(" in cell.source


def _is_plot_cell(cell):
    """A cell that draws what the learner's functions compute: plotting under `when_implemented`,
    or the explorer (whose output keeps a static PNG of its map for front ends without widgets)."""
    return _is_explorer_cell(cell) or (
        cell.cell_type == "code" and "when_implemented(" in cell.source
        and any(word in cell.source for word in ("plt.", "attention_map(", "attention_heads(", "ax.")))


def _errors(nb, *, tests):
    """(cell id, error) of every cell with an error output; test cells only when ``tests``."""
    found = []
    for cell in nb.cells:
        is_test = cell.metadata.get("nbgrader", {}).get("grade", False)
        for out in _outputs(cell):
            if out.get("output_type") == "error" and is_test == tests:
                found.append((cell.id, f"{out.get('ename')}: {out.get('evalue', '')[:300]}"))
    return found


def test_the_solutions_score_full_marks_under_grader_check(assignment):
    """Does `python -m grader check` give the solutions every point, hidden checks included?"""
    report, _ = graded("solutions", assignment)
    failed = {e["grade_id"]: e["feedback"] for e in report["exercises"] if not e["passed"]}
    assert not failed, failed
    assert report["score"] == report["max_score"] > 0


def test_the_solutions_run_without_an_error_and_draw_every_plot(assignment):
    """Does every cell of the solutions run cleanly, and every `when_implemented` cell draw a figure?"""
    _, nb = graded("solutions", assignment)
    assert not _errors(nb, tests=False) and not _errors(nb, tests=True)
    plots = [c for c in nb.cells if _is_plot_cell(c)]
    assert plots, "the notebook has no plot of the learner's own functions"
    assert [c.id for c in plots if not _has_figure(c)] == []


def test_a_fresh_student_notebook_scores_zero_and_says_what_to_do(assignment):
    """Does the release score zero, each exercise saying it is not implemented yet?"""
    report, _ = graded("notebooks", assignment)
    assert report["score"] == 0 and report["max_score"] > 0
    for exercise in report["exercises"]:
        assert "not implemented yet" in exercise["feedback"], exercise


def test_a_fresh_student_notebook_runs_top_to_bottom_and_skips_its_plots(assignment):
    """Do only the test cells fail on a fresh notebook, and every plot cell print one skip line?"""
    _, nb = graded("notebooks", assignment)
    assert _errors(nb, tests=False) == []
    for cell in nb.cells:
        if cell.cell_type == "code" and ("when_implemented(" in cell.source  # plots and demos alike
                                         or _is_explorer_cell(cell)):
            assert PLOT_SKIPPED in _text(cell), (cell.id, _text(cell))
            assert not _has_figure(cell), cell.id


def test_notebooks_is_exactly_what_nbgrader_generates_from_solutions(assignment, tmp_path_factory):
    """Is the committed student version the one `python -m grader release` makes today?"""
    folder = release_to_temp([assignment])
    try:
        fresh = nbformat.read(folder / assignment / f"{assignment}.ipynb", as_version=4)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    committed = nbformat.read(release_path(assignment), as_version=4)
    assert committed == fresh, "notebooks/ is stale: run `python -m grader release`"


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory):
    """A working course folder whose gradebook knows every assignment."""
    root = tmp_path_factory.mktemp("nbgrader-course")
    release(notebooks=root / "release", course_dir=root)
    return root


def test_the_solutions_score_full_marks_through_real_nbgrader_autograde(assignment, nbgrader_course):
    """Does plain `nbgrader autograde` (its own executor, no sandbox) give the solutions every point?"""
    from nbgrader.api import Gradebook

    submitted = nbgrader_course / "submitted" / "alice" / assignment
    submitted.mkdir(parents=True)
    shutil.copy(source_path(assignment), submitted / f"{assignment}.ipynb")
    config = course.nbgrader_config(nbgrader_course, notebooks=nbgrader_course / "release")
    options = [f"--CourseDirectory.{key}={value}" for key, value in config.CourseDirectory.items()]
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", "alice",
                           "--force", *options], capture_output=True, text=True, cwd=nbgrader_course,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    with Gradebook(config.CourseDirectory.db_url) as gradebook:
        submission = gradebook.find_submission(assignment, "alice")
        assert submission.max_code_score > 0
        assert submission.code_score == submission.max_code_score, [
            (g.name, g.score, g.max_score) for nb in submission.notebooks for g in nb.grades]


def test_the_attention_model_of_notebook_05_reaches_its_stated_accuracy():
    """Does training on the solutions' own gradients reach the stated held-out accuracy in 300 steps?"""
    import re

    _, nb = graded("solutions", "05_backprop_through_attention")
    printed = "".join(_text(cell) for cell in nb.cells)
    found = re.search(r"held-out accuracy after (\d+) steps: ([0-9.]+) \(target ≥ ([0-9.]+)", printed)
    assert found, "the training cell printed no accuracy line"
    steps, accuracy, target = int(found[1]), float(found[2]), float(found[3])
    assert steps == 300 and target == 0.95 and accuracy >= target
