"""Memory-efficient attention: the online softmax and blockwise attention."""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_float_array, check_mask, check_positive_int
from .dot_product import check_qkv


def _shift(m):
    """The running max where finite, 0 where it is -inf (nothing seen yet or all masked)."""
    return np.where(np.isfinite(m), m, 0)


def online_softmax(x, block_size):
    """Softmax over the last axis, normalised in one streaming pass over blocks.

    Parameters
    ----------
    x : array_like of shape (..., n)
        Logits.
    block_size : int
        Number of logits read at a time (>= 1).

    Returns
    -------
    ndarray of shape (..., n)
        Equal to ``softmax(x, axis=-1)``.

    Notes
    -----
    After reading block :math:`b` the running max and running sum are

    .. math:: m' = \\max(m, \\max_{j \\in b} x_j), \\qquad
              \\ell' = \\ell\\, e^{m - m'} + \\sum_{j \\in b} e^{x_j - m'}

    so :math:`\\ell = \\sum_j e^{x_j - m}` holds for everything read so far: when
    the max grows, the old sum is rescaled to the new max. The weights are then
    :math:`e^{x_j - m} / \\ell`.
    """
    x = as_float_array(x, "x")
    block_size = check_positive_int(block_size, "block_size")
    m = np.full(x.shape[:-1], -np.inf, dtype=x.dtype)  # running max
    total = np.zeros(x.shape[:-1], dtype=x.dtype)  # running sum of exp(x - m)
    for start in range(0, x.shape[-1], block_size):
        block = x[..., start : start + block_size]
        m_new = np.maximum(m, block.max(axis=-1))
        shift = _shift(m_new)
        total = total * np.exp(m - shift) + np.exp(block - shift[..., None]).sum(axis=-1)
        m = m_new
    weights = np.exp(x - _shift(m)[..., None])
    weights /= np.where(total > 0, total, 1)[..., None]
    return weights


def blockwise_attention(Q, K, V, mask=None, block_size=128):
    """Scaled dot-product attention computed tile by tile with an online softmax.

    Parameters
    ----------
    Q : array_like of shape (..., n_q, d_k)
    K : array_like of shape (..., n_k, d_k)
    V : array_like of shape (..., n_k, d_v)
    mask : ndarray of bool, optional
        Broadcastable to (..., n_q, n_k); True = may attend. It is read tile by
        tile through a broadcast view, never expanded.
    block_size : int, default 128
        Side of the (block_size, block_size) score tiles.

    Returns
    -------
    out : ndarray of shape (..., n_q, d_v)
        Equal to ``scaled_dot_product_attention(Q, K, V, mask)[0]``.
    lse : ndarray of shape (..., n_q)
        Log-sum-exp of each query's scaled scores over its attended keys;
        ``-inf`` for a query with no attended key (whose output is zero).

    Notes
    -----
    For each block of queries, the key blocks are visited in turn keeping a
    running max :math:`m`, a running sum :math:`\\ell` and an unnormalised output
    :math:`A`; with :math:`S = Q_b K_c^\\top/\\sqrt{d_k}`:

    .. math:: m' = \\max(m, \\operatorname{rowmax} S), \\quad P = e^{S - m'}, \\quad
              \\ell' = e^{m - m'} \\ell + \\operatorname{rowsum} P, \\quad
              A' = e^{m - m'} A + P V_c

    and finally :math:`\\text{out} = A / \\ell`, :math:`\\text{lse} = m + \\log \\ell`.
    Only (block_size, block_size) tiles of scores exist at any time.
    """
    Q, K, V, batch = check_qkv(Q, K, V)
    block_size = check_positive_int(block_size, "block_size")
    n_q, n_k = Q.shape[-2], K.shape[-2]
    mask = check_mask(mask, batch + (n_q, n_k))
    if mask is not None:
        mask = np.broadcast_to(mask, batch + (n_q, n_k))  # a view: no memory
    dtype = Q.dtype
    Qs = Q * dtype.type(1.0 / math.sqrt(Q.shape[-1]))  # (..., n_q, d_k)
    Kt = K.swapaxes(-2, -1)  # (..., d_k, n_k)
    out = np.empty(batch + (n_q, V.shape[-1]), dtype=dtype)
    lse = np.empty(batch + (n_q,), dtype=dtype)
    for q0 in range(0, n_q, block_size):
        q_rows = slice(q0, q0 + block_size)
        Qb = Qs[..., q_rows, :]  # (..., bq, d_k)
        bq = Qb.shape[-2]
        m = np.full(batch + (bq, 1), -np.inf, dtype=dtype)  # running max
        total = np.zeros(batch + (bq, 1), dtype=dtype)  # running sum
        acc = np.zeros(batch + (bq, V.shape[-1]), dtype=dtype)  # unnormalised output
        for k0 in range(0, n_k, block_size):
            k_cols = slice(k0, k0 + block_size)
            S = Qb @ Kt[..., :, k_cols]  # (..., bq, bk)
            if mask is not None:
                S = np.where(mask[..., q_rows, k_cols], S, -np.inf)
            m_new = np.maximum(m, S.max(axis=-1, keepdims=True))
            shift = _shift(m_new)
            S -= shift
            np.exp(S, out=S)  # S now holds P
            alpha = np.exp(m - shift)  # rescales what was accumulated under the old max
            total *= alpha
            total += S.sum(axis=-1, keepdims=True)
            acc *= alpha
            acc += S @ V[..., k_cols, :]
            m = m_new
        seen = total > 0
        out[..., q_rows, :] = acc / np.where(seen, total, 1)
        lse[..., q_rows] = np.where(seen, m + np.log(np.where(seen, total, 1)), -np.inf)[..., 0]
    return out, lse
