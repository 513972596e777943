"""Tests of attention_ref.induction: the training pieces and head scores of notebook 07."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ref_oracles import GRADIENT_TOLERANCE, assert_close, central_differences

from attention_ref import (
    adam_update,
    causal_mask,
    cross_entropy,
    cross_entropy_backward,
    embedding_backward,
    induction_score,
    induction_targets,
    previous_token_score,
    repeated_random_tokens,
    softmax,
)


def _random_causal_weights(rng, shape):
    """Random attention maps (..., n, n) whose rows sum to one over the keys j <= i."""
    n = shape[-1]
    return softmax(np.where(causal_mask(n), rng.standard_normal(shape) * 2, -np.inf))


# ---- repeated_random_tokens ----------------------------------------------------------------------


def test_repeated_random_tokens_repeat_their_first_half_after_a_bos_each(rng):
    """Is every sequence BOS x BOS x, with x of L ids in [0, V) and BOS = V?"""
    tokens = repeated_random_tokens(rng, 5, 7, 11)
    assert tokens.shape == (5, 16) and tokens.dtype.kind == "i"
    np.testing.assert_array_equal(tokens[:, [0, 8]], 11)
    np.testing.assert_array_equal(tokens[:, 9:], tokens[:, 1:8])
    assert tokens[:, 1:8].min() >= 0 and tokens[:, 1:8].max() < 11


def test_a_perfect_induction_head_on_repeated_random_tokens_scores_one():
    """Does attending from each second-half position p to p − L (the token after the first copy) score 1?"""
    L = 6
    tokens = repeated_random_tokens(np.random.default_rng(5), 1, L, 1000)[0]  # no repeats inside a half
    n = len(tokens)
    A = np.eye(n)
    for p in range(L + 1, n):
        A[p] = 0.0
        A[p, p - L] = 1.0
    assert len(set(tokens[1:L + 1].tolist())) == L
    assert induction_score(A, tokens) == pytest.approx(1.0)


def test_repeated_random_tokens_depend_only_on_the_generator():
    """Do two generators with the same seed give the same tokens, and different seeds others?"""
    a, b, c = (repeated_random_tokens(np.random.default_rng(s), 4, 6, 50) for s in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ---- cross_entropy -------------------------------------------------------------------------------


def _loop_cross_entropy(row, target):
    """-log softmax(row)[target] with math.exp and math.log, one row of floats."""
    m = max(row)
    return -(row[target] - m - math.log(sum(math.exp(z - m) for z in row)))


def test_cross_entropy_matches_a_loop_over_predictions(rng, dtype):
    """Is each loss −log softmax(logits)[target], computed row by row with math.log?"""
    logits = (rng.standard_normal((2, 3, 6)) * 3).astype(dtype)
    targets = rng.integers(0, 6, size=(2, 3))
    expected = [[_loop_cross_entropy(list(map(float, logits[b, i])), int(targets[b, i])) for i in range(3)]
                for b in range(2)]
    got = cross_entropy(logits, targets)
    assert got.shape == (2, 3) and got.dtype == dtype
    assert_close(got, expected, dtype)


def test_cross_entropy_of_uniform_logits_is_log_vocabulary_size():
    """Do equal logits (chance) give log V whatever the target?"""
    np.testing.assert_allclose(cross_entropy(np.full((4, 32), 2.5), np.arange(4)), np.log(32), rtol=1e-12)


def test_cross_entropy_of_huge_logits_is_finite():
    """Do logits of ±1e4 give a finite loss: 0 for the winning target, 2e4 for a losing one?"""
    logits = np.array([[1e4, -1e4], [1e4, -1e4]])
    np.testing.assert_allclose(cross_entropy(logits, np.array([0, 1])), [0.0, 2e4])


def test_cross_entropy_rejects_bad_targets():
    """Do non-integer, misshapen or out-of-range targets raise a ValueError naming the problem?"""
    logits = np.zeros((3, 5))
    with pytest.raises(ValueError, match="integers"):
        cross_entropy(logits, np.zeros(3))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        cross_entropy(logits, np.zeros((3, 1), dtype=int))
    with pytest.raises(ValueError, match=r"\[0, V=5\)"):
        cross_entropy(logits, np.array([0, 5, 1]))


# ---- cross_entropy_backward ----------------------------------------------------------------------


def test_cross_entropy_backward_matchescentral_differences(rng):
    """Is it the gradient of L = Σ dloss · cross_entropy(logits, targets), for a random dloss?"""
    logits = rng.standard_normal((2, 4, 5))
    targets = rng.integers(0, 5, size=(2, 4))
    dloss = rng.standard_normal((2, 4))
    numeric = central_differences(lambda z: float(np.sum(dloss * cross_entropy(z, targets))), logits)
    rtol, atol = GRADIENT_TOLERANCE
    np.testing.assert_allclose(cross_entropy_backward(dloss, logits, targets), numeric, rtol=rtol, atol=atol)


def test_cross_entropy_backward_rows_sum_to_zero_and_push_the_target_down(rng, dtype):
    """Does each row sum to 0, with the only negative entry at the target (for dloss > 0)?"""
    logits = rng.standard_normal((6, 7)).astype(dtype)
    targets = rng.integers(0, 7, size=6)
    grad = cross_entropy_backward(np.ones(6, dtype=dtype), logits, targets)
    assert grad.dtype == dtype
    assert_close(grad.sum(axis=-1), np.zeros(6), dtype)
    np.testing.assert_array_equal(np.argmin(grad, axis=-1), targets)
    assert (np.delete(grad, targets + 7 * np.arange(6)) > 0).all()


def test_cross_entropy_backward_rejects_a_misshapen_dloss():
    """Does a dloss of the logits' shape (instead of without the last axis) raise a ValueError?"""
    with pytest.raises(ValueError, match=r"\(3,\)"):
        cross_entropy_backward(np.ones((3, 5)), np.zeros((3, 5)), np.zeros(3, dtype=int))


