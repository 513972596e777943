"""Does every parameter of every exercise matter to its checks, and does the public check show every
kind of input the hidden check will use?

Both questions are answered mechanically from the registry, so that an exercise added later is held
to them too:

- for every parameter of every exercise's reference signature, an implementation that ignores it
  (the reference with that parameter forced to its default, or replaced by a plausible wrong value
  when it has none) must fail at least one public case and one hidden case of several seeds;
- every kind of input a hidden check uses (each dtype, number of axes, mask layout, size-1 axis,
  extreme values, non-default argument, absent dictionary entry …) must already appear among the
  public cases, so that a learner who passes the public check meets no new requirement at grading.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np
import pytest
from checking import verdict

from grader.checks import registry
from grader.checks.cases import Case

#: Hidden seeds on which every parameter must matter and every hidden input kind be public.
SEEDS = (0, 1, 2)

#: Parameters that an implementation may ignore without any case noticing, and why. Reviewed by hand:
#: an entry here is a decision that the checks cannot (or should not) see the parameter.
MAY_BE_IGNORED = {
    ("multi_head_attention", "params['b_k']"): (
        "b_k adds q·b_k to every score of query q, the same for all its keys, which the softmax "
        "cancels: the output and the weights do not depend on b_k"),
    ("online_softmax", "block_size"): (
        "the result is softmax(x) whatever the blocks: block_size only changes how the max and the sum "
        "are streamed, which neither the output nor the memory (the output is as large as x) shows"),
}

#: Exercises whose function is given code, not the learner's (its parameters are the notebook's).
GIVEN = {name for name, exercise in registry.exercises().items() if exercise.given_cells}


def _one_block(case: Case, value):
    """``block_size`` covering every query and key at once: attention that does not tile at all."""
    Q, K = case.args[0], case.args[1]
    return max(Q.shape[-2], K.shape[-2])


#: The wrong value of a parameter where "forced to its default" is not what ignoring it means, and why.
WRONG_VALUE: dict[tuple[str, str], tuple[str, Callable]] = {
    ("blockwise_attention", "block_size"): (
        "its output is the same for every block size; an implementation that ignores block_size "
        "attends to all keys at once, which the peak-memory case catches", _one_block),
}


def _random_like(value, seed=0):
    rng = np.random.default_rng(seed)
    if value.dtype.kind == "b":
        return ~value
    if value.dtype.kind in "iu":
        return rng.integers(0, int(value.max(initial=0)) + 2, size=value.shape).astype(value.dtype)
    return rng.standard_normal(value.shape).astype(value.dtype)


def generic_wrong_value(value, default):
    """What an implementation that ignores a parameter uses instead of ``value``."""
    if default is not inspect.Parameter.empty:
        return default
    if isinstance(value, np.ndarray):
        return _random_like(value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 10
    if callable(value):
        return lambda x, f=value: 2 * f(x) + 1
    raise TypeError(f"no wrong value for {type(value).__name__}")


def ignoring(exercise, parameter: str, key: str | None = None):
    """The reference with ``parameter`` (or the entry ``key`` of a dict parameter) ignored.

    An ignored dict entry is dropped when the reference accepts the dict without it (a bias), and
    replaced by random numbers otherwise (a weight matrix).
    """
    reference = exercise.reference
    signature = inspect.signature(reference)
    override = WRONG_VALUE.get((exercise.name, parameter))

    def answer(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        if parameter not in bound.arguments:
            return reference(*args, **kwargs)  # already its default
        value = bound.arguments[parameter]
        if key is not None:
            if key in value:
                value = dict(value)
                try:
                    reference(**{**bound.arguments, parameter: {k: v for k, v in value.items() if k != key}})
                    del value[key]
                except ValueError:
                    value[key] = _random_like(np.asarray(value[key]))
        elif override is not None:
            value = override[1](Case(tuple(bound.arguments.values())), value)
        else:
            value = generic_wrong_value(value, signature.parameters[parameter].default)
        bound.arguments[parameter] = value
        return reference(*bound.args, **bound.kwargs)

    answer.__name__ = f"{exercise.name}_ignoring_{parameter}" + (f"_{key}" if key else "")
    return answer


def _dict_keys(name, parameter):
    """Every key that the dict parameter ``parameter`` has in some public or hidden case."""
    keys = set()
    for hidden, seed in [(False, None)] + [(True, s) for s in SEEDS]:
        for case in registry.cases(name, hidden, seed):
            bound = inspect.signature(registry.get(name).reference).bind(*case.args, **case.kwargs)
            keys |= set(bound.arguments.get(parameter) or {})
    return sorted(keys)


def _parameters():
    found = []
    for name, exercise in sorted(registry.exercises().items()):
        if name in GIVEN:
            continue
        first = registry.cases(name, False)[0]
        bound = inspect.signature(exercise.reference).bind(*first.args, **first.kwargs)
        for parameter in inspect.signature(exercise.reference).parameters:
            if isinstance(bound.arguments.get(parameter), dict):
                found += [(name, parameter, key) for key in _dict_keys(name, parameter)]
            else:
                found.append((name, parameter, None))
    return found


ALL_PARAMETERS = _parameters()
#: Each (exercise, parameter or dict entry) that some case must see; the exempt ones are not run.
PARAMETERS = [(n, p, k) for n, p, k in ALL_PARAMETERS
              if (n, p if k is None else f"{p}[{k!r}]") not in MAY_BE_IGNORED]


@pytest.mark.parametrize(("name", "parameter", "key"), PARAMETERS,
                         ids=[f"{n}-{p}" + (f"[{k}]" if k else "") for n, p, k in PARAMETERS])
def test_an_implementation_that_ignores_a_parameter_fails_a_public_and_a_hidden_case(name, parameter, key):
    """Does ignoring this parameter (or dict entry) fail the public check and the hidden check of every
    seed, unless the table of parameters that may be ignored says why no case can see it?"""
    answer = ignoring(registry.get(name), parameter, key)
    assert not verdict(name, answer, hidden=False).passed, f"{answer.__name__} passes the public check"
    for seed in SEEDS:
        assert not verdict(name, answer, seed=seed).passed, f"{answer.__name__} passes hidden seed {seed}"


def test_the_tables_of_exceptions_name_real_parameters():
    """Does every entry of MAY_BE_IGNORED and WRONG_VALUE name an existing exercise and parameter,
    so that neither table outlives what it excuses?"""
    known = {(name, parameter if key is None else f"{parameter}[{key!r}]")
             for name, parameter, key in ALL_PARAMETERS}
    assert set(MAY_BE_IGNORED) <= known and set(WRONG_VALUE) <= known
    assert not set(MAY_BE_IGNORED) & set(WRONG_VALUE)


def test_ignoring_a_parameter_is_caught_by_this_test():
    """Would the coverage test notice an ignored parameter — does a softmax that always takes the last
    axis fail the public check and the hidden one (the fault that started it)?"""
    answer = ignoring(registry.get("softmax"), "axis")
    assert not verdict("softmax", answer, hidden=False).passed
    assert not verdict("softmax", answer, seed=SEEDS[0]).passed


# ---- no surprise at grading: what the hidden check uses, the public check shows -----------------

def _array_kinds(name, value):
    """The kinds of input an array is: dtype, number of axes, layout, size-1 axes, extreme values."""
    value = np.asarray(value)
    kinds = {f"{name}: {value.ndim}-d"}
    if value.dtype.kind == "b":
        kinds.add(f"{name}: boolean")
        core = value.shape[-2:]
        kinds.add(f"{name}: last axes " + " × ".join("1" if s == 1 else "n" for s in core))
        if value.ndim and value.shape[-1] and (~value).all(axis=-1).any():
            kinds.add(f"{name}: a row with no True")
        return kinds
    kinds.add(f"{name}: dtype {value.dtype}")
    if value.dtype.kind != "f":
        return kinds
    if 1 in value.shape[-2:]:
        kinds.add(f"{name}: an axis of size 1")
    finite = value[np.isfinite(value)]
    if finite.size and np.abs(finite).max() >= 100:
        kinds.add(f"{name}: entries of magnitude ≥ 100")
    if finite.size < value.size:
        kinds.add(f"{name}: entries that are not finite")
    if value.ndim and value.shape[-1] and (value == 0).all(axis=-1).any():
        kinds.add(f"{name}: a row of zeros")
    return kinds


#: Relations between arguments that a hidden case may rely on, per exercise: (kind, test of the bound
#: arguments). Kept small: the generic kinds above cover what any exercise's inputs have.
RELATIONS = {
    "online_softmax": [
        ("block_size 1", lambda a: a["block_size"] == 1),
        ("block_size ≥ n", lambda a: a["block_size"] >= np.shape(a["x"])[-1]),
        ("block_size not dividing n", lambda a: np.shape(a["x"])[-1] % a["block_size"] != 0)],
    "blockwise_attention": [
        ("block_size 1", lambda a: a.get("block_size", 128) == 1),
        ("block_size ≥ n_k", lambda a: a.get("block_size", 128) >= np.shape(a["K"])[-2]),
        ("block_size not dividing n_k", lambda a: np.shape(a["K"])[-2] % a.get("block_size", 128) != 0),
        ("more queries than keys", lambda a: np.shape(a["Q"])[-2] > np.shape(a["K"])[-2])],
    "split_heads": [("one head", lambda a: a["num_heads"] == 1),
                    ("heads of width 1", lambda a: a["num_heads"] == np.shape(a["X"])[-1])],
    "merge_heads": [("one head", lambda a: np.shape(a["X"])[-3] == 1),
                    ("heads of width 1", lambda a: np.shape(a["X"])[-1] == 1)],
    "multi_head_attention": [
        ("one head", lambda a: a["num_heads"] == 1),
        ("heads of width 1", lambda a: a["num_heads"] == np.shape(a["X_q"])[-1])],
    "causal_mask": [("n_k < n_q", lambda a: a.get("n_k") is not None and a["n_k"] < a["n_q"]),
                    ("n_k > n_q", lambda a: a.get("n_k") is not None and a["n_k"] > a["n_q"])],
    "padding_mask": [("a length 0", lambda a: (np.asarray(a["lengths"]) == 0).any()),
                     ("a length n_k", lambda a: (np.asarray(a["lengths"]) == a["n_k"]).any())],
}


def input_kinds(exercise, case: Case) -> set[str]:
    """Every kind of input ``case`` is, in words: what a learner's code must be ready for."""
    signature = inspect.signature(exercise.reference)
    bound = signature.bind(*case.args, **case.kwargs)
    kinds = set()
    arrays = []
    for name, value in bound.arguments.items():
        default = signature.parameters[name].default
        if isinstance(value, np.ndarray):
            kinds |= _array_kinds(name, value)
            arrays.append((name, value))
        elif isinstance(value, dict):
            kinds |= {k for key, item in value.items() for k in _array_kinds(f"{name}[{key!r}]", item)}
            kinds |= {f"{name} with {key!r}" for key in value}
            kinds |= {f"{name} without {key!r}" for key in _dict_keys(exercise.name, name)
                      if key not in value}
        elif callable(value):
            kinds.add(f"{name}: {getattr(value, 'kind', type(value).__name__)}")
        elif value is None:
            kinds.add(f"{name}: None")
        elif default is not inspect.Parameter.empty and value != default:
            kinds.add(f"{name}: other than its default")
    kinds |= {f"{b} is {a}" for i, (a, x) in enumerate(arrays) for b, y in arrays[i + 1:] if x is y}
    kinds |= {kind for kind, holds in RELATIONS.get(exercise.name, ()) if holds(bound.arguments)}
    if case.measure:
        kinds.add("measures the peak memory")
    return kinds


@pytest.mark.parametrize("name", sorted(registry.exercises()))
def test_every_kind_of_hidden_input_appears_in_the_public_check(name):
    """Does each kind of input of the hidden cases (dtype, batch axes, mask layout, size-1 axes, extreme
    values, other arguments, absent dict entries) appear in a public case too?"""
    exercise = registry.get(name)
    public = set().union(*(input_kinds(exercise, c) for c in registry.cases(name, False)))
    hidden = set().union(*(input_kinds(exercise, c) for s in SEEDS for c in registry.cases(name, True, s)))
    assert hidden <= public, f"{name}: only the hidden check has {sorted(hidden - public)}"


def test_the_kinds_of_input_tell_a_float32_case_from_a_float64_one():
    """Would the no-surprise test notice a dtype that only the hidden check uses?"""
    exercise = registry.get("softmax")
    kinds = [input_kinds(exercise, Case((np.zeros((2, 3), dtype),))) for dtype in (np.float32, np.float64)]
    assert kinds[0] - kinds[1] == {"x: dtype float32"}
