"""Learner-style answers to notebook 02: buggy ones, with the mistake each must be named as; valid ones.

The buggy and valid implementations are written the way a learner would write them (matmul,
einsum, loops, other ways to mask), independently of the variants in grader.checks.exercises.
"""

from __future__ import annotations

import math

import numpy as np

NOTEBOOK = "02_scaled_dot_product"


# ---- a learner's helpers (right) ----------------------------------------------------------------

def softmax(x, axis=-1):
    """The learner's softmax of notebook 01: a row of -inf gives NaN."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def masked_softmax(scores, mask):
    """Masked logits to -inf; a query with no allowed key gets zeros."""
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    m = np.max(scores, axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(m), m, 0))
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1)


def t(x):
    return np.swapaxes(x, -2, -1)


# ---- buggy answers: scaled dot-product attention (matmul style) ---------------------------------

def sdpa_nan_rows(Q, K, V, mask=None):
    scores = Q @ t(K) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights


def sdpa_big_negative(Q, K, V, mask=None):
    scores = Q @ t(K) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    weights = softmax(scores)
    return weights @ V, weights


def sdpa_no_max(Q, K, V, mask=None):
    scores = Q @ t(K) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores)
    weights = e / e.sum(axis=-1, keepdims=True)
    return weights @ V, weights


def sdpa_unscaled(Q, K, V, mask=None):
    weights = masked_softmax(Q @ t(K), mask)
    return weights @ V, weights


def sdpa_by_d_k(Q, K, V, mask=None):
    weights = masked_softmax(Q @ t(K) / Q.shape[-1], mask)
    return weights @ V, weights


def sdpa_by_sqrt_d_v(Q, K, V, mask=None):
    weights = masked_softmax(Q @ t(K) / math.sqrt(V.shape[-1]), mask)
    return weights @ V, weights


def sdpa_by_sqrt_n(Q, K, V, mask=None):
    n = K.shape[-2]
    weights = masked_softmax(Q @ t(K) / math.sqrt(n), mask)
    return weights @ V, weights


def sdpa_softmax_over_queries(Q, K, V, mask=None):
    scores = Q @ t(K) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores, axis=-2)
    return weights @ V, weights


def sdpa_k_q_transposed(Q, K, V, mask=None):
    scores = K @ t(Q) / math.sqrt(Q.shape[-1])  # (n_k, n_q)
    weights = masked_softmax(scores, None if mask is None else t(mask))
    return t(weights) @ V, weights


def sdpa_weights_transposed(Q, K, V, mask=None):
    weights = masked_softmax(Q @ t(K) / math.sqrt(Q.shape[-1]), mask)
    return weights @ V, t(weights)


def sdpa_returns_weights_first(Q, K, V, mask=None):
    weights = masked_softmax(Q @ t(K) / math.sqrt(Q.shape[-1]), mask)
    return weights, weights @ V


def sdpa_mask_inverted(Q, K, V, mask=None):
    scores = Q @ t(K) / math.sqrt(Q.shape[-1])
    weights = masked_softmax(scores, None if mask is None else np.logical_not(mask))
    return weights @ V, weights


def sdpa_mask_after_softmax(Q, K, V, mask=None):
    weights = softmax(Q @ t(K) / math.sqrt(Q.shape[-1]))
    if mask is not None:
        weights = np.where(mask, weights, 0)
    return weights @ V, weights


def sdpa_mask_multiplied(Q, K, V, mask=None):
    scores = Q @ t(K) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores * mask
    weights = softmax(scores)
    return weights @ V, weights


def sdpa_mask_ignored(Q, K, V, mask=None):
    weights = softmax(Q @ t(K) / math.sqrt(Q.shape[-1]))
    return weights @ V, weights


def sdpa_scaled_in_place(Q, K, V, mask=None):
    Q /= math.sqrt(Q.shape[-1])  # changes the caller's queries
    weights = masked_softmax(Q @ t(K), mask)
    return weights @ V, weights


def sdpa_np_sqrt(Q, K, V, mask=None):
    weights = masked_softmax(Q @ t(K) / np.sqrt(Q.shape[-1]), mask)  # a float64 constant
    return weights @ V, weights


def sdpa_weights_as_list(Q, K, V, mask=None):
    weights = masked_softmax(Q @ t(K) / math.sqrt(Q.shape[-1]), mask)
    return weights @ V, weights.tolist()


# ---- buggy answers: dot-product attention (einsum style) ----------------------------------------

def scores_of(Q, K):
    return np.einsum("...qd,...kd->...qk", Q, K)


def attend(weights, V):
    return np.einsum("...qk,...kv->...qv", weights, V)


def dpa_nan_rows(Q, K, V, mask=None):
    scores = scores_of(Q, K)
    if mask is not None:
        scores[~np.broadcast_to(mask, scores.shape)] = -np.inf
    weights = softmax(scores)
    return attend(weights, V), weights


def dpa_big_negative(Q, K, V, mask=None):
    scores = scores_of(Q, K)
    if mask is not None:
        scores = np.where(mask, scores, np.finfo(scores.dtype).min)
    weights = softmax(scores)
    return attend(weights, V), weights


def dpa_no_max(Q, K, V, mask=None):
    e = np.exp(scores_of(Q, K))
    if mask is not None:
        e = e * mask
    weights = e / e.sum(axis=-1, keepdims=True)
    return attend(weights, V), weights


def dpa_scaled_like_source(Q, K, V, mask=None):
    weights = masked_softmax(scores_of(Q, K) / np.sqrt(Q.shape[-1]).astype(Q.dtype), mask)
    return attend(weights, V), weights


def dpa_softmax_over_queries(Q, K, V, mask=None):
    scores = scores_of(Q, K)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.swapaxes(softmax(np.swapaxes(scores, -1, -2)), -1, -2)
    return attend(weights, V), weights


def dpa_k_q_transposed(Q, K, V, mask=None):
    weights = masked_softmax(np.einsum("...kd,...qd->...kq", K, Q),
                             None if mask is None else np.swapaxes(mask, -1, -2))
    return np.einsum("...kq,...kv->...qv", weights, V), weights


def dpa_weights_transposed(Q, K, V, mask=None):
    weights = masked_softmax(scores_of(Q, K), mask)
    return attend(weights, V), np.einsum("...qk->...kq", weights)


def dpa_returns_weights_first(Q, K, V, mask=None):
    weights = masked_softmax(scores_of(Q, K), mask)
    return weights, attend(weights, V)


def dpa_mask_inverted(Q, K, V, mask=None):
    scores = scores_of(Q, K)
    if mask is not None:
        scores = np.where(mask, -np.inf, scores)
    m = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - np.where(m == -np.inf, 0, m))
    weights = e / np.maximum(e.sum(axis=-1, keepdims=True), np.finfo(e.dtype).tiny)
    return attend(weights, V), weights


def dpa_mask_after_softmax(Q, K, V, mask=None):
    weights = softmax(scores_of(Q, K))
    if mask is not None:
        weights = weights * mask
    return attend(weights, V), weights


def dpa_masked_to_zero(Q, K, V, mask=None):
    scores = scores_of(Q, K)
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    weights = softmax(scores)
    return attend(weights, V), weights


def dpa_mask_ignored(Q, K, V, mask=None):
    weights = softmax(scores_of(Q, K))
    return attend(weights, V), weights


# ---- buggy answers: masks -----------------------------------------------------------------------

def causal_inverted(n_q, n_k=None):
    n_k = n_q if n_k is None else n_k
    return np.triu(np.ones((n_q, n_k), dtype=bool), k=1)


def causal_diagonal_excluded(n_q, n_k=None):
    n_k = n_q if n_k is None else n_k
    return np.tril(np.ones((n_q, n_k), dtype=bool), k=-1)


def causal_upper(n_q, n_k=None):
    n_k = n_q if n_k is None else n_k
    i, j = np.indices((n_q, n_k))
    return j >= i


def causal_bottom_right(n_q, n_k=None):
    n_k = n_q if n_k is None else n_k
    return np.tril(np.ones((n_q, n_k), dtype=bool), k=n_k - n_q)


def causal_square(n_q, n_k=None):
    return np.tril(np.ones((n_q, n_q), dtype=bool))


def causal_keys_first(n_q, n_k=None):
    if n_k is None:
        n_k = n_q
    return np.tril(np.ones((n_k, n_q), dtype=bool))


def causal_floats(n_q, n_k=None):
    n_k = n_q if n_k is None else n_k
    return np.tril(np.ones((n_q, n_k)))


def padding_off_by_one(lengths, n_k):
    mask = np.zeros((len(lengths), 1, n_k), dtype=bool)
    for b, length in enumerate(lengths):
        mask[b, 0, :length + 1] = True
    return mask


def padding_inverted(lengths, n_k):
    return np.arange(n_k) >= np.asarray(lengths)[:, None, None]


def padding_at_start(lengths, n_k):
    mask = np.zeros((len(lengths), 1, n_k), dtype=bool)
    for b, length in enumerate(lengths):
        mask[b, 0, n_k - length:] = True
    return mask


def padding_2d(lengths, n_k):
    return np.arange(n_k)[None, :] < np.asarray(lengths)[:, None]


def padding_query_axis_last(lengths, n_k):
    return (np.arange(n_k)[None, :] < np.asarray(lengths)[:, None])[:, :, None]


BUGGY = [
    ("scaled_dot_product_attention", "nan_for_fully_masked", sdpa_nan_rows),
    ("scaled_dot_product_attention", "uniform_for_fully_masked", sdpa_big_negative),
    ("scaled_dot_product_attention", "no_max_subtraction", sdpa_no_max),
    ("scaled_dot_product_attention", "no_scaling", sdpa_unscaled),
    ("scaled_dot_product_attention", "scaled_by_d_k", sdpa_by_d_k),
    ("scaled_dot_product_attention", "scaled_by_sqrt_d_v", sdpa_by_sqrt_d_v),
    ("scaled_dot_product_attention", "scaled_by_sqrt_n", sdpa_by_sqrt_n),
    ("scaled_dot_product_attention", "softmax_over_queries", sdpa_softmax_over_queries),
    ("scaled_dot_product_attention", "scores_transposed", sdpa_k_q_transposed),
    ("scaled_dot_product_attention", "weights_transposed", sdpa_weights_transposed),
    ("scaled_dot_product_attention", "outputs_swapped", sdpa_returns_weights_first),
    ("scaled_dot_product_attention", "mask_inverted", sdpa_mask_inverted),
    ("scaled_dot_product_attention", "mask_after_softmax", sdpa_mask_after_softmax),
    ("scaled_dot_product_attention", "masked_filled_with_zero", sdpa_mask_multiplied),
    ("scaled_dot_product_attention", "mask_ignored", sdpa_mask_ignored),
    ("scaled_dot_product_attention", "mutated_input", sdpa_scaled_in_place),
    ("scaled_dot_product_attention", "wrong_dtype", sdpa_np_sqrt),
    ("scaled_dot_product_attention", "wrong_type", sdpa_weights_as_list),
    ("dot_product_attention", "nan_for_fully_masked", dpa_nan_rows),
    ("dot_product_attention", "uniform_for_fully_masked", dpa_big_negative),
    ("dot_product_attention", "no_max_subtraction", dpa_no_max),
    ("dot_product_attention", "scaled_like_source", dpa_scaled_like_source),
    ("dot_product_attention", "softmax_over_queries", dpa_softmax_over_queries),
    ("dot_product_attention", "scores_transposed", dpa_k_q_transposed),
    ("dot_product_attention", "weights_transposed", dpa_weights_transposed),
    ("dot_product_attention", "outputs_swapped", dpa_returns_weights_first),
    ("dot_product_attention", "mask_inverted", dpa_mask_inverted),
    ("dot_product_attention", "mask_after_softmax", dpa_mask_after_softmax),
    ("dot_product_attention", "masked_filled_with_zero", dpa_masked_to_zero),
    ("dot_product_attention", "mask_ignored", dpa_mask_ignored),
    ("causal_mask", "inverted", causal_inverted),
    ("causal_mask", "diagonal_excluded", causal_diagonal_excluded),
    ("causal_mask", "upper_triangle", causal_upper),
    ("causal_mask", "aligned_to_last_key", causal_bottom_right),
    ("causal_mask", "n_k_ignored", causal_square),
    ("causal_mask", "shape_swapped", causal_keys_first),
    ("causal_mask", "not_boolean", causal_floats),
    ("padding_mask", "off_by_one", padding_off_by_one),
    ("padding_mask", "inverted", padding_inverted),
    ("padding_mask", "padding_at_start", padding_at_start),
    ("padding_mask", "no_query_axis", padding_2d),
    ("padding_mask", "query_axis_last", padding_query_axis_last),
]

#: Mistakes the public cases cannot show (they need the hidden edge cases).
HIDDEN_ONLY = set()




# ---- valid answers: other ways to write the right thing -----------------------------------------

def _loops(Q, K, V, mask, scale):
    """Query by query, key by key, in Python floats; the result in the inputs' dtype."""
    n_q, n_k = Q.shape[-2], K.shape[-2]
    mask = np.ones((n_q, n_k), dtype=bool) if mask is None else np.asarray(mask)
    batch = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2], mask.shape[:-2])
    Q, K, V = (np.broadcast_to(a, batch + a.shape[-2:]) for a in (Q, K, V))
    mask = np.broadcast_to(mask, batch + (n_q, n_k))
    out = np.zeros(batch + (n_q, V.shape[-1]), dtype=Q.dtype)
    weights = np.zeros(batch + (n_q, n_k), dtype=Q.dtype)
    for b in np.ndindex(*batch):
        for i in range(n_q):
            allowed = [j for j in range(n_k) if mask[b + (i, j)]]
            if not allowed:
                continue  # no key: zero weights, zero output
            logits = {j: scale * sum(float(x) * float(y) for x, y in zip(Q[b + (i,)], K[b + (j,)],
                                                                          strict=True))
                      for j in allowed}
            top = max(logits.values())
            e = {j: math.exp(logit - top) for j, logit in logits.items()}
            total = sum(e.values())
            for j in allowed:
                weights[b + (i, j)] = e[j] / total
                out[b + (i,)] += (e[j] / total) * V[b + (j,)]
    return out, weights


