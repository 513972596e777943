"""Verdicts: compare a learner's recorded outputs with the reference, stage by stage (trusted side).

The stages are type, shape, dtype and values; the first that fails gives the
message. On any mismatch the exercise's known-wrong variants are run on the
same inputs, and the first whose output matches the learner's names the mistake.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass

import numpy as np

from . import cases as _cases
from . import record as _record
from .exercises import get as get_exercise

#: (rtol, atol) per dtype of the expected value; atol is relative to the largest |expected|.
TOLERANCES = {np.dtype(np.float32): (2e-4, 2e-5), np.dtype(np.float64): (1e-7, 1e-10)}
_DEFAULT_TOLERANCE = TOLERANCES[np.dtype(np.float64)]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check.

    Attributes
    ----------
    passed : bool
    message : str
        Empty when passed; otherwise what failed, where, and the likely mistake.
    misconception : str or None
        Key of the named mistake (a :class:`~grader.exercises.Variant` key, or one of
        ``not_implemented``, ``raised``, ``mutated_input``, ``used_reference``).
    case : int or None
        Index of the first failing case.
    """

    passed: bool
    message: str = ""
    misconception: str | None = None
    case: int | None = None


# ---- comparison ---------------------------------------------------------------------------------

def _type_name(value):
    if isinstance(value, _record.Opaque):
        return value.type_name
    if isinstance(value, np.ndarray):
        return "numpy.ndarray"
    return type(value).__name__


def compare(expected, got, scale=1.0, path="result"):
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

    Returns
    -------
    tuple of (str, str) or None
        ``(stage, message)`` with stage one of type, shape, dtype, values.
    """
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return "type", (f"{path}: expected a tuple of {len(expected)} values, "
                            f"got {_type_name(got)}")
        if len(got) != len(expected):
            return "type", f"{path}: expected {len(expected)} values, got {len(got)}"
        names = _item_names(path, len(expected))
        for name, e, g in zip(names, expected, got, strict=False):
            found = compare(e, g, scale, name)
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
        return "type", f"{path}: expected a numpy.ndarray, got {_type_name(got)}"
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
        right_values = got.dtype.kind in "biuf" and _values_message(expected, got.astype(
            expected.dtype), scale, path) is None
        tail = (" — the values are right, only the dtype is not (a float64 constant such as "
                "np.sqrt(d) turns float32 arrays into float64; math.sqrt(d) does not)"
                if right_values else "")
        return "dtype", (f"{path}: expected dtype {expected.dtype} (the dtype of the inputs), "
                         f"got {got.dtype}{tail}")
    message = _values_message(expected, got, scale, path)
    return ("values", message) if message else None


def _item_names(path, n):
    if path == "result" and n == 2:
        return ["result[0] (output)", "result[1] (weights)"]
    if path == "result" and n == 3:
        return ["result[0] (dQ)", "result[1] (dK)", "result[2] (dV)"]
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


# ---- verdicts -----------------------------------------------------------------------------------

def describe(reference, case):
    """Describe a case's inputs by the reference's parameter names: ``Q (2, 5, 4) float32, …``."""
    try:
        names = list(inspect.signature(reference).parameters)
    except (TypeError, ValueError):
        names = []
    parts = []
    values = list(zip(names, case.args, strict=False)) + list(case.kwargs.items())
    for name, value in values:
        if isinstance(value, np.ndarray):
            parts.append(f"{name} {value.shape} {value.dtype}")
        elif callable(value):
            parts.append(f"{name}: a function")
        elif isinstance(value, dict):
            parts.append(f"{name}: dict of {', '.join(value)}")
        else:
            parts.append(f"{name}={value!r}")
    text = ", ".join(parts)
    return f"{text} — {case.note}" if case.note else text


def _argument_name(reference, label):
    if label.startswith("argument "):
        try:
            names = list(inspect.signature(reference).parameters)
            return names[int(label.split()[1]) - 1]
        except (TypeError, ValueError, IndexError):
            return label
    return label


def _fresh(case):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in case.args], {
        k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}


def _call_quietly(fn, case):
    args, kwargs = _fresh(case)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


#: Words in an error message that show a learner reaching for the reference or the trusted grader.
REFERENCE_WORDS = ("attention_ref", "grader.exercises", "grader.judge", "grader.verify",
                    "not available while grading")


def _error_verdict(name, error, where):
    kind, message = error.get("type", "Exception"), error.get("message", "")
    if kind == "NotImplementedError":
        return Verdict(False, f"{name} is not implemented yet: replace `raise NotImplementedError` "
                              "with your code.", "not_implemented")
    if any(word in message for word in REFERENCE_WORDS) and kind in (
            "ImportError", "ModuleNotFoundError", "AttributeError", "PermissionError",
            "FileNotFoundError", "OSError", "NameError"):
        return Verdict(False, f"{name} tried to use the course's reference solution or the grader's "
                              f"internals ({kind}: {message}). Write your own implementation; "
                              "this attempt is reported to your instructor.", "used_reference")
    if kind == "SystemExit":
        return Verdict(False, f"{name} called sys.exit() {where}; a function should return its "
                              "result instead.", "raised")
    if kind == "MemoryError":
        return Verdict(False, f"{name} ran out of memory {where}: it allocates far more than "
                              "the inputs need.", "raised")
    return Verdict(False, f"{name} raised {kind}: {message}\n{where}", "raised")


def _in_own_words(exercise, verdict):
    """An error verdict in the exercise's own words, for a check of given code that runs the learner's
    functions: ``extra["not_implemented"]`` replaces the stub message, ``extra["error_hint"]`` is added
    to an error's."""
    if verdict.misconception == "not_implemented" and "not_implemented" in exercise.extra:
        return Verdict(False, exercise.extra["not_implemented"], "not_implemented", verdict.case)
    if verdict.misconception == "raised" and "error_hint" in exercise.extra:
        return Verdict(False, f"{verdict.message}\nHint: {exercise.extra['error_hint']}", "raised",
                       verdict.case)
    return verdict


