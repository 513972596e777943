"""Does a rebuilt notebook keep only the learner's answers, on the source's skeleton?"""

from __future__ import annotations

import copy

import nbformat
import pytest

from grader.pipeline.course import NOTEBOOKS
from grader.runtime.notebook import grade_id, rebuild_from_source
from grader.sources import read_source

ASSIGNMENT = "01_attention_weights"


@pytest.fixture
def source():
    return read_source(ASSIGNMENT)


@pytest.fixture
def release():
    return nbformat.read(NOTEBOOKS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


def _cell(nb, gid):
    return next(c for c in nb.cells if grade_id(c) == gid)


def _graded(nb):
    return [(grade_id(c), c.cell_type, c.metadata["nbgrader"].get("points")) for c in nb.cells if grade_id(c)]


def test_an_untouched_release_rebuilds_to_the_release_with_nothing_to_report(source, release):
    """Is the released notebook rebuilt cell for cell (same sources, ids, grade cells), no signal?"""
    rebuilt = rebuild_from_source(release, source)
    assert rebuilt.signals == []
    assert [(c.id, c.cell_type) for c in rebuilt.notebook.cells] == [
        (c.id, c.cell_type) for c in release.cells]
    for mine, theirs in zip(rebuilt.notebook.cells, release.cells, strict=True):
        if grade_id(theirs) and not theirs.metadata["nbgrader"].get("solution"):
            assert mine.source == _cell(source, grade_id(theirs)).source  # locked: the source's text
        else:
            assert mine.source == theirs.source


def test_forged_duplicated_and_retyped_graded_cells_earn_nothing_and_are_reported(source, release):
    """Are a new test cell, a second copy of one and a written answer turned test cell gone from
    the graded cells (the source's, with its points), and each reported?"""
    nb = copy.deepcopy(release)
    test = _cell(nb, "test_softmax")
    forged = copy.deepcopy(test)
    forged.id, forged.metadata["nbgrader"]["grade_id"] = "forged", "test_bonus"
    forged.metadata["nbgrader"]["points"] = 100
    twin = copy.deepcopy(test)
    twin.id = "twin"
    written = _cell(nb, "written_temperature")
    written.cell_type, written.outputs, written.execution_count = "code", [], None
    written.metadata["nbgrader"].update(points=100, solution=False, grade=True, locked=True, task=True)
    nb.cells += [forged, twin]
    rebuilt = rebuild_from_source(nb, source)
    assert _graded(rebuilt.notebook) == _graded(source)
    assert len(rebuilt.signals) == 3
    assert any("test_bonus" in s for s in rebuilt.signals)
    assert any("second copy of graded cell test_softmax" in s for s in rebuilt.signals)
    assert any("written_temperature was turned into a code cell" in s for s in rebuilt.signals)
    assert _cell(rebuilt.notebook, "written_temperature").source == "YOUR ANSWER HERE"


def test_deleted_locked_cells_come_back_from_the_source_and_answers_stay_the_learners(source, release):
    """Are a deleted setup cell and test cell restored, edits to locked cells undone, and the
    learner's answer and own cells kept where they stood?"""
    nb = copy.deepcopy(release)
    nb.cells = [c for c in nb.cells if grade_id(c) not in ("setup", "test_dot_scores")]
    _cell(nb, "test_softmax").source = "print('all good')"
    _cell(nb, "softmax").source = "def softmax(x, axis=-1):\n    return x  # mine"
    index = nb.cells.index(_cell(nb, "softmax"))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell("scratch = 1", id="mine"))
    rebuilt = rebuild_from_source(nb, source)
    cells = rebuilt.notebook.cells
    assert _cell(rebuilt.notebook, "setup").source == _cell(source, "setup").source
    assert _cell(rebuilt.notebook, "test_softmax").source == _cell(source, "test_softmax").source
    assert _cell(rebuilt.notebook, "softmax").source.endswith("# mine")
    after = cells[cells.index(_cell(rebuilt.notebook, "softmax")) + 1]
    assert (after.id, after.source, after.metadata) == ("mine", "scratch = 1", {})
    assert sum("deleted" in s for s in rebuilt.signals) == 2


def test_a_learners_own_cell_loses_its_nbgrader_markers_and_metadata(source, release):
    """Does a scratch cell keep its code but neither nbgrader metadata nor hidden-test markers?"""
    nb = copy.deepcopy(release)
    own = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nx = 1", id="own")
    own.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": False}
    nb.cells.append(own)
    rebuilt = rebuild_from_source(nb, source).notebook
    kept = next(c for c in rebuilt.cells if c.id == "own")
    assert "BEGIN HIDDEN TESTS" not in kept.source and "x = 1" in kept.source and kept.metadata == {}


def test_the_rebuild_is_the_same_every_time_even_for_cells_without_ids(source, release):
    """Do two rebuilds of a notebook whose cells have no or repeated ids give identical notebooks?"""
    nb = copy.deepcopy(release)
    nb.cells.append(nbformat.v4.new_code_cell("a = 1", id="dup"))
    nb.cells.append(nbformat.v4.new_code_cell("b = 2", id="dup"))
    nb.cells[-1].pop("id")
    first, second = (rebuild_from_source(copy.deepcopy(nb), source).notebook for _ in range(2))
    assert first == second
    ids = [c.id for c in first.cells]
    assert len(ids) == len(set(ids))
