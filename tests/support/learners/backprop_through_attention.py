"""Learner-style answers to notebook 05: buggy ones, with the mistake each must be named as; valid ones.

The buggy and valid implementations are written the way a learner would write them (explicit
Jacobians, einsum, per-query loops, several ways of perturbing x), independently of the variants
in grader.checks.exercises. The cases' own ingredients are checked against independent oracles: the
functions handed to numerical_gradient against their analytic gradients, and the reference
backward passes against central differences of a plain forward pass.

``reversal_training`` is the notebook's given training loop: its buggy and valid answers are that
loop — the locked cells of the solutions notebook, run as they are — on top of a learner's
backward pass.
"""

from __future__ import annotations

import math

import numpy as np

from attention_course.given import run_given
from grader.checks import registry

NOTEBOOK = "05_backprop_through_attention"


# ---- buggy answers: (exercise, misconception key, implementation) ------------------------------

def softmax_backward_outer_only(y, dy, axis=-1):
    # "the Jacobian is -y yᵀ"
    return -y * np.sum(y * dy, axis=axis, keepdims=True)


def softmax_backward_times_y(y, dy, axis=-1):
    return dy * y


def softmax_backward_diagonal(y, dy, axis=-1):
    y_last, dy_last = np.moveaxis(y, axis, -1), np.moveaxis(dy, axis, -1)
    out = np.empty_like(y_last)
    for index in np.ndindex(y_last.shape[:-1]):
        jacobian = np.diag(y_last[index] * (1 - y_last[index]))
        out[index] = jacobian @ dy_last[index]
    return np.moveaxis(out, -1, axis)


def softmax_backward_axis0(y, dy, axis=-1):
    s = (y * dy).sum(axis=0, keepdims=True)
    return y * (dy - s)


def softmax_backward_no_keepdims(y, dy, axis=-1):
    s = np.sum(y * dy, axis=axis)
    return y * dy - y * s


def softmax_backward_global_sum(y, dy, axis=-1):
    return y * (dy - np.sum(y * dy))


def softmax_backward_last_axis(y, dy, axis=-1):
    return y * (dy - np.einsum("...i,...i->...", y, dy)[..., None])


def softmax_backward_eye(y, dy, axis=-1):
    """The explicit Jacobian diag(y) − y yᵀ, built with np.eye(n): float64 whatever y is."""
    y_last, dy_last = np.moveaxis(y, axis, -1), np.moveaxis(dy, axis, -1)
    n = y_last.shape[-1]
    jacobian = np.eye(n) * y_last[..., None, :] - y_last[..., :, None] * y_last[..., None, :]
    return np.moveaxis(np.einsum("...ij,...i->...j", jacobian, dy_last), -1, axis)


def attention_backward_np_sqrt(dout, Q, K, V, mask=None):
    """Right, but scaled by np.sqrt(d): float32 inputs give float64 dQ and dK."""
    P = masked_weights(Q, K, mask)
    return _backward_from(P, dout, Q, K, V, 1 / np.sqrt(Q.shape[-1]))


def masked_weights(Q, K, mask, scaled=True, fill=None):
    """Learner-style forward: masked entries multiplied away after the exponential."""
    s = np.einsum("...qd,...kd->...qk", Q, K)
    if scaled:
        s = s / math.sqrt(Q.shape[-1])
    if mask is None:
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if fill is not None:
        s = np.where(mask, s, fill)
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    e = np.exp(s - s.max(axis=-1, keepdims=True)) * mask
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total == 0, 1, total)


def _backward_from(P, dout, Q, K, V, scale):
    """dQ, dK, dV given the weights, written with einsum."""
    dV = np.einsum("...qk,...qd->...kd", P, dout)
    dP = np.einsum("...qd,...kd->...qk", dout, V)
    dS = P * (dP - np.einsum("...qk,...qk->...q", dP, P)[..., None])
    return np.einsum("...qk,...kd->...qd", dS, K) * scale, np.einsum("...qk,...qd->...kd", dS, Q) * scale, dV


