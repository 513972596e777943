"""Exercises of notebook 05_backprop_through_attention and the mistakes learners make in them."""

from __future__ import annotations

import math

import numpy as np

import attention_ref as ref
from attention_ref.softmax import masked_softmax

from . import Exercise, Variant

NOTEBOOK = "05_backprop_through_attention"


# ---- softmax_backward ---------------------------------------------------------------------------

def _inner(y, dy, axis):
    """Σ_i dy_i·y_i along ``axis``, kept as a length-1 axis."""
    return np.sum(np.asarray(dy) * np.asarray(y), axis=axis, keepdims=True)


def _sb_outer_term_only(y, dy, axis=-1):
    return -np.asarray(y) * _inner(y, dy, axis)


def _sb_diag_term_only(y, dy, axis=-1):
    return np.asarray(y) * np.asarray(dy)


def _sb_diagonal_jacobian(y, dy, axis=-1):
    y = np.asarray(y)
    return np.asarray(dy) * y * (1 - y)


def _sb_sum_axis0(y, dy, axis=-1):
    y, dy = np.asarray(y), np.asarray(dy)
    return y * (dy - _inner(y, dy, 0))


def _sb_no_keepdims(y, dy, axis=-1):
    y, dy = np.asarray(y), np.asarray(dy)
    return y * (dy - np.sum(dy * y, axis=axis))


def _sb_sum_everything(y, dy, axis=-1):
    y, dy = np.asarray(y), np.asarray(dy)
    return y * (dy - np.sum(dy * y))


def _sb_axis_ignored(y, dy, axis=-1):
    return ref.softmax_backward(y, dy)


SOFTMAX_BACKWARD = Exercise(
    name="softmax_backward", notebook=NOTEBOOK, reference=ref.softmax_backward,
    # The default tolerance: valid answers (explicit Jacobian, float64 detour) stayed below 1 % of it
    # over 200 seeds; every variant is off by O(1).
    variants=(
        Variant("outer_term_only", "only the −y yᵀ part of the Jacobian is used: the diag(y) part is "
                "missing (the result is −y·Σ dy·y)",
                "∂y_i/∂x_j = y_i(δ_ij − y_j) has two parts; the δ_ij part contributes y_j·dy_j.",
                _sb_outer_term_only),
        Variant("diag_term_only", "only the diag(y) part of the Jacobian is used (the result is y·dy): the "
                "−y yᵀ part is missing",
                "Every logit moves every weight, because the weights share one normaliser: "
                "∂y_i/∂x_j = −y_i y_j for i ≠ j.", _sb_diag_term_only),
        Variant("diagonal_jacobian", "only the diagonal of the Jacobian is used (the result is dy·y·(1−y))",
                "The off-diagonal entries ∂y_i/∂x_j = −y_i y_j (i ≠ j) are not zero; write dL/dx_j as a "
                "sum over all i of dy_i·∂y_i/∂x_j.", _sb_diagonal_jacobian),
        Variant("sum_over_wrong_axis", "the sum Σ dy·y is taken over axis 0 instead of the softmax's axis",
                "Sum over the axis the softmax was taken over (the axis argument), with keepdims=True.",
                _sb_sum_axis0),
        Variant("sum_without_keepdims", "the sum Σ dy·y is taken without keepdims=True, so it is broadcast "
                "against the wrong axis",
                "A sum over the last axis of an (n, n) array has shape (n,), which NumPy lines up with the "
                "last axis again; keepdims=True keeps one sum per row.", _sb_no_keepdims),
        Variant("sum_over_everything", "Σ dy·y is summed over the whole array instead of within each "
                "softmax", "Each softmax (each row) has its own sum: pass axis and keepdims=True.",
                _sb_sum_everything),
        Variant("axis_ignored", "the axis argument is ignored (the sum is always over the last axis)",
                "Pass the function's axis argument on to the sum.", _sb_axis_ignored),
    ),
)


