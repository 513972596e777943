"""Is a known mistake named only when it is the mistake that was made?

A variant may be named only when it explains the failure exactly: its output on the failing case —
type, shape, dtype and values — is what the learner returned, and differs from the expected value.
Every variant (and the reference itself) is combined here with every other kind of failure — a
float64 or float32 result, None, a list, an error, a NaN, a small error, a transposed result,
only part of a returned tuple, an input changed in place — and whatever the verdict names is
checked against what the implementation actually returned, with a comparison written here
independently of :mod:`attention_course.compare`.
"""

from __future__ import annotations

import numpy as np
import pytest
from checking import explains, verdict

from grader.checks import registry
from grader.checks.judge import call_quietly

#: Hidden seeds of each run (the catalogue sweep, benchmarks/sweep_checks.py, runs many more).
SEEDS = (0,)


def _arrays_mapped(value, change):
    """``value`` with ``change`` applied to every float ndarray inside it."""
    if isinstance(value, np.ndarray):
        return change(value) if value.dtype.kind == "f" else value
    if isinstance(value, (tuple, list)):
        return type(value)(_arrays_mapped(v, change) for v in value)
    if isinstance(value, dict):
        return {k: _arrays_mapped(v, change) for k, v in value.items()}
    return value


def _first_float(value):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else ()
    return next((found for v in items if (found := _first_float(v)) is not None), None)


def _with_nan(value):
    value = _arrays_mapped(value, np.copy)
    target = _first_float(value)
    if target is not None:
        target.reshape(-1)[0] = np.nan
    return value


def _first_value(result):
    return result[0] if isinstance(result, tuple) else result


def _swap_last(x):
    return np.swapaxes(x, -1, -2) if x.ndim >= 2 else x[::-1]


def _change_first_input(args):
    target = _first_float(list(args))
    if target is not None:
        target += 1


def _mutating(fn):
    def answer(*args, **kwargs):
        result = fn(*args, **kwargs)
        _change_first_input(args)
        return result
    return answer


def _raising(fn):
    def answer(*args, **kwargs):
        raise NameError("name 'wieghts' is not defined")
    return answer


#: Ways to fail, applied to an implementation: name -> wrap(fn) -> fn.
FAILURES = {
    "as it is": lambda fn: fn,
    "float64 result": lambda fn: lambda *a, **k: _arrays_mapped(fn(*a, **k), lambda x: x.astype(np.float64)),
    "float32 result": lambda fn: lambda *a, **k: _arrays_mapped(fn(*a, **k), lambda x: x.astype(np.float32)),
    "None": lambda fn: lambda *a, **k: None,
    "a list": lambda fn: lambda *a, **k: _arrays_mapped(fn(*a, **k), np.ndarray.tolist),
    "NameError": _raising,
    "one NaN": lambda fn: lambda *a, **k: _with_nan(fn(*a, **k)),
    "1 % off": lambda fn: lambda *a, **k: _arrays_mapped(fn(*a, **k), lambda x: x * x.dtype.type(1.01)),
    "transposed": lambda fn: lambda *a, **k: _arrays_mapped(fn(*a, **k), _swap_last),
    "first value only": lambda fn: lambda *a, **k: _first_value(fn(*a, **k)),
    "input changed": _mutating,
}


def _bases():
    found = []
    for name, exercise in sorted(registry.exercises().items()):
        if exercise.compare is not None:
            continue  # given code judged by what it achieves: no value to explain
        found += [(name, "reference")] + [(name, v.key) for v in exercise.variants]
    return found


BASES = _bases()


def _base(name, base):
    exercise = registry.get(name)
    return exercise.reference if base == "reference" else next(
        v.fn for v in exercise.variants if v.key == base)


