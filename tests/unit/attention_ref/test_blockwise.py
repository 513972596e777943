"""Tests of attention_ref.blockwise: online_softmax, blockwise_attention, merge_attention_blocks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from ref_oracles import assert_close, random_shapes

from attention_ref import (
    blockwise_attention,
    causal_mask,
    merge_attention_blocks,
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


def _loop_merge(out_a, lse_a, out_b, lse_b):
    """Merge two blocks query by query with math.exp: weights e^(lse - max) over their sum (float64).

    A side with lse = -inf gets weight 0; when both are -inf the output is zero and the lse -inf.
    """
    batch = np.broadcast_shapes(out_a.shape[:-2], lse_a.shape[:-1], out_b.shape[:-2], lse_b.shape[:-1])
    n_q, d_v = out_a.shape[-2:]
    out_a, out_b = (np.broadcast_to(o, batch + (n_q, d_v)) for o in (out_a, out_b))
    lse_a, lse_b = (np.broadcast_to(s, batch + (n_q,)) for s in (lse_a, lse_b))
    out = np.zeros(batch + (n_q, d_v))
    lse = np.full(batch + (n_q,), -math.inf)
    for index in np.ndindex(batch + (n_q,)):
        la, lb = float(lse_a[index]), float(lse_b[index])
        if la == lb == -math.inf:
            continue
        m = max(la, lb)
        wa, wb = math.exp(la - m), math.exp(lb - m)
        lse[index] = m + math.log(wa + wb)
        for t in range(d_v):
            a, b = float(out_a[index + (t,)]), float(out_b[index + (t,)])
            out[index + (t,)] = (wa * a + wb * b) / (wa + wb)
    return out, lse


def _key_blocks(rng, n_k, count):
    """``count`` disjoint, non-empty, sorted sets of key indices that cover 0 … n_k-1, in random order."""
    cuts = np.sort(rng.choice(np.arange(1, n_k), size=count - 1, replace=False))
    return [np.sort(part) for part in np.split(rng.permutation(n_k), cuts)]


def _qkv_and_mask(rng, dtype, mask_kind, blocks):
    """Random Q, K, V with a batch axis, and a mask of shape (2, n_q, n_k) of the given kind.

    "fully-masked-rows" starts from a random mask, then hides from query 0 every key of the first
    block, from query 1 every key of the last block, and from query 2 every key.
    """
    n_q, n_k, d_k, d_v = 5, sum(len(b) for b in blocks), 3, 4
    Q = rng.standard_normal((2, n_q, d_k)).astype(dtype)
    K = rng.standard_normal((2, n_k, d_k)).astype(dtype)
    V = rng.standard_normal((2, n_k, d_v)).astype(dtype)
    if mask_kind == "none":
        return Q, K, V, None
    if mask_kind == "causal":
        return Q, K, V, np.broadcast_to(causal_mask(n_q, n_k), (2, n_q, n_k))
    mask = rng.random((2, n_q, n_k)) < 0.6
    if mask_kind == "fully-masked-rows":
        mask[:, 0, blocks[0]] = False
        mask[:, 1, blocks[-1]] = False
        mask[:, 2, :] = False
    return Q, K, V, mask


def _block(Q, K, V, mask, keys):
    """blockwise_attention over the keys ``keys`` only: (out, lse) of that block."""
    sub_mask = None if mask is None else mask[..., keys]
    return blockwise_attention(Q, K[..., keys, :], V[..., keys, :], sub_mask, block_size=2)


@pytest.mark.parametrize("mask_kind", ["none", "causal", "random", "fully-masked-rows"])
def test_merging_two_key_blocks_equals_attention_over_their_union(rng, dtype, mask_kind):
    """Does merging the (out, lse) of two disjoint key sets give attention over all keys, masks included?"""
    blocks = _key_blocks(rng, 7, 2)
    Q, K, V, mask = _qkv_and_mask(rng, dtype, mask_kind, blocks)
    (out_a, lse_a), (out_b, lse_b) = (_block(Q, K, V, mask, keys) for keys in blocks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, lse = merge_attention_blocks(out_a, lse_a, out_b, lse_b)
    assert out.dtype == lse.dtype == dtype
    assert out.shape == (2, 5, 4) and lse.shape == (2, 5)
    assert_close(out, scaled_dot_product_attention(Q, K, V, mask)[0], dtype)
    expected_lse = _lse(Q.astype(np.float64), K.astype(np.float64), mask)
    np.testing.assert_array_equal(np.isneginf(lse), np.isneginf(expected_lse))
    assert not np.isnan(out).any() and not np.isnan(lse).any()
    finite = np.isfinite(expected_lse)
    assert_close(lse[finite], expected_lse[finite], dtype)
    if mask_kind == "fully-masked-rows":
        np.testing.assert_array_equal(out[:, 2], 0)
        assert (lse[:, 2] == -np.inf).all()


def test_merging_three_blocks_in_any_order_and_grouping_gives_the_union(rng, dtype):
    """Is merging associative and commutative: ((a, b), c), (a, (b, c)), ((c, a), b), (b, (c, a))?"""
    blocks = _key_blocks(rng, 8, 3)
    Q, K, V, mask = _qkv_and_mask(rng, dtype, "fully-masked-rows", blocks)
    a, b, c = (_block(Q, K, V, mask, keys) for keys in blocks)
    expected = scaled_dot_product_attention(Q, K, V, mask)[0]
    groupings = [
        merge_attention_blocks(*merge_attention_blocks(*a, *b), *c),
        merge_attention_blocks(*a, *merge_attention_blocks(*b, *c)),
        merge_attention_blocks(*merge_attention_blocks(*c, *a), *b),
        merge_attention_blocks(*b, *merge_attention_blocks(*c, *a)),
    ]
    for out, lse in groupings:
        assert_close(out, expected, dtype)
        np.testing.assert_array_equal(np.isneginf(lse), np.isneginf(groupings[0][1]))
        finite = np.isfinite(lse)
        assert_close(lse[finite], groupings[0][1][finite], dtype)


def test_merging_with_an_empty_key_block_changes_nothing(rng):
    """Is a block over zero keys (zero output, lse -inf) the identity of merging?"""
    Q, K, V = (rng.standard_normal(s) for s in [(4, 3), (6, 3), (6, 2)])
    out_a, lse_a = blockwise_attention(Q, K, V, block_size=4)
    out_e, lse_e = blockwise_attention(Q, K[:0], V[:0], block_size=4)
    for out, lse in (merge_attention_blocks(out_a, lse_a, out_e, lse_e),
                     merge_attention_blocks(out_e, lse_e, out_a, lse_a)):
        assert_close(out, out_a)
        assert_close(lse, lse_a)


def test_a_side_with_minus_inf_lse_contributes_nothing_and_two_give_zeros(rng):
    """Is a block with lse = -inf ignored whatever its output, and are two such blocks zero with lse -inf?"""
    out_a, out_b = rng.standard_normal((2, 3, 4))
    lse_a = np.array([0.5, -math.inf, -math.inf])
    lse_b = np.array([-math.inf, 2.0, -math.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, lse = merge_attention_blocks(out_a, lse_a, out_b, lse_b)
    assert_close(out[0], out_a[0])
    assert_close(out[1], out_b[1])
    np.testing.assert_array_equal(out[2], 0)
    np.testing.assert_array_equal(lse, [0.5, 2.0, -math.inf])


@pytest.mark.parametrize(
    ("lse_a", "lse_b"),
    [(1e4, -1e4), (-1e4, 1e4), (1e4, 1e4 + math.log(3)), (-1e4, -1e4 + math.log(3)), (-1e4, -math.inf)],
)
def test_merging_huge_log_sum_exps_stays_finite_and_right(rng, dtype, lse_a, lse_b):
    """With lse of ±1e4 (e^lse over- or underflows), are out and lse finite and equal to a math.exp loop?"""
    out_a, out_b = rng.standard_normal((2, 3, 4)).astype(dtype)
    lse_a, lse_b = (np.full(3, v, dtype=dtype) for v in (lse_a, lse_b))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, lse = merge_attention_blocks(out_a, lse_a, out_b, lse_b)
    assert np.isfinite(out).all() and np.isfinite(lse).all()
    expected_out, expected_lse = _loop_merge(out_a, lse_a, out_b, lse_b)
    assert_close(out, expected_out, dtype)
    assert_close(lse, expected_lse, dtype)


def test_merge_broadcasts_batch_dimensions(rng):
    """Do blocks with batch shapes (2, 1) and (3,) merge to (2, 3), as a query-by-query loop finds?"""
    out_a = rng.standard_normal((2, 1, 4, 5))
    lse_a = rng.standard_normal((2, 1, 4))
    out_b = rng.standard_normal((3, 4, 5))
    lse_b = rng.standard_normal((4,))
    lse_b[1] = -math.inf
    out, lse = merge_attention_blocks(out_a, lse_a, out_b, lse_b)
    assert out.shape == (2, 3, 4, 5) and lse.shape == (2, 3, 4)
    expected_out, expected_lse = _loop_merge(out_a, lse_a, out_b, lse_b)
    assert_close(out, expected_out)
    assert_close(lse, expected_lse)


def test_merge_keeps_float32_promotes_mixed_dtypes_and_leaves_inputs_alone(rng):
    """Does float32 stay float32, float32 with float64 give float64, and are the inputs unchanged?"""
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((3, 2)),
              np.array([0.0, -math.inf, 1.0])]
    arrays32 = [a.astype(np.float32) for a in arrays]
    before = [a.copy() for a in arrays32]
    out, lse = merge_attention_blocks(*arrays32)
    assert out.dtype == lse.dtype == np.float32
    for a, b in zip(arrays32, before, strict=True):
        np.testing.assert_array_equal(a, b)
    out, lse = merge_attention_blocks(arrays32[0], arrays32[1], arrays[2], arrays[3])
    assert out.dtype == lse.dtype == np.float64


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        ([(3, 2), (4,), (3, 2), (3,)], r"out_a \(3, 2\).*lse_a \(4,\)"),
        ([(3, 2), (3,), (3, 5), (3,)], r"out_a \(3, 2\).*out_b \(3, 5\)"),
        ([(3, 2), (3,), (4, 2), (4,)], r"out_a \(3, 2\).*out_b \(4, 2\)"),
        ([(2, 3, 2), (2, 3), (4, 3, 2), (4, 3)], r"out_a \(2, 3, 2\).*out_b \(4, 3, 2\)"),
        ([(2,), (2,), (3, 2), (3,)], r"out_a.*\(2,\)"),
        ([(3, 2), (), (3, 2), (3,)], r"lse_a.*\(\)"),
    ],
    ids=["lse-vs-out", "d_v", "n_q", "batch", "1-d-out", "0-d-lse"],
)
def test_merge_rejects_shapes_that_do_not_fit_naming_them(shapes, match):
    """Do blocks whose n_q, d_v or batch dimensions disagree raise a ValueError naming the shapes?"""
    with pytest.raises(ValueError, match=match):
        merge_attention_blocks(*(np.zeros(s) for s in shapes))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_merge_rejects_a_log_sum_exp_that_is_nan_or_plus_inf(bad):
    """Is an lse of NaN or +inf (never produced by attention) a ValueError rather than a NaN output?"""
    with pytest.raises(ValueError, match="lse_b"):
        merge_attention_blocks(np.zeros((2, 3)), np.zeros(2), np.zeros((2, 3)), np.array([0.0, bad]))
