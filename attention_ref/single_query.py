"""Attention for one query at a time: scores, weights, weighted sum (F5, F7, F8)."""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, broadcast_batch, require_ndim
from .softmax import softmax


def dot_scores(q, K):
    """Dot product of one query with every key.

    Parameters
    ----------
    q : array_like of shape (..., d)
        The query.
    K : array_like of shape (..., n, d)
        The keys, one per row.

    Returns
    -------
    ndarray of shape (..., n)
        ``scores[..., i] = q · K[..., i, :]``.

    Notes
    -----
    .. math:: s_i = q \\cdot k_i, \\qquad s = K q
    """
    q = as_float_array(q, "q")
    K = as_float_array(K, "K")
    require_ndim(q, "q", 1, "(..., d)")
    require_ndim(K, "K", 2, "(..., n, d)")
    if q.shape[-1] != K.shape[-1]:
        raise ValueError(f"q (..., d) and K (..., n, d) disagree on d: q {q.shape}, K {K.shape}")
    broadcast_batch(("q", q[..., None, :]), ("K", K))
    return (K @ q[..., :, None])[..., 0]  # (..., n)


def attention_weights(q, K):
    """Attention weights of one query over the keys: softmax of the dot scores.

    Parameters
    ----------
    q : array_like of shape (..., d)
    K : array_like of shape (..., n, d)

    Returns
    -------
    ndarray of shape (..., n)
        Non-negative weights that sum to one over the keys.

    Notes
    -----
    .. math:: w_i = \\frac{\\exp(q \\cdot k_i)}{\\sum_j \\exp(q \\cdot k_j)}
    """
    return softmax(dot_scores(q, K), axis=-1)


def weighted_sum(w, V):
    """Sum of the value vectors weighted by the attention weights.

    Parameters
    ----------
    w : array_like of shape (..., n)
        Weights over the ``n`` values.
    V : array_like of shape (..., n, d_v)
        The values, one per row.

    Returns
    -------
    ndarray of shape (..., d_v)

    Notes
    -----
    .. math:: a = \\sum_i w_i v_i = w V
    """
    w = as_float_array(w, "w")
    V = as_float_array(V, "V")
    require_ndim(w, "w", 1, "(..., n)")
    require_ndim(V, "V", 2, "(..., n, d_v)")
    if w.shape[-1] != V.shape[-2]:
        raise ValueError(f"w (..., n) and V (..., n, d_v) disagree on n: w {w.shape}, V {V.shape}")
    broadcast_batch(("w", w[..., None, :]), ("V", V))
    return (w[..., None, :] @ V)[..., 0, :]  # (..., d_v)


def attend(q, K, V, concat_query=False):
    """Attention output for one query, optionally concatenated with the query.

    Parameters
    ----------
    q : array_like of shape (..., d)
    K : array_like of shape (..., n, d)
    V : array_like of shape (..., n, d_v)
    concat_query : bool, default False
        If True, return ``[a; q]``: the attention vector followed by the query.

    Returns
    -------
    ndarray of shape (..., d_v), or (..., d_v + d) when ``concat_query``

    Notes
    -----
    .. math:: a = \\sum_i \\operatorname{softmax}(K q)_i\\, v_i
    """
    K = as_float_array(K, "K")
    V = as_float_array(V, "V")
    if K.ndim >= 2 and V.ndim >= 2 and K.shape[-2] != V.shape[-2]:
        raise ValueError(f"K (..., n, d) and V (..., n, d_v) disagree on n: K {K.shape}, V {V.shape}")
    a = weighted_sum(attention_weights(q, K), V)
    if not concat_query:
        return a
    q = as_float_array(q, "q")
    q = np.broadcast_to(q, a.shape[:-1] + q.shape[-1:])
    return np.concatenate([a, q.astype(a.dtype, copy=False)], axis=-1)