def judge_record(rec, seed=None):
    """Judge one recorded check.

    Parameters
    ----------
    rec : dict
        A record made by :func:`grader.probe.check`.
    seed : int, optional
        The trusted seed of the hidden cases; defaults to the seed in the record
        (interactive use, where the learner's own kernel judges).

    Returns
    -------
    Verdict
    """
    name = rec["exercise"]
    exercise = get_exercise(name)
    hidden = rec["mode"] == "hidden"
    seed = rec.get("seed") if seed is None else seed
    generated = _cases.generate(name, hidden, seed)
    outcomes = rec.get("outcomes", [])
    mode = f"hidden, seed {seed}" if hidden else "public"
    if len(outcomes) == 1 and "error" in outcomes[0] and len(generated) != 1:
        return _in_own_words(exercise, _error_verdict(name, outcomes[0]["error"], ""))
    if len(outcomes) != len(generated):
        return Verdict(False, f"{name}: the check recorded {len(outcomes)} results for "
                              f"{len(generated)} cases; the record was tampered with.", "tampered")
    for index, (case, outcome) in enumerate(zip(generated, outcomes, strict=False)):
        where = f"on case {index + 1} of {len(generated)} ({mode}): {describe(exercise.reference, case)}"
        if "error" in outcome:
            verdict = _in_own_words(exercise, _error_verdict(name, outcome["error"], where))
            return Verdict(False, verdict.message, verdict.misconception, index)
        if outcome.get("mutated"):
            changed = ", ".join(_argument_name(exercise.reference, m) for m in outcome["mutated"])
            hint = exercise.extra.get("mutation_hint", "work on a copy, or build a new array")
            return Verdict(False, f"{name} changed its input {changed} in place {where}.\n"
                                  f"Hint: {hint}.", "mutated_input", index)
        got = _record.decode(outcome["value"])
        verdict = _judge_value(exercise, case, got, where)
        if verdict is not None:
            warned = outcome.get("warnings")
            if warned:
                verdict = Verdict(False, verdict.message + "\nWarnings raised: " + "; ".join(warned),
                                  verdict.misconception, index)
            return Verdict(False, verdict.message, verdict.misconception, index)
    return Verdict(True)


def _cast_like(got, model):
    """``got`` with its float arrays cast to the dtypes of ``model``'s float arrays."""
    if isinstance(model, (tuple, list)) and isinstance(got, (tuple, list)) and len(got) == len(model):
        return type(got)(_cast_like(g, m) for g, m in zip(got, model, strict=True))
    if isinstance(model, dict) and isinstance(got, dict):
        return {k: _cast_like(v, model[k]) if k in model else v for k, v in got.items()}
    if (type(got) is np.ndarray and got.dtype.kind == "f" and isinstance(model, np.ndarray)
            and model.dtype.kind == "f"):
        return got.astype(model.dtype)
    return got


def _judge_value(exercise, case, got, where):
    if exercise.compare is not None:
        found = exercise.compare(case, got)
        if found is None:
            return None
        # compare names a variant by returning (key, message); its label and hint are added here.
        key, message = found if isinstance(found, tuple) else ("wrong_value", found)
        for variant in exercise.variants:
            if variant.key == key:
                message += f"\nLikely mistake: {variant.label}.\nHint: {variant.hint}"
        return Verdict(False, f"{exercise.name} {where}\n{message}", key)
    expected = _call_quietly(exercise.reference, case)
    found = compare(expected, got, exercise.tolerance)
    if found is None:
        return None
    stage, detail = found
    for variant in exercise.variants:
        try:
            wrong = _call_quietly(variant.fn, case)
        except Exception:  # a variant that cannot run on this case does not match it
            continue
        # Both in the expected dtypes: a mistake is named even when the learner's code (or the
        # variant) also changed the dtype, which the stage message above reports.
        if compare(_cast_like(wrong, expected), _cast_like(got, expected), exercise.tolerance) is None:
            return Verdict(False, f"{exercise.name} gives a wrong result {where}\n{detail}\n"
                                  f"Likely mistake: {variant.label}.\nHint: {variant.hint}",
                           variant.key)
    return Verdict(False, f"{exercise.name} gives a wrong result {where}\n{detail}",
                   f"wrong_{stage}")
