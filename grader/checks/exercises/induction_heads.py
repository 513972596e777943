"""Exercises of notebook 07_induction_heads and the mistakes learners make in them."""

from __future__ import annotations

import math

import numpy as np

import attention_ref as ref
from attention_course.given import induction_outcome, run_given
from attention_ref.softmax import masked_softmax

from .. import registry
from ..cases import induction_heads as cases
from ..exercise import Exercise, Variant

NOTEBOOK = "07_induction_heads"


# ---- multi_head_attention_backward --------------------------------------------------------------

def _heads(X, h):
    """(..., n, d) -> (..., h, n, d/h)."""
    return X.reshape(X.shape[:-1] + (h, X.shape[-1] // h)).swapaxes(-3, -2)


def _merged(X):
    """(..., h, n, d_head) -> (..., n, h·d_head)."""
    X = X.swapaxes(-3, -2)
    return X.reshape(X.shape[:-2] + (X.shape[-2] * X.shape[-1],))


def _sum_to(grad, shape):
    """Sum ``grad`` over its leading axes down to ``shape`` (the weights' gradients)."""
    return grad.reshape((-1,) + shape).sum(axis=0)


def _mha_backward(dout, X_q, X_kv, params, num_heads, mask=None, *, value_path=True, key_path=True,
                  scale_grads=True, scale_by_d_model=False, wo_grad_transposed=False,
                  wo_not_transposed=False, one_head=False, swap_wq_wk=False, mask_ignored=False):
    """The backward pass of multi-head attention, with knobs that reproduce each mistake.

    Returns
    -------
    dict
        The gradients of the parameters in ``params`` and of ``X_q`` and ``X_kv``, in the
        inputs' common dtype.
    """
    dout, X_q, X_kv = (np.asarray(a) for a in (dout, X_q, X_kv))
    p = {k: np.asarray(v) for k, v in params.items()}
    dtype = np.result_type(dout, X_q, X_kv, *p.values())
    h = 1 if one_head else num_heads
    d_model = p["W_q"].shape[-1]
    Q = _heads(X_q @ p["W_q"] + p.get("b_q", 0), h)  # (..., h, n_q, d_head)
    K = _heads(X_kv @ p["W_k"] + p.get("b_k", 0), h)  # (..., h, n_k, d_head)
    V = _heads(X_kv @ p["W_v"] + p.get("b_v", 0), h)  # (..., h, n_k, d_head)
    scale = 1.0 / math.sqrt(d_model if scale_by_d_model else d_model // h)
    S = (Q @ K.swapaxes(-2, -1)) * scale  # (..., h, n_q, n_k)
    if mask is None or mask_ignored:
        P = ref.softmax(S)
    else:
        P = masked_softmax(S, np.expand_dims(np.asarray(mask), -3))
    C = _merged(P @ V)  # (..., n_q, d_model)
    batch = C.shape[:-2]
    dout = np.broadcast_to(dout, batch + dout.shape[-2:])
    grads = {}
    W_o = p["W_o"]
    dW_o = _sum_to(C.swapaxes(-2, -1) @ dout, W_o.shape)
    grads["W_o"] = dW_o.T if wo_grad_transposed else dW_o
    if "b_o" in p:
        grads["b_o"] = _sum_to(dout, (d_model,))
    dO = _heads(dout @ (W_o if wo_not_transposed else W_o.T), h)  # (..., h, n_q, d_head)
    dV = P.swapaxes(-2, -1) @ dO
    dP = dO @ V.swapaxes(-2, -1)
    dS = P * (dP - np.sum(dP * P, axis=-1, keepdims=True))
    g = scale if scale_grads else 1.0
    dQ, dK, dV = _merged((dS @ K) * g), _merged((dS.swapaxes(-2, -1) @ Q) * g), _merged(dV)
    Xq = np.broadcast_to(X_q, batch + X_q.shape[-2:])
    Xkv = np.broadcast_to(X_kv, batch + X_kv.shape[-2:])
    grads["W_q"] = _sum_to(Xq.swapaxes(-2, -1) @ dQ, p["W_q"].shape)
    grads["W_k"] = _sum_to(Xkv.swapaxes(-2, -1) @ dK, p["W_k"].shape)
    grads["W_v"] = _sum_to(Xkv.swapaxes(-2, -1) @ dV, p["W_v"].shape)
    if swap_wq_wk:
        grads["W_q"], grads["W_k"] = grads["W_k"], grads["W_q"]
    for name, d in (("b_q", dQ), ("b_k", dK), ("b_v", dV)):
        if name in p:
            grads[name] = _sum_to(d, (d_model,))
    dX_q = dQ @ p["W_q"].T
    dX_kv = (dK @ p["W_k"].T if key_path else 0) + (dV @ p["W_v"].T if value_path else 0)
    grads["X_q"] = _sum_to(dX_q, X_q.shape) if dX_q.shape != X_q.shape else dX_q
    grads["X_kv"] = _sum_to(dX_kv, X_kv.shape) if dX_kv.shape != X_kv.shape else dX_kv
    return {k: np.asarray(v).astype(dtype, copy=False) for k, v in grads.items()}


def _mistake(**knobs):
    def wrong(dout, X_q, X_kv, params, num_heads, mask=None):
        return _mha_backward(dout, X_q, X_kv, params, num_heads, mask, **knobs)

    wrong.__name__ = "mha_backward_" + "_".join(knobs)
    return wrong


MHA_BACKWARD = Exercise(
    name="multi_head_attention_backward", notebook=NOTEBOOK, reference=ref.multi_head_attention_backward,
    cases=cases.multi_head_attention_backward_cases,
    # Chains of six matrix products in float32, like the attention backward of notebook 05: valid
    # answers (per-head loops, einsum, a float64 detour) stay far below 10× the plain tolerance, while
    # every variant is off by a factor or a whole term.
    tolerance=10.0,
    variants=(
        Variant("value_path_missing", "the gradient of X_kv has only its key part dK W_kᵀ: the value "
                "part dV W_vᵀ is missing",
                "X_kv is used twice, K = X_kv W_k and V = X_kv W_v: its gradient is the sum of what comes "
                "back along both paths, dK W_kᵀ + dV W_vᵀ.", _mistake(value_path=False)),
        Variant("key_path_missing", "the gradient of X_kv has only its value part dV W_vᵀ: the key part "
                "dK W_kᵀ is missing",
                "X_kv is used twice, K = X_kv W_k and V = X_kv W_v: its gradient is the sum of what comes "
                "back along both paths, dK W_kᵀ + dV W_vᵀ.", _mistake(key_path=False)),
        Variant("unscaled_gradients", "dQ and dK are not multiplied by 1/√d_head",
                "The scores are divided by √d_head in the forward pass, so the chain rule multiplies dS by "
                "1/√d_head on its way to Q and K (scaled_dot_product_attention_backward does it for you).",
                _mistake(scale_grads=False)),
        Variant("scaled_by_d_model", "the scores are scaled by 1/√d_model instead of 1/√d_head",
                "Each head is scaled dot-product attention over its own d_head = d_model / h columns: "
                "recompute Q, K and V per head and scale by 1/√d_head.", _mistake(scale_by_d_model=True)),
        Variant("single_head", "the gradients are those of single-head attention: the columns were never "
                "split into heads",
                "Split Q, K, V and dC into heads with split_heads before the attention backward, and merge "
                "the heads' dQ, dK, dV back with merge_heads.", _mistake(one_head=True)),
        Variant("w_o_gradient_transposed", "the gradient of W_o is transposed (doutᵀ C instead of Cᵀ dout)",
                "out = C W_o, so dW_o = Cᵀ dout: it has the shape of W_o (d_model, d_model), which does not "
                "tell the two orders apart here — check the orientation.", _mistake(wo_grad_transposed=True)),
        Variant("w_o_not_transposed", "dC is computed as dout W_o instead of dout W_oᵀ",
                "out = C W_o, so dC = dout W_oᵀ. With square weights both orders have the right shape.",
                _mistake(wo_not_transposed=True)),
        Variant("w_q_w_k_swapped", "the gradients of W_q and W_k are swapped",
                "Q = X_q W_q takes dQ back to W_q (X_qᵀ dQ), K = X_kv W_k takes dK back to W_k (X_kvᵀ dK).",
                _mistake(swap_wq_wk=True)),
        Variant("mask_ignored", "the mask is ignored: the weights are recomputed without it",
                "Recompute the forward pass exactly, with the mask: hidden keys have weight 0 and therefore "
                "zero gradient.", _mistake(mask_ignored=True)),
    ),
)


# ---- cross_entropy_backward ---------------------------------------------------------------------

def _probabilities(logits, axis=-1, stable=True):
    logits = np.asarray(logits)
    shifted = logits - logits.max(axis=axis, keepdims=True) if stable else logits
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def _one_hot(targets, V, dtype):
    return (np.arange(V) == np.asarray(targets)[..., None]).astype(dtype)


def _ce_grad(dloss, logits, targets, *, probs=None, one_hot=True, sign=1.0, dloss_used=True,
             dloss_axis_wrong=False):
    dloss, logits = np.asarray(dloss), np.asarray(logits)
    dtype = np.result_type(dloss, logits)
    p = _probabilities(logits) if probs is None else probs
    y = _one_hot(targets, logits.shape[-1], dtype)
    diff = sign * (p - y) if one_hot else sign * p
    if dloss_used:
        diff = diff * (dloss if dloss_axis_wrong else dloss[..., None])
    return np.asarray(diff).astype(dtype, copy=False)


def _ce_sign_flipped(dloss, logits, targets):
    return _ce_grad(dloss, logits, targets, sign=-1.0)


def _ce_dloss_ignored(dloss, logits, targets):
    return _ce_grad(dloss, logits, targets, dloss_used=False)


def _ce_no_one_hot(dloss, logits, targets):
    return _ce_grad(dloss, logits, targets, one_hot=False)


def _ce_logits_not_probabilities(dloss, logits, targets):
    return _ce_grad(dloss, logits, targets, probs=np.asarray(logits))


def _ce_unstable(dloss, logits, targets):
    return _ce_grad(dloss, logits, targets, probs=_probabilities(logits, stable=False))


def _ce_dloss_wrong_axis(dloss, logits, targets):
    return _ce_grad(dloss, logits, targets, dloss_axis_wrong=True)


CROSS_ENTROPY_BACKWARD = Exercise(
    name="cross_entropy_backward", notebook=NOTEBOOK, reference=ref.cross_entropy_backward,
    cases=cases.cross_entropy_backward_cases,
    variants=(
        Variant("sign_flipped", "the gradient has the wrong sign: one_hot − softmax instead of "
                "softmax − one_hot",
                "ℓ = logsumexp(z) − z_t: the logsumexp part gives +softmax(z), the −z_t part gives −1 at the "
                "target.", _ce_sign_flipped),
        Variant("dloss_ignored", "the upstream gradient dloss is not used (as if it were 1 everywhere)",
                "Each prediction's gradient is scaled by its own dloss: dloss[..., None] · (p − y). For a "
                "mean over N predictions dloss is 1/N.", _ce_dloss_ignored),
        Variant("dloss_along_wrong_axis", "dloss is multiplied along the vocabulary axis (dloss · (p − y) "
                "without [..., None])",
                "dloss has one entry per prediction, shape (...); give it a last axis, dloss[..., None], "
                "so that it scales a whole row (..., V).", _ce_dloss_wrong_axis),
        Variant("one_hot_missing", "the −1 at the target is missing: the result is dloss · softmax(logits)",
                "The −z_t term of ℓ = logsumexp(z) − z_t contributes −1 at the target: subtract the one-hot "
                "row of the targets.", _ce_no_one_hot),
        Variant("logits_instead_of_probabilities", "the logits are used where the probabilities "
                "softmax(logits) belong: dloss · (z − one_hot)",
                "The derivative of logsumexp(z) is softmax(z): turn the logits into probabilities first.",
                _ce_logits_not_probabilities),
        Variant("softmax_overflow", "the softmax is computed without subtracting the maximum, so large "
                "logits overflow to inf and give NaN",
                "Subtract each row's maximum from the logits before np.exp: the probabilities do not change "
                "and no exponent exceeds 0.", _ce_unstable),
    ),
)


# ---- embedding_backward -------------------------------------------------------------------------

def _emb_assign(dout, tokens, vocab_size):
    dout = np.asarray(dout)
    dW = np.zeros((vocab_size, dout.shape[-1]), dtype=dout.dtype)
    dW[np.asarray(tokens).reshape(-1)] += dout.reshape(-1, dout.shape[-1])  # duplicates: the last one wins
    return dW


def _emb_mean(dout, tokens, vocab_size):
    dout, tokens = np.asarray(dout), np.asarray(tokens).reshape(-1)
    dW = ref.embedding_backward(dout, tokens.reshape(dout.shape[:-1]), vocab_size)
    counts = np.bincount(tokens, minlength=vocab_size)
    return (dW / np.maximum(counts, 1)[:, None]).astype(dout.dtype, copy=False)


EMBEDDING_BACKWARD = Exercise(
    name="embedding_backward", notebook=NOTEBOOK, reference=ref.embedding_backward,
    cases=cases.embedding_backward_cases,
    variants=(
        Variant("duplicates_lost", "a token that occurs several times gets the gradient of only one of its "
                "occurrences (dW[tokens] += dout keeps the last one)",
                "With repeated indices, dW[tokens] += dout reads all rows first and writes each once: the "
                "additions do not accumulate. np.add.at(dW, tokens, dout) adds every occurrence.",
                _emb_assign),
        Variant("mean_not_sum", "the rows of a repeated token are averaged instead of added",
                "Each occurrence of a token uses the same row of W_E, and each contributes its whole "
                "gradient: the chain rule adds them.", _emb_mean),
    ),
)


# ---- adam_update --------------------------------------------------------------------------------

def _adam(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, *, correct=True, sqrt=True,
          eps_inside=False, swap_betas=False, old_moments=False):
    param, grad, m, v = (np.asarray(a) for a in (param, grad, m, v))
    dtype = np.result_type(param, grad, m, v)
    lr, beta1, beta2, eps = float(lr), float(beta1), float(beta2), float(eps)
    if swap_betas:
        beta1, beta2 = beta2, beta1
    new_m = beta1 * m + (1 - beta1) * grad
    new_v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = new_m / (1 - beta1**t) if correct else new_m
    v_hat = new_v / (1 - beta2**t) if correct else new_v
    if eps_inside:
        denominator = np.sqrt(v_hat + eps)
    else:
        denominator = (np.sqrt(v_hat) if sqrt else v_hat) + eps
    new_param = param - lr * m_hat / denominator
    # "* 1": as in the reference, a 0-d parameter gives NumPy scalars
    out = (new_param, m * 1, v * 1) if old_moments else (new_param, new_m, new_v)
    return tuple(x.astype(dtype, copy=False) for x in out)


def _adam_mistake(**knobs):
    def wrong(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, **knobs)

    wrong.__name__ = "adam_" + "_".join(knobs)
    return wrong


ADAM_UPDATE = Exercise(
    name="adam_update", notebook=NOTEBOOK, reference=ref.adam_update, cases=cases.adam_update_cases,
    returns=("new_param", "new_m", "new_v"),
    variants=(
        Variant("no_bias_correction", "m and v are used without the bias correction m / (1 − β1ᵗ), "
                "v / (1 − β2ᵗ)",
                "m and v start at zero, so early on they underestimate the gradient's moments; dividing by "
                "1 − βᵗ (t starting at 1) corrects that. new_m and new_v themselves stay uncorrected.",
                _adam_mistake(correct=False)),
        Variant("no_square_root", "the step divides by v̂ + ε instead of √v̂ + ε",
                "v estimates the squared gradient: its square root has the gradient's units, so that "
                "m̂ / √v̂ is about ±1 and each entry moves by about lr.", _adam_mistake(sqrt=False)),
        Variant("eps_inside_square_root", "ε is added inside the square root, √(v̂ + ε), instead of after it",
                "Kingma and Ba's algorithm divides by √v̂ + ε; the difference shows when ε is not tiny "
                "(the failing case uses ε = 0.1).", _adam_mistake(eps_inside=True)),
        Variant("betas_swapped", "β1 and β2 are swapped (m decays with β2, v with β1)",
                "β1 (0.9) averages the gradient into m; β2 (0.999) averages the squared gradient into v.",
                _adam_mistake(swap_betas=True)),
        Variant("moments_not_returned", "the old m and v are returned instead of the updated ones",
                "Return the new moment estimates: the next step starts from them.",
                _adam_mistake(old_moments=True)),
    ),
)


# ---- induction_training -------------------------------------------------------------------------
# The function is the notebook's given training loop (locked, restored at grading); what it achieves
# depends only on the learner's functions. The model and the loop exist once, in the notebook's given
# cells: the reference and the variants run those cells with the reference's (or a wrong) function,
# and the check judges what the returned parameters have learned with the given measurement
# (attention_course.given.induction_outcome). The kernel's own word is never used.

#: The locked cells of notebook 07 that define the model, its measurements and its training loop.
INDUCTION_CELLS = ("forward_given", "backward_given", "induction_data", "induction_model",
                   "model_backward_given", "induction_measures", "induction_training_loop")

#: The learner's functions that the training loop calls, and the reference for each.
TRAINING_PIECES = {"multi_head_attention_backward": ref.multi_head_attention_backward,
                   "cross_entropy_backward": ref.cross_entropy_backward,
                   "embedding_backward": ref.embedding_backward, "adam_update": ref.adam_update}


def _train_with(**replaced):
    """``induction_training`` from the notebook's given cells, with the reference's functions except
    those in ``replaced``."""
    def train(params, seed, steps=400, batch_size=32, lr=1e-2):
        given = run_given([registry.given_sources(NOTEBOOK)[g] for g in INDUCTION_CELLS],
                          {**TRAINING_PIECES, **replaced})
        with np.errstate(all="ignore"):
            return given["induction_training"](params, seed, steps=steps, batch_size=batch_size, lr=lr)

    return train


def _ce_negated(dloss, logits, targets):
    return -ref.cross_entropy_backward(dloss, logits, targets)


def _adam_frozen(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return np.array(param, copy=True), np.array(m, copy=True), np.array(v, copy=True)


def _mha_backward_inputs_only(dout, X_q, X_kv, params, num_heads, mask=None):
    grads = ref.multi_head_attention_backward(dout, X_q, X_kv, params, num_heads, mask)
    return {k: (g if k in ("X_q", "X_kv") else np.zeros_like(g)) for k, g in grads.items()}


INDUCTION_TRAINING = Exercise(
    name="induction_training", notebook=NOTEBOOK, reference=_train_with(),
    cases=cases.induction_training_cases,
    # No value comparison: any parameters that reach the targets pass. A function that is wrong but
    # still trains (Adam without its bias correction, say) passes here; its own check names the mistake.
    compare=induction_outcome, given_cells=INDUCTION_CELLS,
    variants=(
        Variant("loss_increased", "the loss ended higher than it started: the updates climbed the loss "
                "instead of descending it (or blew it up)",
                "A flipped sign (softmax − one_hot the wrong way round), gradients sent to the wrong "
                "parameter, or an Adam step without its square root drive the loss up.",
                _train_with(cross_entropy_backward=_ce_negated)),
        Variant("parameters_unchanged", "the parameters did not change at all: the updates were zero, or "
                "not finite (NaN or inf) from the very first step, which stops the training",
                "Check that adam_update returns the updated parameter, and that the gradients are computed "
                "(not placeholders such as np.zeros_like) and finite.",
                _train_with(adam_update=_adam_frozen)),
        Variant("target_not_reached", "the loss went down, but no induction head formed within 400 steps: "
                "the gradients point downhill but are incomplete",
                "Look for a gradient left at zero (the weights of the attention layers, say, or the X_kv "
                "path), or a gradient that is too small.",
                _train_with(multi_head_attention_backward=_mha_backward_inputs_only)),
    ),
    hints={
        "not_implemented": "induction_training trains with your multi_head_attention_backward, "
                           "cross_entropy_backward, embedding_backward and adam_update, and one of them is "
                           "not implemented yet: implement all four first (exercises 1 to 4), then run this "
                           "check again.",
        "error_hint": "induction_training is given code: the error comes from one of your functions "
                      "(multi_head_attention_backward, cross_entropy_backward, embedding_backward, "
                      "adam_update), or from results that do not have the shapes the model expects. Make "
                      "their checks pass first.",
    },
)

EXERCISES = [MHA_BACKWARD, CROSS_ENTROPY_BACKWARD, EMBEDDING_BACKWARD, ADAM_UPDATE, INDUCTION_TRAINING]
