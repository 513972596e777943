"""Call a learner's function on one case and note what happened: the value, an error, warnings, mutation.

The same probe serves the public check in a learner's notebook and the grader's recorder in
a grading kernel. It never judges: it returns plain data (see :func:`run_case`).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from . import record as _record


def _arrays(value, path):
    """(path, array) for every ndarray inside ``value`` (dicts, lists and tuples searched)."""
    if type(value) is np.ndarray:
        yield path, value
    elif type(value) is dict:
        for key, item in value.items():
            yield from _arrays(item, f"{path}[{key!r}]")
    elif type(value) in (list, tuple):
        for i, item in enumerate(value):
            yield from _arrays(item, f"{path}[{i}]")


def _named_arguments(args, kwargs):
    return [(f"argument {i + 1}", v) for i, v in enumerate(args)] + list(kwargs.items())


def snapshot(args, kwargs):
    """Copies of every array reachable from the arguments, to detect changes made in place.

    Returns
    -------
    list of tuple of (str, ndarray, ndarray)
        ``(name, the array itself, a copy of it)``; ``name`` is ``"argument 1"`` for a positional
        argument or the keyword, followed by ``['W_q']`` for an array inside a dict.
    """
    return [(path, array, array.copy())
            for name, value in _named_arguments(args, kwargs)
            for path, array in _arrays(value, name)]


def changed(before):
    """Names of the arrays of a :func:`snapshot` whose shape or contents are no longer the same."""
    return [path for path, array, copy in before
            if array.shape != copy.shape or not np.array_equal(array, copy, equal_nan=True)]


def run_case(fn, args, kwargs):
    """Call ``fn(*args, **kwargs)`` once and return what happened as JSON-compatible data.

    Parameters
    ----------
    fn : callable
        The learner's function.
    args : tuple
    kwargs : dict
        One case's inputs; they are not copied, so that changes made in place are seen.

    Returns
    -------
    dict
        ``{"value": encoded}`` or ``{"error": {"type", "message"}}``, plus ``"mutated"``
        (names of inputs changed in place), ``"warnings"`` and ``"seconds"``.
    """
    before = snapshot(args, kwargs)
    outcome = {}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome["value"] = _record.encode(fn(*args, **kwargs))
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as error:  # SystemExit too: sys.exit() costs the exercise, not the kernel
            outcome["error"] = {"type": type(error).__name__, "message": str(error)[:500]}
    outcome["seconds"] = round(time.perf_counter() - start, 6)
    outcome["mutated"] = changed(before)
    outcome["warnings"] = sorted({f"{w.category.__name__}: {w.message}"[:200] for w in caught})
    return outcome