def _einsum_finfo_min(Q, K, V, mask, scale):
    """Masked logits set to the most negative float; rows with no allowed key zeroed afterwards."""
    scores = np.einsum("...id,...jd->...ij", Q * Q.dtype.type(scale), K)
    if mask is not None:
        scores = np.where(mask, scores, np.finfo(scores.dtype).min)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    if mask is not None:
        weights = weights * np.any(mask, axis=-1, keepdims=True)
    return np.einsum("...ij,...jv->...iv", weights, V), weights


def _logsumexp(Q, K, V, mask, scale):
    """Weights as exp(logit − logsumexp) with -inf masking; float32 computed in float64 and cast back."""
    dtype = Q.dtype
    Q, K, V = (np.asarray(a, dtype=np.float64) for a in (Q, K, V))
    scores = np.matmul(Q, np.swapaxes(K, -1, -2)) * scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.max(scores, axis=-1, keepdims=True)
    top = np.where(np.isinf(top), 0.0, top)
    with np.errstate(divide="ignore"):
        lse = top + np.log(np.sum(np.exp(scores - top), axis=-1, keepdims=True))
    weights = np.where(np.isfinite(lse), np.exp(scores - np.where(np.isfinite(lse), lse, 0.0)), 0.0)
    return (weights @ V).astype(dtype), weights.astype(dtype)


