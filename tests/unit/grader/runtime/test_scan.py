"""Are tamper signals read from the learner's code itself, where the kernel cannot switch them off?"""

from __future__ import annotations

import copy

import nbformat
import pytest

from grader.pipeline.course import NOTEBOOKS
from grader.runtime.notebook import rebuild_from_source
from grader.runtime.scan import scan_notebook
from grader.sources import read_source


def _scan(assignment, *sources):
    release = nbformat.read(NOTEBOOKS / assignment / f"{assignment}.ipynb", as_version=4)
    nb = copy.deepcopy(release)
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    source = read_source(assignment)
    return scan_notebook(rebuild_from_source(nb, source).notebook, source)


def test_the_released_and_the_source_notebooks_raise_no_signal(assignment):
    """Does the course's own code (given cells, plot cells) never look like tampering?"""
    assert _scan(assignment) == []
    source = read_source(assignment)
    assert scan_notebook(rebuild_from_source(source, source).notebook, source) == []


@pytest.mark.parametrize(("code", "signal"), [
    ("import grader.kernel.recorder as r\nr.tamper_signals = lambda: []", "imports grader.kernel.recorder"),
    ("from attention_ref import softmax", "imports from attention_ref"),
    ("np.allclose = lambda *a, **k: True", "replaces np.allclose"),
    ("import builtins\nbuiltins.abs = len", "replaces builtins.abs"),
    ("import sys\nsys.modules['numpy'] = None", "uses sys.modules"),
    ("print(get_ipython().user_ns['In'][-1])", "uses get_ipython"),
    ("exec(open('x').read())", "calls exec()"),
    ("import ctypes", "imports ctypes"),
])
def test_each_kind_of_tampering_is_named_with_its_cell_and_line(code, signal):
    found = _scan("01_attention_weights", code)
    assert any(signal in s and ", line " in s for s in found), found


def test_redefining_given_code_is_reported():
    """Is a learner's own `reversal_training` (given in notebook 05) reported?"""
    found = _scan("05_backprop_through_attention",
                  "def reversal_training(tokens, params, **kw):\n    return params")
    assert any("redefines reversal_training" in s for s in found), found