def attention_backward_swapped(dout, Q, K, V, mask=None):
    d = Q.shape[-1]
    P = masked_weights(Q, K, mask)
    dV = np.swapaxes(P, -1, -2) @ dout
    dP = dout @ np.swapaxes(V, -1, -2)
    dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))
    dK = dS @ K / math.sqrt(d)
    dQ = np.swapaxes(dS, -1, -2) @ Q / math.sqrt(d)
    return dQ, dK, dV


def attention_backward_unscaled_grads(dout, Q, K, V, mask=None):
    P = masked_weights(Q, K, mask)
    return _backward_from(P, dout, Q, K, V, 1.0)


def attention_backward_dot_product(dout, Q, K, V, mask=None):
    P = masked_weights(Q, K, mask, scaled=False)
    return _backward_from(P, dout, Q, K, V, 1.0)


def attention_backward_p_not_transposed(dout, Q, K, V, mask=None):
    scale = 1 / math.sqrt(Q.shape[-1])
    P = masked_weights(Q, K, mask)
    dQ, dK, _ = _backward_from(P, dout, Q, K, V, scale)
    return dQ, dK, P @ dout


def attention_backward_no_softmax(dout, Q, K, V, mask=None):
    scale = 1 / math.sqrt(Q.shape[-1])
    P = masked_weights(Q, K, mask)
    dS = dout @ np.swapaxes(V, -1, -2)
    return dS @ K * scale, np.swapaxes(dS, -1, -2) @ Q * scale, np.swapaxes(P, -1, -2) @ dout


def attention_backward_column_sums(dout, Q, K, V, mask=None):
    scale = 1 / math.sqrt(Q.shape[-1])
    P = masked_weights(Q, K, mask)
    dP = dout @ np.swapaxes(V, -1, -2)
    dS = P * (dP - np.sum(P * dP, axis=-2, keepdims=True))
    return dS @ K * scale, np.swapaxes(dS, -1, -2) @ Q * scale, np.swapaxes(P, -1, -2) @ dout


def attention_backward_ignores_mask(dout, Q, K, V, mask=None):
    P = masked_weights(Q, K, None)
    return _backward_from(P, dout, Q, K, V, 1 / math.sqrt(Q.shape[-1]))


def attention_backward_minus_inf(dout, Q, K, V, mask=None):
    P = masked_weights(Q, K, mask, fill=-np.inf)
    return _backward_from(P, dout, Q, K, V, 1 / math.sqrt(Q.shape[-1]))


def attention_backward_minus_1e9(dout, Q, K, V, mask=None):
    P = masked_weights(Q, K, mask, fill=-1e9)
    return _backward_from(P, dout, Q, K, V, 1 / math.sqrt(Q.shape[-1]))


def numerical_gradient_forward(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=float)
    f0 = f(x)
    for i in np.ndindex(x.shape):
        xp = x.copy()
        xp[i] += eps
        grad[i] = (f(xp) - f0) / eps
    return grad


