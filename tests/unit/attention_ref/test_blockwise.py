"""Tests of attention_ref.blockwise: online_softmax and blockwise_attention."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ref_oracles import assert_close, random_shapes

from attention_ref import (
    blockwise_attention,
    causal_mask,
    online_softmax,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
)


@pytest.mark.parametrize("block_size", [1, 2, 3, 7, 64])
def test_online_softmax_equals_softmax(rng, dtype, block_size):
    """Does the streaming softmax equal softmax for block sizes that do and do not divide n?"""
    x = (rng.standard_normal((3, 2, 10)) * 5).astype(dtype)
    got = online_softmax(x, block_size)
    assert got.dtype == dtype
    assert_close(got, softmax(x), dtype)


def test_online_softmax_rescales_when_the_max_grows():
    """Is the answer right when every block raises the running max (1e4 logits, increasing)?"""
    x = np.linspace(-1e4, 1e4, 12)[None, :]
    assert_close(online_softmax(x, 3), softmax(x))
    assert np.isfinite(online_softmax(x, 3)).all()


def _lse(Q, K, mask):
    """log Σ_j exp(s_ij) over attended keys, by a loop over queries (float64)."""
    scores = (Q @ K.swapaxes(-2, -1)) / np.sqrt(Q.shape[-1])
    mask = np.broadcast_to(mask, scores.shape) if mask is not None else np.ones(scores.shape, bool)
    lse = np.full(scores.shape[:-1], -np.inf)
    for index in np.ndindex(scores.shape[:-1]):
        kept = scores[index][mask[index]]
        if kept.size:
            m = kept.max()
            lse[index] = m + np.log(np.exp(kept - m).sum())
    return lse


@pytest.mark.parametrize("block_size", [1, 2, 5, 16, 1000])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "random"])
def test_blockwise_attention_equals_scaled_dot_product_attention(rng, dtype, block_size, mask_kind):
    """Do out and lse agree with the full computation, for many block sizes and masks?"""
    batch, n_q, n_k, d_k, d_v = random_shapes(rng)
    batch = (2,) + batch[1:]
    Q = rng.standard_normal(batch + (n_q, d_k)).astype(dtype)
    K = rng.standard_normal(batch + (n_k, d_k)).astype(dtype)
    V = rng.standard_normal(batch + (n_k, d_v)).astype(dtype)
    mask = {
        "none": None,
        "causal": causal_mask(n_q, n_k),
        "padding": padding_mask([0, n_k], n_k).reshape((2,) + (1,) * (len(batch) - 1) + (1, n_k)),
        "random": rng.random(batch + (n_q, n_k)) < 0.5,
    }[mask_kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, lse = blockwise_attention(Q, K, V, mask, block_size)
    expected, _ = scaled_dot_product_attention(Q, K, V, mask)
    assert out.dtype == lse.dtype == dtype
    assert_close(out, expected, dtype)
    expected_lse = _lse(Q.astype(np.float64), K.astype(np.float64), mask)
    np.testing.assert_array_equal(np.isinf(lse), np.isinf(expected_lse))
    finite = np.isfinite(expected_lse)
    assert_close(lse[finite], expected_lse[finite], dtype)


def test_blockwise_fully_masked_queries_get_zero_output_and_minus_inf_lse(rng):
    """Does a query with no attended key get a zero output and lse = -inf?"""
    Q, K, V = (rng.standard_normal(s) for s in [(5, 3), (9, 3), (9, 2)])
    mask = np.ones((5, 9), dtype=bool)
    mask[3] = False
    out, lse = blockwise_attention(Q, K, V, mask, block_size=4)
    np.testing.assert_array_equal(out[3], 0)
    assert lse[3] == -np.inf and np.isfinite(np.delete(lse, 3)).all()


def test_blockwise_handles_huge_logits(rng):
    """Are results finite and right when the scaled scores reach 1e4?"""
    Q = rng.standard_normal((6, 4)) * 100
    K = rng.standard_normal((11, 4)) * 100
    V = rng.standard_normal((11, 3))
    out, _ = blockwise_attention(Q, K, V, block_size=4)
    assert_close(out, scaled_dot_product_attention(Q, K, V)[0])


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_block_size_below_one_is_rejected(bad):
    """Does a block size that is not a positive integer raise ValueError naming it?"""
    with pytest.raises(ValueError, match="block_size"):
        online_softmax(np.ones((2, 3)), bad)
    with pytest.raises(ValueError, match="block_size"):
        blockwise_attention(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)), block_size=bad)


def test_blockwise_never_allocates_the_full_score_matrix(rng):
    """Is the peak allocation far below one (n_q, n_k) float64 matrix?"""
    import tracemalloc

    n = 2048
    Q, K, V = (rng.standard_normal((n, 16)) for _ in range(3))
    tracemalloc.start()
    blockwise_attention(Q, K, V, causal_mask(n), block_size=64)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    full = n * n * 8
    mask_bytes = n * n  # the caller's causal mask itself is an input (bool, 1 byte a cell)
    assert peak < mask_bytes + full / 20
