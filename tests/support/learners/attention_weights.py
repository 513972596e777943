"""Learner-style answers to notebook 01: buggy ones, with the mistake each must be named as; valid ones.

The buggy and valid implementations are written the way a learner would write them (loops,
einsum, other stabilisations), independently of the variants in grader.checks.exercises.
"""

from __future__ import annotations

import math

import numpy as np

NOTEBOOK = "01_attention_weights"


# ---- buggy answers: (exercise, misconception key, implementation) ------------------------------

def softmax_no_max(x, axis=-1):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_axis0(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_unnormalised(x, axis=-1):
    x = np.asarray(x)
    return np.exp(x - np.max(x, axis=axis, keepdims=True))


def softmax_global(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def softmax_loops_last_axis(x, axis=-1):
    """Row by row over the last axis, whatever axis says (the ignored-parameter fault)."""
    x = np.asarray(x)
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        row = x[index]
        m = max(row)
        e = [math.exp(v - m) for v in row]
        out[index] = [v / sum(e) for v in e]
    return out


# ---- novice faults: a forgotten return, a list, a typo, the input changed, the dtype changed ------

def softmax_forgot_return(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    weights = e / np.sum(e, axis=axis, keepdims=True)  # noqa: F841 - computed, never returned


def softmax_as_list(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).tolist()


def softmax_typo(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(E, axis=axis, keepdims=True)  # noqa: F821 - the typo


def softmax_in_place(x, axis=-1):
    x -= np.max(x, axis=axis, keepdims=True)
    np.exp(x, out=x)
    return x / np.sum(x, axis=axis, keepdims=True)


def softmax_as_float(x, axis=-1):
    x = np.array(x, dtype=float)  # "to be safe": float32 becomes float64
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def weighted_sum_loop_returns_list(w, V):
    return [sum(w_i * v_i for w_i, v_i in zip(w_row, V_rows, strict=True))
            for w_row, V_rows in zip(np.reshape(w, (-1, np.shape(w)[-1])),
                                     np.reshape(V, (-1,) + np.shape(V)[-2:]), strict=True)]


def scores_summed_over_keys(q, K):
    return np.einsum("...d,...nd->...d", q, K)


def weights_raw_scores(q, K):
    return np.einsum("...d,...nd->...n", q, K)


def weights_unnormalised(q, K):
    return np.exp(np.einsum("...d,...nd->...n", q, K))


def weights_scaled(q, K):
    s = np.einsum("...d,...nd->...n", q, K) / math.sqrt(np.shape(q)[-1])
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def weighted_sum_over_features(w, V):
    return np.einsum("...n,...nd->...n", w, V)


def weighted_mean(w, V):
    return (np.asarray(w)[..., None] * V).mean(axis=-2)


def _weights(q, K):
    s = np.einsum("...d,...nd->...n", q, K)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attend_query_first(q, K, V, concat_query=False):
    a = np.einsum("...n,...nd->...d", _weights(q, K), V)
    if concat_query:
        return np.concatenate([np.broadcast_to(q, a.shape[:-1] + q.shape[-1:]), a], axis=-1)
    return a


def attend_ignores_concat(q, K, V, concat_query=False):
    return np.einsum("...n,...nd->...d", _weights(q, K), V)


def attend_returns_weights(q, K, V, concat_query=False):
    return _weights(q, K)


BUGGY = [
    ("softmax", "no_max_subtraction", softmax_no_max),
    ("softmax", "wrong_axis", softmax_axis0),
    ("softmax", "not_normalised", softmax_unnormalised),
    ("softmax", "normalised_over_everything", softmax_global),
    ("softmax", "axis_ignored", softmax_loops_last_axis),
    ("softmax", "returned_none", softmax_forgot_return),
    ("softmax", "wrong_type", softmax_as_list),
    ("softmax", "raised", softmax_typo),
    ("softmax", "mutated_input", softmax_in_place),
    ("softmax", "wrong_dtype", softmax_as_float),
    ("weighted_sum", "wrong_type", weighted_sum_loop_returns_list),
    ("dot_scores", "sum_over_wrong_axis", scores_summed_over_keys),
    ("attention_weights", "raw_scores", weights_raw_scores),
    ("attention_weights", "not_normalised", weights_unnormalised),
    ("attention_weights", "scaled_single_query", weights_scaled),
    ("weighted_sum", "sum_over_features", weighted_sum_over_features),
    ("weighted_sum", "mean_instead_of_sum", weighted_mean),
    ("attend", "query_first", attend_query_first),
    ("attend", "concat_ignored", attend_ignores_concat),
    ("attend", "returns_weights", attend_returns_weights),
]

#: Mistakes the public cases cannot show (they need the hidden edge cases).
HIDDEN_ONLY = set()




# ---- valid answers: other ways to write the right thing -----------------------------------------

def softmax_loops(x, axis=-1):
    """Slice by slice along ``axis``, in Python floats; the result in the input's dtype."""
    rows = np.moveaxis(np.asarray(x), axis, -1)
    out = np.empty_like(rows)
    for index in np.ndindex(rows.shape[:-1]):
        row = rows[index]
        m = max(row)
        e = [math.exp(v - m) for v in row]
        out[index] = [v / sum(e) for v in e]
    return np.moveaxis(out, -1, axis)


def softmax_float64_inside(x, axis=-1):
    """Computed in float64 and cast back: float32 within tolerance."""
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)


def softmax_logsumexp(x, axis=-1):
    x = np.asarray(x)
    m = x.max(axis=axis, keepdims=True)
    lse = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    return np.exp(x - lse)


def dot_scores_loop(q, K):
    q, K = np.asarray(q), np.asarray(K)
    batch = np.broadcast_shapes(q.shape[:-1], K.shape[:-2])
    q, K = np.broadcast_to(q, batch + q.shape[-1:]), np.broadcast_to(K, batch + K.shape[-2:])
    out = np.empty(batch + K.shape[-2:-1], dtype=np.result_type(q, K))
    for index in np.ndindex(batch):
        for i in range(K.shape[-2]):
            out[index + (i,)] = sum(q[index][t] * K[index][i, t] for t in range(q.shape[-1]))
    return out


def attention_weights_einsum(q, K):
    return _weights(q, K)


def weighted_sum_matmul(w, V):
    return (np.asarray(w)[..., None, :] @ V)[..., 0, :]


def attend_einsum(q, K, V, concat_query=False):
    a = np.einsum("...n,...nd->...d", _weights(q, K), V)
    if not concat_query:
        return a
    return np.concatenate([a, np.broadcast_to(q, a.shape[:-1] + q.shape[-1:])], axis=-1)


VALID = [
    ("softmax", softmax_loops),
    ("softmax", softmax_logsumexp),
    ("softmax", softmax_float64_inside),
    ("dot_scores", dot_scores_loop),
    ("attention_weights", attention_weights_einsum),
    ("weighted_sum", weighted_sum_matmul),
    ("attend", attend_einsum),
]
