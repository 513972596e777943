"""Tests of attention_ref.single_query: dot_scores, attention_weights, weighted_sum, attend."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ref_oracles import assert_close, loop_softmax

from attention_ref import attend, attention_weights, dot_scores, weighted_sum


@pytest.fixture
def one_query(rng):
    """A query, 5 keys of size 4 and 5 values of size 3, with a batch of 2."""
    return (rng.standard_normal((2, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3)))


def test_dot_scores_are_the_dot_products_with_each_key(one_query):
    """Is scores[b, i] = sum_t q[b, t] K[b, i, t]?"""
    q, K, _ = one_query
    expected = [[sum(q[b, t] * K[b, i, t] for t in range(4)) for i in range(5)] for b in range(2)]
    assert_close(dot_scores(q, K), expected)


def test_attention_weights_are_the_softmax_of_the_dot_products(one_query):
    """Is w_i = exp(q·k_i) / Σ_j exp(q·k_j) (F5)?"""
    q, K, _ = one_query
    expected = [loop_softmax([float(q[b] @ K[b, i]) for i in range(5)]) for b in range(2)]
    assert_close(attention_weights(q, K), expected)


def test_weighted_sum_adds_up_the_weighted_values(rng):
    """Is a = Σ_i w_i v_i (F7)?"""
    w = rng.random((2, 5))
    V = rng.standard_normal((2, 5, 3))
    expected = [[sum(w[b, i] * V[b, i, t] for i in range(5)) for t in range(3)] for b in range(2)]
    assert_close(weighted_sum(w, V), expected)


def test_attend_returns_a_then_q_when_asked(one_query):
    """Does attend(concat_query=True) return [a; q] with a first (F8)?"""
    q, K, V = one_query
    a = attend(q, K, V)
    both = attend(q, K, V, concat_query=True)
    assert a.shape == (2, 3) and both.shape == (2, 7)
    assert_close(both[:, :3], a)
    assert_close(both[:, 3:], q)
    expected_a = weighted_sum(attention_weights(q, K), V)
    assert_close(a, expected_a)


def test_a_query_broadcasts_against_a_batch_of_keys(rng):
    """Does one query (d,) attend over a batch of keys (B, n, d)?"""
    q = rng.standard_normal(4)
    K = rng.standard_normal((3, 6, 4))
    V = rng.standard_normal((3, 6, 2))
    assert attend(q, K, V, concat_query=True).shape == (3, 6)
    assert_close(dot_scores(q, K)[1], K[1] @ q)


def test_float32_stays_float32(rng):
    """Do float32 inputs give float32 outputs?"""
    q = rng.standard_normal(4).astype(np.float32)
    K = rng.standard_normal((5, 4)).astype(np.float32)
    V = rng.standard_normal((5, 2)).astype(np.float32)
    assert attend(q, K, V, concat_query=True).dtype == np.float32


def test_huge_scores_give_finite_weights():
    """Are weights finite when q·k is of order 1e4?"""
    q = np.array([100.0, 100.0])
    K = np.array([[50.0, 50.0], [49.0, 50.0]])
    w = attention_weights(q, K)
    assert np.isfinite(w).all()
    assert_close(w, loop_softmax([1e4, 9.9e3]))
    assert math.isclose(w.sum(), 1.0)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: dot_scores(np.ones(3), np.ones((5, 4))), r"\(3,\).*\(5, 4\)"),
        (lambda: weighted_sum(np.ones(5), np.ones((4, 2))), r"\(5,\).*\(4, 2\)"),
        (lambda: attend(np.ones(2), np.ones((5, 2)), np.ones((4, 3))), r"\(5, 2\).*\(4, 3\)"),
    ],
    ids=["dot_scores", "weighted_sum", "attend"],
)
def test_mismatched_shapes_raise_a_value_error_naming_them(call, pattern):
    """Do mismatched sizes raise ValueError with the shapes in the message?"""
    with pytest.raises(ValueError, match=pattern):
        call()
