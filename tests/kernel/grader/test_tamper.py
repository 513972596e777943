"""Can ordinary Python tricks in an answer cell turn a wrong answer into points? (They must not.)

Every trick runs in a real kernel through the self-check pipeline; each must score zero on its
exercise and be visible in the feedback, while the untouched exercise keeps its points.
"""

from __future__ import annotations

from pathlib import Path

import fixture_course as fc
import nbformat
import pytest

from grader.pipeline.course import NOTEBOOKS
from grader.runtime.grade import Limits, check_notebook
from grader.runtime.notebook import grade_id
from grader.runtime.sandbox import bubblewrap

ROOT = Path(__file__).resolve().parents[2]
REF_FILE = ROOT / "attention_ref" / "softmax.py"

WRONG = "    return np.asarray(x) * 0 + 1\n"  # a wrong softmax that tricks try to pass off

TRICKS = {
    "import-from-reference": ("from attention_ref import softmax\n", "reference"),
    "alias-of-reference": ("import attention_ref as ar\n\ndef softmax(x, axis=-1):\n"
                           "    return ar.softmax(x, axis)\n", "reference"),
    "importlib": ("import importlib\n\ndef softmax(x, axis=-1):\n"
                  "    return importlib.import_module('attention_ref.softmax').softmax(x, axis)\n",
                  "reference"),
    "spec-from-file-location": (
        "import importlib.util\n\ndef softmax(x, axis=-1):\n"
        f"    spec = importlib.util.spec_from_file_location('sm', {str(REF_FILE)!r})\n"
        "    module = importlib.util.module_from_spec(spec)\n    spec.loader.exec_module(module)\n"
        "    return module.softmax(x, axis)\n", "reference"),
    "exec-source-from-disk": (
        "def softmax(x, axis=-1):\n    namespace = {}\n"
        f"    exec(open({str(REF_FILE)!r}).read(), namespace)\n"
        "    return namespace['softmax'](x, axis)\n", "reference"),
    "grader-internals": ("from grader.checks.judge import judge_record\n\ndef softmax(x, axis=-1):\n" + WRONG,
                         "reference"),
    "grader-exercises": ("def softmax(x, axis=-1):\n    from grader.checks.registry import get\n"
                         "    return get('softmax').reference(x, axis)\n", "reference"),
    "replace-numpy-allclose": ("np.allclose = lambda *a, **k: True\n\n"
                               "def softmax(x, axis=-1):\n" + WRONG, "numpy.allclose was replaced"),
    "replace-np-testing": ("np.testing.assert_allclose = lambda *a, **k: None\n\n"
                           "def softmax(x, axis=-1):\n" + WRONG,
                           "numpy.testing.assert_allclose was replaced"),
    "replace-builtins": ("import builtins\nbuiltins.abs = lambda x: 0\n\n"
                         "def softmax(x, axis=-1):\n" + WRONG, "builtins.abs was replaced"),
    "replace-check": ("check = lambda *a, **k: None\n\ndef softmax(x, axis=-1):\n" + WRONG, None),
    "fake-grader-module": ("import sys, types\nfake = types.ModuleType('grader')\n"
                           "fake.check = lambda *a, **k: None\nsys.modules['grader'] = fake\n"
                           "check = fake.check\n\ndef softmax(x, axis=-1):\n" + WRONG, None),
    "hide-the-recorder": ("import sys\nfor name in list(sys.modules):\n    if name.startswith('grader'):\n"
                          "        sys.modules[name] = None\n\ndef softmax(x, axis=-1):\n" + WRONG,
                          "the grader's recorder could not run"),
    "replace-recorder": ("import grader.kernel.recorder as r\nr.record = lambda *a, **k: None\n\n"
                         "def softmax(x, axis=-1):\n" + WRONG, "left no record"),
    "fake-reference-in-sys-modules": (
        "import sys, types\nfake = types.ModuleType('attention_ref')\n"
        "fake.softmax = lambda x, axis=-1: x\nsys.modules['attention_ref'] = fake\n\n"
        "def softmax(x, axis=-1):\n" + WRONG, "attention_ref was planted"),
    "lying-object": ("class Liar:\n    def __eq__(self, other): return True\n"
                     "    def __sub__(self, other): return 0\n    def __rsub__(self, other): return 0\n"
                     "    def __abs__(self): return 0\n\ndef softmax(x, axis=-1):\n    return Liar()\n",
                     "expected a numpy.ndarray, got __main__.Liar"),
    "ndarray-subclass": ("class Always(np.ndarray):\n    def __eq__(self, other): return True\n\n"
                         "def softmax(x, axis=-1):\n    return np.zeros(np.shape(x)).view(Always)\n",
                         "got __main__.Always"),
    "masked-array": ("def softmax(x, axis=-1):\n    return np.ma.masked_all(np.shape(x))\n", "MaskedArray"),
}


