"""Are the notebooks clean, complete and built the way solutions/README.md says? (No kernel needed.)"""

from __future__ import annotations

import ast
import json
import re

import nbformat
from course_runs import ASSIGNMENTS, release_path, source_path

from grader.checks.registry import exercises as all_exercises
from grader.pipeline import course
from grader.runtime.notebook import is_test_cell
from grader.runtime.verify import PlannedCheck, planned_checks

OPENING = ("What you'll do", "What you'll learn", "What you'll need")


def _path(tree, assignment):
    return source_path(assignment) if tree == "solutions" else release_path(assignment)


def _read(tree, assignment):
    return nbformat.read(_path(tree, assignment), as_version=4)


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _exercises_of(assignment):
    return {name for name, ex in all_exercises().items() if ex.notebook == assignment}


def _defined_functions(source):
    return [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]


def test_the_course_has_notebooks_and_each_belongs_to_the_course_table():
    """Is every assignment folder one of the course's notebooks, with its exercises in the grader?"""
    notebooks = {ex.notebook for ex in all_exercises().values()}
    assert ASSIGNMENTS, "solutions/ holds no assignment"
    assert set(ASSIGNMENTS) <= notebooks, set(ASSIGNMENTS) - notebooks
    assert sorted(p.name for p in course.NOTEBOOKS.glob("*") if p.is_dir()) == ASSIGNMENTS


def test_both_trees_are_valid_and_carry_no_outputs_or_execution_counts(tree, assignment):
    """Is the notebook valid nbformat 4 with no outputs, execution counts or widget state?"""
    raw = json.loads(_path(tree, assignment).read_text())
    nb = nbformat.from_dict(raw)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, set(nb.metadata)
    assert nb.metadata.kernelspec.name == "python3"


def test_cell_ids_and_grade_ids_are_readable_and_unique(tree, assignment):
    """Are cell ids and grade ids unique, and no grade id an nbgrader `cell-<hex>` default?"""
    nb = _read(tree, assignment)
    ids = [cell.id for cell in nb.cells]
    assert len(ids) == len(set(ids))
    grade_ids = [_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c)]
    assert len(grade_ids) == len(set(grade_ids)), grade_ids
    assert not [g for g in grade_ids if re.fullmatch(r"cell-[0-9a-f]+", g)], grade_ids


def test_each_exercise_has_a_solution_cell_and_a_locked_test_cell_with_points(assignment):
    """Does every exercise of this notebook have `name` and `test_name` cells, tests with points?

    A check of given code (notebook 05 grades what its training loop achieves with the learner's
    gradients) has no solution cell: its function is defined in a locked cell instead.
    """
    nb = _read("solutions", assignment)
    solution_ids, tested, given = [], [], []
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade"):
            given += _defined_functions(cell.source)  # locked given code (never a solution cell)
        if cell.cell_type == "code" and meta.get("solution"):
            assert _defined_functions(cell.source) == [meta["grade_id"]], (
                f"solution cell {meta['grade_id']} must define exactly that function")
            solution_ids.append(meta["grade_id"])
        if cell.cell_type == "code" and is_test_cell(cell):
            checks = planned_checks(cell.source)
            name = meta["grade_id"].removeprefix("test_")
            assert meta["grade_id"] == f"test_{name}" and meta.get("locked")
            assert checks == [PlannedCheck(name, name, False), PlannedCheck(name, name, True)], (
                meta["grade_id"], checks)
            assert f'check("{name}", {name})' in cell.source  # the function is passed explicitly
            assert meta.get("points", 0) > 0
            tested.append(name)
    assert sorted(tested) == sorted(_exercises_of(assignment))
    assert sorted(solution_ids) == sorted(set(tested) - set(given))


def test_the_notebook_opens_with_what_you_will_do_learn_need_and_has_written_questions(assignment):
    """Does it open with the three questions, have 1-2 hand-graded answers and a summary?"""
    nb = _read("solutions", assignment)
    opening = "\n".join(c.source for c in nb.cells[:3] if c.cell_type == "markdown")
    for heading in OPENING:
        assert heading in opening.replace("’", "'"), heading
    written = [c for c in nb.cells if c.cell_type == "markdown" and _nbgrader(c).get("grade")]
    assert 1 <= len(written) <= 2
    for cell in written:
        meta = _nbgrader(cell)
        assert meta["grade_id"].startswith("written_") and meta.get("solution") and meta.get("points", 0) > 0
        assert "### BEGIN SOLUTION" in cell.source
    assert "summary" in nb.cells[-1].source.lower() or "summary" in nb.cells[-2].source.lower()


def test_the_notebook_imports_nothing_of_the_course_but_the_student_package(assignment):
    """Does no cell import attention_ref or grader, or seed NumPy's global generator?

    A student's environment holds only the student package, attention_course; so does a grading
    kernel, besides the grader's recorder."""
    for cell in _read("solutions", assignment).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                assert not name.startswith(("attention_ref", "grader")), cell.source
        assert "np.random.seed" not in cell.source and "random.seed(" not in cell.source


def test_the_release_has_stubs_and_no_hidden_tests_or_model_answers(assignment):
    """Does the student version hide every solution and hidden check the source has?"""
    for cell in _read("notebooks", assignment).cells:
        meta = _nbgrader(cell)
        assert "BEGIN SOLUTION" not in cell.source and "HIDDEN TESTS" not in cell.source
        assert "hidden=True" not in cell.source
        if cell.cell_type == "code" and meta.get("solution"):
            assert "raise NotImplementedError()" in cell.source