# ---- scaled_dot_product_attention_backward ------------------------------------------------------

def _softmax_nan(scores):
    """A softmax whose fully masked rows (all −inf) become NaN, as exp(−inf − (−inf)) does."""
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _attention_backward(dout, Q, K, V, mask=None, *, masking="zero", scaled=True, scale_grads=True,
                        through_softmax=True, rowsum_axis=-1, transpose_p=True, swap=False):
    """The backward pass of softmax(QKᵀ/√d_k) V, with knobs that reproduce each mistake.

    Returns
    -------
    dQ, dK, dV : ndarray
        Of the shapes of Q, K and V (dK, dQ with ``swap``).
    """
    dout, Q, K, V = (np.asarray(a) for a in (dout, Q, K, V))
    scale = 1.0 / math.sqrt(Q.shape[-1]) if scaled else 1.0
    S = (Q @ K.swapaxes(-2, -1)) * scale  # (..., n_q, n_k)
    if mask is None or masking == "ignored":
        P = ref.softmax(S)
    elif masking == "nan":
        P = _softmax_nan(np.where(mask, S, -np.inf))
    elif masking == "large_negative":
        P = ref.softmax(np.where(mask, S, -1e9).astype(S.dtype))
    else:
        P = masked_softmax(S, mask)
    dV = (P.swapaxes(-2, -1) if transpose_p else P) @ dout  # (..., n_k, d_v)
    dP = dout @ V.swapaxes(-2, -1)  # (..., n_q, n_k)
    dS = P * (dP - np.sum(dP * P, axis=rowsum_axis, keepdims=True)) if through_softmax else dP
    g = scale if scale_grads else 1.0
    dQ = (dS @ K) * g  # (..., n_q, d_k)
    dK = (dS.swapaxes(-2, -1) @ Q) * g  # (..., n_k, d_k)
    return (dK, dQ, dV) if swap else (dQ, dK, dV)


def _ab_swapped(dout, Q, K, V, mask=None):
    return _attention_backward(dout, Q, K, V, mask, swap=True)


def _ab_unscaled_grads(dout, Q, K, V, mask=None):
    return _attention_backward(dout, Q, K, V, mask, scale_grads=False)


def _ab_unscaled_attention(dout, Q, K, V, mask=None):
    return _attention_backward(dout, Q, K, V, mask, scaled=False)


def _ab_p_not_transposed(dout, Q, K, V, mask=None):
    return _attention_backward(dout, Q, K, V, mask, transpose_p=False)


def _ab_no_softmax(dout, Q, K, V, mask=None):
    return _attention_backward(dout, Q, K, V, mask, through_softmax=False)


def _ab_rowsum_axis(dout, Q, K, V, mask=None):
    return _attention_backward(dout, Q, K, V, mask, rowsum_axis=-2)


def _ab_mask_ignored(dout, Q, K, V, mask=None):
    return _attention_backward(dout, Q, K, V, mask, masking="ignored")


def _ab_nan(dout, Q, K, V, mask=None):
    return _attention_backward(dout, Q, K, V, mask, masking="nan")


def _ab_large_negative(dout, Q, K, V, mask=None):
    return _attention_backward(dout, Q, K, V, mask, masking="large_negative")


