"""Cases of notebook 01_attention_weights: softmax, dot_scores, attention_weights, weighted_sum, attend."""

from __future__ import annotations

import numpy as np

from . import DTYPES, Case, batch_shape, normal


def softmax_cases(rng, hidden):
    """Logits along the last axis or along ``axis``, batch axes, both dtypes, huge logits, one key.

    Public: three logits; two rows; logits around 1000; float32 logits with two batch axes; a
    softmax over the middle axis of a 3-d array (``axis=1``); one key per row. Hidden: the same
    kinds at random sizes, a tall matrix (rows must not be mixed) and softmaxes over axis 0 and -2.
    """
    cases = [
        Case((np.array([1.0, 2.0, 3.0]),), note="three logits"),
        Case((np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 3.0, 3.0, 3.0]]),), note="two rows"),
        Case((np.array([1000.0, 1001.0, 999.0]),), note="logits around 1000"),
    ]
    if not hidden:
        return cases + [
            Case((np.round(rng.standard_normal((2, 1, 3, 4)) * 3, 1).astype(np.float32),),
                 note="float32 logits with two batch axes"),
            Case((np.round(rng.standard_normal((2, 3, 4)) * 2, 1),), {"axis": 1},
                 note="a softmax over the middle axis: each column of each 3 × 4 matrix sums to one"),
            Case((np.array([[0.5], [-2.0], [7.0]], dtype=np.float32),), note="one key per row"),
        ]
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
    # The axis argument: a wide matrix over its rows, and the next-to-last axis of a batch.
    wide = normal(rng, (int(rng.integers(2, 4)), int(rng.integers(5, 8))), np.float32, scale=2.0)
    cases.append(Case((wide,), {"axis": 0}, note="a softmax over axis 0: each column sums to one"))
    shape = (int(rng.integers(2, 4)),) + tuple(int(s) for s in rng.choice(np.arange(2, 7), 2, replace=False))
    cases.append(Case((normal(rng, shape, scale=2.0),), {"axis": -2},
                      note="a softmax over axis -2 of a 3-d array"))
    return cases


def _query_keys(rng, hidden, with_values=False):
    """(q, K[, V]) cases: fixed small ones, or random batch shapes, dtypes and sizes.

    Public: one query and four keys; scores around 2500; float32 with batch axes (2, 1); a batch
    of three queries with one key each. Hidden: both dtypes at random batch shapes, with scores
    of order 1 and of order 1e3, and one key.
    """
    if not hidden:
        q = np.array([1.0, 0.0, -1.0])
        K = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [-2.0, 0.5, 1.0], [1.0, 1.0, 1.0]])
        V = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-1.0, 3.0]])
        big = (np.array([30.0, 40.0]), np.array([[30.0, 40.0], [-30.0, 20.0], [40.0, 30.0]]),
               np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]))

        def r(*shape, dtype=np.float64):
            return np.round(rng.standard_normal(shape), 1).astype(dtype)

        batched = tuple(r(2, 1, *shape, dtype=np.float32) for shape in ((3,), (5, 3), (5, 2)))
        one_key = (r(3, 4), r(3, 1, 4), r(3, 1, 2))
        items = [((q, K, V), "one query, four keys"), (big, "scores around 2500"),
                 (batched, "float32, batch axes (2, 1): one query and five keys per problem"),
                 (one_key, "three queries, one key each")]
        return [Case(args if with_values else args[:2], note=note) for args, note in items]
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
    """Weights over n values of size d_v (n != d_v); public: float32 with batch axes, and d_v = 1."""
    if not hidden:
        w = np.array([0.1, 0.2, 0.3, 0.4])
        V = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 2.0], [3.0, 1.0, 0.0], [-1.0, 2.0, 1.0]])
        w32 = np.array([[[0.5, 0.25, 0.25]], [[0.0, 0.9, 0.1]]], dtype=np.float32)  # (2, 1, 3)
        V32 = np.round(rng.standard_normal((2, 1, 3, 2)), 1).astype(np.float32)
        w3 = np.array([[0.7, 0.3], [0.5, 0.5], [0.2, 0.8]])  # (3, 2)
        return [Case((w, V), note="four values of size 3"),
                Case((w32, V32), note="float32, batch axes (2, 1): three values of size 2"),
                Case((w3, np.array([[[1.0], [-1.0]], [[2.0], [4.0]], [[0.5], [0.0]]])),
                     note="a batch of three, values of size 1")]
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
