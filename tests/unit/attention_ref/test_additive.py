"""Tests of attention_ref.additive: additive_scores and additive_attention."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ref_oracles import assert_close, loop_softmax

from attention_ref import additive_attention, additive_scores, causal_mask


@pytest.fixture
def params(rng):
    """Queries of size 3, keys of size 5, a hidden layer of 4, a batch of 2."""
    return dict(Q=rng.standard_normal((2, 3, 3)), K=rng.standard_normal((2, 6, 5)),
                W_q=rng.standard_normal((3, 4)), W_k=rng.standard_normal((5, 4)),
                w_v=rng.standard_normal(4))


def _loop_score(q, k, W_q, W_k, w_v):
    hidden = [math.tanh(sum(q[a] * W_q[a, u] for a in range(len(q)))
                        + sum(k[a] * W_k[a, u] for a in range(len(k)))) for u in range(len(w_v))]
    return sum(h * w for h, w in zip(hidden, w_v, strict=True))


def test_additive_scores_match_a_loop_over_pairs(params):
    """Is score[i, j] = tanh(q_i W_q + k_j W_k) · w_v for every pair?"""
    p = params
    expected = [[[_loop_score(p["Q"][b, i], p["K"][b, j], p["W_q"], p["W_k"], p["w_v"])
                  for j in range(6)] for i in range(3)] for b in range(2)]
    assert_close(additive_scores(**p), expected)


def test_additive_attention_is_the_softmax_of_the_scores_times_v(params, rng):
    """Are the weights the (masked) softmax of the scores and the output weights @ V (F6)?"""
    V = rng.standard_normal((2, 6, 2))
    mask = causal_mask(3, 6)
    out, weights = additive_attention(params["Q"], params["K"], V, params["W_q"], params["W_k"],
                                      params["w_v"], mask=mask)
    scores = additive_scores(**params)
    for b in range(2):
        for i in range(3):
            row = [float(s) if mask[i, j] else -math.inf for j, s in enumerate(scores[b, i])]
            assert_close(weights[b, i], loop_softmax(row))
            assert_close(out[b, i], sum(weights[b, i, j] * V[b, j] for j in range(6)))


def test_additive_attention_keeps_float32_and_zeroes_fully_masked_rows(params, rng):
    """Does float32 stay float32, and does a fully masked query give zeros?"""
    p = {k: v.astype(np.float32) for k, v in params.items()}
    V = rng.standard_normal((2, 6, 2)).astype(np.float32)
    mask = np.ones((3, 6), dtype=bool)
    mask[2] = False
    out, weights = additive_attention(p["Q"], p["K"], V, p["W_q"], p["W_k"], p["w_v"], mask)
    assert out.dtype == weights.dtype == np.float32
    np.testing.assert_array_equal(out[:, 2], 0)
    np.testing.assert_array_equal(weights[:, 2], 0)


def test_mismatched_projection_shapes_raise(params):
    """Does a W_q that does not fit Q raise ValueError naming the shapes?"""
    with pytest.raises(ValueError, match=r"W_q \(4, 4\)"):
        additive_scores(params["Q"], params["K"], np.ones((4, 4)), params["W_k"], params["w_v"])
    with pytest.raises(ValueError, match=r"w_v \(3,\)"):
        additive_scores(params["Q"], params["K"], params["W_q"], params["W_k"], np.ones(3))
