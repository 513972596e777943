"""Tests of attention_ref.dot_product (and the masks it is used with)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from ref_oracles import assert_close, loop_attention, random_shapes

from attention_ref import causal_mask, dot_product_attention, padding_mask, scaled_dot_product_attention


def _inputs(rng, dtype):
    batch, n_q, n_k, d_k, d_v = random_shapes(rng)
    Q = rng.standard_normal(batch + (n_q, d_k)).astype(dtype)
    K = rng.standard_normal(batch + (n_k, d_k)).astype(dtype)
    V = rng.standard_normal(batch + (n_k, d_v)).astype(dtype)
    return Q, K, V


def _loop_batched(Q, K, V, mask, scale):
    """The loop oracle over every batch index (mask broadcast to the scores' shape)."""
    batch = Q.shape[:-2]
    mask = None if mask is None else np.broadcast_to(mask, batch + (Q.shape[-2], K.shape[-2]))
    out = np.zeros(batch + (Q.shape[-2], V.shape[-1]))
    weights = np.zeros(batch + (Q.shape[-2], K.shape[-2]))
    for b in np.ndindex(batch):
        out[b], weights[b] = loop_attention(Q[b], K[b], V[b], None if mask is None else mask[b], scale)
    return out, weights


def _random_mask(rng, shape):
    mask = rng.random(shape) < 0.6
    mask[..., 0, :] = False  # one fully masked query
    return mask


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "random-mask"])
def test_scaled_attention_matches_the_loop_oracle(rng, dtype, masked):
    """Does scaled dot-product attention equal softmax(QKᵀ/√d_k)V computed key by key?"""
    Q, K, V = _inputs(rng, dtype)
    mask = _random_mask(rng, Q.shape[:-1] + (K.shape[-2],)) if masked else None
    out, weights = scaled_dot_product_attention(Q, K, V, mask)
    expected_out, expected_w = _loop_batched(Q, K, V, mask, 1 / math.sqrt(Q.shape[-1]))
    assert out.dtype == dtype and weights.dtype == dtype
    assert_close(out, expected_out, dtype)
    assert_close(weights, expected_w, dtype)


def test_unscaled_attention_does_not_divide_by_sqrt_dk(rng):
    """Is dot_product_attention softmax(QKᵀ)V, without the √d_k the source wrongly keeps?"""
    Q, K, V = _inputs(rng, np.float64)
    out, weights = dot_product_attention(Q, K, V)
    expected_out, expected_w = _loop_batched(Q, K, V, None, 1.0)
    assert_close(out, expected_out)
    assert_close(weights, expected_w)


def test_fully_masked_queries_get_zero_weights_and_output_without_warnings(rng, dtype):
    """Does a query with no allowed key get zeros, with no NaN and no RuntimeWarning?"""
    Q, K, V = (rng.standard_normal(s).astype(dtype) for s in [(4, 3), (5, 3), (5, 2)])
    mask = np.ones((4, 5), dtype=bool)
    mask[1] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, weights = scaled_dot_product_attention(Q, K, V, mask)
    np.testing.assert_array_equal(weights[1], 0)
    np.testing.assert_array_equal(out[1], 0)
    assert_close(np.delete(weights, 1, axis=0).sum(-1), np.ones(3), dtype)


def test_weights_sum_to_one_over_attended_keys_and_are_zero_elsewhere(rng):
    """Do rows sum to one over allowed keys and give exactly zero to masked keys?"""
    Q, K, V = (rng.standard_normal(s) for s in [(2, 6, 4), (2, 7, 4), (2, 7, 3)])
    mask = padding_mask([3, 7], 7)
    _, weights = scaled_dot_product_attention(Q, K, V, mask)
    assert_close(weights.sum(-1), np.ones((2, 6)))
    np.testing.assert_array_equal(weights[0, :, 3:], 0)


def test_causal_attention_never_looks_ahead(rng):
    """Are the weights above the diagonal zero, and is the first query's output its first value?"""
    X = rng.standard_normal((6, 4))
    V = rng.standard_normal((6, 3))
    out, weights = scaled_dot_product_attention(X, X, V, causal_mask(6))
    np.testing.assert_array_equal(np.triu(weights, k=1), 0)
    assert_close(out[0], V[0])


def test_self_attention_is_permutation_equivariant(rng):
    """Does permuting the tokens permute the outputs and the weights the same way?"""
    X = rng.standard_normal((7, 4))
    perm = rng.permutation(7)
    out, weights = scaled_dot_product_attention(X, X, X)
    out_p, weights_p = scaled_dot_product_attention(X[perm], X[perm], X[perm])
    assert_close(out_p, out[perm])
    assert_close(weights_p, weights[perm][:, perm])


@pytest.mark.parametrize("magnitude", [1e3, 1e4])
def test_huge_logits_give_finite_correct_results(rng, magnitude):
    """Do logits of magnitude 1e3–1e4 give the loop oracle's finite answer?"""
    Q = rng.standard_normal((3, 4)) * math.sqrt(magnitude)
    K = rng.standard_normal((5, 4)) * math.sqrt(magnitude)
    V = rng.standard_normal((5, 2))
    out, weights = scaled_dot_product_attention(Q, K, V)
    expected_out, expected_w = loop_attention(Q, K, V)
    assert np.isfinite(out).all()
    assert_close(out, expected_out)
    assert_close(weights, expected_w)


def test_inputs_are_not_modified_and_integers_become_float64():
    """Are the inputs left as they were, and do integer inputs give float64?"""
    Q = np.arange(6).reshape(2, 3)
    K = np.arange(12).reshape(4, 3) % 5
    V = np.arange(8).reshape(4, 2)
    copies = [a.copy() for a in (Q, K, V)]
    mask = causal_mask(2, 4)
    out, weights = scaled_dot_product_attention(Q, K, V, mask)
    for a, b in zip((Q, K, V), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    assert out.dtype == weights.dtype == np.float64


@pytest.mark.parametrize(
    ("shapes", "pattern"),
    [
        (((2, 3), (4, 5), (4, 2)), r"d_k.*\(2, 3\).*\(4, 5\)"),
        (((2, 3), (4, 3), (5, 2)), r"n_k.*\(4, 3\).*\(5, 2\)"),
        (((2, 2, 3), (3, 4, 3), (3, 4, 2)), r"batch.*\(2, 2, 3\)"),
        (((3,), (4, 3), (4, 2)), r"\(3,\)"),
    ],
    ids=["d_k", "n_k", "batch", "ndim"],
)
def test_mismatched_shapes_raise_a_value_error_naming_them(shapes, pattern):
    """Do incompatible Q, K, V raise ValueError naming the shapes?"""
    with pytest.raises(ValueError, match=pattern):
        scaled_dot_product_attention(*(np.ones(s) for s in shapes))


def test_a_non_boolean_or_misshapen_mask_is_rejected():
    """Do an integer mask and a mask of the wrong shape raise ValueError?"""
    Q, K, V = np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 2))
    with pytest.raises(ValueError, match="boolean"):
        scaled_dot_product_attention(Q, K, V, np.ones((2, 4), dtype=int))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(2, 4\)"):
        scaled_dot_product_attention(Q, K, V, np.ones((3, 4), dtype=bool))
