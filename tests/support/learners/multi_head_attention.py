"""Learner-style answers to notebook 04: buggy ones, with the mistake each must be named as; valid ones.

The buggy and valid implementations are written the way a learner would write them (reshapes,
loops over heads with column slices, einsum), independently of the variants in grader.checks.exercises.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

NOTEBOOK = "04_multi_head_attention"


# ---- a learner's building blocks (correct) ------------------------------------------------------

def split(X, num_heads):
    *batch, n, d_model = X.shape
    X = X.reshape(*batch, n, num_heads, d_model // num_heads)  # (..., n, h, d_head)
    return np.swapaxes(X, -3, -2)  # (..., h, n, d_head)


def merge(X):
    *batch, h, n, d_head = X.shape
    return np.swapaxes(X, -3, -2).reshape(*batch, n, h * d_head)


def softmax_rows(scores):
    m = scores.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(scores - m)
    s = e.sum(axis=-1, keepdims=True)
    return e / np.where(s > 0, s, 1.0)


def attention(Q, K, V, mask, scale):
    scores = Q @ np.swapaxes(K, -1, -2) * scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    w = softmax_rows(scores)
    return w @ V, w


# ---- buggy answers: (exercise, misconception key, implementation) ------------------------------

def split_reshape_only(X, num_heads):
    *batch, n, d_model = X.shape
    return X.reshape(*batch, num_heads, n, d_model // num_heads)


def split_strided(X, num_heads):
    *batch, n, d_model = X.shape
    X = X.reshape(*batch, n, d_model // num_heads, num_heads)
    return np.einsum("...ndh->...hnd", X)


def split_not_moved(X, num_heads):
    *batch, n, d_model = X.shape
    return X.reshape(*batch, n, num_heads, d_model // num_heads)


def merge_reshape_only(X):
    *batch, h, n, d_head = X.shape
    return X.reshape(*batch, n, h * d_head)


def merge_interleaved(X):
    *batch, h, n, d_head = X.shape
    return np.einsum("...hnd->...ndh", X).reshape(*batch, n, d_head * h)


def mha(X_q, X_kv, params, num_heads, mask=None, bug=None):
    """A learner's multi-head attention built from their own helpers; ``bug`` picks one mistake."""
    def proj(X, w, b):
        out = X @ params[w]
        if b in params and bug != "biases":
            out = out + params[b]
        return out

    splitter = {"reshape": split_reshape_only, "split": split_reshape_only, "strided": split_strided,
                "strided_both": split_strided}.get(bug, split)
    merger = {"reshape": merge_reshape_only, "merge": merge_reshape_only, "interleaved": merge_interleaved,
              "strided_both": merge_interleaved}.get(bug, merge)
    d_model = params["W_q"].shape[0]
    Q = splitter(proj(X_q, "W_q", "b_q"), num_heads)
    if bug == "swap":
        K, V = splitter(proj(X_kv, "W_v", "b_v"), num_heads), splitter(proj(X_kv, "W_k", "b_k"), num_heads)
    else:
        K, V = splitter(proj(X_kv, "W_k", "b_k"), num_heads), splitter(proj(X_kv, "W_v", "b_v"), num_heads)
    d_head = d_model // num_heads
    scale = {"sqrt_d_model": 1 / math.sqrt(d_model), "no_scale": 1.0}.get(bug, 1 / math.sqrt(d_head))
    if bug == "mask_ignored":
        mask = None
    if mask is not None and bug != "mask":
        mask = mask[..., None, :, :]  # (..., 1, n_q, n_k): the same for all heads
    heads, weights = attention(Q, K, V, mask, scale)
    out = proj(merger(heads), "W_o", "b_o")
    if bug == "average":
        weights = weights.mean(axis=-3)
    elif bug == "merged_weights":
        weights = merger(weights)
    elif bug == "weights_layout":
        weights = np.einsum("...hqk->...qhk", weights)
    return out, weights


def mha_np_sqrt(X_q, X_kv, params, num_heads, mask=None):
    """Right, but scaled by a float64 constant: float32 inputs give a float64 result."""
    d_head = params["W_q"].shape[1] // num_heads
    Q, K, V = (split(X @ params[w] + params.get(b, 0), num_heads)
               for X, w, b in ((X_q, "W_q", "b_q"), (X_kv, "W_k", "b_k"), (X_kv, "W_v", "b_v")))
    if mask is not None:
        mask = np.asarray(mask)[..., None, :, :]
    heads, weights = attention(Q, K, V, mask, 1 / np.sqrt(d_head))
    return merge(heads) @ params["W_o"] + params.get("b_o", 0), weights


def mha_default_biases(X_q, X_kv, params, num_heads, mask=None):
    """Fills in the missing biases with zeros — in the caller's dict."""
    d_model = params["W_q"].shape[1]
    for b in ("b_q", "b_k", "b_v", "b_o"):
        params.setdefault(b, np.zeros(d_model, dtype=X_q.dtype))
    return mha(X_q, X_kv, params, num_heads, mask)


