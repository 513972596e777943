"""Call a learner's function on one case and note what happened: the value, an error, warnings, mutation.

The same probe serves the public check in a learner's notebook and the grader's recorder in
a grading kernel. It never judges: it returns plain data (see :func:`run_case`). Everything it
records comes from the learner's kernel, so the trusted side uses it only to judge that kernel's
own function (a faked peak memory, say, can only hide a fault of the function it describes).
"""

from __future__ import annotations

import os
import sysconfig
import time
import traceback
import tracemalloc
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


def _containers(value, path):
    """(path, container) for every dict and list inside ``value``: things a call can add to or replace in."""
    if type(value) in (dict, list):
        yield path, value
    if type(value) in (dict, list, tuple):
        items = value.items() if type(value) is dict else enumerate(value)
        for key, item in items:
            yield from _containers(item, f"{path}[{key!r}]" if type(value) is dict else f"{path}[{key}]")


def _named_arguments(args, kwargs):
    return [(f"argument {i + 1}", v) for i, v in enumerate(args)] + list(kwargs.items())


def snapshot(args, kwargs):
    """Copies of every array and container reachable from the arguments, to detect changes made in place.

    Returns
    -------
    list of tuple of (str, object, object)
        ``(name, the object itself, a copy of it)``: a copy of each ndarray, and for each dict or
        list the identities of its items; ``name`` is ``"argument 1"`` for a positional argument
        or the keyword, followed by ``['W_q']`` for an item of a dict.
    """
    named = _named_arguments(args, kwargs)
    arrays = [(path, array, array.copy()) for name, value in named for path, array in _arrays(value, name)]
    containers = [(path, box, _identities(box)) for name, value in named
                  for path, box in _containers(value, name)]
    return arrays + containers


def _identities(box):
    return {key: id(item) for key, item in box.items()} if type(box) is dict else [id(item) for item in box]


def changed(before):
    """Names of the objects of a :func:`snapshot` that are no longer the same (shape, contents or items)."""
    found = []
    for path, thing, copy in before:
        if type(thing) is np.ndarray:
            if thing.shape != copy.shape or not np.array_equal(thing, copy, equal_nan=True):
                found.append(path)
        elif _identities(thing) != copy:
            found.append(path)
    return found


def _library_folders():
    """Folders whose frames are not the learner's: the standard library, installed packages, this package."""
    paths = sysconfig.get_paths()
    folders = {paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    folders |= {os.path.dirname(os.path.dirname(np.__file__)), os.path.dirname(__file__)}
    return tuple(os.path.join(os.path.realpath(f), "") for f in folders if f)


def error_location(error: BaseException) -> dict | None:
    """Where in the learner's own code ``error`` was raised: the innermost frame outside the libraries.

    Returns
    -------
    dict or None
        ``{"function", "line", "code", "depth"}``: the line number within the file or notebook cell,
        its source text, and how many of the learner's frames lead to it (1: raised in the function
        that was called), or None when every frame belongs to a library.
    """
    folders = _library_folders()
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not (os.path.realpath(f.filename).startswith(folders) or f.filename.startswith("<frozen"))]
    if not frames:
        return None
    frame = frames[-1]
    return {"function": frame.name, "line": frame.lineno, "code": (frame.line or "").strip()[:200],
            "depth": len(frames)}


def _call(fn, args, kwargs, measure_memory):
    """``fn(*args, **kwargs)`` and the peak memory it allocated beyond what existed (None unless measured)."""
    if not measure_memory:
        return fn(*args, **kwargs), None
    tracing = tracemalloc.is_tracing()
    if tracing:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        value = fn(*args, **kwargs)
        return value, max(0, tracemalloc.get_traced_memory()[1] - base)
    finally:
        if not tracing:
            tracemalloc.stop()


def run_case(fn, args, kwargs, measure_memory: bool = False):
    """Call ``fn(*args, **kwargs)`` once and return what happened as JSON-compatible data.

    Parameters
    ----------
    fn : callable
        The learner's function.
    args : tuple
    kwargs : dict
        One case's inputs; they are not copied, so that changes made in place are seen.
    measure_memory : bool, default False
        Trace the memory allocated during the call (``tracemalloc``, which NumPy reports its
        arrays to) and record its peak; the inputs, allocated before, do not count.

    Returns
    -------
    dict
        ``{"value": encoded}`` or ``{"error": {"type", "message"[, "where"]}}``, plus ``"mutated"``
        (names of inputs changed in place), ``"warnings"``, ``"seconds"`` and, when measured,
        ``"peak_bytes"``.
    """
    before = snapshot(args, kwargs)
    outcome = {}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value, peak = _call(fn, args, kwargs, measure_memory)
            outcome["value"] = _record.encode(value)
            if peak is not None:
                outcome["peak_bytes"] = int(peak)
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as error:  # SystemExit too: sys.exit() costs the exercise, not the kernel
            outcome["error"] = {"type": type(error).__name__, "message": str(error)[:500]}
            where = error_location(error)
            if where is not None:
                outcome["error"]["where"] = where
    outcome["seconds"] = round(time.perf_counter() - start, 6)
    outcome["mutated"] = changed(before)
    outcome["warnings"] = sorted({f"{w.category.__name__}: {w.message}"[:200] for w in caught})
    return outcome
