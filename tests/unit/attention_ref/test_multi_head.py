"""Tests of attention_ref.multi_head."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ref_oracles import GRADIENT_TOLERANCE, assert_close, central_differences, loop_attention

from attention_ref import (
    causal_mask,
    init_multi_head_params,
    merge_heads,
    multi_head_attention,
    multi_head_attention_backward,
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


def _random_params(rng, d_model, bias):
    """Random weights and, with ``bias``, non-zero random biases (init_multi_head_params zeroes them)."""
    params = init_multi_head_params(d_model, rng, bias=bias)
    return {k: v + 0.5 * rng.standard_normal(v.shape) if k.startswith("b") else v for k, v in params.items()}


#: name -> (batch of X_q, batch of X_kv, n_q, n_k, d_model, num_heads, mask)
_BACKWARD_CASES = {
    "batch": ((2,), (2,), 3, 5, 4, 2, None),
    "causal": ((2,), (2,), 4, 4, 4, 2, causal_mask(4)),
    "padding-fully-masked": ((2,), (2,), 3, 5, 4, 2, padding_mask([0, 3], 5)),  # entry 0 sees no key
    "one-head": ((2,), (2,), 3, 5, 4, 1, causal_mask(3, 5)),
    "head-per-feature": ((2,), (2,), 3, 5, 4, 4, None),
    "shared-keys": ((2, 3), (), 2, 4, 4, 2, None),  # one X_kv (n_k, d_model) for every batch entry
    "shared-queries": ((), (3,), 2, 4, 4, 2, causal_mask(2, 4)),  # one X_q (n_q, d_model) for all
    "mask-adds-batch": ((), (), 3, 5, 4, 2, padding_mask([5, 2], 5)),  # 2-D inputs, (2, 1, n_k) mask
}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("case", list(_BACKWARD_CASES))
def test_multi_head_backward_matches_central_differences(rng, case, bias):
    """Is every returned gradient that of L = sum(dout * out), for a random dout, by central differences?"""
    batch_q, batch_kv, n_q, n_k, d_model, h, mask = _BACKWARD_CASES[case]
    params = _random_params(rng, d_model, bias)
    X_q = rng.standard_normal(batch_q + (n_q, d_model))
    X_kv = rng.standard_normal(batch_kv + (n_k, d_model))
    out, _ = multi_head_attention(X_q, X_kv, params, h, mask)
    dout = rng.standard_normal(out.shape)
    grads = multi_head_attention_backward(dout, X_q, X_kv, params, h, mask)
    assert set(grads) == set(params) | {"X_q", "X_kv"}

    def loss(X_q_, X_kv_, params_):
        return float((dout * multi_head_attention(X_q_, X_kv_, params_, h, mask)[0]).sum())

    expected = {
        "X_q": central_differences(lambda x: loss(x, X_kv, params), X_q),
        "X_kv": central_differences(lambda x: loss(X_q, x, params), X_kv),
    }
    for name, value in params.items():
        expected[name] = central_differences(lambda x, name=name: loss(X_q, X_kv, {**params, name: x}), value)
    rtol, atol = GRADIENT_TOLERANCE
    for name, grad in grads.items():
        assert grad.shape == expected[name].shape, name
        np.testing.assert_allclose(grad, expected[name], rtol=rtol, atol=atol, err_msg=name)
    assert np.abs(grads["X_kv"]).max() > 1e-3  # the keys and values do receive a gradient


def test_multi_head_backward_gives_no_gradient_to_queries_that_see_no_key(rng):
    """Does a batch entry whose every key is padding get zero gradients for its X_q rows and X_kv rows?"""
    params = _random_params(rng, 4, bias=True)
    X_q, X_kv = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    dout = rng.standard_normal((2, 3, 4))
    grads = multi_head_attention_backward(dout, X_q, X_kv, params, 2, padding_mask([0, 3], 5))
    np.testing.assert_array_equal(grads["X_q"][0], 0)
    np.testing.assert_array_equal(grads["X_kv"][0], 0)
    np.testing.assert_array_equal(grads["X_kv"][1, 3:], 0)  # padding keys of entry 1
    assert np.abs(grads["X_q"][1]).max() > 1e-3


def test_self_attention_gradient_is_the_sum_of_the_two_input_gradients(rng):
    """For out = MHA(X, X), is dL/dX = grads["X_q"] + grads["X_kv"] (central differences in X)?"""
    params = _random_params(rng, 6, bias=True)
    X = rng.standard_normal((2, 4, 6))
    dout = rng.standard_normal((2, 4, 6))
    mask = causal_mask(4)
    grads = multi_head_attention_backward(dout, X, X, params, 3, mask)

    def loss(X_):
        return float((dout * multi_head_attention(X_, X_, params, 3, mask)[0]).sum())

    expected = central_differences(loss, X)
    rtol, atol = GRADIENT_TOLERANCE
    np.testing.assert_allclose(grads["X_q"] + grads["X_kv"], expected, rtol=rtol, atol=atol)


def test_key_bias_gets_no_gradient(rng):
    """Is dL/db_k zero (b_k adds q·b_k to all of a query's scores, which the softmax ignores) but db_q not?"""
    params = _random_params(rng, 4, bias=True)
    X_q, X_kv = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    grads = multi_head_attention_backward(rng.standard_normal((2, 3, 4)), X_q, X_kv, params, 2)
    np.testing.assert_allclose(grads["b_k"], 0, atol=1e-12)
    assert np.abs(grads["b_q"]).max() > 1e-3


def test_multi_head_backward_keeps_float32_and_leaves_its_inputs_alone(rng):
    """Do float32 inputs give float32 gradients near the float64 ones, with dout, X, params untouched?"""
    params64 = _random_params(rng, 4, bias=True)
    X_q64, X_kv64 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    dout64 = rng.standard_normal((2, 3, 4))
    mask = padding_mask([5, 2], 5)
    params = {k: v.astype(np.float32) for k, v in params64.items()}
    X_q, X_kv, dout = (a.astype(np.float32) for a in (X_q64, X_kv64, dout64))
    before = {k: v.copy() for k, v in params.items()}
    before.update(X_q=X_q.copy(), X_kv=X_kv.copy(), dout=dout.copy(), mask=mask.copy())
    grads = multi_head_attention_backward(dout, X_q, X_kv, params, 2, mask)
    reference = multi_head_attention_backward(
        dout.astype(np.float64), X_q.astype(np.float64), X_kv.astype(np.float64),
        {k: v.astype(np.float64) for k, v in params.items()}, 2, mask,
    )
    for name, grad in grads.items():
        assert grad.dtype == np.float32, name
        assert_close(grad, reference[name], np.float32)
    after = {**params, "X_q": X_q, "X_kv": X_kv, "dout": dout, "mask": mask}
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


def test_multi_head_backward_rejects_a_misshapen_upstream_gradient(rng):
    """Does a dout that is not of the output's shape raise a ValueError naming both shapes?"""
    params = init_multi_head_params(4, rng)
    with pytest.raises(ValueError, match=r"dout.*\(2, 3, 4\).*\(2, 4, 4\)"):
        multi_head_attention_backward(np.ones((2, 4, 4)), np.ones((2, 3, 4)), np.ones((2, 5, 4)), params, 2)
