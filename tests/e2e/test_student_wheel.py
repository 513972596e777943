"""Is the student wheel, installed alone in a fresh virtualenv, a whole course without any answers?

The wheel is built from this tree and installed with Jupyter's kernel and nbclient (what a
student's Jupyter brings) into a virtualenv outside the checkout; every released notebook is
run there with its answers filled in, plots and explorer included, and each notebook's public
checks name a learner-style mistake. The wheel's files are searched for the reference's code
by content, whatever their names, and no module of it may define an exercise.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import zipfile

import nbformat
import numpy as np
import pytest
from learners import modules as learner_modules
from reference_code import REFERENCE, reference_bodies, reference_code_in_wheel
from student_notebooks import filled_notebook
from wheels import make_venv, run

from attention_course.checks import public_verdict
from grader.checks import registry

#: Runs a notebook with nbclient in the student's virtualenv (the kernel is that virtualenv's Python).
EXECUTE = """
import sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, sys.argv[2])
"""

#: Lists the public names of every module of the installed student package.
PUBLIC_NAMES = """
import importlib, json, pkgutil
import attention_course
names = {}
for info in pkgutil.walk_packages(attention_course.__path__, "attention_course."):
    module = importlib.import_module(info.name)
    names[info.name] = sorted(n for n in dir(module)
                              if not n.startswith("_") and callable(getattr(module, n)))
names["attention_course"] = sorted(n for n in dir(attention_course) if not n.startswith("_"))
print(json.dumps(names))
"""


@pytest.fixture(scope="module")
def student_venv(wheels, tmp_path_factory):
    """A fresh virtualenv holding the student wheel, ipykernel and nbclient: (python, home, work folder)."""
    base = tmp_path_factory.mktemp("student-venv")
    python = make_venv(base / "venv", [wheels.student, "ipykernel", "nbclient"], base / "home")
    work = base / "work"
    work.mkdir()
    return python, base / "home", work


#: What a cell that draws the learner's functions calls (as tests/kernel/course/test_notebook_runs.py).
PLOTTING = ("plt.", "attention_map(", "attention_heads(", "ax.")


def _is_test_cell(cell):
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


def _named_mistake(notebook):
    """A learner-style wrong answer of this notebook that its public check names: (exercise, label, source).

    The first buggy answer of the notebook's learners module whose source stands alone (NumPy and
    math only) and whose public check, run here from the shipped data, names its mistake.
    """
    module = next(m for m in learner_modules() if m.NOTEBOOK == notebook)
    for name, key, fn in module.BUGGY:
        if key in module.HIDDEN_ONLY or registry.get(name).given_cells:
            continue
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):  # a functools.partial, say
            continue
        namespace = {"np": np, "math": math}
        exec(compile(source, f"<{fn.__name__}>", "exec"), namespace)  # noqa: S102 - the test's own learners
        verdict, _ = public_verdict(name, namespace[fn.__name__])
        if verdict.misconception == key:
            label = next(v.label for v in registry.get(name).variants if v.key == key)
            return name, label, source, fn.__name__
    raise AssertionError(f"{notebook}: no stand-alone buggy answer is named by its public check")


def _outputs_text(cell):
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "".join(parts)


def _errors(nb):
    return [(cell.get("id"), f"{out.get('ename')}: {out.get('evalue', '')[:300]}") for cell in nb.cells
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def test_every_released_notebook_runs_passes_its_public_checks_and_names_a_mistake_with_the_wheel_alone(
        student_venv, assignment, tmp_path):
    """With only the student wheel installed, does each released notebook, answers filled in, run without
    an error, pass every public check, draw its plots and explorer — and does a public check name a
    learner's mistake?"""
    python, home, work = student_venv
    nb = filled_notebook(assignment)
    exercise, label, source, function = _named_mistake(assignment)
    probe = (f"import math\n{source}\ntry:\n    check({exercise!r}, {function})\n"
             "except AssertionError as error:\n    print('NAMED:', error)\n")
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    folder = work / assignment
    folder.mkdir()
    nbformat.write(nb, folder / "in.ipynb")
    run(python, ["-c", EXECUTE, str(folder / "in.ipynb"), str(folder / "out.ipynb"), str(folder)], cwd=folder,
        home=home, timeout=1200)
    done = nbformat.read(folder / "out.ipynb", as_version=4)

    assert _errors(done) == []
    tests = [c for c in done.cells if _is_test_cell(c)]
    assert tests, f"{assignment} has no test cell"
    for cell in tests:
        assert "public check" in _outputs_text(cell) and "✔" in _outputs_text(cell), cell.source
    explorers = [c for c in done.cells if c.cell_type == "code" and "_explorer(" in c.source]
    plots = [c for c in done.cells if c.cell_type == "code" and "when_implemented(" in c.source
             and any(word in c.source for word in PLOTTING)]
    assert plots, f"{assignment} draws nothing"
    for cell in plots + explorers:
        assert any("image/png" in out.get("data", {}) for out in cell.outputs), cell.source[:200]
    for cell in explorers:
        assert any("application/vnd.jupyter.widget-view+json" in out.get("data", {}) for out in cell.outputs)
    named = _outputs_text(done.cells[-1])
    assert named.startswith("NAMED:") and label in named, named


