"""Multi-head attention (F4) and its backward pass."""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_float_array, broadcast_batch, check_mask, check_positive_int, require_ndim
from .backward import _sum_to_shape, scaled_dot_product_attention_backward
from .dot_product import attention

_WEIGHTS = ("W_q", "W_k", "W_v", "W_o")
_BIASES = ("b_q", "b_k", "b_v", "b_o")


def split_heads(X, num_heads):
    """Give each head its own slice of the feature columns.

    Parameters
    ----------
    X : array_like of shape (..., n, d_model)
    num_heads : int
        Number of heads ``h``; must divide ``d_model``.

    Returns
    -------
    ndarray of shape (..., h, n, d_model // h)
        Head ``i`` holds columns ``i*d_head … (i+1)*d_head - 1`` of ``X``.
    """
    X = as_float_array(X, "X")
    require_ndim(X, "X", 2, "(..., n, d_model)")
    h = check_positive_int(num_heads, "num_heads")
    n, d_model = X.shape[-2:]
    if d_model % h:
        raise ValueError(f"num_heads={h} does not divide d_model={d_model} of X {X.shape}")
    X = X.reshape(X.shape[:-1] + (h, d_model // h))  # (..., n, h, d_head)
    return X.swapaxes(-3, -2)  # (..., h, n, d_head)


def merge_heads(X):
    """Concatenate the heads' columns again: the inverse of :func:`split_heads`.

    Parameters
    ----------
    X : array_like of shape (..., h, n, d_head)

    Returns
    -------
    ndarray of shape (..., n, h * d_head)
    """
    X = as_float_array(X, "X")
    require_ndim(X, "X", 3, "(..., h, n, d_head)")
    h, n, d_head = X.shape[-3:]
    X = X.swapaxes(-3, -2)  # (..., n, h, d_head)
    return X.reshape(X.shape[:-2] + (h * d_head,))  # (..., n, h * d_head)


def init_multi_head_params(d_model, rng, bias=True):
    """Random parameters for :func:`multi_head_attention`.

    Parameters
    ----------
    d_model : int
        Width of the model.
    rng : numpy.random.Generator
        Source of randomness.
    bias : bool, default True
        Whether to include the biases (initialised to zero).

    Returns
    -------
    dict of str to ndarray
        ``W_q, W_k, W_v, W_o`` of shape (d_model, d_model), drawn from
        N(0, 1/d_model) so that a projection keeps the variance of its input;
        with ``bias``, ``b_q, b_k, b_v, b_o`` of shape (d_model,).
    """
    d_model = check_positive_int(d_model, "d_model")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    std = 1.0 / math.sqrt(d_model)
    params = {name: rng.normal(0.0, std, size=(d_model, d_model)) for name in _WEIGHTS}
    if bias:
        params.update({name: np.zeros(d_model) for name in _BIASES})
    return params


def _project(X, params, w_name, b_name):
    """X @ W + b, the bias being optional."""
    out = X @ params[w_name]
    if b_name in params:
        out = out + params[b_name]
    return out


def _project_backward(dY, X, W):
    """Backward of :func:`_project`: ``(dX, dW, db)`` for ``Y = X @ W + b`` and ``dY = dL/dY``.

    ``dX`` keeps the batch dimensions of ``dY``; ``dW`` and ``db`` are summed over
    every batch entry and row. ``db`` is returned whether or not there is a bias.
    """
    dX = dY @ W.T  # (..., n, d_in)
    dW = _sum_to_shape(X.swapaxes(-2, -1) @ dY, W.shape)  # (d_in, d_out): Σ over batch of Xᵀ dY
    db = dY.sum(axis=tuple(range(dY.ndim - 1)))  # (d_out,): Σ over batch and rows
    return dX, dW, db


def _check_params(params, d_q, d_kv, num_heads):
    missing = [name for name in _WEIGHTS if name not in params]
    if missing:
        raise ValueError(f"params is missing {', '.join(missing)}")
    arrays = {
        name: as_float_array(value, name)
        for name, value in params.items()
        if name in _WEIGHTS + _BIASES
    }
    d_model = arrays["W_q"].shape[-1] if arrays["W_q"].ndim == 2 else -1
    expected = {
        "W_q": (d_q, d_model), "W_k": (d_kv, d_model), "W_v": (d_kv, d_model),
        "W_o": (d_model, d_model),
        "b_q": (d_model,), "b_k": (d_model,), "b_v": (d_model,), "b_o": (d_model,),
    }
    wrong = [
        f"{name} {arr.shape} (expected {expected[name]})"
        for name, arr in arrays.items()
        if arr.shape != expected[name]
    ]
    if wrong:
        raise ValueError("parameter shapes do not fit the inputs: " + ", ".join(wrong))
    if d_model % num_heads:
        raise ValueError(f"num_heads={num_heads} does not divide d_model={d_model}")
    return arrays, d_model


def multi_head_attention(X_q, X_kv, params, num_heads, mask=None):
    """Multi-head scaled dot-product attention.

    Parameters
    ----------
    X_q : array_like of shape (..., n_q, d_model)
        The sequence that asks (queries).
    X_kv : array_like of shape (..., n_k, d_model)
        The sequence that is looked up (keys and values); pass ``X_q`` itself
        for self-attention.
    params : dict of str to array_like
        ``W_q, W_k, W_v, W_o`` of shape (d_model, d_model) and optionally
        ``b_q, b_k, b_v, b_o`` of shape (d_model,); a missing bias means none.
    num_heads : int
        Number of heads ``h``; must divide ``d_model``.
    mask : ndarray of bool, optional
        Broadcastable to (..., n_q, n_k), shared by all heads; True = may attend.

    Returns
    -------
    out : ndarray of shape (..., n_q, d_model)
    weights : ndarray of shape (..., h, n_q, n_k)

    Notes
    -----
    .. math:: \\operatorname{head}_i = \\operatorname{Attention}(X_q W^Q_i, X_{kv} W^K_i, X_{kv} W^V_i),
              \\qquad \\operatorname{MultiHead} = [\\operatorname{head}_1, …, \\operatorname{head}_h] W^O

    where :math:`W^Q_i` is the i-th block of ``d_head = d_model / h`` columns of
    ``W_q``: each head attends in its own learned subspace, scaled by √d_head.
    """
    X_q = as_float_array(X_q, "X_q")
    X_kv = as_float_array(X_kv, "X_kv")
    require_ndim(X_q, "X_q", 2, "(..., n_q, d_model)")
    require_ndim(X_kv, "X_kv", 2, "(..., n_k, d_model)")
    h = check_positive_int(num_heads, "num_heads")
    p, d_model = _check_params(params, X_q.shape[-1], X_kv.shape[-1], h)
    Q = split_heads(_project(X_q, p, "W_q", "b_q"), h)  # (..., h, n_q, d_head)
    K = split_heads(_project(X_kv, p, "W_k", "b_k"), h)  # (..., h, n_k, d_head)
    V = split_heads(_project(X_kv, p, "W_v", "b_v"), h)  # (..., h, n_k, d_head)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise ValueError(f"mask must be a boolean array (True = may attend), got dtype {mask.dtype}")
        mask = np.expand_dims(mask, -3)  # (..., 1, n_q, n_k): the same mask for every head
    heads, weights = attention(Q, K, V, mask, 1.0 / math.sqrt(d_model // h))
    out = _project(merge_heads(heads), p, "W_o", "b_o")  # (..., n_q, d_model)
    dtype = np.result_type(X_q, X_kv, *p.values())
    return out.astype(dtype, copy=False), weights.astype(dtype, copy=False)


def multi_head_attention_backward(dout, X_q, X_kv, params, num_heads, mask=None):
    """Gradients of a loss through :func:`multi_head_attention`.

    Parameters
    ----------
    dout : array_like of shape (..., n_q, d_model)
        Upstream gradient dL/dout, of the shape of the forward output.
    X_q : array_like of shape (..., n_q, d_model)
        The queries' sequence of the forward pass.
    X_kv : array_like of shape (..., n_k, d_model)
        The keys' and values' sequence of the forward pass.
    params : dict of str to array_like
        ``W_q, W_k, W_v, W_o`` of shape (d_model, d_model) and optionally
        ``b_q, b_k, b_v, b_o`` of shape (d_model,), as for the forward pass.
    num_heads : int
        Number of heads ``h``; must divide ``d_model``.
    mask : ndarray of bool, optional
        The forward pass's mask, broadcastable to (..., n_q, n_k); True = may attend.

    Returns
    -------
    dict of str to ndarray
        ``W_q, W_k, W_v, W_o`` and whichever of ``b_q, b_k, b_v, b_o`` are in
        ``params`` (other keys of ``params`` are ignored), each of its
        parameter's shape, plus ``X_q`` and ``X_kv`` of the inputs' shapes:
        the gradients of ``L = sum(dout * multi_head_attention(X_q, X_kv,
        params, num_heads, mask)[0])``. For self-attention (``X_kv is X_q``),
        dL/dX is ``grads["X_q"] + grads["X_kv"]``. All have the common dtype
        of ``dout``, the inputs and the parameters (float32 stays float32).

    Notes
    -----
    The forward pass, with row vectors and :math:`Q_i` the i-th block of
    ``d_head`` columns of :math:`Q`:

    .. math:: Q = X_q W_q + b_q, \\quad K = X_{kv} W_k + b_k, \\quad V = X_{kv} W_v + b_v, \\quad
              H_i = \\operatorname{Attention}(Q_i, K_i, V_i), \\quad
              C = [H_1, …, H_h], \\quad \\text{out} = C W_o + b_o

    is undone step by step, last step first (:math:`\\Sigma` sums over batch
    entries and rows):

    .. math:: dC = d\\text{out}\\, W_o^\\top, \\quad dW_o = \\Sigma\\, C^\\top d\\text{out}, \\quad
              db_o = \\Sigma\\, d\\text{out}, \\quad dH_i = (dC)_i, \\quad
              (dQ_i, dK_i, dV_i) = \\operatorname{Attention}'(dH_i; Q_i, K_i, V_i),

    .. math:: dX_q = dQ\\, W_q^\\top, \\quad dW_q = \\Sigma\\, X_q^\\top dQ, \\quad
              db_q = \\Sigma\\, dQ, \\quad dX_{kv} = dK\\, W_k^\\top + dV\\, W_v^\\top

    (and likewise for :math:`W_k, b_k, W_v, b_v`), where Attention' is
    :func:`~attention_ref.scaled_dot_product_attention_backward`. Splitting
    the columns into heads and merging them again are each other's backward.
    :math:`db_k` is always zero: :math:`b_k` adds :math:`q \\cdot b_k` to all of a
    query's scores, which the softmax ignores.
    """
    X_q = as_float_array(X_q, "X_q")
    X_kv = as_float_array(X_kv, "X_kv")
    dout = as_float_array(dout, "dout")
    require_ndim(X_q, "X_q", 2, "(..., n_q, d_model)")
    require_ndim(X_kv, "X_kv", 2, "(..., n_k, d_model)")
    h = check_positive_int(num_heads, "num_heads")
    p, d_model = _check_params(params, X_q.shape[-1], X_kv.shape[-1], h)
    n_q, n_k = X_q.shape[-2], X_kv.shape[-2]
    batch = broadcast_batch(("X_q", X_q), ("X_kv", X_kv))
    mask = check_mask(mask, batch + (n_q, n_k))
    if mask is not None:
        batch = np.broadcast_shapes(mask.shape, batch + (n_q, n_k))[:-2]  # a mask may add batch dims
        if mask.ndim >= 2:
            mask = np.expand_dims(mask, -3)  # (..., 1, n_q, n_k): the same mask for every head
    expected = batch + (n_q, d_model)
    if dout.shape != expected:
        raise ValueError(
            f"dout must have the shape of the output {expected} (..., n_q, d_model), got {dout.shape}"
        )

    # Forward, keeping what the backward needs; (1)…(4) name the steps.
    Q = split_heads(_project(X_q, p, "W_q", "b_q"), h)  # (1) project, split: (..., h, n_q, d_head)
    K = split_heads(_project(X_kv, p, "W_k", "b_k"), h)  # (1) (..., h, n_k, d_head)
    V = split_heads(_project(X_kv, p, "W_v", "b_v"), h)  # (1) (..., h, n_k, d_head)
    Q = np.broadcast_to(Q, batch + Q.shape[-3:])  # (..., h, n_q, d_head), every batch entry of the output
    heads, _ = attention(Q, K, V, mask, 1.0 / math.sqrt(d_model // h))  # (2) (..., h, n_q, d_head)
    concat = merge_heads(heads)  # (3) (..., n_q, d_model)
    # (4) out = concat @ W_o + b_o

    # Backward, last step first.
    grads = {}
    dconcat, grads["W_o"], grads["b_o"] = _project_backward(dout, concat, p["W_o"])  # (4) (..., n_q, d_model)
    dheads = split_heads(dconcat, h)  # (3) merge_heads' backward: (..., h, n_q, d_head)
    dQ, dK, dV = scaled_dot_product_attention_backward(dheads, Q, K, V, mask)  # (2) in Q's, K's, V's shapes
    dQ = merge_heads(dQ)  # (1) split_heads' backward: (..., n_q, d_model)
    dK = merge_heads(dK)  # (1) (..., n_k, d_model)
    dV = merge_heads(dV)  # (1) (..., n_k, d_model)
    dX_q, grads["W_q"], grads["b_q"] = _project_backward(dQ, X_q, p["W_q"])  # (1) (..., n_q, d_model)
    dX_k, grads["W_k"], grads["b_k"] = _project_backward(dK, X_kv, p["W_k"])  # (1) (..., n_k, d_model)
    dX_v, grads["W_v"], grads["b_v"] = _project_backward(dV, X_kv, p["W_v"])  # (1) (..., n_k, d_model)
    grads["X_q"] = _sum_to_shape(dX_q, X_q.shape)  # summed over batch dims X_q was broadcast along
    grads["X_kv"] = _sum_to_shape(dX_k + dX_v, X_kv.shape)  # X_kv feeds both K and V

    dtype = np.result_type(dout, X_q, X_kv, *p.values())
    return {name: grads[name].astype(dtype, copy=False) for name in (*p, "X_q", "X_kv")}