ATTENTION_BACKWARD = Exercise(
    name="scaled_dot_product_attention_backward", notebook=NOTEBOOK,
    reference=ref.scaled_dot_product_attention_backward,
    # Chains of four matrix products in float32: valid answers (per-query loops, einsum, a float64
    # detour) stayed below 2 % of the plain per-dtype tolerance over 200 seeds; 10× leaves room for
    # other summation orders, while every variant is off by a factor (√2 at least) or a NaN.
    tolerance=10.0,
    variants=(
        Variant("dq_dk_swapped", "dQ and dK are swapped (dQ is built from Q, dK from K)",
                "S = QKᵀ/√d_k: Q's gradient comes from dS and K, K's from dSᵀ and Q. Check the shapes: "
                "dQ has the shape of Q.", _ab_swapped),
        Variant("unscaled_gradients", "the gradients dQ and dK are not multiplied by 1/√d_k",
                "The forward pass divides the scores by √d_k, so the chain rule multiplies dS by 1/√d_k "
                "on its way to Q and K.", _ab_unscaled_grads),
        Variant("unscaled_attention", "the scores are not divided by √d_k at all (the gradient of unscaled "
                "dot-product attention)",
                "Recompute the weights exactly as the forward pass does, scores divided by √d_k, and "
                "carry that factor into dQ and dK.", _ab_unscaled_attention),
        Variant("weights_not_transposed", "dV is computed as P·dout instead of Pᵀ·dout",
                "out = P V, so dV = Pᵀ dout: key j collects dout from every query that attended to it. "
                "dV must have the shape of V.", _ab_p_not_transposed),
        Variant("softmax_backward_missing", "the gradient skips the softmax (dS = dP, as if the softmax "
                "were the identity)",
                "Between dP = dout Vᵀ and dS lies the softmax: pass dP through softmax_backward.",
                _ab_no_softmax),
        Variant("softmax_backward_wrong_axis", "in the softmax backward, Σ dP·P is summed over the queries "
                "(axis -2) instead of over the keys",
                "Each query's weights form one softmax over the keys: sum over the last axis.",
                _ab_rowsum_axis),
        Variant("mask_ignored", "the mask is ignored: the weights are recomputed without it",
                "Recompute the weights exactly as the masked forward pass does; hidden keys have weight 0 "
                "and therefore zero gradient.", _ab_mask_ignored),
        Variant("nan_in_fully_masked_rows", "a query that may attend to no key gets NaN weights, so NaN "
                "gradients spread through dQ, dK and dV",
                "exp(−inf − (−inf)) is NaN: a fully masked row must get zero weights, a zero output and "
                "zero gradients.", _ab_nan),
        Variant("fully_masked_rows_uniform", "hidden keys get a large negative score instead of zero "
                "weight, so a query that may attend to no key spreads its weight evenly over all keys",
                "With every key hidden, −1e9 everywhere softmaxes to uniform weights; such a row must "
                "get zero weights and zero gradients instead.", _ab_large_negative),
    ),
)


# ---- numerical_gradient -------------------------------------------------------------------------

def _differences(f, x, eps, kind):
    """Finite differences of ``f`` at ``x``, one coordinate at a time, never touching ``x``."""
    point = np.array(x, dtype=np.float64, copy=True)
    grad = np.empty_like(point)
    f_x = float(f(point)) if kind == "forward" else None
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + eps
        f_plus = float(f(point))
        point[index] = original - eps
        f_minus = float(f(point))
        point[index] = original
        if kind == "forward":
            grad[index] = (f_plus - f_x) / eps
        elif kind == "over_eps":
            grad[index] = (f_plus - f_minus) / eps
        else:  # "precedence": (f+ - f-) / 2 * eps
            grad[index] = (f_plus - f_minus) / 2 * eps
    return grad


def _ng_forward(f, x, eps=1e-6):
    return _differences(f, x, eps, "forward")


def _ng_over_eps(f, x, eps=1e-6):
    return _differences(f, x, eps, "over_eps")


def _ng_precedence(f, x, eps=1e-6):
    return _differences(f, x, eps, "precedence")


def _ng_eps_ignored(f, x, eps=1e-6):
    return ref.numerical_gradient(f, x, 1e-5)


def _ng_flattened(f, x, eps=1e-6):
    return ref.numerical_gradient(f, x, eps).reshape(-1)


