"""Exercises of notebook 02_scaled_dot_product and the mistakes learners make in them."""

from __future__ import annotations

import math

import numpy as np

import attention_ref as ref

from ..cases import scaled_dot_product as cases
from ..exercise import Exercise, Variant

NOTEBOOK = "02_scaled_dot_product"


# ---- attention with one thing changed -----------------------------------------------------------

def _attention(Q, K, V, mask=None, scale=1.0, fill=-np.inf, axis=-1, zero_after=False):
    """(out, weights) of softmax(scale · Q Kᵀ) V, the masked logits set to ``fill``.

    ``axis`` is the axis of the softmax; with ``zero_after`` the mask zeroes the weights after
    an unmasked softmax instead.
    """
    Q, K, V = np.asarray(Q), np.asarray(K), np.asarray(V)
    scores = (Q @ K.swapaxes(-2, -1)) * scale  # (..., n_q, n_k)
    if mask is not None and not zero_after:
        scores = np.where(mask, scores, fill)
    weights = ref.softmax(scores, axis=axis)
    if mask is not None and zero_after:
        weights = weights * mask
    return weights @ V, weights


def _fully_masked(mask, shape):
    """(..., n_q) True where a query may attend to no key, or None without a mask."""
    return None if mask is None else ~np.broadcast_to(np.asarray(mask), shape).any(axis=-1)


def _nan_rows(result, mask):
    """``result`` = (out, weights) with the rows of fully masked queries set to NaN."""
    out, weights = result
    rows = _fully_masked(mask, weights.shape)
    if rows is None:
        return out, weights
    return np.where(rows[..., None], np.nan, out), np.where(rows[..., None], np.nan, weights)


def _no_max_subtraction(Q, K, V, mask, scale):
    Q, K, V = np.asarray(Q), np.asarray(K), np.asarray(V)
    scores = (Q @ K.swapaxes(-2, -1)) * scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores)
    weights = e / e.sum(axis=-1, keepdims=True)
    return weights @ V, weights


def _scores_transposed(Q, K, V, mask, scale):
    """K Qᵀ (n_k, n_q): the softmax runs over the queries; out = weightsᵀ V fits the shapes."""
    Q, K, V = np.asarray(Q), np.asarray(K), np.asarray(V)
    scores = (K @ Q.swapaxes(-2, -1)) * scale  # (..., n_k, n_q)
    if mask is not None:
        scores = np.where(np.asarray(mask).swapaxes(-2, -1), scores, -np.inf)
    weights = ref.softmax(scores, axis=-1)
    return weights.swapaxes(-2, -1) @ V, weights


def _inv_sqrt_d_k(Q, K, V):
    return 1.0 / math.sqrt(np.shape(Q)[-1])


def _one(Q, K, V):
    return 1.0


