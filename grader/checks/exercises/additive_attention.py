"""Exercises of notebook 03_additive_attention and the mistakes learners make in them."""

from __future__ import annotations

import math

import numpy as np

import attention_ref as ref

from ..cases import additive_attention as cases
from ..exercise import Exercise, Variant
from .scaled_dot_product import _SHARED, _nan_rows

NOTEBOOK = "03_additive_attention"


# ---- scores with one thing changed --------------------------------------------------------------

def _hidden(Q, K, W_q, W_k):
    """q_i W_q + k_j W_k for every pair: (..., n_q, n_k, h)."""
    Q, K = np.asarray(Q), np.asarray(K)
    return (Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :]


def _no_tanh(Q, K, W_q, W_k, w_v):
    return _hidden(Q, K, W_q, W_k) @ w_v


def _weights_swapped(Q, K, W_q, W_k, w_v):
    return np.tanh(_hidden(Q, K, W_k, W_q)) @ w_v


def _w_v_not_applied(Q, K, W_q, W_k, w_v):
    return np.tanh(_hidden(Q, K, W_q, W_k)).sum(axis=-1)


def _tanh_after_w_v(Q, K, W_q, W_k, w_v):
    return np.tanh(_hidden(Q, K, W_q, W_k) @ w_v)


def _scores_transposed(Q, K, W_q, W_k, w_v):
    """(..., n_k, n_q): the query and key axes broadcast the other way round."""
    Q, K = np.asarray(Q), np.asarray(K)
    return np.tanh((Q @ W_q)[..., None, :, :] + (K @ W_k)[..., :, None, :]) @ w_v


_SCORE_VARIANTS = {
    "no_tanh": ("tanh is missing: the scores are (q W_q + k W_k)·w_v",
                "f(q, k) = tanh(q W_q + k W_k)·w_v: without the tanh, the q part is the same for every "
                "key and cancels in the softmax — the weights no longer depend on the query.", _no_tanh),
    "projections_swapped": ("W_q and W_k are swapped: the queries are projected with W_k",
                            "W_q (d_q, h) projects the queries, W_k (d_k, h) the keys; they only "
                            "happen to fit when d_q == d_k.", _weights_swapped),
    "w_v_not_applied": ("w_v is not applied: the hidden units are summed instead of weighted by w_v",
                        "After tanh each pair has h hidden values; the score is their dot product with "
                        "w_v.", _w_v_not_applied),
    "tanh_after_w_v": ("tanh is applied after the product with w_v",
                       "The tanh acts on the hidden layer (h values per pair); w_v then combines them "
                       "into one score.", _tanh_after_w_v),
}


ADDITIVE_SCORES = Exercise(
    name="additive_scores", notebook=NOTEBOOK, reference=ref.additive_scores,
    cases=cases.additive_scores_cases,
    variants=(
        *(Variant(key, label, hint, fn) for key, (label, hint, fn) in _SCORE_VARIANTS.items()),
        Variant("scores_transposed", "the scores have shape (..., n_k, n_q): keys along the rows",
                "scores[..., i, j] is f(q_i, k_j): the query axis comes before the key axis.",
                _scores_transposed),
    ),
)


# ---- attention with one thing changed -----------------------------------------------------------

def _attention(scores_fn, Q, K, V, W_q, W_k, w_v, mask=None, fill=-np.inf, axis=-1, zero_after=False):
    """(out, weights) from the scores ``scores_fn(Q, K, W_q, W_k, w_v)``, masked with ``fill``."""
    scores = scores_fn(Q, K, W_q, W_k, w_v)  # (..., n_q, n_k)
    if mask is not None and not zero_after:
        scores = np.where(mask, scores, fill)
    weights = ref.softmax(scores, axis=axis)
    if mask is not None and zero_after:
        weights = weights * mask
    return weights @ np.asarray(V), weights


def _with_scores(scores_fn):
    return lambda Q, K, V, W_q, W_k, w_v, mask=None: _attention(scores_fn, Q, K, V, W_q, W_k, w_v, mask)


def _masked(**how):
    return lambda Q, K, V, W_q, W_k, w_v, mask=None: _attention(ref.additive_scores, Q, K, V, W_q, W_k,
                                                                 w_v, mask, **how)


def _no_max_subtraction(Q, K, V, W_q, W_k, w_v, mask=None):
    scores = ref.additive_scores(Q, K, W_q, W_k, w_v)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores)
    weights = e / e.sum(axis=-1, keepdims=True)
    return weights @ np.asarray(V), weights


def _nan_for_fully_masked(Q, K, V, W_q, W_k, w_v, mask=None):
    return _nan_rows(ref.additive_attention(Q, K, V, W_q, W_k, w_v, mask), mask)


def _mask_inverted(Q, K, V, W_q, W_k, w_v, mask=None):
    return _attention(ref.additive_scores, Q, K, V, W_q, W_k, w_v,
                      None if mask is None else ~np.asarray(mask))


def _scaled(Q, K, V, W_q, W_k, w_v, mask=None):
    d_k = np.shape(K)[-1]
    return _with_scores(lambda *a: ref.additive_scores(*a) / math.sqrt(d_k))(Q, K, V, W_q, W_k, w_v, mask)


def _weights_transposed(*args, **kwargs):
    out, weights = ref.additive_attention(*args, **kwargs)
    return out, weights.swapaxes(-2, -1)


def _outputs_swapped(*args, **kwargs):
    return ref.additive_attention(*args, **kwargs)[::-1]


def _named(key, fn):
    """A variant with the label and hint it has in scaled dot-product attention."""
    label, hint, _ = _SHARED[key]
    return Variant(key, label, hint, fn)


ADDITIVE_ATTENTION = Exercise(
    name="additive_attention", notebook=NOTEBOOK, reference=ref.additive_attention,
    cases=cases.additive_attention_cases, returns=("out", "weights"),
    variants=(
        _named("nan_for_fully_masked", _nan_for_fully_masked),
        _named("uniform_for_fully_masked", _masked(fill=-1e30)),
        _named("no_max_subtraction", _no_max_subtraction),
        *(Variant(key, label, hint, _with_scores(fn)) for key, (label, hint, fn) in _SCORE_VARIANTS.items()),
        Variant("scaled_like_dot_product", "the additive scores are divided by √d_k",
                "The √d_k scaling belongs to scaled dot-product attention; additive scores are used as "
                "they are (w_v learns their scale).", _scaled),
        _named("softmax_over_queries", _masked(axis=-2)),
        _named("weights_transposed", _weights_transposed),
        _named("outputs_swapped", _outputs_swapped),
        _named("mask_inverted", _mask_inverted),
        _named("mask_after_softmax", _masked(zero_after=True)),
        _named("masked_filled_with_zero", _masked(fill=0.0)),
        _named("mask_ignored",
               lambda Q, K, V, W_q, W_k, w_v, mask=None: ref.additive_attention(Q, K, V, W_q, W_k, w_v)),
    ),
)

EXERCISES = [ADDITIVE_SCORES, ADDITIVE_ATTENTION]
