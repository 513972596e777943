"""Is the student package self-contained: no reference, no grader, and a working public check?"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import attention_course
import attention_ref
from attention_course import check
from attention_course.checks import exercises, public_verdict
from grader.checks import public_data, registry
from grader.runtime.sandbox import safe_site

PACKAGE = Path(attention_course.__file__).resolve().parent
#: What the student package may import besides itself and the standard library.
THIRD_PARTY = {"numpy", "matplotlib", "ipywidgets", "IPython"}


def _imports(path):
    """(module, line) of every import in a file, with whether it sits inside a try block."""
    tree = ast.parse(path.read_text())
    guarded = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) for n in ast.walk(t)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((a.name, id(node) in guarded) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module, id(node) in guarded


def test_the_student_package_imports_nothing_of_the_reference_or_the_grader():
    """Does every module import only the standard library, NumPy, matplotlib, ipywidgets and itself?

    The one exception is the guarded fallback of ``check(..., hidden=True)``, which uses the
    instructor's package only where it is installed."""
    for path in sorted(PACKAGE.rglob("*.py")):
        for module, guarded in _imports(path):
            root = module.split(".")[0]
            if root == "grader":
                assert guarded and module == "grader.checks.local", (path.name, module)
                continue
            assert root not in ("attention_ref", "demo"), (path.name, module)
            assert root in THIRD_PARTY or root in sys.stdlib_module_names or root == "attention_course", (
                path.name, module)


def test_the_committed_public_data_is_what_the_reference_gives_today():
    """Is data/public_checks.json exactly a fresh build (`python -m grader release` writes it)?"""
    assert public_data.DATA_PATH.read_text() == public_data.dumps(public_data.build()), (
        "the student package's public-check data is stale: run `python -m grader release`")


def test_every_exercise_has_a_public_check_in_the_data():
    assert exercises() == sorted(registry.exercises())


@pytest.mark.parametrize("name", sorted(n for n, e in registry.exercises().items() if not e.given_cells))
def test_the_reference_passes_its_public_check(name):
    """Does the reference pass the public check run from the shipped data alone?"""
    verdict, count = public_verdict(name, getattr(attention_ref, name))
    assert verdict.passed and count > 0, verdict.message


def test_a_named_mistake_is_named_in_the_same_words_as_by_the_trusted_judge():
    """Do the public check (data) and the trusted judge (reference) give the same message?"""
    from grader.checks.local import verdict

    def no_max(x, axis=-1):
        e = np.exp(x)
        return e / e.sum(axis=axis, keepdims=True)

    public, _ = public_verdict("softmax", no_max)
    trusted = verdict("softmax", no_max)
    assert public == trusted and public.misconception == "no_max_subtraction"


def test_check_prints_on_success_and_raises_the_feedback_on_failure(capsys):
    check("softmax", attention_ref.softmax)
    assert capsys.readouterr().out.strip() == "✔ softmax: public check, 6 cases passed"
    with pytest.raises(AssertionError, match="not implemented yet"):
        check("softmax", lambda x, axis=-1: (_ for _ in ()).throw(NotImplementedError()))
    with pytest.raises(ValueError, match="no check is called 'softmaxx'"):
        check("softmaxx", attention_ref.softmax)


def test_the_package_works_in_a_grading_kernel_where_nothing_else_exists(tmp_path):
    """From the grader's safe site, with the import blocker on, does the package import, check and draw?"""
    site = safe_site(cache_dir=tmp_path)
    code = ("import sys, matplotlib; matplotlib.use('Agg')\n"
            "from grader.kernel.launch import ImportBlocker\n"
            "sys.meta_path.insert(0, ImportBlocker())\n"
            "from attention_course import attention_explorer, check\n"
            "check('causal_mask', lambda n_q, n_k=None: __import__('numpy').tril("
            "__import__('numpy').ones((n_q, n_q if n_k is None else n_k), dtype=bool)))\n"
            "def f(Q, K, V, mask=None):\n    raise NotImplementedError()\n"
            "attention_explorer(f, ['a', 'b'])\n"
            "try:\n    import attention_ref\nexcept ImportError as e:\n    print('blocked', e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "✔ causal_mask: public check, 3 cases passed"
    assert lines[1] == "Plot skipped: implement `f` first, then run this cell again."
    assert lines[2].startswith("blocked attention_ref is not available while grading")