def sdpa_loops(Q, K, V, mask=None):
    return _loops(Q, K, V, mask, 1 / math.sqrt(Q.shape[-1]))


def sdpa_einsum(Q, K, V, mask=None):
    return _einsum_finfo_min(Q, K, V, mask, 1 / math.sqrt(Q.shape[-1]))


def sdpa_logsumexp_float64(Q, K, V, mask=None):
    return _logsumexp(Q, K, V, mask, 1 / math.sqrt(Q.shape[-1]))


def sdpa_masked_softmax(Q, K, V, mask=None):
    weights = masked_softmax(Q @ t(K) / math.sqrt(Q.shape[-1]), mask)
    return weights @ V, weights


def dpa_loops(Q, K, V, mask=None):
    return _loops(Q, K, V, mask, 1.0)


def dpa_einsum(Q, K, V, mask=None):
    return _einsum_finfo_min(Q, K, V, mask, 1.0)


def dpa_logsumexp_float64(Q, K, V, mask=None):
    return _logsumexp(Q, K, V, mask, 1.0)


def causal_tril(n_q, n_k=None):
    return np.tril(np.ones((n_q, n_q if n_k is None else n_k), dtype=bool))


def causal_tri(n_q, n_k=None):
    return np.tri(n_q, n_k, dtype=bool)


