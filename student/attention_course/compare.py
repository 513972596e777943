"""Compare a returned value with the expected one, stage by stage: type, shape, dtype, values.

Used by the public check in a learner's notebook and by the trusted grader alike, so that
a learner reads the same message in both. The first stage that fails gives the message;
tolerances are set per dtype in :data:`TOLERANCES`, in one place.
"""

from __future__ import annotations

import numpy as np

from .record import Opaque

#: (rtol, atol) per dtype of the expected value; atol is relative to the largest |expected|.
TOLERANCES = {np.dtype(np.float32): (2e-4, 2e-5), np.dtype(np.float64): (1e-7, 1e-10)}
_DEFAULT_TOLERANCE = TOLERANCES[np.dtype(np.float64)]


def _type_name(value):
    if isinstance(value, Opaque):
        return value.type_name
    if isinstance(value, np.ndarray):
        return "numpy.ndarray"
    return type(value).__name__


def compare(expected, got, scale=1.0, path="result", names=None):
    """First difference between ``expected`` and ``got``, or None when they agree.

    Parameters
    ----------
    expected : ndarray, tuple, list, dict or scalar
        The reference value.
    got : object
        The decoded learner value.
    scale : float
        Multiplies the per-dtype tolerances.
    path : str
        How to name this value in messages (``"weights"``, ``"result[1]"``).
    names : sequence of str, optional
        The names of the items of a returned tuple (``("output", "lse")``), used in messages
        as ``result[1] (lse)``.

    Returns
    -------
    tuple of (str, str) or None
        ``(stage, message)`` with stage one of type, shape, dtype, values.
    """
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            tail = _not_an_array(np.asarray(0.0), got, scale) if got is None else ""
            return "type", (f"{path}: expected a tuple of {len(expected)} values, "
                            f"got {_type_name(got)}{tail}")
        if len(got) != len(expected):
            return "type", f"{path}: expected {len(expected)} values, got {len(got)}"
        labels = _item_names(path, len(expected), names)
        for label, e, g in zip(labels, expected, got, strict=False):
            found = compare(e, g, scale, label)
            if found:
                return found
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return "type", f"{path}: expected a dict, got {_type_name(got)}"
        missing = sorted(set(expected) - set(got))
        if missing:
            return "type", f"{path}: missing keys {missing}"
        for key in expected:
            found = compare(expected[key], got[key], scale, f"{path}[{key!r}]")
            if found:
                return found
        return None
    expected = np.asarray(expected)
    if isinstance(got, np.generic) and expected.ndim == 0:
        got = np.asarray(got)
    if not isinstance(got, np.ndarray):
        tail = _not_an_array(expected, got, scale)
        return "type", f"{path}: expected a numpy.ndarray, got {_type_name(got)}{tail}"
    if got.shape != expected.shape:
        return "shape", f"{path}: expected shape {expected.shape}, got shape {got.shape}"
    if expected.dtype.kind == "b":
        if got.dtype != expected.dtype:
            return "dtype", f"{path}: expected a boolean array, got dtype {got.dtype}"
        wrong = np.argwhere(got != expected)
        if wrong.size:
            at = tuple(int(i) for i in wrong[0])
            return "values", (f"{path}: {len(wrong)} of {got.size} entries differ; first at "
                              f"index {at}: expected {expected[at]}, got {got[at]}")
        return None
    if got.dtype != expected.dtype:
        head = f"{path}: expected dtype {expected.dtype}, got {got.dtype}"
        if got.dtype.kind not in "biuf":
            return "dtype", head
        values = _values_message(expected, got.astype(expected.dtype), scale, path)
        if values is None:
            cause = _dtype_cause(expected, got)
            return "dtype", f"{head} — the values are right, only the dtype is not{cause}"
        return "dtype", f"{head}{_dtype_cause(expected, got)}; the values are wrong too:\n{values}"
    message = _values_message(expected, got, scale, path)
    return ("values", message) if message else None