NUMERICAL_GRADIENT = Exercise(
    name="numerical_gradient", notebook=NOTEBOOK, reference=ref.numerical_gradient,
    # Correct central differences differ from the reference by rounding alone: at most 0.3 of the
    # float64 tolerance (1e-7 relative) over 200 seeds, for a learner whose x - eps is reached as
    # (x + eps) - 2·eps; 3× leaves a 10× margin. A forward difference is off by ≈ eps·f''/2: at
    # least 500× the tolerance at the coarse eps=0.01 of the first case, and still beyond it on
    # about 90 % of the cases that use the default eps=1e-6.
    tolerance=3.0,
    variants=(
        Variant("forward_difference", "a one-sided (forward) difference (f(x+ε) − f(x))/ε is used",
                "The one-sided difference has an error proportional to ε; the central difference "
                "(f(x+ε) − f(x−ε))/(2ε) has an error proportional to ε².", _ng_forward),
        Variant("divided_by_eps", "the central difference is divided by ε instead of 2ε",
                "x+ε and x−ε are 2ε apart.", _ng_over_eps),
        Variant("operator_precedence", "the difference is divided by 2 and multiplied by ε: "
                "a / 2 * eps means (a / 2) · eps",
                "Python evaluates / and * from left to right; put the denominator in parentheses.",
                _ng_precedence),
        Variant("eps_ignored", "the step is a fixed number instead of the eps argument",
                "Take the step from the eps argument: the failing case above passes its own eps.",
                _ng_eps_ignored),
        Variant("flattened", "the gradient is returned flattened instead of in the shape of x",
                "The gradient has one entry per entry of x, in the same shape: reshape it, or fill "
                "an array made with np.zeros_like(x, dtype=float).", _ng_flattened),
    ),
    extra={"mutation_hint": "numerical_gradient must leave x exactly as it was: perturb a copy of x, or "
                            "save x[i] before each probe and put that saved value back afterwards "
                            "(adding ε and subtracting it again does not always give back the same "
                            "float)"},
)

# ---- reversal_training --------------------------------------------------------------------------
# The function is the notebook's given training loop (locked, restored at grading); what it achieves
# depends only on the learner's backward pass. Its check recomputes, with the reference softmax, what
# the returned parameters have learned: the kernel's own word (a printed accuracy) is never used.

#: Held-out accuracy that the trained reversal model must reach (stated in notebook 05, section 7).
REVERSAL_TARGET = 0.95


def _one_hot(indices, size):
    """One-hot rows: ``indices`` (...) -> (..., size) float64."""
    return np.eye(size)[indices]


def _reversal_forward(params, tokens):
    """The reversal model with the reference softmax.

    Parameters
    ----------
    params : dict
        ``W_q`` (n_pos, d_k) and ``W_k`` (n_tok + n_pos, d_k).
    tokens : ndarray of int, shape (B, n_pos)

    Returns
    -------
    out : ndarray of shape (B, n_pos, n_tok)
        The output distributions over the tokens.
    cache : tuple
        ``(X_q, X_k, Q, K, V)``, what the backward pass needs.
    """
    n_pos = tokens.shape[-1]
    n_tok = params["W_k"].shape[0] - n_pos
    X_q = np.broadcast_to(np.eye(n_pos), tokens.shape + (n_pos,))  # (B, n, n): position i asks
    V = _one_hot(tokens, n_tok)  # (B, n, n_tok)
    X_k = np.concatenate([V, X_q], axis=-1)  # (B, n, n_tok + n): token and position
    Q, K = X_q @ params["W_q"], X_k @ params["W_k"]  # (B, n, d_k)
    P = ref.softmax(Q @ K.swapaxes(-2, -1) / math.sqrt(Q.shape[-1]))  # (B, n, n)
    return P @ V, (X_q, X_k, Q, K, V)


def _correct_probability(out, tokens):
    """The probability each output position gives to its target (the input reversed), (B, n_pos)."""
    return np.take_along_axis(out, tokens[:, ::-1, None], axis=-1)[..., 0]


def _reversal_loss(params, tokens):
    """Mean cross-entropy on ``tokens``; inf or NaN for parameters that training blew up."""
    with np.errstate(all="ignore"):
        return float(-np.mean(np.log(_correct_probability(_reversal_forward(params, tokens)[0], tokens))))