@pytest.mark.parametrize(("name", "base"), BASES, ids=[f"{n}-{b}" for n, b in BASES])
def test_a_named_mistake_explains_exactly_what_was_returned(name, base):
    """Whenever a check names a known mistake — for the reference or a variant combined with any kind
    of failure — does that mistake's output on the failing case equal (dtype included) what the
    implementation returned there, and differ from the expected value?"""
    exercise = registry.get(name)
    for failure, wrap in FAILURES.items():
        answer = wrap(_base(name, base))
        for hidden, seed in [(False, None)] + [(True, s) for s in SEEDS]:
            result = verdict(name, answer, hidden=hidden, seed=seed)
            named = next((v for v in exercise.variants if v.key == result.misconception), None)
            if named is None:
                continue
            case = registry.cases(name, hidden, seed)[result.case]
            got = call_quietly(answer, case)
            wrong, expected = call_quietly(named.fn, case), call_quietly(exercise.reference, case)
            where = f"{failure}, {f'hidden seed {seed}' if hidden else 'public'}"
            assert explains(wrong, got), f"{where}: {named.key!r} named for a result it does not explain"
            assert not explains(wrong, expected), f"{where}: {named.key!r} named on a case where it is right"


def _has_float32_inputs(name):
    return any(isinstance(a, np.ndarray) and a.dtype == np.float32
               for c in registry.cases(name, False) for a in list(c.args) + list(c.kwargs.values()))


# Without float32 inputs (causal_mask, numerical_gradient, ...) a float64 result is what it should return.
@pytest.mark.parametrize("name", sorted(n for n, e in registry.exercises().items()
                                        if e.compare is None and _has_float32_inputs(n)))
def test_a_result_that_is_right_but_for_its_dtype_names_no_mistake(name):
    """Does the reference's result cast to float64 fail with the dtype alone, naming no mistake?"""
    answer = FAILURES["float64 result"](registry.get(name).reference)
    result = verdict(name, answer, hidden=False)
    assert result.misconception == "wrong_dtype", result.message
    assert "the values are right, only the dtype is not" in result.message
    assert "Likely mistake" not in result.message


@pytest.mark.parametrize("name", sorted(n for n, e in registry.exercises().items() if e.compare is None))
def test_every_variant_keeps_the_dtype_of_the_reference(name):
    """Does each variant return the reference's dtypes (float32 for float32 inputs), so that a learner
    who makes only that mistake is named — unless the dtype is the mistake itself?"""
    exercise = registry.get(name)
    dtype_mistakes = {"not_boolean"}

    def dtypes(value):
        if isinstance(value, np.ndarray):
            return {str(value.dtype)}
        if isinstance(value, dict):
            value = list(value.values())
        return set().union(*(dtypes(v) for v in value)) if isinstance(value, (tuple, list)) else set()

    for case in registry.cases(name, False) + registry.cases(name, True, 0):
        expected = dtypes(call_quietly(exercise.reference, case))
        for variant in exercise.variants:
            if variant.key in dtype_mistakes:
                continue
            try:
                got = dtypes(call_quietly(variant.fn, case))
            except Exception:  # noqa: BLE001 - a variant that cannot run on a case is never named there
                continue
            assert got == expected, f"{variant.key} returns {got} where the reference returns {expected}"


@pytest.mark.parametrize("name", sorted(n for n, e in registry.exercises().items() if e.compare is None))
def test_the_values_of_a_returned_tuple_are_called_by_their_own_names(name):
    """Does every exercise that returns a tuple name each of its values (``result[1] (lse)``), and does a
    fault in the last value say which one it is?"""
    exercise = registry.get(name)
    case = registry.cases(name, False)[0]
    expected = call_quietly(exercise.reference, case)
    if not isinstance(expected, tuple):
        assert exercise.returns is None
        return
    assert exercise.returns is not None and len(exercise.returns) == len(expected)
    last = len(expected) - 1

    def last_value_off(*args, **kwargs):
        result = list(exercise.reference(*args, **kwargs))
        result[last] = result[last] + result[last].dtype.type(1)
        return tuple(result)

    message = verdict(name, last_value_off, hidden=False).message
    assert f"result[{last}] ({exercise.returns[last]}):" in message, message
