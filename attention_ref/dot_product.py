"""Dot-product and scaled dot-product attention in matrix form (F1, F2, F3)."""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_float_array, broadcast_batch, check_mask, require_ndim
from .softmax import masked_softmax


def check_qkv(Q, K, V):
    """Convert and validate the query, key and value matrices.

    Parameters
    ----------
    Q : array_like of shape (..., n_q, d_k)
    K : array_like of shape (..., n_k, d_k)
    V : array_like of shape (..., n_k, d_v)

    Returns
    -------
    Q, K, V : ndarray
        Floating arrays of a common dtype.
    batch : tuple of int
        Broadcast shape of the leading dimensions.
    """
    Q = as_float_array(Q, "Q")
    K = as_float_array(K, "K")
    V = as_float_array(V, "V")
    require_ndim(Q, "Q", 2, "(..., n_q, d_k)")
    require_ndim(K, "K", 2, "(..., n_k, d_k)")
    require_ndim(V, "V", 2, "(..., n_k, d_v)")
    if Q.shape[-1] != K.shape[-1]:
        raise ValueError(
            f"Q (..., n_q, d_k) and K (..., n_k, d_k) disagree on d_k: Q {Q.shape}, K {K.shape}"
        )
    if K.shape[-2] != V.shape[-2]:
        raise ValueError(
            f"K (..., n_k, d_k) and V (..., n_k, d_v) disagree on n_k: K {K.shape}, V {V.shape}"
        )
    batch = broadcast_batch(("Q", Q), ("K", K), ("V", V))
    dtype = np.result_type(Q, K, V)
    return Q.astype(dtype, copy=False), K.astype(dtype, copy=False), V.astype(dtype, copy=False), batch


def attention(Q, K, V, mask, scale):
    """softmax(scale · Q Kᵀ, masked) V for validated inputs; returns (out, weights)."""
    batch = broadcast_batch(("Q", Q), ("K", K), ("V", V))
    mask = check_mask(mask, batch + (Q.shape[-2], K.shape[-2]))
    # Scaling Q (n_q·d_k numbers) is cheaper than scaling the scores (n_q·n_k numbers).
    scores = (Q * scale) @ K.swapaxes(-2, -1)  # (..., n_q, n_k)
    weights = masked_softmax(scores, mask)  # (..., n_q, n_k)
    return weights @ V, weights  # (..., n_q, d_v)


def dot_product_attention(Q, K, V, mask=None):
    """Unscaled dot-product attention.

    Parameters
    ----------
    Q : array_like of shape (..., n_q, d_k)
        Queries, one per row.
    K : array_like of shape (..., n_k, d_k)
        Keys, one per row.
    V : array_like of shape (..., n_k, d_v)
        Values, one per row.
    mask : ndarray of bool, optional
        Broadcastable to (..., n_q, n_k); True where query i may attend to key j.

    Returns
    -------
    out : ndarray of shape (..., n_q, d_v)
    weights : ndarray of shape (..., n_q, n_k)
        Each row sums to one over the allowed keys; a query with no allowed key
        gets zero weights and a zero output.

    Notes
    -----
    .. math:: \\operatorname{Attention}(Q, K, V) = \\operatorname{softmax}(Q K^\\top) V
    """
    Q, K, V, _ = check_qkv(Q, K, V)
    return attention(Q, K, V, mask, 1.0)


def scaled_dot_product_attention(Q, K, V, mask=None):
    """Scaled dot-product attention.

    Parameters
    ----------
    Q : array_like of shape (..., n_q, d_k)
        Queries, one per row.
    K : array_like of shape (..., n_k, d_k)
        Keys, one per row.
    V : array_like of shape (..., n_k, d_v)
        Values, one per row.
    mask : ndarray of bool, optional
        Broadcastable to (..., n_q, n_k); True where query i may attend to key j.

    Returns
    -------
    out : ndarray of shape (..., n_q, d_v)
    weights : ndarray of shape (..., n_q, n_k)
        Each row sums to one over the allowed keys; a query with no allowed key
        gets zero weights and a zero output.

    Notes
    -----
    .. math:: \\operatorname{Attention}(Q, K, V)
              = \\operatorname{softmax}\\Big(\\frac{Q K^\\top}{\\sqrt{d_k}}\\Big) V

    For random q, k with unit-variance entries, q·k has variance d_k; dividing
    by √d_k keeps the logits' variance at one whatever d_k is, so the softmax
    does not saturate.
    """
    Q, K, V, _ = check_qkv(Q, K, V)
    return attention(Q, K, V, mask, 1.0 / math.sqrt(Q.shape[-1]))