#: Variants shared by both exercises: key -> (label, hint, fn(Q, K, V, mask, scale)).
_SHARED = {
    "nan_for_fully_masked": (
        "a query whose keys are all masked gets NaN weights and a NaN output",
        "When every logit of a row is −inf, its maximum is −inf too, and −inf − (−inf) (or 0/0) is "
        "NaN. A query that may attend to no key must get zero weights and a zero output: find those "
        "rows and give them zeros.",
        lambda Q, K, V, mask, scale: _nan_rows(_attention(Q, K, V, mask, scale), mask)),
    "uniform_for_fully_masked": (
        "a query whose keys are all masked gets equal weights on every key instead of zero weights",
        "Filling masked logits with a large negative number is fine while a row keeps one allowed "
        "key; when all its logits are that number, the softmax spreads the weight evenly. Such a "
        "query must get zero weights and a zero output.",
        lambda Q, K, V, mask, scale: _attention(Q, K, V, mask, scale, fill=-1e30)),
    "no_max_subtraction": (
        "exp is applied to the raw logits, without subtracting each row's maximum",
        "Logits of a few hundred already overflow exp (88 in float32) and inf/inf is NaN. Shifting a "
        "row's logits by the same constant does not change its softmax — pick the constant that "
        "keeps every exponent ≤ 0.",
        _no_max_subtraction),
    "softmax_over_queries": (
        "the softmax is taken over the queries (axis -2) instead of over the keys",
        "Each query's weights over the keys must add up to one: weights[..., i, :].sum() == 1.",
        lambda Q, K, V, mask, scale: _attention(Q, K, V, mask, scale, axis=-2)),
    "scores_transposed": (
        "the scores are K Qᵀ (keys × queries), so each softmax runs over the queries",
        "Row i of the scores belongs to query i: the scores have shape (..., n_q, n_k), and the "
        "weights too.",
        _scores_transposed),
    "weights_transposed": (
        "the weights are returned transposed, with shape (..., n_k, n_q)",
        "weights[..., i, j] is how much query i attends to key j: shape (..., n_q, n_k), the same "
        "matrix that multiplies V.",
        lambda Q, K, V, mask, scale: (lambda o, w: (o, w.swapaxes(-2, -1)))(
            *_attention(Q, K, V, mask, scale))),
    "outputs_swapped": (
        "(weights, out) is returned instead of (out, weights)",
        "Every attention function of the course returns the output first, then the weights.",
        lambda Q, K, V, mask, scale: _attention(Q, K, V, mask, scale)[::-1]),
    "mask_inverted": (
        "the mask is used the wrong way round: True entries are hidden instead of allowed",
        "In this course True means \"may attend\": the logits to hide are where the mask is False.",
        lambda Q, K, V, mask, scale: _attention(Q, K, V, None if mask is None else ~np.asarray(mask),
                                                scale)),
    "mask_after_softmax": (
        "the masked weights are set to zero after the softmax, so the remaining weights do not add "
        "up to one",
        "Masking must happen before the softmax, on the logits, so that the allowed keys share the "
        "whole weight.",
        lambda Q, K, V, mask, scale: _attention(Q, K, V, mask, scale, zero_after=True)),
    "masked_filled_with_zero": (
        "the masked logits are set to 0 (or multiplied by the mask) instead of −inf",
        "exp(0) = 1: a logit of 0 still gets weight. A masked key must get exactly zero weight.",
        lambda Q, K, V, mask, scale: _attention(Q, K, V, mask, scale, fill=0.0)),
    "mask_ignored": (
        "the mask is ignored",
        "With a mask, the keys it hides (False) must get zero weight.",
        lambda Q, K, V, mask, scale: _attention(Q, K, V, None, scale)),
}


def _variant(key, scale_of):
    label, hint, fn = _SHARED[key]
    return Variant(key, label, hint,
                   lambda Q, K, V, mask=None: fn(Q, K, V, mask, scale_of(Q, K, V)))


def _scaled(scale_of):
    """A variant function: attention scaled by ``scale_of(Q, K, V)``, masked correctly."""
    return lambda Q, K, V, mask=None: _attention(Q, K, V, mask, scale_of(Q, K, V))


# The mistakes that only show with fully masked rows or huge logits come first: on those cases
# the other variants also differ from the reference, but never produce NaN or equal weights.
_FIRST = ("nan_for_fully_masked", "uniform_for_fully_masked", "no_max_subtraction")
_LAST = ("softmax_over_queries", "scores_transposed", "weights_transposed", "outputs_swapped",
         "mask_inverted", "mask_after_softmax", "masked_filled_with_zero", "mask_ignored")

DOT_PRODUCT_ATTENTION = Exercise(
    name="dot_product_attention", notebook=NOTEBOOK, reference=ref.dot_product_attention,
    cases=cases.attention_cases, returns=("out", "weights"),
    variants=(
        *(_variant(key, _one) for key in _FIRST),
        Variant("scaled_like_source", "the scores are divided by √d_k",
                "This is plain dot-product attention (F2): the article's formula keeps the √d_k by "
                "mistake (see the errata). Scaling belongs to scaled dot-product attention.",
                _scaled(_inv_sqrt_d_k)),
        *(_variant(key, _one) for key in _LAST),
    ),
)

SCALED_DOT_PRODUCT_ATTENTION = Exercise(
    name="scaled_dot_product_attention", notebook=NOTEBOOK, reference=ref.scaled_dot_product_attention,
    cases=cases.attention_cases, returns=("out", "weights"),
    variants=(
        *(_variant(key, _inv_sqrt_d_k) for key in _FIRST),
        Variant("no_scaling", "the scores are not divided by √d_k",
                "Scaled dot-product attention divides Q Kᵀ by √d_k before the softmax (F1).",
                _scaled(_one)),
        Variant("scaled_by_d_k", "the scores are divided by d_k instead of √d_k",
                "The variance of q·k grows like d_k, so its standard deviation grows like √d_k.",
                _scaled(lambda Q, K, V: 1.0 / np.shape(Q)[-1])),
        Variant("scaled_by_sqrt_d_v", "the scores are divided by √d_v (the size of the values)",
                "d_k is the size of the queries and keys, the last axis of Q and K — not of V.",
                _scaled(lambda Q, K, V: 1.0 / math.sqrt(np.shape(V)[-1]))),
        Variant("scaled_by_sqrt_n", "the scores are divided by √n_k (the number of keys)",
                "d_k is the size of each query and key vector (the last axis of Q), not the number of "
                "keys.", _scaled(lambda Q, K, V: 1.0 / math.sqrt(np.shape(K)[-2]))),
        *(_variant(key, _inv_sqrt_d_k) for key in _LAST),
    ),
)


