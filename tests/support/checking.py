"""Run a check in-process and return its verdict: what the misconception tests are built on.

The notebooks call ``check(name, fn)`` inside a kernel; these helpers run the same record
and the same trusted judgement in the test process, so that hundreds of buggy and valid
implementations can be judged in seconds without starting a kernel.
"""

from __future__ import annotations

import numpy as np

from attention_course.compare import TOLERANCES
from grader.checks import local, registry

#: Hidden seeds every buggy implementation must be caught on (and every valid one pass on).
SEEDS = (0, 1, 2, 7, 123)


def verdict(name, fn, hidden=True, seed=0):
    """The :class:`~attention_course.verdict.Verdict` of one check of ``fn``, judged in this process."""
    return local.verdict(name, fn, hidden=hidden, seed=seed if hidden else None)


def variant(name, key):
    """The :class:`~grader.checks.exercise.Variant` ``key`` of exercise ``name``."""
    exercise = registry.get(name)
    found = [v for v in exercise.variants if v.key == key]
    assert found, f"{name} has no variant {key!r}; it has {[v.key for v in exercise.variants]}"
    return found[0]


#: Failure kinds that are not a known mistake of an exercise: the verdict must name none.
GENERIC = ("mutated_input", "returned_none", "raised", "exceeds_memory", "not_implemented",
           "wrong_type", "wrong_shape", "wrong_dtype", "wrong_values")


def assert_named(name, fn, key, seeds=SEEDS, public=True):
    """Assert that ``fn`` fails with exactly the mistake ``key``, named in plain words with its hint.

    ``key`` is a variant of the exercise, or one of :data:`GENERIC`: then no known mistake may be
    named at all. Checked on the hidden check for every seed in ``seeds`` and, when ``public``,
    on the public check too: a misconception that the visible tests cannot tell apart should say
    so by passing ``public=False``.
    """
    expected = None if key in GENERIC else variant(name, key)
    runs = [(True, seed) for seed in seeds] + ([(False, None)] if public else [])
    for hidden, seed in runs:
        result = verdict(name, fn, hidden=hidden, seed=seed)
        mode = f"hidden seed {seed}" if hidden else "public"
        assert not result.passed, f"{name}: the buggy implementation passed the {mode} check"
        assert result.misconception == key, (
            f"{name} ({mode}): expected the mistake {key!r}, got {result.misconception!r}:\n"
            f"{result.message}")
        if expected is not None:
            assert expected.label in result.message and expected.hint in result.message, result.message
        else:
            assert "Likely mistake" not in result.message, result.message


def assert_passes(name, fn, seeds=SEEDS):
    """Assert that ``fn`` passes the public check and the hidden check for every seed."""
    for hidden, seed in [(False, None)] + [(True, s) for s in seeds]:
        result = verdict(name, fn, hidden=hidden, seed=seed)
        mode = f"hidden seed {seed}" if hidden else "public"
        assert result.passed, f"{name} ({mode}):\n{result.message}"


def explains(a, b) -> bool:
    """Do two results match in structure, dtypes, shapes and values (NaN equal to NaN), within 10×
    the per-dtype tolerance? An oracle for the naming rule independent of ``attention_course.compare``:
    a mistake may be named only when its output is this close to what the learner returned."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(explains(x, y) for x, y in zip(a, b, strict=True)))
    if isinstance(a, dict) or isinstance(b, dict):  # e.g. the gradients of multi_head_attention_backward
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(explains(a[k], b[k]) for k in a))
    a, b = (np.asarray(x) if isinstance(x, np.generic) else x for x in (a, b))  # NumPy scalars: 0-d arrays
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
        return False
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    rtol, atol = TOLERANCES[a.dtype]
    scale = max(float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0)), 1.0)
    return bool(np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=10 * rtol,
                            atol=10 * atol * scale, equal_nan=True))