def mha_loop_no_output_projection(X_q, X_kv, params, num_heads, mask=None):
    """Loop over heads with column slices, but the concatenation is returned as it is."""
    d_head = params["W_q"].shape[1] // num_heads
    heads, weights = [], []
    for i in range(num_heads):
        cols = slice(i * d_head, (i + 1) * d_head)
        Q = X_q @ params["W_q"][:, cols]
        K = X_kv @ params["W_k"][:, cols]
        V = X_kv @ params["W_v"][:, cols]
        if "b_q" in params:
            Q = Q + params["b_q"][cols]
        if "b_k" in params:
            K = K + params["b_k"][cols]
        if "b_v" in params:
            V = V + params["b_v"][cols]
        a, w = attention(Q, K, V, mask, 1 / math.sqrt(d_head))
        heads.append(a)
        weights.append(w)
    return np.concatenate(heads, axis=-1), np.stack(weights, axis=-3)


def mha_loop_strided(X_q, X_kv, params, num_heads, mask=None):
    """Loop over heads, head i taking the strided columns i, i+h, … of each projection."""
    d_head = params["W_q"].shape[1] // num_heads
    Q_all = X_q @ params["W_q"] + params.get("b_q", 0)
    K_all = X_kv @ params["W_k"] + params.get("b_k", 0)
    V_all = X_kv @ params["W_v"] + params.get("b_v", 0)
    heads, weights = [], []
    for i in range(num_heads):
        a, w = attention(Q_all[..., i::num_heads], K_all[..., i::num_heads], V_all[..., i::num_heads], mask,
                         1 / math.sqrt(d_head))
        heads.append(a)
        weights.append(w)
    out = np.concatenate(heads, axis=-1) @ params["W_o"] + params.get("b_o", 0)
    return out.astype(X_q.dtype), np.stack(weights, axis=-3)


def pe_swapped(n, d):
    pos = np.arange(n)[:, None]
    angle = pos / 10000 ** (np.arange(0, d, 2) / d)
    pe = np.zeros((n, d))
    pe[:, 0::2], pe[:, 1::2] = np.cos(angle), np.sin(angle)
    return pe


def pe_halves(n, d):
    pos = np.arange(n)[:, None]
    angle = pos / np.power(10000, np.arange(0, d, 2) / d)
    return np.hstack([np.sin(angle), np.cos(angle)])


