"""Exercises of notebook 05_backprop_through_attention and the mistakes learners make in them."""

from __future__ import annotations

import math

import numpy as np

import attention_ref as ref
from attention_course.given import reversal_outcome, run_given
from attention_ref.softmax import masked_softmax

from .. import registry
from ..cases import backprop_through_attention as cases
from ..exercise import Exercise, Variant

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
    cases=cases.softmax_backward_cases,
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
    reference=ref.scaled_dot_product_attention_backward, cases=cases.attention_backward_cases,
    returns=("dQ", "dK", "dV"),
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
    cases=cases.numerical_gradient_cases,
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
    hints={"mutation_hint": "numerical_gradient must leave x exactly as it was: perturb a copy of x, or "
                            "save x[i] before each probe and put that saved value back afterwards "
                            "(adding ε and subtracting it again does not always give back the same "
                            "float)"},
)

# ---- reversal_training --------------------------------------------------------------------------
# The function is the notebook's given training loop (locked, restored at grading); what it achieves
# depends only on the learner's backward pass. The model and the loop exist once, in the notebook's
# given cells: the reference and the variants run those cells with the reference's (or a wrong)
# backward pass, and the check judges what the returned parameters have learned with the given
# forward pass (attention_course.given.reversal_outcome). The kernel's own word is never used.

#: The locked cells of notebook 05 that define the model and its training loop, in order.
REVERSAL_CELLS = ("forward_given", "reversal_data", "reversal_model", "reversal_training_loop")


def _train_with(backward):
    """``reversal_training`` from the notebook's given cells, with ``backward`` as the learner's."""
    def train(tokens, params, steps=300, lr=0.5):
        given = run_given([registry.given_sources(NOTEBOOK)[g] for g in REVERSAL_CELLS],
                          {"softmax_backward": ref.softmax_backward,
                           "scaled_dot_product_attention_backward": backward})
        with np.errstate(all="ignore"):
            return given["reversal_training"](tokens, params, steps=steps, lr=lr)

    return train


def _negated(*args, **kwargs):
    return tuple(-g for g in ref.scaled_dot_product_attention_backward(*args, **kwargs))


def _zeros(dout, Q, K, V, mask=None):
    return np.zeros_like(Q), np.zeros_like(K), np.zeros_like(V)


def _tenth(*args, **kwargs):
    return tuple(g / 10 for g in ref.scaled_dot_product_attention_backward(*args, **kwargs))


REVERSAL_TRAINING = Exercise(
    name="reversal_training", notebook=NOTEBOOK,
    reference=_train_with(ref.scaled_dot_product_attention_backward),
    cases=cases.reversal_training_cases,
    # No value comparison: any parameters that reach the target pass. A backward pass that is wrong but
    # still trains (dQ and dK without 1/√d_k, say) passes here; its own check names the mistake.
    compare=reversal_outcome, given_cells=REVERSAL_CELLS,
    # Picked by reversal_outcome from how the training went; each fn trains with one such mistake.
    variants=(
        Variant("loss_increased", "the training loss ended higher than it started: the updates climbed "
                "the loss instead of descending it (or blew it up)",
                "A flipped sign anywhere in the backward pass (for example Σ dP⊙P − dP instead of "
                "dP − Σ dP⊙P) turns gradient descent into gradient ascent. dQ and dK mixed up, or a "
                "softmax backward that is skipped or sums over the whole array, also drive the loss up "
                "until it overflows.", _train_with(_negated)),
        Variant("parameters_unchanged", "the parameters did not change at all: the gradients of Q and K "
                "were zero, or not finite (NaN or inf) from the very first step, which stops the training",
                "Check that dQ and dK are computed (not placeholders such as np.zeros_like(Q)) and "
                "finite.", _train_with(_zeros)),
        Variant("target_not_reached", "the loss went down, but not far enough: the gradients point "
                "downhill but are incomplete or too small",
                "Look for a gradient left at zero (dK, say), an extra factor that shrinks dQ and dK, or "
                "a missing transpose that the model's square shapes let through (dP = dout V instead of "
                "dout Vᵀ runs here only because d_v = n_k = 6).", _train_with(_tenth)),
    ),
    hints={
        "not_implemented": "reversal_training trains with your softmax_backward and "
                           "scaled_dot_product_attention_backward, which are not implemented yet: "
                           "implement them first (exercises 1 and 2), then run this check again.",
        "error_hint": "reversal_training is given code: the error comes from your "
                      "scaled_dot_product_attention_backward (or the softmax_backward it calls), or from "
                      "gradients that do not have the shapes of Q and K. Make their checks pass first.",
    },
)

EXERCISES = [SOFTMAX_BACKWARD, ATTENTION_BACKWARD, NUMERICAL_GRADIENT, REVERSAL_TRAINING]
