"""Notebook 05's checks beyond naming mistakes: their cases against independent oracles, and the
training check's other outcomes.

The functions handed to numerical_gradient are checked against their analytic gradients, the
reference backward passes against central differences of a plain forward pass, and the training
check (``reversal_training``, the notebook's given loop on a learner's backward pass) on backward
passes that are wrong but train, raise, are stubs or return the wrong thing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from checking import SEEDS, assert_passes, verdict
from learners.backprop_through_attention import (
    attention_backward_dot_product,
    attention_backward_einsum,
    attention_backward_no_keepdims,
    attention_backward_sign_flipped,
    attention_backward_stub,
    attention_backward_unscaled_grads,
    given_cells,
    masked_weights,
    numerical_gradient_forward,
    numerical_gradient_not_restored,
    training_with,
)

from attention_course.checks import _entry, public_verdict
from attention_course.given import held_out_sequences
from grader.checks import registry
from grader.checks.judge import given_namespace


def test_restoring_x_is_explained_when_x_is_changed():
    """Does a numerical_gradient that leaves x changed get the exercise's own hint about restoring x?"""
    result = verdict("numerical_gradient", numerical_gradient_not_restored, hidden=False)
    assert result.misconception == "mutated_input"
    assert registry.get("numerical_gradient").hints["mutation_hint"] in result.message
    assert "changed its input x in place" in result.message




# ---- the cases themselves, against independent oracles -----------------------------------------

