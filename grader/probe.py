"""Kernel-side half of a check: run the learner's function on generated cases and record what it did.

In a learner's own JupyterLab (the default, *interactive* mode) :func:`check`
also judges the outputs at once and raises an ``AssertionError`` that names the
mistake. While a class is graded (``ATTENTION_GRADER_MODE=record``) it only
records: the verdict is computed outside the kernel by ``grader.verify`` from
the recorded outputs and inputs regenerated from the grading seed, so nothing a
learner does inside the kernel can change it.
"""

from __future__ import annotations

import builtins
import os
import secrets
import sys
import time
import warnings

import numpy as np
import numpy.testing

from . import cases as _cases
from . import record as _record

#: Environment variable that switches to record-only mode while grading.
MODE_ENV = "ATTENTION_GRADER_MODE"
#: Environment variable carrying the seed of the hidden cases.
SEED_ENV = "ATTENTION_GRADER_SEED"

# Taken when the probe is imported (before any learner code in a grading kernel),
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


def grading():
    """True while a class is being graded (record-only mode)."""
    return os.environ.get(MODE_ENV) == "record"


def hidden_seed(seed=None):
    """The seed of the hidden cases: the argument, else the grading seed, else a fresh one."""
    if seed is not None:
        return int(seed)
    if os.environ.get(SEED_ENV):
        return int(os.environ[SEED_ENV])
    return secrets.randbelow(2**31)


def _current(name):
    module, _, attr = name.rpartition(".")
    if not module:
        return sys.modules.get(name)
    owner = sys.modules.get(module)
    return getattr(owner, attr, None) if owner is not None else None


def tamper_signals():
    """Names of pristine objects that have been replaced, and planted reference modules."""
    signals = [f"{name} was replaced" for name, obj in _PRISTINE.items() if _current(name) is not obj]
    planted = sys.modules.get("attention_ref")
    if grading() and planted is not None and not getattr(planted, "__grading_stub__", False):
        signals.append("a module called attention_ref was planted in sys.modules")
    return signals


def _snapshot(args, kwargs):
    values = list(args) + list(kwargs.values())
    return [(i, np.array(v, copy=True)) for i, v in enumerate(values) if type(v) is np.ndarray]


def _changed(args, kwargs, before):
    values = list(args) + list(kwargs.values())
    names = [f"argument {i + 1}" for i in range(len(args))] + list(kwargs)
    return [names[i] for i, old in before
            if values[i].shape != old.shape or not np.array_equal(values[i], old, equal_nan=True)]


def run_case(fn, case):
    """Call ``fn`` on one case; return what happened as JSON-compatible data.

    Returns
    -------
    dict
        ``{"value": encoded}`` or ``{"error": {"type", "message"}}``, plus
        ``"mutated"`` (arguments changed in place), ``"warnings"`` and ``"seconds"``.
    """
    before = _snapshot(case.args, case.kwargs)
    outcome = {}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome["value"] = _record.encode(fn(*case.args, **case.kwargs))
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as error:  # SystemExit too: sys.exit() costs the exercise, not the kernel
            outcome["error"] = {"type": type(error).__name__, "message": str(error)[:500]}
    outcome["seconds"] = round(time.perf_counter() - start, 6)
    outcome["mutated"] = _changed(case.args, case.kwargs, before)
    outcome["warnings"] = sorted({f"{w.category.__name__}: {w.message}"[:200] for w in caught})
    return outcome


def _publish(rec, summary):
    try:
        from IPython.display import display
    except ImportError:  # plain Python: nothing to attach the record to
        return
    display({_record.MIME: rec, "text/plain": summary}, raw=True)


def record_check(name, fn, hidden=False, seed=None):
    """Run ``fn`` on the cases of one check and return the record (no verdict).

    Parameters
    ----------
    name, fn, hidden, seed
        As for :func:`check`.

    Returns
    -------
    dict
        The record: exercise, mode, seed, one outcome per case (see :func:`run_case`),
        the number of cases and the tamper signals seen so far.
    """
    seed = hidden_seed(seed) if hidden else _cases.PUBLIC_SEED
    generated = _cases.generate(name, hidden, seed)
    if not callable(fn):
        outcomes = [{"error": {"type": "TypeError",
                               "message": f"{name} is not a function but {type(fn).__name__}"}}]
    else:
        outcomes = [run_case(fn, case) for case in generated]
    return {"version": _record.VERSION, "exercise": name, "mode": "hidden" if hidden else "public",
            "seed": seed, "cases": len(generated), "outcomes": outcomes, "signals": tamper_signals()}


def check(name, fn, hidden=False, seed=None):
    """Run the check of one exercise on the learner's function.

    Parameters
    ----------
    name : str
        The exercise, i.e. the function's fixed name (``"softmax"``).
    fn : callable
        The learner's function, passed explicitly.
    hidden : bool, default False
        False: the public check (a few fixed cases). True: the hidden check
        (randomised shapes, dtypes and edge cases).
    seed : int, optional
        Seed of the hidden cases, to reproduce a reported failure.

    Raises
    ------
    AssertionError
        In interactive mode, when a case fails; the message names the mistake.
    """
    rec = record_check(name, fn, hidden, seed)
    seed = rec["seed"]
    label = f"{name}: {'hidden' if hidden else 'public'} check, {rec['cases']} cases"
    if grading():
        _publish(rec, f"{label} (seed {seed}), recorded for grading")
        return None
    from .judge import judge_record  # trusted side, available outside grading

    verdict = judge_record(rec)
    if not verdict.passed:
        raise AssertionError(verdict.message) from None
    print(f"✔ {label} passed" + (f" (seed {seed})" if hidden else ""))
    return None
