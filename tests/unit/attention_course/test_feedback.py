"""Do the verdict's words name the real cause: a mistake only when it explains the result, and plain
words for a forgotten return, a list, a typo, a wrong dtype, an input changed in place, a memory bound?

These are the pieces shared by the public check in a notebook and the trusted judge
(:mod:`attention_course.verdict`, :mod:`attention_course.compare`, :mod:`attention_course.probe`),
tested on small hand-made values.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from attention_course.probe import run_case
from attention_course.verdict import (
    CheckSpec,
    MemoryLimit,
    Mistake,
    Verdict,
    error_verdict,
    judge_outcomes,
    memory_verdict,
    value_verdict,
)

AXIS = Mistake("axis_ignored", "the axis argument is ignored", "Pass axis on.")
SPEC = CheckSpec("softmax", ("x", "axis"), mistakes=(AXIS,))
WHERE = "on case 1 of 1 (public): x (2, 3) float32"


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


X = np.array([[0.5, 1.0, -2.0], [3.0, 0.0, 1.0]], dtype=np.float32)


# ---- naming a mistake ------------------------------------------------------------------------

def test_a_mistake_whose_output_is_what_was_returned_is_named():
    """Is a known mistake named when the learner returned exactly its output, dtype included?"""
    wrong = _softmax(X, axis=0)
    verdict = value_verdict(SPEC, wrong.copy(), WHERE, _softmax(X), [(AXIS, wrong)])
    assert verdict.misconception == "axis_ignored" and "Likely mistake: the axis argument" in verdict.message


def test_a_result_right_but_for_its_dtype_names_no_mistake():
    """Does a float64 result with the right values fail at the dtype alone, even when a mistake's output
    would match once cast (the false naming the issue reported)?"""
    right = _softmax(X)
    mistake_output = right.copy()  # a mistake that makes no difference on this case
    verdict = value_verdict(SPEC, right.astype(np.float64), WHERE, right, [(AXIS, mistake_output)])
    assert verdict.misconception == "wrong_dtype"
    assert "the values are right, only the dtype is not" in verdict.message
    assert "np.sqrt(d)" in verdict.message and "Likely mistake" not in verdict.message


def test_a_mistake_is_not_named_when_only_the_dtype_keeps_it_from_explaining_the_result():
    """When the values are those of a mistake but the dtype is not, is the mistake left unnamed and both
    faults described?"""
    wrong = _softmax(X, axis=0)
    verdict = value_verdict(SPEC, wrong.astype(np.float64), WHERE, _softmax(X), [(AXIS, wrong)])
    assert verdict.misconception == "wrong_dtype" and "Likely mistake" not in verdict.message
    assert "the values are wrong too" in verdict.message


def test_a_mistake_whose_output_is_the_expected_one_is_never_named():
    """On a case where a mistake makes no difference, is it never named, whatever the learner returned?"""
    right = _softmax(X)
    verdict = value_verdict(SPEC, right * np.float32(2), WHERE, right, [(AXIS, right * np.float32(2) / 2)])
    assert verdict.misconception == "wrong_values"


def test_the_items_of_a_returned_tuple_are_called_by_their_names():
    """Is the second value of blockwise_attention's result called by its own name, not 'weights'?"""
    spec = CheckSpec("blockwise_attention", ("Q", "K", "V"), returns=("out", "lse"))
    out, lse = np.ones((2, 3)), np.zeros(2)
    verdict = value_verdict(spec, (out, lse + 1), WHERE, (out, lse), [])
    assert "result[1] (lse):" in verdict.message


# ---- the novice's faults -----------------------------------------------------------------------

def test_none_is_explained_as_a_missing_return():
    """Does a function that returns None get a message about its return statement?"""
    verdict = value_verdict(SPEC, None, WHERE, _softmax(X), [])
    assert verdict.misconception == "returned_none"
    assert "softmax returned None" in verdict.message and "`return" in verdict.message


