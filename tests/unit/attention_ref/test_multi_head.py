"""Tests of attention_ref.multi_head."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ref_oracles import assert_close, loop_attention

from attention_ref import (
    init_multi_head_params,
    merge_heads,
    multi_head_attention,
    padding_mask,
    split_heads,
)


def test_head_i_owns_its_block_of_columns(rng):
    """Does head i hold columns i·d_head … (i+1)·d_head−1, and does merge_heads undo the split?"""
    X = rng.standard_normal((2, 5, 12))
    heads = split_heads(X, 3)
    assert heads.shape == (2, 3, 5, 4)
    for i in range(3):
        np.testing.assert_array_equal(heads[:, i], X[..., 4 * i:4 * (i + 1)])
    np.testing.assert_array_equal(merge_heads(heads), X)


def test_split_heads_rejects_a_head_count_that_does_not_divide_d_model():
    """Does num_heads=5 with d_model=12 raise a ValueError naming both?"""
    with pytest.raises(ValueError, match=r"num_heads=5.*d_model=12"):
        split_heads(np.ones((3, 12)), 5)


def test_init_multi_head_params_has_the_documented_shapes(rng):
    """Does init give four (d, d) weights and, with bias, four (d,) biases?"""
    p = init_multi_head_params(8, rng)
    assert sorted(p) == ["W_k", "W_o", "W_q", "W_v", "b_k", "b_o", "b_q", "b_v"]
    assert all(p[k].shape == (8, 8) for k in ("W_q", "W_k", "W_v", "W_o"))
    assert all(p[k].shape == (8,) for k in ("b_q", "b_k", "b_v", "b_o"))
    assert sorted(init_multi_head_params(8, rng, bias=False)) == ["W_k", "W_o", "W_q", "W_v"]


def _loop_multi_head(X_q, X_kv, p, h, mask=None):
    """Head by head with explicit column slices, then concatenation and W_o (2-D inputs)."""
    d_model = p["W_q"].shape[0]
    d_head = d_model // h
    Q = X_q @ p["W_q"] + p.get("b_q", 0)
    K = X_kv @ p["W_k"] + p.get("b_k", 0)
    V = X_kv @ p["W_v"] + p.get("b_v", 0)
    outs, weights = [], []
    for i in range(h):
        cols = slice(i * d_head, (i + 1) * d_head)
        out, w = loop_attention(Q[:, cols], K[:, cols], V[:, cols], mask, 1 / math.sqrt(d_head))
        outs.append(out)
        weights.append(w)
    return np.concatenate(outs, axis=-1) @ p["W_o"] + p.get("b_o", 0), np.stack(weights)


@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_attention_matches_a_head_by_head_loop(rng, bias):
    """Does multi-head attention equal per-head attention on column slices, concatenated, @ W_o?"""
    p = init_multi_head_params(8, rng, bias=bias)
    if bias:
        p = {k: v + rng.standard_normal(v.shape) if k.startswith("b") else v for k, v in p.items()}
    X_q = rng.standard_normal((2, 4, 8))
    X_kv = rng.standard_normal((2, 6, 8))
    mask = padding_mask([6, 3], 6)
    out, weights = multi_head_attention(X_q, X_kv, p, 2, mask)
    assert out.shape == (2, 4, 8) and weights.shape == (2, 2, 4, 6)
    for b in range(2):
        expected_out, expected_w = _loop_multi_head(X_q[b], X_kv[b], p, 2, np.broadcast_to(mask[b], (4, 6)))
        assert_close(out[b], expected_out)
        assert_close(weights[b], expected_w)


def test_self_attention_is_permutation_equivariant(rng):
    """Does permuting the tokens of X permute the output of self-attention?"""
    p = init_multi_head_params(6, rng)
    X = rng.standard_normal((5, 6))
    perm = rng.permutation(5)
    out, _ = multi_head_attention(X, X, p, 3)
    out_p, _ = multi_head_attention(X[perm], X[perm], p, 3)
    assert_close(out_p, out[perm])


def test_float32_in_float32_out_and_params_untouched(rng):
    """Does float32 stay float32, and are X and params left unmodified?"""
    p = {k: v.astype(np.float32) for k, v in init_multi_head_params(4, rng).items()}
    before = {k: v.copy() for k, v in p.items()}
    X = rng.standard_normal((3, 4)).astype(np.float32)
    X_before = X.copy()
    out, weights = multi_head_attention(X, X, p, 2)
    assert out.dtype == weights.dtype == np.float32
    np.testing.assert_array_equal(X, X_before)
    for k in p:
        np.testing.assert_array_equal(p[k], before[k])


def test_wrong_parameter_shapes_are_named(rng):
    """Does a W_o of the wrong shape raise a ValueError naming it?"""
    p = init_multi_head_params(4, rng)
    p["W_o"] = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"W_o \(4, 3\)"):
        multi_head_attention(np.ones((2, 4)), np.ones((2, 4)), p, 2)