def pe_exponent_without_two(n, d):
    pe = np.zeros((n, d))
    for p in range(n):
        for i in range(d // 2):
            pe[p, 2 * i] = math.sin(p / 10000 ** (i / d))
            pe[p, 2 * i + 1] = math.cos(p / 10000 ** (i / d))
    return pe


def pe_column_index(n, d):
    pe = np.zeros((n, d))
    for p in range(n):
        for k in range(d):
            angle = p / 10000 ** (k / d)
            pe[p, k] = math.sin(angle) if k % 2 == 0 else math.cos(angle)
    return pe


def pe_from_one(n, d):
    pos = np.arange(1, n + 1)[:, None]
    angle = pos / 10000 ** (np.arange(0, d, 2) / d)
    pe = np.zeros((n, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angle), np.cos(angle)
    return pe


BUGGY = [
    ("split_heads", "reshape_without_transpose", split_reshape_only),
    ("split_heads", "strided_columns", split_strided),
    ("split_heads", "heads_axis_not_moved", split_not_moved),
    ("merge_heads", "reshape_without_transpose", merge_reshape_only),
    ("merge_heads", "interleaved_columns", merge_interleaved),
    ("multi_head_attention", "heads_by_reshape_only", partial(mha, bug="reshape")),
    ("multi_head_attention", "split_without_transpose", partial(mha, bug="split")),
    ("multi_head_attention", "merge_without_transpose", partial(mha, bug="merge")),
    ("multi_head_attention", "strided_split_and_merge", partial(mha, bug="strided_both")),
    ("multi_head_attention", "strided_head_columns", mha_loop_strided),
    ("multi_head_attention", "heads_merged_interleaved", partial(mha, bug="interleaved")),
    ("multi_head_attention", "no_output_projection", mha_loop_no_output_projection),
    ("multi_head_attention", "scaled_by_sqrt_d_model", partial(mha, bug="sqrt_d_model")),
    ("multi_head_attention", "not_scaled", partial(mha, bug="no_scale")),
    ("multi_head_attention", "biases_ignored", partial(mha, bug="biases")),
    ("multi_head_attention", "key_value_swapped", partial(mha, bug="swap")),
    ("multi_head_attention", "mask_not_broadcast_over_heads", partial(mha, bug="mask")),
    ("multi_head_attention", "weights_averaged_over_heads", partial(mha, bug="average")),
    ("multi_head_attention", "weights_merged", partial(mha, bug="merged_weights")),
    ("multi_head_attention", "weights_heads_after_queries", partial(mha, bug="weights_layout")),
    ("multi_head_attention", "mask_ignored", partial(mha, bug="mask_ignored")),
    ("multi_head_attention", "wrong_dtype", mha_np_sqrt),
    ("multi_head_attention", "mutated_input", mha_default_biases),
    ("sinusoidal_positional_encoding", "sin_cos_swapped", pe_swapped),
    ("sinusoidal_positional_encoding", "halves_not_interleaved", pe_halves),
    ("sinusoidal_positional_encoding", "exponent_without_two", pe_exponent_without_two),
    ("sinusoidal_positional_encoding", "exponent_uses_column_index", pe_column_index),
    ("sinusoidal_positional_encoding", "positions_start_at_one", pe_from_one),
]

#: Mistakes the public cases cannot show (they need the hidden edge cases).
HIDDEN_ONLY = set()


def _id(entry):
    name, key, fn = entry
    return f"{name}-{key}"




# ---- valid answers: other ways to write the right thing -----------------------------------------

def split_stack_slices(X, num_heads):
    d_head = X.shape[-1] // num_heads
    return np.stack([X[..., i * d_head:(i + 1) * d_head] for i in range(num_heads)], axis=-3)


def split_einsum(X, num_heads):
    X = np.asarray(X)
    return np.einsum("...nhd->...hnd", X.reshape(X.shape[:-1] + (num_heads, -1)))


def merge_concatenate(X):
    return np.concatenate([X[..., i, :, :] for i in range(X.shape[-3])], axis=-1)


def merge_moveaxis(X):
    X = np.moveaxis(X, -3, -2)
    return X.reshape(X.shape[:-2] + (-1,))


def mha_loop_over_heads(X_q, X_kv, params, num_heads, mask=None):
    """One head at a time, each with its own block of columns of W_q, W_k, W_v."""
    d_model = params["W_q"].shape[1]
    d_head = d_model // num_heads
    zero = np.zeros(d_model, dtype=X_q.dtype)
    heads, weights = [], []
    for i in range(num_heads):
        c = slice(i * d_head, (i + 1) * d_head)
        Q = X_q @ params["W_q"][:, c] + params.get("b_q", zero)[c]
        K = X_kv @ params["W_k"][:, c] + params.get("b_k", zero)[c]
        V = X_kv @ params["W_v"][:, c] + params.get("b_v", zero)[c]
        a, w = attention(Q, K, V, mask, 1 / math.sqrt(d_head))
        heads.append(a)
        weights.append(w)
    out = np.concatenate(heads, axis=-1) @ params["W_o"] + params.get("b_o", zero)
    return out, np.stack(weights, axis=-3)


def mha_einsum(X_q, X_kv, params, num_heads, mask=None):
    """Projections split by einsum into heads, masked scores through a log-sum-exp softmax."""
    d_model = params["W_q"].shape[1]
    d_head = d_model // num_heads
    W = {k: params[k].reshape(d_model, num_heads, d_head) for k in ("W_q", "W_k", "W_v")}
    b = {k: params.get(k, np.zeros(d_model, X_q.dtype)).reshape(num_heads, 1, d_head)
         for k in ("b_q", "b_k", "b_v")}
    Q = np.einsum("...nm,mhd->...hnd", X_q, W["W_q"]) + b["b_q"]
    K = np.einsum("...nm,mhd->...hnd", X_kv, W["W_k"]) + b["b_k"]
    V = np.einsum("...nm,mhd->...hnd", X_kv, W["W_v"]) + b["b_v"]
    scores = np.einsum("...hqd,...hkd->...hqk", Q, K) / math.sqrt(d_head)
    if mask is not None:
        scores = np.where(np.expand_dims(mask, -3), scores, -np.inf)
    top = np.max(scores, axis=-1, keepdims=True)
    top[~np.isfinite(top)] = 0
    with np.errstate(divide="ignore"):
        lse = top + np.log(np.exp(scores - top).sum(axis=-1, keepdims=True))
    weights = np.where(np.isfinite(lse), np.exp(scores - np.where(np.isfinite(lse), lse, 0)), 0)
    heads = np.einsum("...hqk,...hkd->...qhd", weights, V)
    out = heads.reshape(heads.shape[:-2] + (d_model,)) @ params["W_o"]
    if "b_o" in params:
        out += params["b_o"]
    return out, weights


def pe_loops(n, d):
    pe = np.zeros((n, d))
    for p in range(n):
        for i in range(0, d, 2):
            angle = p / 10000 ** (i / d)
            pe[p, i], pe[p, i + 1] = math.sin(angle), math.cos(angle)
    return pe


def pe_exp_log(n, d):
    freq = np.exp(-math.log(10000.0) * np.arange(0, d, 2) / d)
    angle = np.arange(n)[:, None] * freq
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1).reshape(n, d)


VALID = [
    ("split_heads", split_stack_slices),
    ("split_heads", split_einsum),
    ("split_heads", split),
    ("merge_heads", merge_concatenate),
    ("merge_heads", merge_moveaxis),
    ("merge_heads", merge),
    ("multi_head_attention", mha),
    ("multi_head_attention", mha_loop_over_heads),
    ("multi_head_attention", mha_einsum),
    ("sinusoidal_positional_encoding", pe_loops),
    ("sinusoidal_positional_encoding", pe_exp_log),
]