def _held_out(tokens, n_tok):
    """Every sequence of the training sequences' length over ``n_tok`` tokens that is not one of them."""
    n_pos = tokens.shape[-1]
    every = np.indices((n_tok,) * n_pos).reshape(n_pos, -1).T  # (n_tok ** n_pos, n_pos), in order
    place = n_tok ** np.arange(n_pos - 1, -1, -1)  # a sequence's index in `every`
    return every[~np.isin(every @ place, tokens @ place)]


def _reversal_accuracy(params, tokens):
    """Fraction of output positions whose most probable token is the target."""
    with np.errstate(all="ignore"):
        out, _ = _reversal_forward(params, tokens)
    return float(np.mean(out.argmax(axis=-1) == tokens[:, ::-1]))


def _reversal_train(tokens, params, steps, lr, backward):
    """The notebook's training loop, with ``backward`` in place of the learner's backward pass.

    Plain full-batch gradient descent on the cross-entropy; stops, keeping the last finite
    parameters, when a step would make them NaN or inf (as the notebook's loop does).
    """
    n_tok = params["W_k"].shape[0] - tokens.shape[-1]
    for _ in range(steps):
        with np.errstate(all="ignore"):
            out, (X_q, X_k, Q, K, V) = _reversal_forward(params, tokens)
            Y = _one_hot(tokens[:, ::-1], n_tok)  # (B, n, n_tok) targets
            dout = -Y / (tokens.size * np.sum(out * Y, axis=-1, keepdims=True))
            dQ, dK, _ = backward(dout, Q, K, V)
            grads = {"W_q": (X_q.swapaxes(-2, -1) @ dQ).sum(axis=0),
                     "W_k": (X_k.swapaxes(-2, -1) @ dK).sum(axis=0)}
            new = {name: W - lr * grads[name] for name, W in params.items()}
        if not all(np.isfinite(W).all() for W in new.values()):
            break
        params = new
    return params


def _reversal_reference(tokens, params, steps=300, lr=0.5):
    return _reversal_train(tokens, params, steps, lr, ref.scaled_dot_product_attention_backward)


def _rt_ascent(tokens, params, steps=300, lr=0.5):
    def backward(*args):
        return tuple(-g for g in ref.scaled_dot_product_attention_backward(*args))

    return _reversal_train(tokens, params, steps, lr, backward)


def _rt_zero_gradients(tokens, params, steps=300, lr=0.5):
    def backward(dout, Q, K, V):
        return np.zeros_like(Q), np.zeros_like(K), np.zeros_like(V)

    return _reversal_train(tokens, params, steps, lr, backward)


def _rt_tiny_gradients(tokens, params, steps=300, lr=0.5):
    def backward(*args):
        return tuple(g / 10 for g in ref.scaled_dot_product_attention_backward(*args))

    return _reversal_train(tokens, params, steps, lr, backward)


def _type_name(value):
    """A returned value's type, as the messages name it (an unreadable object by its recorded type)."""
    return "numpy.ndarray" if type(value) is np.ndarray else getattr(value, "type_name", type(value).__name__)


def _reversal_parameters_problem(params, got):
    """What is wrong with the returned value as a set of parameters, or None."""
    if not isinstance(got, dict):
        return f"expected a dict of parameters {sorted(params)}, got {_type_name(got)}"
    for name, W in params.items():
        value = got.get(name)
        if type(value) is not np.ndarray or value.shape != W.shape or value.dtype.kind != "f":
            return (f"expected the parameter {name!r} as a float array of shape {W.shape}, got "
                    f"{_type_name(value)}" + (f" of shape {value.shape}" if hasattr(value, "shape") else ""))
    return None


