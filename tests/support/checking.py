"""Run a check in-process and return its verdict: what the misconception tests are built on.

The notebooks call ``check(name, fn)`` inside a kernel; these helpers run the same record
and the same trusted judgement in the test process, so that hundreds of buggy and valid
implementations can be judged in seconds without starting a kernel.
"""

from __future__ import annotations

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
