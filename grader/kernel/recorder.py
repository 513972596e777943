"""Inside a grading kernel: run the learner's function on a check's cases and record what it returned.

While a class is graded, each test cell runs as a *neutral* cell written by the grader (never
the hidden-test source), which calls :func:`record` once per check. The cases are data that
the trusted side wrote to the file named by ``$ATTENTION_GRADER_CASES``; the record — raw
outputs, never a verdict — is published as a display output of the test cell, and the
verdict is computed outside the kernel from it.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import sys

import numpy as np
import numpy.testing
from IPython.display import display

from attention_course import record as _record
from attention_course.checks import measures_memory
from attention_course.probe import run_case

#: Environment variable naming the JSON file of the cases of this notebook's checks.
CASES_ENV = "ATTENTION_GRADER_CASES"

# Taken when this module is imported (by the kernel launcher, before any learner code runs),
# so that a later replacement is noticed.
_PRISTINE = {
    "numpy": np,
    "numpy.testing": numpy.testing,
    **{f"numpy.{n}": getattr(np, n) for n in ("asarray", "array", "allclose", "isclose", "exp",
                                              "max", "sum", "array_equal", "ndarray")},
    **{f"numpy.testing.{n}": getattr(numpy.testing, n) for n in ("assert_allclose",
                                                                  "assert_array_equal")},
    **{f"builtins.{n}": getattr(builtins, n) for n in ("isinstance", "type", "abs", "len", "max",
                                                       "min", "sum", "float", "print", "__import__")},
}


def _current(name):
    module, _, attr = name.rpartition(".")
    if not module:
        return sys.modules.get(name)
    owner = sys.modules.get(module)
    return getattr(owner, attr, None) if owner is not None else None


def tamper_signals() -> list[str]:
    """Names of pristine objects that learner code replaced, and planted reference modules.

    A best effort from inside the kernel; the trusted side scans the submission's source too.
    """
    signals = [f"{name} was replaced" for name, obj in _PRISTINE.items() if _current(name) is not obj]
    if "attention_ref" in sys.modules:
        signals.append("a module called attention_ref was planted in sys.modules")
    return signals


@functools.cache
def _cases_file(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def cases(name: str, hidden: bool) -> list[tuple[tuple, dict]]:
    """The inputs of one check, decoded from the cases file: ``[(args, kwargs), ...]``."""
    path = os.environ.get(CASES_ENV)
    if not path:
        raise RuntimeError(f"{CASES_ENV} is not set: this kernel is not grading")
    table = _cases_file(path)
    return [(_record.decode(c["args"], as_input=True), _record.decode(c["kwargs"], as_input=True))
            for c in table[f"{name}/{'hidden' if hidden else 'public'}"]]


def _not_callable(name, fn):
    return {"error": {"type": "TypeError", "message": f"{name} is not a function but {type(fn).__name__}"}}


def record(name: str, function, hidden: bool = False) -> None:
    """Run one check's cases on the learner's function and publish the record.

    Parameters
    ----------
    name : str
        The exercise (``"softmax"``).
    function : callable
        A thunk returning the learner's function (``lambda: softmax``), so that a missing
        definition becomes that check's recorded error instead of stopping the cell.
    hidden : bool
        The public or the hidden check.
    """
    inputs = cases(name, hidden)
    try:
        fn = function()
    except Exception as error:  # NameError: the function was never defined (a failed answer cell)
        outcomes = [{"error": {"type": type(error).__name__, "message": str(error)[:500]}}]
    else:
        measure = measures_memory(name)
        outcomes = ([run_case(fn, args, kwargs, measure) for args, kwargs in inputs] if callable(fn)
                    else [_not_callable(name, fn)])
    rec = {"version": _record.VERSION, "exercise": name, "mode": "hidden" if hidden else "public",
           "cases": len(inputs), "outcomes": outcomes, "signals": tamper_signals()}
    summary = f"{name}: {rec['mode']} check, {len(inputs)} cases, recorded for grading"
    display({_record.MIME: rec, "text/plain": summary}, raw=True)