def causal_loops(n_q, n_k=None):
    n_k = n_q if n_k is None else n_k
    return np.array([[j <= i for j in range(n_k)] for i in range(n_q)], dtype=bool).reshape(n_q, n_k)


def padding_broadcast(lengths, n_k):
    return np.arange(n_k) < np.asarray(lengths)[:, None, None]


def padding_loops(lengths, n_k):
    mask = np.zeros((len(lengths), 1, n_k), dtype=bool)
    for b, length in enumerate(lengths):
        mask[b, 0, :length] = True
    return mask


def padding_expand_dims(lengths, n_k):
    return np.expand_dims(np.greater.outer(lengths, np.arange(n_k)), axis=1)


VALID = [
    ("scaled_dot_product_attention", sdpa_loops),
    ("scaled_dot_product_attention", sdpa_einsum),
    ("scaled_dot_product_attention", sdpa_logsumexp_float64),
    ("scaled_dot_product_attention", sdpa_masked_softmax),
    ("dot_product_attention", dpa_loops),
    ("dot_product_attention", dpa_einsum),
    ("dot_product_attention", dpa_logsumexp_float64),
    ("causal_mask", causal_tril),
    ("causal_mask", causal_tri),
    ("causal_mask", causal_loops),
    ("padding_mask", padding_broadcast),
    ("padding_mask", padding_loops),
    ("padding_mask", padding_expand_dims),
]