def _dtype_cause(expected, got):
    """The usual cause of a result of the wrong dtype, in words (empty when there is no usual one)."""
    if expected.dtype == np.float32 and got.dtype == np.float64:
        return (": float32 inputs give a float32 result, and something turned them into float64 — a "
                "float64 constant such as np.sqrt(d) or np.eye(n), or a conversion such as "
                "np.array(x, dtype=float); math.sqrt(d), d ** 0.5 and np.eye(n, dtype=x.dtype) keep float32")
    if expected.dtype.kind == "f" and got.dtype.kind in "biu":
        return (": integer inputs give a float64 result (float32 ones a float32 result), and an array "
                "made with np.empty_like(x), np.zeros_like(x) or dtype=x.dtype keeps the integer dtype — "
                "convert the inputs first")
    if expected.dtype == np.float64 and got.dtype == np.float32:
        return (": float64 (and integer) inputs give a float64 result; a float32 array or dtype turned "
                "it into float32")
    return ""


def _not_an_array(expected, got, scale):
    """What to add when an array was expected and ``got`` is not one (None, a list, a number)."""
    if got is None:
        return (" (None is what a function returns when it has no `return` statement, or when its "
                "`return` is never reached)")
    if isinstance(got, (list, tuple)):
        try:
            array = np.asarray(got, dtype=expected.dtype)
        except (TypeError, ValueError):
            return (f" (a Python {type(got).__name__}: build the result with NumPy operations, "
                    "or convert it with np.array)")
        right = array.shape == expected.shape and _values_message(expected, array, scale, "") is None
        return (f" (a Python {type(got).__name__}{' holding the right values' if right else ''}: "
                "return a NumPy array, built with NumPy operations or converted with np.array)")
    return ""


def _item_names(path, n, names=None):
    if names is not None and len(names) == n:
        return [f"{path}[{i}] ({name})" for i, name in enumerate(names)]
    return [f"{path}[{i}]" for i in range(n)]


def _values_message(expected, got, scale, path):
    rtol, atol = TOLERANCES.get(expected.dtype, _DEFAULT_TOLERANCE)
    e = expected.astype(np.float64)
    g = got.astype(np.float64)
    finite = np.isfinite(e)
    magnitude = float(np.max(np.abs(e[finite]))) if finite.any() else 1.0
    limit = scale * (atol * max(magnitude, 1.0) + rtol * np.abs(np.where(finite, e, 0)))
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(g - e)
        bad = ~((error <= limit) | (np.isnan(e) & np.isnan(g)) | (e == g))
    if not bad.any():
        return None
    where = np.argwhere(bad)
    at = tuple(int(i) for i in where[0])
    nonfinite = ~np.isfinite(g)
    if nonfinite.any() and not (~finite).any():
        count = int(nonfinite.sum())
        first = tuple(int(i) for i in np.argwhere(nonfinite)[0])
        head = (f"{path}: {count} of {g.size} entries are not finite (NaN or inf) where finite "
                f"values were expected; the first at index {first}")
        at = first
    else:
        worst = np.unravel_index(int(np.nanargmax(np.where(bad, np.nan_to_num(error, nan=np.inf),
                                                            -1))), e.shape)
        at = tuple(int(i) for i in worst)
        head = (f"{path}: {len(where)} of {g.size} entries differ; the largest error "
                f"{_fmt(error[at])} is at index {at}")
    return f"{head}\n{_slice(expected, got, at)}"


def _fmt(x):
    return np.format_float_positional(float(x), precision=4, unique=False, trim="-") \
        if np.isfinite(x) and abs(x) >= 1e-3 else np.format_float_scientific(float(x), precision=2)


def _slice(expected, got, at):
    """Up to six entries of the last axis around ``at``, expected above got."""
    if expected.ndim == 0:
        return f"  expected {expected!r}\n  got      {got!r}"
    start = max(0, at[-1] - 2)
    index = at[:-1] + (slice(start, start + 6),)
    label = ", ".join([str(i) for i in at[:-1]] + [f"{start}:{start + 6}"])
    options = dict(precision=4, suppress_small=True, max_line_width=120)
    return (f"  expected[{label}] = {np.array2string(expected[index], **options)}\n"
            f"  got     [{label}] = {np.array2string(got[index], **options)}")