def numerical_gradient_over_eps(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = (f(xp) - f(xm)) / eps
    return grad


def numerical_gradient_precedence(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = (f(xp) - f(xm)) / 2 * eps
    return grad


def _central_with_step(f, x, h):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        grad[i] = (f(xp) - f(xm)) / (2 * h)
    return grad


def numerical_gradient_fixed_1e5(f, x, eps=1e-6):
    return _central_with_step(f, x, 1e-5)


def numerical_gradient_fixed_1e6(f, x, eps=1e-6):
    return _central_with_step(f, x, 1e-6)


def numerical_gradient_not_restored(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        x[i] += eps
        f_plus = f(x)
        x[i] -= 2 * eps
        f_minus = f(x)
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def numerical_gradient_flat(f, x, eps=1e-6):
    flat = x.astype(float).ravel()
    grad = np.zeros(flat.size)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = f(flat.reshape(x.shape))
        flat[i] = old - eps
        f_minus = f(flat.reshape(x.shape))
        flat[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


# ---- reversal_training: the notebook's training loop on a learner's backward pass ---------------

#: The locked cells that define the model and its training loop, by grade id.
GIVEN_CELLS = ("forward_given", "reversal_data", "reversal_model", "reversal_training_loop")


def given_cells():
    """The sources of the locked cells that define the model and its training loop."""
    found = registry.given_sources(NOTEBOOK)
    return [found[grade_id] for grade_id in GIVEN_CELLS]


def training_with(backward):
    """The notebook's own `reversal_training`, its cells run as they are, calling ``backward``."""
    train = run_given(given_cells(), {"scaled_dot_product_attention_backward": backward})["reversal_training"]
    train.__name__ = f"reversal_training_with_{backward.__name__}"
    return train


def _weights(Q, K):
    s = Q @ np.swapaxes(K, -1, -2) / math.sqrt(Q.shape[-1])
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention_backward_sign_flipped(dout, Q, K, V, mask=None):
    # The softmax rule written the other way round: (Σ dP·P − dP) instead of (dP − Σ dP·P).
    P = _weights(Q, K)
    dP = dout @ np.swapaxes(V, -1, -2)
    dS = P * ((P * dP).sum(axis=-1, keepdims=True) - dP)
    scale = 1 / math.sqrt(Q.shape[-1])
    return dS @ K * scale, np.swapaxes(dS, -1, -2) @ Q * scale, np.swapaxes(P, -1, -2) @ dout


def attention_backward_placeholders(dout, Q, K, V, mask=None):
    # Started with zeros "to fill in later".
    dQ, dK = np.zeros_like(Q), np.zeros_like(K)
    dV = np.swapaxes(_weights(Q, K), -1, -2) @ dout
    return dQ, dK, dV


def attention_backward_dP_not_transposed(dout, Q, K, V, mask=None):
    # dP = dout V instead of dout Vᵀ: it runs here only because the model has d_v == n_k == 6.
    P = _weights(Q, K)
    dP = dout @ V
    dS = P * (dP - (P * dP).sum(axis=-1, keepdims=True))
    scale = 1 / math.sqrt(Q.shape[-1])
    return dS @ K * scale, np.swapaxes(dS, -1, -2) @ Q * scale, np.swapaxes(P, -1, -2) @ dout


def attention_backward_no_keepdims(dout, Q, K, V, mask=None):
    P = _weights(Q, K)
    dP = dout @ np.swapaxes(V, -1, -2)
    dS = P * (dP - (P * dP).sum(axis=-1))  # (B, n, n) - (B, n): a broadcasting error
    return dS @ K, np.swapaxes(dS, -1, -2) @ Q, np.swapaxes(P, -1, -2) @ dout


def attention_backward_stub(dout, Q, K, V, mask=None):
    raise NotImplementedError()


BUGGY = [
    ("softmax_backward", "outer_term_only", softmax_backward_outer_only),
    ("softmax_backward", "diag_term_only", softmax_backward_times_y),
    ("softmax_backward", "diagonal_jacobian", softmax_backward_diagonal),
    ("softmax_backward", "sum_over_wrong_axis", softmax_backward_axis0),
    ("softmax_backward", "sum_without_keepdims", softmax_backward_no_keepdims),
    ("softmax_backward", "sum_over_everything", softmax_backward_global_sum),
    ("softmax_backward", "axis_ignored", softmax_backward_last_axis),
    ("softmax_backward", "wrong_dtype", softmax_backward_eye),
    ("scaled_dot_product_attention_backward", "wrong_dtype", attention_backward_np_sqrt),
    ("scaled_dot_product_attention_backward", "dq_dk_swapped", attention_backward_swapped),
    ("scaled_dot_product_attention_backward", "unscaled_gradients", attention_backward_unscaled_grads),
    ("scaled_dot_product_attention_backward", "unscaled_attention", attention_backward_dot_product),
    ("scaled_dot_product_attention_backward", "weights_not_transposed", attention_backward_p_not_transposed),
    ("scaled_dot_product_attention_backward", "softmax_backward_missing", attention_backward_no_softmax),
    ("scaled_dot_product_attention_backward", "softmax_backward_wrong_axis", attention_backward_column_sums),
    ("scaled_dot_product_attention_backward", "mask_ignored", attention_backward_ignores_mask),
    ("scaled_dot_product_attention_backward", "nan_in_fully_masked_rows", attention_backward_minus_inf),
    ("scaled_dot_product_attention_backward", "fully_masked_rows_uniform", attention_backward_minus_1e9),
    ("numerical_gradient", "forward_difference", numerical_gradient_forward),
    ("numerical_gradient", "divided_by_eps", numerical_gradient_over_eps),
    ("numerical_gradient", "operator_precedence", numerical_gradient_precedence),
    ("numerical_gradient", "eps_ignored", numerical_gradient_fixed_1e5),
    ("numerical_gradient", "eps_ignored", numerical_gradient_fixed_1e6),
    ("numerical_gradient", "mutated_input", numerical_gradient_not_restored),
    ("numerical_gradient", "flattened", numerical_gradient_flat),
    ("reversal_training", "loss_increased", training_with(attention_backward_sign_flipped)),
    ("reversal_training", "loss_increased", training_with(attention_backward_swapped)),
    ("reversal_training", "loss_increased", training_with(attention_backward_no_softmax)),
    ("reversal_training", "parameters_unchanged", training_with(attention_backward_placeholders)),
    ("reversal_training", "target_not_reached", training_with(attention_backward_dP_not_transposed)),
]

#: Mistakes the public cases cannot show (they need the hidden edge cases).
HIDDEN_ONLY = set()

#: Hidden seeds per exercise where the default ones cost too much: each training check trains
#: for 300 steps (a few seconds); the seed sweep of the training check is a benchmark's job.
SEEDS = {"reversal_training": (0,)}




# ---- valid answers: other ways to write the right thing -----------------------------------------

def softmax_backward_jacobian_loops(y, dy, axis=-1):
    y_last, dy_last = np.moveaxis(y, axis, -1), np.moveaxis(dy, axis, -1)
    out = np.empty_like(y_last)
    for index in np.ndindex(y_last.shape[:-1]):
        row = y_last[index]
        jacobian = np.diag(row) - np.outer(row, row)  # J[i, j] = ∂y_i/∂x_j
        out[index] = jacobian.T @ dy_last[index]
    return np.moveaxis(out, -1, axis)


def softmax_backward_product_first(y, dy, axis=-1):
    g = y * dy
    return g - y * g.sum(axis=axis, keepdims=True)


def softmax_backward_eye_in_dtype(y, dy, axis=-1):
    """The explicit Jacobian built with np.eye(n, dtype=y.dtype): float32 stays float32."""
    y_last, dy_last = np.moveaxis(y, axis, -1), np.moveaxis(dy, axis, -1)
    n = y_last.shape[-1]
    jacobian = np.eye(n, dtype=y.dtype) * y_last[..., None, :] - y_last[..., :, None] * y_last[..., None, :]
    return np.moveaxis(np.einsum("...ij,...i->...j", jacobian, dy_last), -1, axis)


def softmax_backward_in_float64(y, dy, axis=-1):
    y64, dy64 = y.astype(np.float64), dy.astype(np.float64)
    return (y64 * (dy64 - (y64 * dy64).sum(axis=axis, keepdims=True))).astype(y.dtype)


def attention_backward_per_query(dout, Q, K, V, mask=None):
    batch = Q.shape[:-2]
    n_q, n_k = Q.shape[-2], K.shape[-2]
    allowed = np.ones(batch + (n_q, n_k), bool) if mask is None else np.broadcast_to(mask, batch + (n_q, n_k))
    dQ, dK, dV = np.zeros_like(Q), np.zeros_like(K), np.zeros_like(V)
    scale = 1 / math.sqrt(Q.shape[-1])
    for b in np.ndindex(batch):
        for i in range(n_q):
            keys = np.flatnonzero(allowed[b][i])
            if keys.size == 0:
                continue  # no key: zero weights, zero output, zero gradient
            s = K[b][keys] @ Q[b][i] * scale
            p = np.exp(s - s.max())
            p /= p.sum()
            dV[b][keys] += np.outer(p, dout[b][i])
            dp = V[b][keys] @ dout[b][i]
            ds = p * (dp - p @ dp)
            dQ[b][i] = ds @ K[b][keys] * scale
            dK[b][keys] += np.outer(ds, Q[b][i]) * scale
    return dQ, dK, dV


def attention_backward_einsum(dout, Q, K, V, mask=None):
    P = masked_weights(Q, K, mask)
    return _backward_from(P, dout, Q, K, V, 1 / math.sqrt(Q.shape[-1]))


def attention_backward_in_float64(dout, Q, K, V, mask=None):
    dtype = Q.dtype
    dout, Q, K, V = (a.astype(np.float64) for a in (dout, Q, K, V))
    scale = 1 / np.sqrt(Q.shape[-1])
    S = Q @ np.swapaxes(K, -1, -2) * scale
    if mask is not None:
        S = np.where(mask, S, -np.inf)
    m = S.max(axis=-1, keepdims=True)
    e = np.exp(S - np.where(np.isinf(m), 0, m))
    total = e.sum(axis=-1, keepdims=True)
    P = e / np.where(total > 0, total, 1)
    dV = np.swapaxes(P, -1, -2) @ dout
    dP = dout @ np.swapaxes(V, -1, -2)
    dS = P * dP - P * (P * dP).sum(axis=-1, keepdims=True)
    grads = (dS @ K * scale, np.swapaxes(dS, -1, -2) @ Q * scale, dV)
    return tuple(g.astype(dtype) for g in grads)


def numerical_gradient_copies(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = (f(xp) - f(xm)) / (2 * eps)
    return grad


def numerical_gradient_one_copy_two_steps(f, x, eps=1e-6):
    # The minus point is reached from the plus point: it may differ from x - eps by one ulp.
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        point = x.copy()
        point[i] += eps
        f_plus = f(point)
        point[i] -= 2 * eps
        grad[i] = (f_plus - f(point)) / (2 * eps)
    return grad


def numerical_gradient_in_place_restored(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        saved = x[i].copy()
        x[i] = saved + eps
        f_plus = f(x)
        x[i] = saved - eps
        f_minus = f(x)
        x[i] = saved
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def numerical_gradient_basis(f, x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64)
    grad = np.empty(x.size)
    for i in range(x.size):
        step = np.zeros(x.size)
        step[i] = eps
        step = step.reshape(x.shape)
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad.reshape(x.shape)


def numerical_gradient_flat_copy(f, x, eps=1e-6):
    return numerical_gradient_flat(f, x, eps).reshape(np.shape(x))


VALID = [
    ("softmax_backward", softmax_backward_jacobian_loops),
    ("softmax_backward", softmax_backward_product_first),
    ("softmax_backward", softmax_backward_in_float64),
    ("softmax_backward", softmax_backward_eye_in_dtype),
    ("scaled_dot_product_attention_backward", attention_backward_per_query),
    ("scaled_dot_product_attention_backward", attention_backward_einsum),
    ("scaled_dot_product_attention_backward", attention_backward_in_float64),
    ("numerical_gradient", numerical_gradient_copies),
    ("numerical_gradient", numerical_gradient_one_copy_two_steps),
    ("numerical_gradient", numerical_gradient_in_place_restored),
    ("numerical_gradient", numerical_gradient_basis),
    ("numerical_gradient", numerical_gradient_flat_copy),
    ("reversal_training", training_with(attention_backward_einsum)),
    ("reversal_training", training_with(attention_backward_in_float64)),
]
