"""Cases of notebook 01_attention_weights: softmax, dot_scores, attention_weights, weighted_sum, attend."""

from __future__ import annotations

import numpy as np

from . import DTYPES, Case, batch_shape, normal


def softmax_cases(rng, hidden):
    """Logits along the last axis; hidden cases add batch axes, both dtypes, huge logits, one key."""
    cases = [
        Case((np.array([1.0, 2.0, 3.0]),), note="three logits"),
        Case((np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 3.0, 3.0, 3.0]]),), note="two rows"),
        Case((np.array([1000.0, 1001.0, 999.0]),), note="logits around 1000"),
    ]
    if not hidden:
        return cases
    cases = []
    for dtype in DTYPES:
        shape = batch_shape(rng) + (int(rng.integers(2, 5)), int(rng.integers(3, 9)))
        cases.append(Case((normal(rng, shape, dtype, scale=3.0),), note="random logits"))
        big = normal(rng, (int(rng.integers(2, 4)), int(rng.integers(3, 7))), dtype,
                     scale=float(rng.choice([1e3, 1e4])))
        cases.append(Case((big,), note="logits of magnitude 1e3–1e4"))
        cases.append(Case((normal(rng, (int(rng.integers(2, 4)), 1), dtype),), note="one key"))
    # Rows that are not the last axis must not be mixed: a tall matrix tells axis=0 from axis=-1.
    cases.append(Case((normal(rng, (int(rng.integers(5, 8)), int(rng.integers(2, 4)))),),
                      note="more rows than columns"))
    return cases


MAKERS = {"softmax": softmax_cases}