def _central(f, x, h):
    """Central differences of a scalar f (float64), for the oracle checks below."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("seed", SEEDS)
def test_the_functions_given_to_numerical_gradient_are_rebuilt_identically(seed):
    """Does regenerating a case give the same function (the trusted side must see the learner's f)?"""
    first, second = (registry.cases("numerical_gradient", True, seed) for _ in range(2))
    for one, other in zip(first, second, strict=True):
        x = one.args[1]
        assert one.args[0](x) == other.args[0](x.copy())
        np.testing.assert_array_equal(x, other.args[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_the_expected_numerical_gradient_is_near_the_analytic_one(seed):
    """Is the reference within the truncation bound of the cubic-and-tanh loss's analytic gradient,
    and a forward difference far beyond the check's tolerance whenever eps is passed explicitly?"""
    exercise = registry.get("numerical_gradient")
    for case in registry.cases("numerical_gradient", True, seed):
        f, x = case.args
        cells = f.params
        if f.kind != "cubic":
            continue  # the tanh-mixing loss: checked against its analytic gradient below
        a, b, c, M = cells["a"], cells["b"], cells["c"], cells["M"]
        eps = case.kwargs.get("eps", 1e-6)
        flat = x.reshape(-1)
        exact = 3 * a * x**2 + b * c / np.cosh(c * x) ** 2 + (0.5 * (M + M.T) @ flat).reshape(x.shape)
        # A central difference is off by at most eps²/6 · max|f'''| (|tanh'''| <= 2), plus the
        # rounding of f's terms (of total size `size`) divided by 2·eps.
        size = 1 + np.sum(np.abs(a * x**3)) + np.sum(np.abs(b)) + np.abs(flat) @ np.abs(M) @ np.abs(flat)
        bound = eps**2 / 6 * (6 * np.abs(a) + 2 * np.abs(b) * np.abs(c) ** 3) + 10 * 2.2e-16 * size / eps
        expected = exercise.reference(f, x, **case.kwargs)
        assert np.all(np.abs(expected - exact) <= bound), case.note
        if "eps" in case.kwargs:
            forward = numerical_gradient_forward(f, x, eps)
            limit = exercise.tolerance * (1e-7 * np.abs(expected) + 1e-10 * max(np.abs(expected).max(), 1))
            assert (np.abs(forward - expected) > 10 * limit).any(), case.note


@pytest.mark.parametrize("seed", SEEDS)
def test_the_mixing_loss_given_to_numerical_gradient_has_its_analytic_gradient(seed):
    """Is the expected numerical gradient of f(Q) = Σ G ⊙ tanh(QKᵀ/√d) V the analytic one,
    dQ = ((G Vᵀ) ⊙ (1 − tanh²(S))) K/√d (an independent route to the same number)?"""
    exercise = registry.get("numerical_gradient")
    found = 0
    for case in registry.cases("numerical_gradient", True, seed):
        f, Q = case.args
        if f.kind != "tanh_mixing":
            continue
        K, V, G = f.params["K"], f.params["V"], f.params["G"]
        S = Q @ np.swapaxes(K, -1, -2) / math.sqrt(Q.shape[-1])
        dQ = ((G @ np.swapaxes(V, -1, -2)) * (1 - np.tanh(S) ** 2)) @ K / math.sqrt(Q.shape[-1])
        eps = case.kwargs.get("eps", 1e-6)
        np.testing.assert_allclose(exercise.reference(f, Q, **case.kwargs), dQ, rtol=0,
                                   atol=max(50 * eps**2, 1e-8))
        found += 1
    assert found


@pytest.mark.parametrize("seed", SEEDS)
def test_the_expected_attention_gradients_match_finite_differences(seed):
    """Do the reference gradients on the hidden cases agree with central differences of a plain
    forward pass, including masked and fully masked rows (zero there)?"""
    exercise = registry.get("scaled_dot_product_attention_backward")
    for case in registry.cases("scaled_dot_product_attention_backward", True, seed):
        dout, Q, K, V = (a.astype(np.float64) for a in case.args)
        mask = case.kwargs.get("mask")
        expected = exercise.reference(dout, Q, K, V, mask)

        def loss(Q, K, V, mask=mask, dout=dout):
            P = masked_weights(Q, K, mask)
            return float(np.sum(dout * (P @ V)))

        numeric = (_central(lambda q, K=K, V=V: loss(q, K, V), Q, 1e-5),
                   _central(lambda k, Q=Q, V=V: loss(Q, k, V), K, 1e-5),
                   _central(lambda v, Q=Q, K=K: loss(Q, K, v), V, 1e-5))
        for got, want in zip(expected, numeric, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_softmax_backward_cases_are_softmax_outputs(seed):
    """Is every y a softmax output along the case's axis (rows summing to one, or all zero)?"""
    for case in registry.cases("softmax_backward", True, seed):
        y, dy = case.args
        sums = y.sum(axis=case.kwargs.get("axis", -1))
        assert y.shape == dy.shape and y.dtype == dy.dtype and (y >= 0).all()
        assert np.all(np.isclose(sums, 1, atol=1e-5) | (sums == 0)), case.note


# ---- reversal_training: outcomes other than a named mistake, and the check's own ingredients ----

@pytest.mark.parametrize("backward", [attention_backward_unscaled_grads, attention_backward_dot_product],
                         ids=lambda f: f.__name__)
def test_a_backward_pass_that_is_wrong_but_still_trains_passes_the_training_check(backward):
    """Does the training check grade the training alone — passing a backward pass without its 1/√d_k,
    which still trains, while the backward check names that mistake?"""
    assert_passes("reversal_training", training_with(backward), seeds=SEEDS[:2])
    assert not verdict("scaled_dot_product_attention_backward", backward).passed


def test_a_backward_pass_that_raises_makes_the_training_check_point_at_it():
    """Does an error inside the learner's backward pass fail the training check with the error and a hint
    that the given training code is not the cause?"""
    result = verdict("reversal_training", training_with(attention_backward_no_keepdims), hidden=False)
    assert not result.passed and result.misconception == "raised"
    assert "ValueError" in result.message
    assert registry.get("reversal_training").hints["error_hint"] in result.message


def test_stubs_make_the_training_check_say_what_to_implement_first():
    """With the backward pass still a stub, does the training check say it is not implemented yet,
    naming the functions to write, rather than blaming the given training loop?"""
    result = verdict("reversal_training", training_with(attention_backward_stub), hidden=False)
    assert result.misconception == "not_implemented"
    assert "not implemented yet" in result.message
    assert "scaled_dot_product_attention_backward" in result.message
    assert "replace `raise NotImplementedError`" not in result.message


def test_the_failure_message_states_the_accuracy_the_target_and_where_to_look():
    """Does a failed training say which accuracy it reached, the target, and point at the backward pass
    and the gradient checks of section 5?"""
    result = verdict("reversal_training", training_with(attention_backward_sign_flipped), hidden=False)
    assert "held-out accuracy 0." in result.message and "target is ≥ 0.95" in result.message
    assert "within 300 steps" in result.message
    assert "scaled_dot_product_attention_backward" in result.message and "section 5" in result.message


def test_parameters_that_are_not_a_dict_of_arrays_are_refused():
    """Is a training function that returns something other than the parameters failed, not crashed on?"""
    train = training_with(attention_backward_einsum)

    def as_tuple(tokens, params, **kwargs):
        trained = train(tokens, params, **kwargs)
        return trained["W_q"], trained["W_k"]

    result = verdict("reversal_training", as_tuple, hidden=False)
    assert not result.passed and "should return the trained parameters" in result.message


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_each_named_training_outcome_is_what_its_own_mistake_produces(seed):
    """Does the trusted side classify each variant's own training run as that variant, and the
    reference's run as a pass?"""
    exercise = registry.get("reversal_training")
    given = given_namespace(exercise, registry.given_sources(exercise.notebook))
    (case,) = registry.cases("reversal_training", True, seed)
    trained = exercise.reference(*case.args, **case.kwargs)
    assert exercise.compare(given, case.args, case.kwargs, trained) is None
    for variant in exercise.variants:
        found = exercise.compare(given, case.args, case.kwargs, variant.fn(*case.args, **case.kwargs))
        assert isinstance(found, tuple) and found[0] == variant.key, (variant.key, found)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_held_out_set_is_every_other_sequence(seed):
    """Is the grader's held-out set exactly the 6⁶ sequences minus the training ones, without repeats?"""
    (case,) = registry.cases("reversal_training", True, seed)
    tokens = case.args[0]
    held = held_out_sequences(tokens, 6)
    training = {tuple(t) for t in tokens}
    assert len(held) == 6**6 - len(training)
    assert len({tuple(t) for t in held}) == len(held)
    assert not training & {tuple(t) for t in held}


def test_the_public_training_check_runs_the_notebooks_own_given_code():
    """Does the student package's public check of the training hold the notebook's given cells
    verbatim (the model exists once), and judge as the trusted side does?"""
    assert _entry("reversal_training")["given"] == given_cells()
    train = training_with(attention_backward_einsum)
    assert public_verdict("reversal_training", train)[0].passed
    flipped = training_with(attention_backward_sign_flipped)
    public = public_verdict("reversal_training", flipped)[0]
    assert public.misconception == verdict("reversal_training", flipped, hidden=False).misconception
    assert public.misconception == "loss_increased"