def test_the_student_virtualenv_cannot_import_the_reference_or_the_grader(student_venv):
    """Does `import attention_ref` (or `grader`) fail where only the student wheel is installed, while the
    student package imports?"""
    python, home, work = student_venv
    assert run(python, ["-c", "import attention_course.checks"], cwd=work, home=home,
               check=False).returncode == 0
    for module in ("attention_ref", "grader", "grader.checks"):
        done = run(python, ["-c", f"import {module}"], cwd=work, home=home, check=False)
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, (module, done.stderr)


def test_no_module_of_the_student_wheel_defines_an_exercise(student_venv):
    """Importing every module of the installed student package, is any public callable named like an
    exercise (a reference implementation under its own name)?"""
    python, home, work = student_venv
    names = json.loads(run(python, ["-c", PUBLIC_NAMES], cwd=work, home=home).stdout)
    assert "check" in names["attention_course"] and len(names) > 5, names  # the probe sees the package
    exercises = set(registry.exercises())
    assert {module: sorted(exercises & set(found)) for module, found in names.items()
            if exercises & set(found)} == {}


def test_no_file_of_the_student_wheel_holds_reference_code(wheels):
    """Whatever a file of the student wheel is called (source, data), does it hold none of the reference's
    function bodies?"""
    with zipfile.ZipFile(wheels.student) as archive:
        names = archive.namelist()
    assert any(n.endswith("public_checks.json") for n in names) and any(n.endswith(".py") for n in names)
    assert reference_code_in_wheel(wheels.student) == []


def _renamed(source, old, new):
    """``source`` with the name ``old`` renamed ``new`` everywhere (a learner's rename of a variable)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == old:
            node.id = new
        elif isinstance(node, ast.arg) and node.arg == old:
            node.arg = new
    return ast.unparse(tree)


def test_the_search_finds_reference_code_hidden_in_a_wheel_under_other_names(wheels, tmp_path):
    """Would the search catch attention_ref/softmax.py copied into the wheel under another name, the same
    code with its variables renamed, or a reference module stored as a string in a data file?"""
    reference = reference_bodies()
    softmax = (REFERENCE / "softmax.py").read_text()
    single_query = (REFERENCE / "single_query.py").read_text()
    smuggled = {
        "attention_course/_numerics.py": softmax,
        "attention_course/_helpers.py": _renamed(softmax, "x", "scores"),
        "attention_course/data/extra.json": json.dumps({"notes": [single_query]}),
    }
    for number, (name, text) in enumerate(smuggled.items()):
        tampered = tmp_path / f"tampered-{number}.whl"
        with zipfile.ZipFile(wheels.student) as original, zipfile.ZipFile(tampered, "w") as copy:
            for info in original.infolist():
                copy.writestr(info, original.read(info))
            copy.writestr(name, text)
        found = reference_code_in_wheel(tampered, reference)
        assert found and all(line.startswith(f"{name}: ") for line in found), (name, found)
