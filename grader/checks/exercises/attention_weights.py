"""Exercises of notebook 01_attention_weights and the mistakes learners make in them."""

from __future__ import annotations

import math

import numpy as np

import attention_ref as ref

from ..cases import attention_weights as cases
from ..exercise import Exercise, Variant

NOTEBOOK = "01_attention_weights"


def _softmax_no_max(x, axis=-1):
    e = np.exp(np.asarray(x))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_axis0(x, axis=-1):
    return ref.softmax(x, axis=0)


def _softmax_unnormalised(x, axis=-1):
    x = np.asarray(x)
    return np.exp(x - x.max(axis=axis, keepdims=True))


def _softmax_global(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - x.max())
    return e / e.sum()


def _softmax_axis_ignored(x, axis=-1):
    return ref.softmax(x)


SOFTMAX = Exercise(
    name="softmax",
    notebook=NOTEBOOK,
    reference=ref.softmax, cases=cases.softmax_cases,
    variants=(
        Variant("no_max_subtraction", "exp is applied to the raw logits, without subtracting the maximum",
                "exp(1000) overflows to inf and inf/inf is NaN. Shifting every logit of a row by the "
                "same constant does not change the softmax — which constant keeps every exponent ≤ 0?",
                _softmax_no_max),
        Variant("wrong_axis", "the softmax is taken over the wrong axis (the rows, axis 0)",
                "The weights must sum to one along the axis argument (the last axis by default): pass "
                "axis=axis, with keepdims=True, to max and sum.",
                _softmax_axis0),
        Variant("not_normalised", "the exponentials are not divided by their sum",
                "Weights must add up to one along the last axis.", _softmax_unnormalised),
        Variant("normalised_over_everything", "the whole array is normalised at once instead of row by row",
                "Use keepdims=True and axis=-1 so that each row is normalised by its own sum.",
                _softmax_global),
        Variant("axis_ignored", "the axis argument is ignored: the softmax is always over the last axis",
                "Pass the function's own axis argument to max and sum (axis=axis, not axis=-1).",
                _softmax_axis_ignored),
    ),
)


def _scores_sum_over_keys(q, K):
    """Elementwise product summed over the wrong axis (the keys instead of the features)."""
    q, K = np.asarray(q), np.asarray(K)
    return (q[..., None, :] * K).sum(axis=-2)


def _weights_unnormalised(q, K):
    return np.exp(ref.dot_scores(q, K))


def _weights_no_softmax(q, K):
    return ref.dot_scores(q, K)


def _weights_scaled(q, K):
    return ref.softmax(ref.dot_scores(q, K) / math.sqrt(np.shape(q)[-1]))


def _weighted_sum_over_features(w, V):
    w, V = np.asarray(w), np.asarray(V)
    return (w[..., :, None] * V).sum(axis=-1)


def _weighted_mean(w, V):
    return ref.weighted_sum(w, V) / np.asarray(w).shape[-1]


def _attend_query_first(q, K, V, concat_query=False):
    a = ref.attend(q, K, V)
    if not concat_query:
        return a
    q = np.broadcast_to(np.asarray(q), a.shape[:-1] + np.shape(q)[-1:])
    return np.concatenate([q, a], axis=-1)


def _attend_ignores_concat(q, K, V, concat_query=False):
    return ref.attend(q, K, V)


def _attend_returns_weights(q, K, V, concat_query=False):
    return ref.attention_weights(q, K)


DOT_SCORES = Exercise(
    name="dot_scores", notebook=NOTEBOOK, reference=ref.dot_scores,
    cases=cases.dot_scores_cases,
    variants=(
        Variant("sum_over_wrong_axis", "the products q_t·K[i, t] are summed over the keys instead of the "
                "features", "Each key gets one score: sum over the feature axis (the last one).",
                _scores_sum_over_keys),
    ),
)

ATTENTION_WEIGHTS = Exercise(
    name="attention_weights", notebook=NOTEBOOK, reference=ref.attention_weights,
    cases=cases.attention_weights_cases,
    variants=(
        Variant("raw_scores", "the dot scores are returned without a softmax",
                "Weights must be positive and add up to one over the keys.", _weights_no_softmax),
        Variant("not_normalised", "the exponentials of the scores are not divided by their sum",
                "Weights must add up to one over the keys.", _weights_unnormalised),
        Variant("scaled_single_query", "the scores are divided by √d",
                "Formula F5 has no scaling; scaling comes with scaled dot-product attention in notebook 02.",
                _weights_scaled),
    ),
)

WEIGHTED_SUM = Exercise(
    name="weighted_sum", notebook=NOTEBOOK, reference=ref.weighted_sum,
    cases=cases.weighted_sum_cases,
    variants=(
        Variant("sum_over_features", "the weighted values are summed over their features instead of over "
                "the n values", "a = Σ_i w_i v_i has the size of one value vector (d_v).",
                _weighted_sum_over_features),
        Variant("mean_instead_of_sum", "the weighted sum is divided by n",
                "The weights already add up to one: no further averaging.", _weighted_mean),
    ),
)

ATTEND = Exercise(
    name="attend", notebook=NOTEBOOK, reference=ref.attend,
    cases=cases.attend_cases,
    variants=(
        Variant("query_first", "the query is placed before a in the concatenation",
                "The output is [a; q]: the attention vector first, then the query.", _attend_query_first),
        Variant("concat_ignored", "concat_query=True is ignored",
                "With concat_query=True the query is appended after a.", _attend_ignores_concat),
        Variant("returns_weights", "the weights are returned instead of the weighted sum of the values",
                "attend returns a = Σ_i w_i v_i.", _attend_returns_weights),
    ),
)

EXERCISES = [SOFTMAX, DOT_SCORES, ATTENTION_WEIGHTS, WEIGHTED_SUM, ATTEND]
