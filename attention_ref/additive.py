"""Additive (Bahdanau) attention (F6)."""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, broadcast_batch, check_mask, require_ndim
from .softmax import masked_softmax


def additive_scores(Q, K, W_q, W_k, w_v):
    """Scores of a one-hidden-layer network applied to every query-key pair.

    Parameters
    ----------
    Q : array_like of shape (..., n_q, d_q)
        Queries, one per row.
    K : array_like of shape (..., n_k, d_k)
        Keys, one per row.
    W_q : array_like of shape (d_q, h)
        Projection of the queries into the hidden layer.
    W_k : array_like of shape (d_k, h)
        Projection of the keys into the hidden layer.
    w_v : array_like of shape (h,)
        Output weights of the hidden layer.

    Returns
    -------
    ndarray of shape (..., n_q, n_k)

    Notes
    -----
    .. math:: f(q_i, k_j) = \\tanh(q_i W_q + k_j W_k) \\cdot w_v

    Unlike the dot product, q and k may have different sizes, and f has
    parameters that are learned; it costs O(n_q n_k h) memory and time.
    """
    Q = as_float_array(Q, "Q")
    K = as_float_array(K, "K")
    W_q = as_float_array(W_q, "W_q")
    W_k = as_float_array(W_k, "W_k")
    w_v = as_float_array(w_v, "w_v")
    require_ndim(Q, "Q", 2, "(..., n_q, d_q)")
    require_ndim(K, "K", 2, "(..., n_k, d_k)")
    if W_q.ndim != 2 or W_k.ndim != 2 or w_v.ndim != 1:
        raise ValueError(
            f"W_q must be (d_q, h), W_k (d_k, h), w_v (h,); got W_q {W_q.shape}, "
            f"W_k {W_k.shape}, w_v {w_v.shape}"
        )
    if W_q.shape[0] != Q.shape[-1] or W_k.shape[0] != K.shape[-1]:
        raise ValueError(
            f"projections do not fit the inputs: Q {Q.shape} with W_q {W_q.shape}, "
            f"K {K.shape} with W_k {W_k.shape}"
        )
    if not W_q.shape[1] == W_k.shape[1] == w_v.shape[0]:
        raise ValueError(
            f"hidden sizes differ: W_q {W_q.shape}, W_k {W_k.shape}, w_v {w_v.shape}"
        )
    broadcast_batch(("Q", Q), ("K", K))
    dtype = np.result_type(Q, K, W_q, W_k, w_v)
    q_hidden = (Q @ W_q).astype(dtype, copy=False)  # (..., n_q, h)
    k_hidden = (K @ W_k).astype(dtype, copy=False)  # (..., n_k, h)
    hidden = np.tanh(q_hidden[..., :, None, :] + k_hidden[..., None, :, :])  # (..., n_q, n_k, h)
    return hidden @ w_v.astype(dtype, copy=False)  # (..., n_q, n_k)


def additive_attention(Q, K, V, W_q, W_k, w_v, mask=None):
    """Attention whose weights are the softmax of additive scores.

    Parameters
    ----------
    Q : array_like of shape (..., n_q, d_q)
    K : array_like of shape (..., n_k, d_k)
    V : array_like of shape (..., n_k, d_v)
    W_q : array_like of shape (d_q, h)
    W_k : array_like of shape (d_k, h)
    w_v : array_like of shape (h,)
    mask : ndarray of bool, optional
        Broadcastable to (..., n_q, n_k); True = may attend.

    Returns
    -------
    out : ndarray of shape (..., n_q, d_v)
    weights : ndarray of shape (..., n_q, n_k)

    Notes
    -----
    .. math:: w_{ij} = \\frac{\\exp f(q_i, k_j)}{\\sum_{j'} \\exp f(q_i, k_{j'})},
              \\qquad \\text{out}_i = \\sum_j w_{ij} v_j
    """
    V = as_float_array(V, "V")
    require_ndim(V, "V", 2, "(..., n_k, d_v)")
    K_arr = np.asarray(K)
    if K_arr.ndim >= 2 and K_arr.shape[-2] != V.shape[-2]:
        raise ValueError(
            f"K (..., n_k, d_k) and V (..., n_k, d_v) disagree on n_k: K {K_arr.shape}, V {V.shape}"
        )
    scores = additive_scores(Q, K, W_q, W_k, w_v)  # (..., n_q, n_k)
    broadcast_batch(("scores", scores), ("V", V))
    mask = check_mask(mask, scores.shape)
    weights = masked_softmax(scores, mask)
    dtype = np.result_type(weights, V)
    return (weights @ V).astype(dtype, copy=False), weights.astype(dtype, copy=False)
