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



def _query_keys(rng, hidden, with_values=False):
    """(q, K[, V]) cases: fixed small ones, or random batch shapes, dtypes and sizes."""
    if not hidden:
        q = np.array([1.0, 0.0, -1.0])
        K = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [-2.0, 0.5, 1.0], [1.0, 1.0, 1.0]])
        V = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-1.0, 3.0]])
        big = (np.array([30.0, 40.0]), np.array([[30.0, 40.0], [-30.0, 20.0], [40.0, 30.0]]),
               np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]))
        first = (q, K, V) if with_values else (q, K)
        second = big if with_values else big[:2]
        return [Case(first, note="one query, four keys"), Case(second, note="scores around 2500")]
    cases = []
    for dtype in DTYPES:
        for note, scale in (("random", 1.0), ("scores of magnitude 1e3", 30.0)):
            batch = batch_shape(rng)
            d, n, d_v = (int(rng.integers(2, 7)), int(rng.integers(2, 8)), int(rng.integers(1, 5)))
            args = (normal(rng, batch + (d,), dtype, scale), normal(rng, batch + (n, d), dtype, scale))
            if with_values:
                args += (normal(rng, batch + (n, d_v), dtype),)
            cases.append(Case(args, note=note))
    d = int(rng.integers(2, 5))
    one = (normal(rng, (d,)), normal(rng, (1, d)))
    cases.append(Case(one + ((normal(rng, (1, 3)),) if with_values else ()), note="one key"))
    return cases


def dot_scores_cases(rng, hidden):
    """A query against several keys (n != d so that a transposed K fails loudly)."""
    return _query_keys(rng, hidden)


def attention_weights_cases(rng, hidden):
    """As for dot_scores: the weights must be the softmax over the keys."""
    return _query_keys(rng, hidden)


def weighted_sum_cases(rng, hidden):
    """Weights over n values of size d_v (n != d_v)."""
    if not hidden:
        w = np.array([0.1, 0.2, 0.3, 0.4])
        V = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 2.0], [3.0, 1.0, 0.0], [-1.0, 2.0, 1.0]])
        return [Case((w, V), note="four values of size 3")]
    cases = []
    for dtype in DTYPES:
        batch = batch_shape(rng)
        n, d_v = int(rng.integers(2, 8)), int(rng.integers(1, 6))
        w = rng.random(batch + (n,)).astype(dtype)
        cases.append(Case((w / w.sum(-1, keepdims=True), normal(rng, batch + (n, d_v), dtype))))
    return cases


def attend_cases(rng, hidden):
    """(q, K, V) with and without concat_query."""
    cases = []
    for case in _query_keys(rng, hidden, with_values=True):
        cases.append(case)
        cases.append(Case(case.args, {"concat_query": True}, note=(case.note + ", concat_query=True")))
    return cases
