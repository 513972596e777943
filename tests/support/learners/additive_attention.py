"""Learner-style answers to notebook 03: buggy ones, with the mistake each must be named as; valid ones.

The buggy and valid implementations are written the way a learner would write them (broadcasting,
einsum, loops, other ways to mask), independently of the variants in grader.checks.exercises.
"""

from __future__ import annotations

import math

import numpy as np

NOTEBOOK = "03_additive_attention"


# ---- a learner's helpers (right) ----------------------------------------------------------------

def scores_of(Q, K, W_q, W_k, w_v):
    """tanh(q_i W_q + k_j W_k)·w_v by broadcasting."""
    hidden = np.tanh((Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :])  # (..., n_q, n_k, h)
    return hidden @ w_v


def softmax(x, axis=-1):
    """The learner's softmax of notebook 01: a row of -inf gives NaN."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def masked_softmax(scores, mask):
    """Masked scores to -inf; a query with no allowed key gets zeros."""
    if mask is None:
        return softmax(scores)
    scores = np.where(mask, scores, -np.inf)
    allowed = np.any(np.broadcast_to(mask, scores.shape), axis=-1, keepdims=True)
    return softmax(np.where(allowed, scores, 0)) * allowed


# ---- buggy answers: additive_scores -------------------------------------------------------------

def scores_without_tanh(Q, K, W_q, W_k, w_v):
    return np.einsum("...qkh,h->...qk", (Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :], w_v)


def scores_projections_swapped(Q, K, W_q, W_k, w_v):
    return np.tanh((Q @ W_k)[..., :, None, :] + (K @ W_q)[..., None, :, :]) @ w_v


def scores_summed_hidden(Q, K, W_q, W_k, w_v):
    return np.tanh((Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :]).sum(axis=-1)


def scores_tanh_outside(Q, K, W_q, W_k, w_v):
    return np.tanh(((Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :]) @ w_v)


def scores_keys_first(Q, K, W_q, W_k, w_v):
    return np.tanh(np.expand_dims(Q @ W_q, -3) + np.expand_dims(K @ W_k, -2)) @ w_v


# ---- buggy answers: additive_attention ----------------------------------------------------------

def attention_nan_rows(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = scores_of(Q, K, W_q, W_k, w_v)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights


def attention_big_negative(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = scores_of(Q, K, W_q, W_k, w_v)
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    weights = softmax(scores)
    return weights @ V, weights


def attention_no_max(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = scores_of(Q, K, W_q, W_k, w_v)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    return weights @ V, weights


def attention_without_tanh(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = ((Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :]) @ w_v
    weights = masked_softmax(scores, mask)
    return weights @ V, weights


def attention_projections_swapped(Q, K, V, W_q, W_k, w_v, mask=None):
    weights = masked_softmax(scores_of(Q, K, W_k, W_q, w_v), mask)
    return weights @ V, weights


def attention_summed_hidden(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = np.tanh((Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :]).sum(axis=-1)
    weights = masked_softmax(scores, mask)
    return weights @ V, weights


def attention_tanh_outside(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = np.tanh(((Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :]) @ w_v)
    weights = masked_softmax(scores, mask)
    return weights @ V, weights


def attention_scaled(Q, K, V, W_q, W_k, w_v, mask=None):
    weights = masked_softmax(scores_of(Q, K, W_q, W_k, w_v) / math.sqrt(K.shape[-1]), mask)
    return weights @ V, weights


def attention_softmax_over_queries(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = scores_of(Q, K, W_q, W_k, w_v)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores, axis=-2)
    return weights @ V, weights


def attention_weights_transposed(Q, K, V, W_q, W_k, w_v, mask=None):
    weights = masked_softmax(scores_of(Q, K, W_q, W_k, w_v), mask)
    return weights @ V, np.swapaxes(weights, -1, -2)


def attention_returns_weights_first(Q, K, V, W_q, W_k, w_v, mask=None):
    weights = masked_softmax(scores_of(Q, K, W_q, W_k, w_v), mask)
    return weights, weights @ V


def attention_mask_inverted(Q, K, V, W_q, W_k, w_v, mask=None):
    weights = masked_softmax(scores_of(Q, K, W_q, W_k, w_v), None if mask is None else ~mask)
    return weights @ V, weights


def attention_mask_after_softmax(Q, K, V, W_q, W_k, w_v, mask=None):
    weights = softmax(scores_of(Q, K, W_q, W_k, w_v))
    if mask is not None:
        weights = weights * mask
    return weights @ V, weights


def attention_masked_to_zero(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = scores_of(Q, K, W_q, W_k, w_v)
    if mask is not None:
        scores = scores * mask
    weights = softmax(scores)
    return weights @ V, weights


def attention_mask_ignored(Q, K, V, W_q, W_k, w_v, mask=None):
    weights = softmax(scores_of(Q, K, W_q, W_k, w_v))
    return weights @ V, weights


BUGGY = [
    ("additive_scores", "no_tanh", scores_without_tanh),
    ("additive_scores", "projections_swapped", scores_projections_swapped),
    ("additive_scores", "w_v_not_applied", scores_summed_hidden),
    ("additive_scores", "tanh_after_w_v", scores_tanh_outside),
    ("additive_scores", "scores_transposed", scores_keys_first),
    ("additive_attention", "nan_for_fully_masked", attention_nan_rows),
    ("additive_attention", "uniform_for_fully_masked", attention_big_negative),
    ("additive_attention", "no_max_subtraction", attention_no_max),
    ("additive_attention", "no_tanh", attention_without_tanh),
    ("additive_attention", "projections_swapped", attention_projections_swapped),
    ("additive_attention", "w_v_not_applied", attention_summed_hidden),
    ("additive_attention", "tanh_after_w_v", attention_tanh_outside),
    ("additive_attention", "scaled_like_dot_product", attention_scaled),
    ("additive_attention", "softmax_over_queries", attention_softmax_over_queries),
    ("additive_attention", "weights_transposed", attention_weights_transposed),
    ("additive_attention", "outputs_swapped", attention_returns_weights_first),
    ("additive_attention", "mask_inverted", attention_mask_inverted),
    ("additive_attention", "mask_after_softmax", attention_mask_after_softmax),
    ("additive_attention", "masked_filled_with_zero", attention_masked_to_zero),
    ("additive_attention", "mask_ignored", attention_mask_ignored),
]

#: Mistakes the public cases cannot show (they need the hidden edge cases).
HIDDEN_ONLY = set()




# ---- valid answers: other ways to write the right thing -----------------------------------------

def _broadcast(Q, K):
    batch = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2])
    return np.broadcast_to(Q, batch + Q.shape[-2:]), np.broadcast_to(K, batch + K.shape[-2:]), batch


def scores_loops(Q, K, W_q, W_k, w_v):
    Q, K, batch = _broadcast(Q, K)
    out = np.empty(batch + (Q.shape[-2], K.shape[-2]), dtype=np.result_type(Q, K, W_q))
    for b in np.ndindex(*batch):
        for i, q in enumerate(Q[b]):
            for j, k in enumerate(K[b]):
                out[b + (i, j)] = np.tanh(q @ W_q + k @ W_k) @ w_v
    return out


def scores_einsum(Q, K, W_q, W_k, w_v):
    pre = np.einsum("...qd,dh->...qh", Q, W_q)[..., :, None, :] + np.einsum("...kd,dh->...kh", K, W_k)[
        ..., None, :, :]
    return np.einsum("...qkh,h->...qk", np.tanh(pre), w_v)


def scores_tanh_from_exp(Q, K, W_q, W_k, w_v):
    """tanh(x) = 1 − 2 / (exp(2x) + 1): stable at both ends (exp overflows to inf, 2/inf = 0)."""
    x = (Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :]
    with np.errstate(over="ignore"):
        hidden = 1 - 2 / (np.exp(2 * x) + 1)
    return hidden @ w_v


def scores_float64(Q, K, W_q, W_k, w_v):
    dtype = Q.dtype
    Q, K, W_q, W_k, w_v = (np.asarray(a, dtype=np.float64) for a in (Q, K, W_q, W_k, w_v))
    return (np.tanh((Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :]) @ w_v).astype(dtype)


def attention_loops(Q, K, V, W_q, W_k, w_v, mask=None):
    """Scores pair by pair; each query's softmax in Python floats over its allowed keys."""
    scores = scores_loops(Q, K, W_q, W_k, w_v)
    n_q, n_k = scores.shape[-2:]
    mask = np.ones((n_q, n_k), dtype=bool) if mask is None else mask
    batch = np.broadcast_shapes(scores.shape[:-2], V.shape[:-2], np.shape(mask)[:-2])
    scores, V = np.broadcast_to(scores, batch + (n_q, n_k)), np.broadcast_to(V, batch + V.shape[-2:])
    mask = np.broadcast_to(mask, batch + (n_q, n_k))
    weights = np.zeros(batch + (n_q, n_k), dtype=scores.dtype)
    for b in np.ndindex(*batch):
        for i in range(n_q):
            allowed = [j for j in range(n_k) if mask[b + (i, j)]]
            if allowed:
                top = max(float(scores[b + (i, j)]) for j in allowed)
                e = [math.exp(float(scores[b + (i, j)]) - top) for j in allowed]
                for j, value in zip(allowed, e, strict=True):
                    weights[b + (i, j)] = value / sum(e)
    return weights @ V, weights


def attention_einsum_finfo_min(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = scores_einsum(Q, K, W_q, W_k, w_v)
    if mask is not None:
        scores = np.where(mask, scores, np.finfo(scores.dtype).min)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    if mask is not None:
        weights = np.where(np.any(mask, axis=-1, keepdims=True), weights, 0)
    return np.einsum("...qk,...kv->...qv", weights, V), weights


def attention_masked_softmax(Q, K, V, W_q, W_k, w_v, mask=None):
    weights = masked_softmax(scores_of(Q, K, W_q, W_k, w_v), mask)
    return weights @ V, weights


VALID = [
    ("additive_scores", scores_loops),
    ("additive_scores", scores_einsum),
    ("additive_scores", scores_tanh_from_exp),
    ("additive_scores", scores_float64),
    ("additive_attention", attention_loops),
    ("additive_attention", attention_einsum_finfo_min),
    ("additive_attention", attention_masked_softmax),
]
