"""Gradients of attention: analytic backward pass and a finite-difference check (F9)."""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_float_array, check_mask
from .dot_product import attention, check_qkv
from .softmax import softmax_backward


def _sum_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach it."""
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra else grad
    stretched = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def scaled_dot_product_attention_backward(dout, Q, K, V, mask=None):
    """Gradients of a loss through scaled dot-product attention.

    Parameters
    ----------
    dout : array_like of shape (..., n_q, d_v)
        Upstream gradient dL/dout.
    Q : array_like of shape (..., n_q, d_k)
    K : array_like of shape (..., n_k, d_k)
    V : array_like of shape (..., n_k, d_v)
    mask : ndarray of bool, optional
        The mask of the forward pass, broadcastable to (..., n_q, n_k).

    Returns
    -------
    dQ : ndarray of the shape of Q
    dK : ndarray of the shape of K
    dV : ndarray of the shape of V

    Notes
    -----
    With :math:`S = Q K^\\top / \\sqrt{d_k}`, :math:`P = \\operatorname{softmax}(S)`
    row by row and :math:`O = P V`:

    .. math:: dV = P^\\top dO, \\quad dP = dO\\, V^\\top, \\quad
              dS = P \\odot (dP - \\operatorname{rowsum}(dP \\odot P)), \\quad
              dQ = dS\\, K / \\sqrt{d_k}, \\quad dK = dS^\\top Q / \\sqrt{d_k}
    """
    Q, K, V, batch = check_qkv(Q, K, V)
    dout = as_float_array(dout, "dout")
    expected = batch + (Q.shape[-2], V.shape[-1])
    if np.broadcast_shapes(dout.shape, expected) != expected or dout.ndim < 2:
        raise ValueError(f"dout must have shape {expected} (..., n_q, d_v), got {dout.shape}")
    scale = 1.0 / math.sqrt(Q.shape[-1])
    check_mask(mask, batch + (Q.shape[-2], K.shape[-2]))
    _, P = attention(Q, K, V, mask, scale)  # (..., n_q, n_k)
    dV = P.swapaxes(-2, -1) @ dout  # (..., n_k, d_v)
    dP = dout @ V.swapaxes(-2, -1)  # (..., n_q, n_k)
    dS = softmax_backward(P, dP)  # masked entries have P = 0, hence dS = 0
    dQ = (dS @ K) * scale  # (..., n_q, d_k)
    dK = (dS.swapaxes(-2, -1) @ Q) * scale  # (..., n_k, d_k)
    dtype = np.result_type(Q, dout)
    return tuple(
        _sum_to_shape(g, x.shape).astype(dtype, copy=False) for g, x in ((dQ, Q), (dK, K), (dV, V))
    )


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; called with arrays of the shape of ``x``.
    x : array_like of any shape
        Point at which to differentiate. It is never modified.
    eps : float, default 1e-6
        Step size.

    Returns
    -------
    ndarray of the shape of ``x``
        float32 for float32 ``x``, float64 otherwise; evaluated in float64.

    Notes
    -----
    .. math:: \\frac{\\partial f}{\\partial x_i}
              \\approx \\frac{f(x + \\varepsilon e_i) - f(x - \\varepsilon e_i)}{2\\varepsilon}

    The error is O(ε²), against O(ε) for the forward difference.
    """
    if not callable(f):
        raise ValueError(f"f must be callable, got {type(f).__name__}")
    x_arr = as_float_array(x, "x")
    if not (isinstance(eps, (int, float, np.floating)) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    point = np.array(x_arr, dtype=np.float64, copy=True)  # f gets this copy, never x itself
    grad = np.empty_like(point)
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + eps
        f_plus = _scalar(f(point))
        point[index] = original - eps
        f_minus = _scalar(f(point))
        point[index] = original
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad.astype(x_arr.dtype, copy=False)


def _scalar(value):
    if np.ndim(value) != 0:
        raise ValueError(f"f must return a scalar, got an array of shape {np.shape(value)}")
    return float(value)
