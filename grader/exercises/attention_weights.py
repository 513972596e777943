"""Exercises of notebook 01_attention_weights and the mistakes learners make in them."""

from __future__ import annotations

import numpy as np

import attention_ref as ref

from . import Exercise, Variant

NOTEBOOK = "01_attention_weights"


def _softmax_no_max(x):
    e = np.exp(np.asarray(x))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_axis0(x):
    return ref.softmax(x, axis=0)


def _softmax_unnormalised(x):
    x = np.asarray(x)
    return np.exp(x - x.max(axis=-1, keepdims=True))


def _softmax_global(x):
    x = np.asarray(x)
    e = np.exp(x - x.max())
    return e / e.sum()


SOFTMAX = Exercise(
    name="softmax",
    notebook=NOTEBOOK,
    reference=ref.softmax,
    variants=(
        Variant("no_max_subtraction", "exp is applied to the raw logits, without subtracting the maximum",
                "exp(1000) overflows to inf and inf/inf is NaN. Shifting every logit of a row by the "
                "same constant does not change the softmax — which constant keeps every exponent ≤ 0?",
                _softmax_no_max),
        Variant("wrong_axis", "the softmax is taken over the wrong axis (the rows, axis 0)",
                "Each query's weights run along the last axis; pass axis=-1 to max and sum.",
                _softmax_axis0),
        Variant("not_normalised", "the exponentials are not divided by their sum",
                "Weights must add up to one along the last axis.", _softmax_unnormalised),
        Variant("normalised_over_everything", "the whole array is normalised at once instead of row by row",
                "Use keepdims=True and axis=-1 so that each row is normalised by its own sum.",
                _softmax_global),
    ),
)

EXERCISES = [SOFTMAX]