# ---- masks --------------------------------------------------------------------------------------

def _pairs(n_q, n_k):
    n_k = n_q if n_k is None else n_k
    return np.arange(n_q)[:, None], np.arange(n_k)[None, :]  # i (n_q, 1), j (1, n_k)


def _causal(test):
    def mask(n_q, n_k=None):
        i, j = _pairs(n_q, n_k)
        return test(i, j, n_q, j.shape[-1])
    return mask


CAUSAL_MASK = Exercise(
    name="causal_mask", notebook=NOTEBOOK, reference=ref.causal_mask,
    cases=cases.causal_mask_cases,
    variants=(
        Variant("inverted", "the mask allows the future keys (j > i) and hides the past",
                "Query i may attend to keys 0 … i: True on and below the diagonal.",
                _causal(lambda i, j, n_q, n_k: j > i)),
        Variant("diagonal_excluded", "the diagonal is hidden: query i cannot attend to key i (j < i)",
                "A token may attend to itself: mask[i, i] is True.", _causal(lambda i, j, n_q, n_k: j < i)),
        Variant("upper_triangle", "the upper triangle is allowed (j ≥ i) instead of the lower one",
                "Query i may see the keys up to its own position, i.e. column j ≤ row i.",
                _causal(lambda i, j, n_q, n_k: j >= i)),
        Variant("aligned_to_last_key", "the diagonal is aligned to the last key (j ≤ i + n_k − n_q)",
                "In this course query i sees keys 0 … i whatever n_k is: mask[i, j] is True iff j ≤ i.",
                _causal(lambda i, j, n_q, n_k: j <= i + n_k - n_q)),
        Variant("n_k_ignored", "n_k is ignored: the mask is always n_q × n_q",
                "The mask has shape (n_q, n_k); n_k only defaults to n_q when it is None.",
                lambda n_q, n_k=None: ref.causal_mask(n_q)),
        Variant("shape_swapped", "the mask has shape (n_k, n_q) instead of (n_q, n_k)",
                "Rows are queries, columns are keys.", lambda n_q, n_k=None: ref.causal_mask(
                    n_q if n_k is None else n_k, n_q)),
        Variant("not_boolean", "the mask holds the numbers 1.0 and 0.0 instead of True and False",
                "Masks are boolean arrays; a comparison such as <= already gives one.",
                lambda n_q, n_k=None: ref.causal_mask(n_q, n_k).astype(np.float64)),
    ),
)


def _padding(test):
    def mask(lengths, n_k):
        return test(np.arange(n_k)[None, :], np.asarray(lengths)[:, None])[:, None, :]  # (B, 1, n_k)
    return mask


PADDING_MASK = Exercise(
    name="padding_mask", notebook=NOTEBOOK, reference=ref.padding_mask,
    cases=cases.padding_mask_cases,
    variants=(
        Variant("off_by_one", "one padding key too many is allowed (j ≤ length)",
                "A sequence of length L has real keys 0 … L − 1; a sequence of length 0 has none.",
                _padding(lambda j, length: j <= length)),
        Variant("inverted", "the mask is True on the padding and False on the real keys",
                "True means \"may attend\": the real keys (j < length) are the ones to allow.",
                _padding(lambda j, length: j >= length)),
        Variant("padding_at_start", "the padding is taken to be at the start of each sequence",
                "The padding comes after the real keys: key j is real iff j < length.",
                _padding(lambda j, length: j >= j.shape[-1] - length)),
        Variant("no_query_axis", "the mask has shape (B, n_k), without the query axis",
                "The mask must broadcast against scores of shape (B, n_q, n_k): give it shape "
                "(B, 1, n_k).", lambda lengths, n_k: ref.padding_mask(lengths, n_k)[:, 0, :]),
        Variant("query_axis_last", "the mask has shape (B, n_k, 1) instead of (B, 1, n_k)",
                "The keys are the last axis of the scores (B, n_q, n_k); the size-1 axis stands for "
                "the queries.", lambda lengths, n_k: ref.padding_mask(lengths, n_k).swapaxes(-2, -1)),
    ),
)

EXERCISES = [DOT_PRODUCT_ATTENTION, SCALED_DOT_PRODUCT_ATTENTION, CAUSAL_MASK, PADDING_MASK]