#: Tricks that break the grader for the whole notebook, so every exercise loses its points.
#: (Replacing `check` or planting a module called `grader` does nothing: grading runs the
#: grader's recorder, imported before any learner code, never the learner's `check`.)
GLOBAL = {"hide-the-recorder", "replace-recorder"}


@pytest.fixture(scope="module")
def solutions(tmp_path_factory):
    return fc.write_course(tmp_path_factory.mktemp("course"))


def _grade(tmp_path, solutions, softmax, files=None):
    path = fc.write_submission(tmp_path / "sub", softmax=softmax, files=files)
    report = check_notebook(path, seed=3, solutions=solutions, limits=Limits(cell_timeout=10)).as_dict()
    return {e["function"]: e for e in report["exercises"]}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_tamper_trick_scores_zero_and_is_reported(tmp_path, solutions, trick):
    """Does the trick earn nothing on softmax and show up in its feedback (and spare dot_scores)?"""
    source, evidence = TRICKS[trick]
    results = _grade(tmp_path, solutions, source)
    assert results["softmax"]["points"] == 0 and not results["softmax"]["passed"]
    feedback = results["softmax"]["feedback"]
    if evidence == "reference":
        assert "reference solution" in feedback and "instructor" in feedback
    elif evidence is None:  # harmless: an ordinary wrong answer
        assert "gives a wrong result" in feedback, feedback
    else:
        assert evidence in feedback, feedback
    assert results["dot_scores"]["passed"] == (trick not in GLOBAL), results["dot_scores"]["feedback"]


def test_a_planted_attention_ref_file_next_to_the_notebook_earns_nothing(tmp_path, solutions):
    """Does a file attention_ref.py beside the notebook neither give points nor go unnoticed?"""
    planted = {"attention_ref.py": "def softmax(x, axis=-1):\n    return x\n"}
    results = _grade(tmp_path, solutions, "from attention_ref import softmax\n", files=planted)
    assert results["softmax"]["points"] == 0
    feedback = results["softmax"]["feedback"]
    if bubblewrap() is not None:  # the safe site's attention_ref comes first: the import fails, saying why
        assert "not available while grading" in feedback, feedback
    else:  # no sandbox: the recorder finds the planted module
        assert "attention_ref was planted" in feedback, feedback


def test_the_reference_file_is_invisible_inside_the_sandbox(tmp_path, solutions):
    """Is the reference's source file unreadable from a grading kernel (Linux with bubblewrap)?"""
    if bubblewrap() is None:
        pytest.fail("bubblewrap is required on Linux: apt-get install bubblewrap")
    source = f"def softmax(x, axis=-1):\n    open({str(REF_FILE)!r}).read()\n" + WRONG
    results = _grade(tmp_path, solutions, source)
    assert "No such file or directory" in results["softmax"]["feedback"]


def test_redefining_given_code_changes_nothing_and_is_reported(tmp_path):
    """In notebook 05, does a learner's own `reversal_training` returning trained weights (with no
    backward pass written) earn nothing, because grading runs the given loop, and is it reported?"""
    assignment = "05_backprop_through_attention"
    nb = nbformat.read(NOTEBOOKS / assignment / f"{assignment}.ipynb", as_version=4)
    forged = ("import numpy as np\n"
              "def reversal_training(tokens, params, steps=300, lr=0.5, callback=None):\n"
              "    n = tokens.shape[1]\n"
              "    positions = np.eye(n, 8) * 30\n"
              "    return {'W_q': positions, 'W_k': np.vstack([np.zeros((6, 8)), positions[::-1]])}\n")
    test = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "test_reversal_training")
    nb.cells.insert(test, nbformat.v4.new_code_cell(forged, id="forged"))
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    report = check_notebook(path, seed=2, limits=Limits(cell_timeout=30)).as_dict()
    training = next(e for e in report["exercises"] if e["function"] == "reversal_training")
    assert training["points"] == 0 and "not implemented yet" in training["feedback"]
    assert any("redefines reversal_training" in s for s in report["signals"]), report["signals"]
