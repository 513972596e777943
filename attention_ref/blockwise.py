"""Memory-efficient attention: the online softmax, blockwise attention and merging key blocks."""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_float_array, check_mask, check_positive_int, require_ndim
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


def _check_block(out, lse, side):
    """Convert one block's (out, lse) and check that they agree on n_q and that lse is finite or -inf."""
    out = as_float_array(out, f"out_{side}")
    lse = as_float_array(lse, f"lse_{side}")
    require_ndim(out, f"out_{side}", 2, "(..., n_q, d_v)")
    require_ndim(lse, f"lse_{side}", 1, "(..., n_q)")
    if lse.shape[-1] != out.shape[-2]:
        raise ValueError(
            f"out_{side} (..., n_q, d_v) and lse_{side} (..., n_q) disagree on n_q: "
            f"out_{side} {out.shape}, lse_{side} {lse.shape}"
        )
    if np.isnan(lse).any() or np.isposinf(lse).any():
        raise ValueError(f"lse_{side} must be finite, or -inf where a query sees no key; got NaN or +inf")
    return out, lse


def merge_attention_blocks(out_a, lse_a, out_b, lse_b):
    """Attention over the union of two disjoint key sets, from each set's output and log-sum-exp.

    The batch dimensions of the four arrays broadcast; the results have their
    common dtype (float32 stays float32).

    Parameters
    ----------
    out_a : array_like of shape (..., n_q, d_v)
        Attention output over key set a, as :func:`blockwise_attention` returns it.
    lse_a : array_like of shape (..., n_q)
        Log-sum-exp of each query's scaled scores over key set a; ``-inf``
        where the query attends to no key of a.
    out_b : array_like of shape (..., n_q, d_v)
        The same for key set b, disjoint from a.
    lse_b : array_like of shape (..., n_q)

    Returns
    -------
    out : ndarray of shape (..., n_q, d_v)
        Attention output over the keys of a and b together.
    lse : ndarray of shape (..., n_q)
        Log-sum-exp over the keys of a and b; ``-inf`` (with a zero output)
        where both are ``-inf``.

    Notes
    -----
    With :math:`\\ell = e^{\\text{lse}}`, a block's output is its unnormalised
    output divided by :math:`\\ell`, so the union's output is the
    :math:`\\ell`-weighted mean of the two. Dividing every :math:`\\ell` by
    :math:`e^m` keeps the exponentials in [0, 1]:

    .. math:: m = \\max(\\text{lse}_a, \\text{lse}_b), \\quad
              w_a = e^{\\text{lse}_a - m}, \\quad w_b = e^{\\text{lse}_b - m}, \\quad
              \\text{out} = \\frac{w_a\\, \\text{out}_a + w_b\\, \\text{out}_b}{w_a + w_b}, \\quad
              \\text{lse} = m + \\log(w_a + w_b)

    A side with :math:`\\text{lse} = -\\infty` gets :math:`w = 0`; when both do,
    :math:`m` is replaced by 0, the output is zero and the lse stays
    :math:`-\\infty`. Merging is commutative and associative, so a sequence of
    key blocks can be merged in any order (as across devices in ring attention).
    """
    out_a, lse_a = _check_block(out_a, lse_a, "a")
    out_b, lse_b = _check_block(out_b, lse_b, "b")
    if out_a.shape[-2:] != out_b.shape[-2:]:
        raise ValueError(
            f"the blocks disagree on (n_q, d_v): out_a {out_a.shape}, out_b {out_b.shape}"
        )
    try:
        np.broadcast_shapes(out_a.shape[:-2], lse_a.shape[:-1], out_b.shape[:-2], lse_b.shape[:-1])
    except ValueError:
        raise ValueError(
            f"batch dimensions do not broadcast: out_a {out_a.shape}, lse_a {lse_a.shape}, "
            f"out_b {out_b.shape}, lse_b {lse_b.shape}"
        ) from None
    dtype = np.result_type(out_a, lse_a, out_b, lse_b)
    shift = _shift(np.maximum(lse_a, lse_b))  # (..., n_q): m, or 0 where both are -inf
    w_a = np.exp(lse_a - shift)  # (..., n_q), in [0, 1]
    w_b = np.exp(lse_b - shift)  # (..., n_q), in [0, 1]
    total = w_a + w_b  # in [1, 2], or 0 where both are -inf
    seen = total > 0
    total = np.where(seen, total, 1)
    out = (w_a / total)[..., None] * out_a + (w_b / total)[..., None] * out_b  # (..., n_q, d_v)
    lse = np.where(seen, shift + np.log(total), -np.inf)  # (..., n_q), batch of lse_a and lse_b only
    lse = np.broadcast_to(lse, out.shape[:-1]).astype(dtype)  # (..., n_q), a writable copy
    return out.astype(dtype, copy=False), lse