def test_none_in_place_of_a_tuple_is_explained_too():
    spec = CheckSpec("scaled_dot_product_attention", returns=("out", "weights"))
    verdict = value_verdict(spec, None, WHERE, (np.ones(2), np.ones(2)), [])
    assert verdict.misconception == "returned_none" and "no `return` statement" in verdict.message


def test_a_list_with_the_right_values_is_told_to_be_an_array():
    """Is a list holding the right numbers told that only the type is wrong?"""
    verdict = value_verdict(SPEC, _softmax(X).tolist(), WHERE, _softmax(X), [])
    assert verdict.misconception == "wrong_type"
    assert "got list (a Python list holding the right values: return a NumPy array" in verdict.message


def test_a_list_with_wrong_values_is_not_said_to_hold_the_right_ones():
    verdict = value_verdict(SPEC, (_softmax(X) + 1).tolist(), WHERE, _softmax(X), [])
    assert "got list (a Python list: return a NumPy array" in verdict.message


def _typo(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / np.sum(E, axis=axis, keepdims=True)  # noqa: F821 - the learner's typo


def test_a_name_error_says_where_and_what_it_usually_means():
    """Does a NameError raised inside the function name the line, its code, and what to check?"""
    outcome = run_case(_typo, (X,), {})
    assert outcome["error"]["type"] == "NameError"
    assert outcome["error"]["where"]["function"] == "_typo"
    verdict = error_verdict(SPEC, outcome["error"], WHERE)
    assert verdict.misconception == "raised"
    assert "Raised at line" in verdict.message and "np.sum(E, axis=axis" in verdict.message
    assert "check its spelling" in verdict.message


def test_a_function_that_is_not_defined_is_told_to_run_its_cell():
    """When the check cannot even find the function, does it say so instead of hinting at a typo inside?"""
    verdict = error_verdict(SPEC, {"type": "NameError", "message": "name 'softmax' is not defined"}, "")
    assert verdict.message.startswith("softmax is not defined, so the check could not call it")
    assert "check its spelling" not in verdict.message


def test_an_error_raised_inside_numpy_points_at_the_learners_line():
    """Is the reported line the learner's own (the call into NumPy), not a line inside NumPy?"""
    def mismatched(x, axis=-1):
        return x @ np.ones((5, 5))

    where = run_case(mismatched, (X,), {})["error"]["where"]
    assert where["function"] == "mismatched" and "np.ones((5, 5))" in where["code"]


def test_a_stub_called_by_the_function_is_named_as_the_one_to_implement_first():
    """When the function works but calls a helper that is still a stub, does the message say which
    function to implement first, rather than that this one is not implemented?"""
    def helper(x):
        raise NotImplementedError()

    def attention_weights(q, K):
        return helper(K @ q)

    def stub(q, K):
        raise NotImplementedError()

    spec = CheckSpec("attention_weights", ("q", "K"))
    inputs = (np.ones(2), np.ones((3, 2)))
    called = error_verdict(spec, run_case(attention_weights, inputs, {})["error"], WHERE)
    assert called.misconception == "not_implemented"
    assert called.message.startswith("attention_weights calls helper, which is not implemented yet")
    own = error_verdict(spec, run_case(stub, inputs, {})["error"], WHERE)
    assert own.message.startswith("attention_weights is not implemented yet")


def test_a_dictionary_argument_given_new_entries_counts_as_changed():
    """Is a params dict that the function fills in (setdefault) reported as changed in place?"""
    def fills_in(params):
        params.setdefault("b_q", np.zeros(2))
        return np.zeros(2)

    def reads(params):
        return params.get("b_q", np.zeros(2)) + params["W_q"].sum()

    assert run_case(fills_in, ({"W_q": np.ones((2, 2))},), {})["mutated"] == ["argument 1"]
    assert run_case(reads, ({"W_q": np.ones((2, 2))},), {})["mutated"] == []


# ---- peak memory ---------------------------------------------------------------------------------

def _allocates(n):
    def fn(x):
        return np.ones(n) * x.sum()
    return fn


def test_the_peak_memory_of_a_call_is_measured_only_when_asked():
    """Is the peak of what the call allocated recorded (and the inputs not counted), only on request?"""
    big_input = np.ones(1_000_000)
    measured = run_case(_allocates(200_000), (big_input,), {}, measure_memory=True)
    assert 1_600_000 <= measured["peak_bytes"] < 2 * 1_600_000 + 100_000
    assert "peak_bytes" not in run_case(_allocates(10), (big_input,), {})
    assert not tracemalloc.is_tracing()


def test_measuring_leaves_a_learners_own_tracing_on():
    """When tracemalloc is already tracing (the notebook's own measurement), is it measured and left on?"""
    tracemalloc.start()
    try:
        measured = run_case(_allocates(100_000), (np.ones(3),), {}, measure_memory=True)
        assert tracemalloc.is_tracing() and 800_000 <= measured["peak_bytes"] < 2 * 800_000 + 100_000
    finally:
        tracemalloc.stop()


BOUND = MemoryLimit(1000, "built something huge: its peak was {peak}.")


def test_a_peak_over_the_bound_gets_the_contracts_message():
    verdict = memory_verdict(SPEC, {"peak_bytes": 2_500_000}, BOUND, WHERE)
    assert verdict.misconception == "exceeds_memory"
    assert verdict.message.startswith("softmax built something huge: its peak was 2.50 MB.")
    assert memory_verdict(SPEC, {"peak_bytes": 999}, BOUND, WHERE) is None


@pytest.mark.parametrize("peak", [None, -1, "0", True, 1.5])
def test_a_record_without_a_believable_peak_is_refused(peak):
    outcome = {} if peak is None else {"peak_bytes": peak}
    assert memory_verdict(SPEC, outcome, BOUND, WHERE).misconception == "tampered"


def test_the_memory_bound_is_checked_only_once_the_value_is_right():
    """Does a wrong value keep its own message, and a right value with too large a peak fail the bound?"""
    right = _softmax(X)
    outcomes = [run_case(_softmax, (X,), {}, measure_memory=True)]
    outcomes[0]["peak_bytes"] = 5000

    def judge(outcomes, bound):
        return judge_outcomes(SPEC, ["x (2, 3) float32"], outcomes, "public", expected=lambda i: right,
                              wrong_outputs=lambda i: [], memory=lambda i: bound)

    assert judge(outcomes, BOUND).misconception == "exceeds_memory"
    assert judge(outcomes, MemoryLimit(10_000, "")) == Verdict(True)
    wrong = [dict(outcomes[0], value=run_case(lambda x: x, (X,), {})["value"])]
    assert judge(wrong, BOUND).misconception == "wrong_values"


def test_an_integer_result_is_told_that_integer_inputs_give_float64():
    """Does a result that kept the integer dtype of its inputs (np.empty_like(x)) say where that
    comes from?"""
    expected = np.array([0.25, 0.75])
    verdict = value_verdict(SPEC, np.array([0, 0]), WHERE, expected, [])
    assert verdict.misconception == "wrong_dtype"
    assert "integer inputs give a float64 result" in verdict.message and "np.empty_like(x)" in verdict.message


@pytest.mark.parametrize("error", ["NameError", ["NameError"], 3])
def test_a_recorded_error_that_is_not_a_mapping_is_a_malformed_record(error):
    """Is an outcome whose error is not what the probe writes refused as malformed, not crashed on?"""
    verdict = judge_outcomes(SPEC, ["x", "x"], [{"error": error}, {"error": error}], "public",
                             expected=lambda i: None, wrong_outputs=lambda i: [])
    assert verdict.misconception == "tampered"