# ---- embedding_backward --------------------------------------------------------------------------


def test_embedding_backward_matches_finite_differences_with_repeated_tokens(rng):
    """Is it the gradient of L = Σ dout · W_E[tokens] with respect to W_E, tokens repeated?"""
    W_E = rng.standard_normal((6, 3))
    tokens = np.array([[1, 4, 1, 1], [0, 4, 2, 1]])  # 1 three times, 4 twice, 3 and 5 never
    dout = rng.standard_normal((2, 4, 3))
    numeric = central_differences(lambda W: float(np.sum(dout * W[tokens])), W_E)
    got = embedding_backward(dout, tokens, 6)
    rtol, atol = GRADIENT_TOLERANCE
    np.testing.assert_allclose(got, numeric, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(got[[3, 5]], 0.0)


def test_embedding_backward_matches_a_loop_over_positions(rng, dtype):
    """Does row t collect the sum of dout over the positions holding t (float32 kept)?"""
    tokens = rng.integers(0, 5, size=(3, 7))
    dout = rng.standard_normal((3, 7, 4)).astype(dtype)
    expected = np.zeros((5, 4))
    for b in range(3):
        for p in range(7):
            expected[tokens[b, p]] += dout[b, p]
    got = embedding_backward(dout, tokens, 5)
    assert got.shape == (5, 4) and got.dtype == dtype
    assert_close(got, expected, dtype)


def test_embedding_backward_rejects_a_token_outside_the_vocabulary():
    """Does a token id >= vocab_size raise a ValueError naming vocab_size?"""
    with pytest.raises(ValueError, match="vocab_size=3"):
        embedding_backward(np.ones((2, 4)), np.array([0, 3]), 3)


# ---- adam_update ---------------------------------------------------------------------------------


def _loop_adam(param, grads, lr, beta1, beta2, eps):
    """Adam on a list of floats, one entry and one step at a time (Kingma & Ba, algorithm 1)."""
    theta, m, v = list(param), [0.0] * len(param), [0.0] * len(param)
    for t, g in enumerate(grads, start=1):
        for i in range(len(theta)):
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2
            m_hat, v_hat = m[i] / (1 - beta1**t), v[i] / (1 - beta2**t)
            theta[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
    return theta, m, v


def test_adam_update_matches_a_loop_over_three_steps(rng):
    """Do three chained steps agree with the algorithm run entry by entry?"""
    param = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(3)]
    p, m, v = param, np.zeros(5), np.zeros(5)
    for t, g in enumerate(grads, start=1):
        p, m, v = adam_update(p, g, m, v, t, lr=0.01, beta1=0.8, beta2=0.95, eps=1e-6)
    expected = _loop_adam(list(param), [list(g) for g in grads], 0.01, 0.8, 0.95, 1e-6)
    for got, want in zip((p, m, v), expected, strict=True):
        assert_close(got, want)


def test_adam_first_step_moves_every_entry_by_the_learning_rate(rng):
    """Is the first step −lr · sign(g), whatever the gradient's scale (the bias correction)?"""
    param = rng.standard_normal((3, 4))
    grad = rng.standard_normal((3, 4)) * np.logspace(-3, 3, 12).reshape(3, 4)
    new, _, _ = adam_update(param, grad, np.zeros((3, 4)), np.zeros((3, 4)), 1, lr=0.05)
    np.testing.assert_allclose(new - param, -0.05 * np.sign(grad), rtol=1e-4)


def test_adam_update_keeps_float32_and_leaves_its_inputs_alone(rng):
    """Do float32 inputs give float32 outputs, with param, grad, m and v unchanged?"""
    arrays = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
    arrays[3] = np.abs(arrays[3])
    copies = [a.copy() for a in arrays]
    out = adam_update(*arrays, t=4, lr=1e-2)
    assert all(x.dtype == np.float32 for x in out)
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_adam_update_rejects_mismatched_shapes_and_step_zero():
    """Do a moment of another shape, or t = 0, raise a ValueError naming them?"""
    with pytest.raises(ValueError, match=r"m \(3,\)"):
        adam_update(np.ones(2), np.ones(2), np.ones(3), np.ones(2), 1, 0.1)
    with pytest.raises(ValueError, match="t must be a positive integer"):
        adam_update(np.ones(2), np.ones(2), np.ones(2), np.ones(2), 0, 0.1)


# ---- previous_token_score ------------------------------------------------------------------------


def test_previous_token_score_matches_a_loop(rng, dtype):
    """Is it the mean of A[i, i−1] over i = 1 … n−1, for every map of a batch?"""
    A = _random_causal_weights(rng, (2, 3, 6, 6)).astype(dtype)
    expected = [[sum(float(A[b, h, i, i - 1]) for i in range(1, 6)) / 5 for h in range(3)] for b in range(2)]
    got = previous_token_score(A)
    assert got.shape == (2, 3) and got.dtype == dtype
    assert_close(got, expected, dtype)


def test_previous_token_score_is_one_for_a_previous_token_head_and_harmonic_for_uniform():
    """Does the shifted identity score 1, and uniform causal attention the mean of 1/(i+1)?"""
    n = 8
    shifted = np.eye(n, k=-1)
    shifted[0, 0] = 1.0
    assert previous_token_score(shifted) == pytest.approx(1.0)
    uniform = causal_mask(n) / np.arange(1, n + 1)[:, None]
    assert previous_token_score(uniform) == pytest.approx(np.mean(1 / np.arange(2, n + 1)))


# ---- induction_targets and induction_score -------------------------------------------------------


def _loop_induction_score(A, tokens):
    """The definition, query by query: mean over queries with an earlier occurrence of their token."""
    n = len(tokens)
    per_query = []
    for i in range(n):
        targets = [j for j in range(1, i + 1) if tokens[j - 1] == tokens[i]]
        if targets:
            per_query.append(sum(float(A[i, j]) for j in targets))
    return sum(per_query) / len(per_query) if per_query else 0.0


def test_induction_targets_match_a_loop(rng):
    """Is M[i, j] True exactly when 1 <= j <= i and tokens[j−1] == tokens[i]?"""
    tokens = rng.integers(0, 3, size=(2, 9))
    M = induction_targets(tokens)
    for b in range(2):
        for i in range(9):
            for j in range(9):
                assert M[b, i, j] == (1 <= j <= i and tokens[b, j - 1] == tokens[b, i])


def test_induction_score_matches_a_loop_on_sequences_with_repeats(rng, dtype):
    """Does it agree with the definition on random maps, with tokens repeated in all sorts of places?"""
    tokens = rng.integers(0, 4, size=(3, 10))  # few token ids: many earlier occurrences
    A = _random_causal_weights(rng, (3, 2, 10, 10)).astype(dtype)
    got = induction_score(A, tokens[:, None, :])
    assert got.shape == (3, 2) and got.dtype == dtype
    expected = [[_loop_induction_score(A[b, h], list(tokens[b])) for h in range(2)] for b in range(3)]
    assert_close(got, expected, dtype)


def test_induction_score_is_one_for_a_perfect_induction_head():
    """Does attending from i to i − L + 1 in the repeated half (first half distinct) score 1?"""
    L = 6
    tokens = np.concatenate([np.arange(L), np.arange(L)])  # no repeat inside the first half
    A = np.eye(2 * L)  # first half: attend to itself (not counted: no earlier occurrence)
    for i in range(L, 2 * L):
        A[i] = 0.0
        A[i, i - L + 1] = 1.0
    assert induction_score(A, tokens) == pytest.approx(1.0)
    assert previous_token_score(A) < 0.2


def test_induction_score_is_zero_without_any_repeated_token():
    """Does a sequence of distinct tokens (no eligible query) give 0, without a NaN or warning?"""
    A = causal_mask(5) / np.arange(1, 6)[:, None]
    assert induction_score(A, np.arange(5)) == 0.0


def test_induction_score_rejects_tokens_of_another_length():
    """Do tokens of length 4 with maps of 5 positions raise a ValueError naming both shapes?"""
    with pytest.raises(ValueError, match=r"\(4,\).*\(5, 5\)"):
        induction_score(np.eye(5), np.arange(4))
