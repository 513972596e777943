"""Softmax and its backward pass."""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array


def softmax(x, axis=-1):
    """Numerically stable softmax along one axis.

    Parameters
    ----------
    x : array_like of shape (..., n)
        Logits. Entries equal to ``-inf`` get zero weight; a slice that is
        ``-inf`` everywhere (a fully masked query) gets zeros instead of NaN.
    axis : int, default -1
        Axis along which the weights sum to one.

    Returns
    -------
    ndarray of the same shape as ``x``
        Weights, float32 for float32 input and float64 otherwise.

    Notes
    -----
    .. math:: \\operatorname{softmax}(x)_i = \\frac{e^{x_i - m}}{\\sum_j e^{x_j - m}},
              \\quad m = \\max_j x_j

    Subtracting the maximum changes nothing mathematically (it cancels between
    numerator and denominator) but keeps every exponent at most zero, so
    ``exp`` never overflows.
    """
    x = as_float_array(x, "x")
    m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros_like(x)
    # A slice that is -inf everywhere has max -inf; shift it by 0 instead so that
    # exp(-inf) = 0 rather than exp(nan).
    m = np.where(np.isfinite(m), m, 0)
    e = x - m
    np.exp(e, out=e)
    total = np.sum(e, axis=axis, keepdims=True)
    e /= np.where(total > 0, total, 1)
    return e


def softmax_backward(y, dy, axis=-1):
    """Gradient of a loss with respect to the logits of a softmax.

    Parameters
    ----------
    y : array_like of shape (..., n)
        The softmax output, ``y = softmax(x, axis)``.
    dy : array_like of shape (..., n)
        Upstream gradient dL/dy, same shape as ``y``.
    axis : int, default -1
        The axis the softmax was taken over.

    Returns
    -------
    ndarray of the same shape as ``y``
        dL/dx.

    Notes
    -----
    The Jacobian is :math:`\\partial y_i / \\partial x_j = y_i(\\delta_{ij} - y_j)`, so

    .. math:: \\frac{\\partial L}{\\partial x_j}
              = y_j \\Big(\\frac{\\partial L}{\\partial y_j}
              - \\sum_i \\frac{\\partial L}{\\partial y_i} y_i\\Big)
    """
    y = as_float_array(y, "y")
    dy = as_float_array(dy, "dy")
    if y.shape != dy.shape:
        raise ValueError(f"y and dy must have the same shape, got y {y.shape} and dy {dy.shape}")
    inner = np.sum(dy * y, axis=axis, keepdims=True)
    return y * (dy - inner)


def masked_softmax(scores, mask):
    """Softmax over the last axis of ``scores`` restricted to the keys ``mask`` allows.

    Parameters
    ----------
    scores : ndarray of shape (..., n_q, n_k)
        Attention logits (a fresh array: it may be overwritten).
    mask : ndarray of bool or None
        Broadcastable to ``scores``; True = may attend.

    Returns
    -------
    ndarray of shape (..., n_q, n_k)
        Weights; a query with no allowed key gets a row of zeros.
    """
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    return softmax(scores, axis=-1)