def _reversal_compare(case, got):
    """Judge a training run by what the returned parameters have learned (trusted side).

    Returns
    -------
    None, str or tuple of (str, str)
        None when the held-out accuracy reaches :data:`REVERSAL_TARGET`; else ``(key, message)``
        with ``key`` one of the exercise's variants, chosen by how training went: parameters
        unchanged, training loss higher than at the start (or blown up), or lower but not enough.
    """
    tokens, params = case.args
    steps = case.kwargs["steps"]
    problem = _reversal_parameters_problem(params, got)
    if problem:
        return f"reversal_training should return the trained parameters: {problem}."
    trained = {name: got[name] for name in params}
    if not all(np.isfinite(W).all() for W in trained.values()):
        return ("the trained parameters contain NaN or inf, although the given training loop stops "
                "before that happens.")
    held_out = _held_out(tokens, params["W_k"].shape[0] - tokens.shape[-1])
    accuracy = _reversal_accuracy(trained, held_out)
    if accuracy >= REVERSAL_TARGET:
        return None
    start, end = _reversal_loss(params, tokens), _reversal_loss(trained, tokens)
    if all(np.array_equal(trained[name], W) for name, W in params.items()):
        key = "parameters_unchanged"
    elif not np.isfinite(end) or end > start:
        key = "loss_increased"
    else:
        key = "target_not_reached"
    message = (f"Training with your gradients did not reach the target: held-out accuracy {accuracy:.3f} "
               f"within {steps} steps; the target is ≥ {REVERSAL_TARGET} (measured by the grader on all "
               f"{len(held_out)} sequences that are not in the training set). The training loss went from "
               f"{start:.3f} at the start to {end:.3g} at the end.\n"
               "The model and its training loop are given, so the cause is in your backward pass: make the "
               "checks of softmax_backward and scaled_dot_product_attention_backward pass, and compare each "
               "of your gradients with numerical_gradient as in section 5 (gradient checks).")
    return key, message


REVERSAL_TRAINING = Exercise(
    name="reversal_training", notebook=NOTEBOOK, reference=_reversal_reference,
    # No value comparison: any parameters that reach the target pass. A backward pass that is wrong but
    # still trains (dQ and dK without 1/√d_k, say) passes here; its own check names the mistake.
    compare=_reversal_compare,
    # Picked by _reversal_compare from how the training went; each fn trains with one such mistake.
    variants=(
        Variant("loss_increased", "the training loss ended higher than it started: the updates climbed "
                "the loss instead of descending it (or blew it up)",
                "A flipped sign anywhere in the backward pass (for example Σ dP⊙P − dP instead of "
                "dP − Σ dP⊙P) turns gradient descent into gradient ascent. dQ and dK mixed up, or a "
                "softmax backward that is skipped or sums over the whole array, also drive the loss up "
                "until it overflows.", _rt_ascent),
        Variant("parameters_unchanged", "the parameters did not change at all: the gradients of Q and K "
                "were zero, or not finite (NaN or inf) from the very first step, which stops the training",
                "Check that dQ and dK are computed (not placeholders such as np.zeros_like(Q)) and "
                "finite.", _rt_zero_gradients),
        Variant("target_not_reached", "the loss went down, but not far enough: the gradients point "
                "downhill but are incomplete or too small",
                "Look for a gradient left at zero (dK, say), an extra factor that shrinks dQ and dK, or "
                "a missing transpose that the model's square shapes let through (dP = dout V instead of "
                "dout Vᵀ runs here only because d_v = n_k = 6).", _rt_tiny_gradients),
    ),
    extra={
        "not_implemented": "reversal_training trains with your softmax_backward and "
                           "scaled_dot_product_attention_backward, which are not implemented yet: "
                           "implement them first (exercises 1 and 2), then run this check again.",
        "error_hint": "reversal_training is given code: the error comes from your "
                      "scaled_dot_product_attention_backward (or the softmax_backward it calls), or from "
                      "gradients that do not have the shapes of Q and K. Make their checks pass first.",
    },
)

EXERCISES = [SOFTMAX_BACKWARD, ATTENTION_BACKWARD, NUMERICAL_GRADIENT, REVERSAL_TRAINING]
