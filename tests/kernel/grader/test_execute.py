"""Does a misbehaving answer cost only its own exercise, and never the grading run?"""

from __future__ import annotations

import fixture_course as fc
import nbformat
import pytest

from grader.runtime.execute import execute_notebook
from grader.runtime.grade import Limits, check_notebook

MISBEHAVIOURS = {
    "endless-loop": "def softmax(x, axis=-1):\n    while True:\n        pass\n",
    "loop-ignoring-sigint": ("import signal\n\ndef softmax(x, axis=-1):\n"
                             "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                             "    while True:\n        pass\n"),
    "memory-bomb": "def softmax(x, axis=-1):\n    return np.ones((2**40,))\n",
    "sys-exit": "import sys\n\ndef softmax(x, axis=-1):\n    sys.exit(1)\n",
    "os-exit": "import os\n\ndef softmax(x, axis=-1):\n    os._exit(3)\n",
    "segfault": "import ctypes\n\ndef softmax(x, axis=-1):\n    return ctypes.string_at(0)\n",
    "print-flood": "def softmax(x, axis=-1):\n    for _ in range(10**6):\n        print('x' * 100)\n",
    "endless-loop-at-top-level": "while True:\n    pass\n",
}


@pytest.fixture(scope="module")
def solutions(tmp_path_factory):
    return fc.write_course(tmp_path_factory.mktemp("course"))


@pytest.mark.parametrize("behaviour", sorted(MISBEHAVIOURS))
def test_a_misbehaving_answer_loses_only_its_own_exercise(tmp_path, solutions, behaviour):
    """Does softmax get zero with a reason, while dot_scores (after it) keeps its point?"""
    path = fc.write_submission(tmp_path, softmax=MISBEHAVIOURS[behaviour])
    report = check_notebook(path, seed=1, solutions=solutions, limits=Limits(cell_timeout=3)).as_dict()
    results = {e["function"]: e for e in report["exercises"]}
    assert results["softmax"]["points"] == 0 and results["softmax"]["feedback"]
    assert results["dot_scores"]["points"] == 1, results["dot_scores"]["feedback"]
    assert report["score"] == 1 and report["max_score"] == 3


def test_after_a_crash_the_cells_that_succeeded_are_replayed(tmp_path):
    """After os._exit, do later cells still see the variables defined before the crash?"""
    cells = ["x = 41", "import os\nos._exit(1)", "print(x + 1)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    executed, events = execute_notebook(nb, workdir=tmp_path, cell_timeout=10)
    assert [e.kind for e in events] == ["kernel_died"] and events[0].index == 1
    assert executed.cells[1].outputs[0].output_type == "error"
    assert executed.cells[2].outputs[0].text == "42\n"
    assert nb.cells[2].outputs == []  # the input notebook is left alone


def test_output_beyond_the_limit_is_dropped_with_a_note(tmp_path):
    """Is a cell's output capped at output_limit characters, with one note saying so?"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "for i in range(2000):\n    print('y' * 100, flush=True)")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    executed, events = execute_notebook(nb, workdir=tmp_path, output_limit=10_000)
    kept = sum(len(o.get("text", "")) for o in executed.cells[0].outputs)
    assert kept < 12_000
    assert "output truncated" in executed.cells[0].outputs[-1].text
    assert [e.kind for e in events] == ["output_truncated"]


def test_one_huge_print_keeps_its_head(tmp_path):
    """Does a single print far beyond the limit still show its first output_limit characters?"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('z' * 5_000_000)")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    executed, events = execute_notebook(nb, workdir=tmp_path, output_limit=10_000)
    text = "".join(o.get("text", "") for o in executed.cells[0].outputs)
    assert text.startswith("z" * 10_000) and text.count("z") == 10_000
    assert "output truncated" in executed.cells[0].outputs[-1].text
    assert [e.kind for e in events] == ["output_truncated"]
