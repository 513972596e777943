"""Cases of notebook 03_additive_attention: additive_scores, additive_attention.

The first case of every check has d_q == d_k, so that code which swaps W_q and W_k still runs
(and gets its mistake named) instead of raising; the later cases have d_q != d_k. n_q, n_k,
d_k and d_v all differ, so that transposed weights or a swapped (out, weights) pair have the
wrong shape. W_q and W_k are scaled by 1/√d so that tanh works in its curved range.
"""

from __future__ import annotations

import numpy as np

from . import DTYPES, Case, batch_shape, normal
from .scaled_dot_product import distinct_sizes, partial_mask


def network(rng, d_q, d_k, h, dtype=np.float64, w_scale=1.0):
    """W_q (d_q, h), W_k (d_k, h) and w_v (h,); w_v is multiplied by ``w_scale``."""
    return (normal(rng, (d_q, h), dtype, 1 / np.sqrt(d_q)), normal(rng, (d_k, h), dtype, 1 / np.sqrt(d_k)),
            normal(rng, (h,), dtype, w_scale))


def inputs(rng, batch, same_d, dtype=np.float64, n_k=None, scale=1.0, w_scale=1.0):
    """(Q, K, V, W_q, W_k, w_v) of random sizes (see :func:`distinct_sizes`).

    Parameters
    ----------
    batch : tuple of int
        Batch shape of Q, K and V.
    same_d : bool
        d_q == d_k (W_q and W_k then have the same shape), else d_q != d_k.
    n_k : int, optional
        Number of keys instead of the random one.
    scale, w_scale : float
        Multiply Q and K, and w_v.

    Returns
    -------
    Q (batch, n_q, d_q), K (batch, n_k, d_k), V (batch, n_k, d_v), W_q (d_q, h), W_k (d_k, h), w_v (h,)
    """
    n_q, random_n_k, d_k, d_v = distinct_sizes(rng)
    n_k = random_n_k if n_k is None else n_k
    d_q = d_k if same_d else int(rng.choice([d for d in range(2, 9) if d != d_k]))
    h = int(rng.integers(2, 7))
    return (normal(rng, batch + (n_q, d_q), dtype, scale), normal(rng, batch + (n_k, d_k), dtype, scale),
            normal(rng, batch + (n_k, d_v), dtype)) + network(rng, d_q, d_k, h, dtype, w_scale)


def _public(rng):
    """Small float64 inputs: n_q=3, n_k=4, d_v=2, h=5; d_q = d_k = 3, then d_q=2 != d_k=3."""
    def r(*shape, scale=1.0):
        return np.round(rng.standard_normal(shape) * scale, 1)
    same = (r(3, 3), r(4, 3), r(4, 2), r(3, 5, scale=0.6), r(3, 5, scale=0.6), r(5))
    other = (r(3, 2), r(4, 3), r(4, 2), r(2, 5, scale=0.7), r(3, 5, scale=0.6), r(5))
    return same, other


def _public_kinds(rng):
    """Public inputs of the kinds the hidden cases add: (float32 with batch axes (2, 2), one key in a
    batch of one, huge pre-activations), as (Q, K, V, W_q, W_k, w_v)."""
    return (inputs(rng, (2, 2), False, np.float32), inputs(rng, (1,), False, n_k=1),
            inputs(rng, (), False, scale=200.0))


def additive_scores_cases(rng, hidden):
    """(Q, K, W_q, W_k, w_v); hidden: random batch axes, both dtypes, saturated tanh, one key.

    Public: d_q == d_k; d_q != d_k; float32 with batch axes (2, 2); one key; pre-activations of
    magnitude 1e2–1e3.
    """
    def drop_values(args):
        return args[:2] + args[3:]
    if not hidden:
        same, other = _public(rng)
        four, one_key, big = _public_kinds(rng)
        return [Case(drop_values(same), note="d_q == d_k"), Case(drop_values(other), note="d_q != d_k"),
                Case(drop_values(four), note="float32, batch axes (2, 2)"),
                Case(drop_values(one_key), note="one key, a batch of one"),
                Case(drop_values(big), note="queries and keys of magnitude 100s: tanh saturates")]
    cases = []
    for dtype in DTYPES:
        cases.append(Case(drop_values(inputs(rng, batch_shape(rng), True, dtype)), note="d_q == d_k"))
    for dtype in DTYPES:
        cases.append(Case(drop_values(inputs(rng, batch_shape(rng), False, dtype)), note="d_q != d_k"))
        cases.append(Case(drop_values(inputs(rng, (), False, dtype, scale=1e3)),
                          note="pre-activations of magnitude 1e3 (tanh saturates)"))
    cases.append(Case(drop_values(inputs(rng, (), False, n_k=1)), note="one key"))
    return cases


def additive_attention_cases(rng, hidden):
    """(Q, K, V, W_q, W_k, w_v) with and without a mask.

    Public: d_q == d_k; d_q != d_k; scores around 1e3; a (n_q, n_k) mask with a fully masked row;
    then float32 with batch axes (2, 2) and a mask of the full batch shape; one key; huge
    pre-activations with a (B, 1, n_k) padding mask; an (n_q, 1) and an (n_k,) mask.
    Hidden, for float32 and float64: d_q == d_k with random batch axes; d_q != d_k; scores of
    magnitude 1e3–1e4; a random mask broadcast from (n_q, n_k) and one of the full batch shape;
    a mask with a fully masked row; a (B, 1, n_k) padding mask with lengths 0 and n_k; an (n_q, 1)
    and an (n_k,) mask; one key.
    """
    if not hidden:
        same, other = _public(rng)
        mask = np.array([[True, False, True, False],
                         [False, False, False, False],
                         [False, True, True, True]])
        big = other[:5] + (other[5] * 1e3,)
        four, one_key, huge = _public_kinds(rng)
        padded = inputs(rng, (2,), False, np.float32)
        n_k = padded[1].shape[-2]
        return [Case(same, note="d_q == d_k"), Case(other, note="d_q != d_k"),
                Case(big, note="w_v of magnitude 1e3: scores around 1e3"),
                Case(other, {"mask": mask}, note="a (n_q, n_k) mask; query 1 may attend to no key"),
                Case(four, {"mask": partial_mask(rng, (2, 2) + (four[0].shape[-2], four[1].shape[-2]))},
                     note="float32, batch axes (2, 2), a random mask of the full batch shape"),
                Case(one_key, note="one key, a batch of one"),
                Case(huge, note="queries and keys of magnitude 100s: tanh saturates"),
                Case(padded, {"mask": np.arange(n_k) < np.array([0, n_k - 1])[:, None, None]},
                     note=f"float32, a (B, 1, n_k) padding mask, lengths [0, {n_k - 1}]"),
                Case(other, {"mask": np.array([[True], [False], [True]])},
                     note="an (n_q, 1) mask: query 1 may attend to no key"),
                Case(other, {"mask": np.array([False, True, True, False])},
                     note="a 1-d (n_k,) mask: keys 0 and 3 are hidden from every query")]
    cases = []
    for dtype in DTYPES:
        cases.append(Case(inputs(rng, batch_shape(rng), True, dtype), note="d_q == d_k"))
    for dtype in DTYPES:
        cases.append(Case(inputs(rng, batch_shape(rng, 1), False, dtype), note="d_q != d_k"))
        w_scale = float(rng.choice([1e3, 1e4]))
        cases.append(Case(inputs(rng, (), False, dtype, w_scale=w_scale),
                          note="scores of magnitude 1e3–1e4"))
    for dtype in DTYPES:
        batch = batch_shape(rng, 2) or (2,)
        args = inputs(rng, batch, False, dtype)
        n_q, n_k = args[0].shape[-2], args[1].shape[-2]
        cases.append(Case(args, {"mask": partial_mask(rng, (n_q, n_k))},
                          note="random mask of shape (n_q, n_k), broadcast over the batch"))
        cases.append(Case(args, {"mask": partial_mask(rng, batch + (n_q, n_k), p=0.4)},
                          note="random mask of the full batch shape"))
    for dtype in DTYPES:
        args = inputs(rng, (), False, dtype)
        n_q, n_k = args[0].shape[-2], args[1].shape[-2]
        row = int(rng.integers(0, n_q))
        mask = partial_mask(rng, (n_q, n_k))
        mask[row] = False
        cases.append(Case(args, {"mask": mask}, note=f"query {row} may attend to no key"))
        B = int(rng.integers(3, 5))
        args = inputs(rng, (B,), False, dtype)
        n_k = args[1].shape[-2]
        lengths = rng.integers(1, n_k, size=B)
        lengths[rng.choice(B, size=2, replace=False)] = (0, n_k)
        cases.append(Case(args, {"mask": np.arange(n_k) < lengths[:, None, None]},
                          note=f"(B, 1, n_k) padding mask, lengths {lengths.tolist()}"))
    args = inputs(rng, batch_shape(rng, 1), False, DTYPES[int(rng.integers(0, 2))])
    queries = rng.random((args[0].shape[-2], 1)) < 0.7
    queries[rng.integers(0, len(queries))] = False
    cases.append(Case(args, {"mask": queries}, note="an (n_q, 1) mask: some queries may attend to no key"))
    args = inputs(rng, batch_shape(rng, 1), False, DTYPES[int(rng.integers(0, 2))])
    cases.append(Case(args, {"mask": partial_mask(rng, (1, args[1].shape[-2]))[0]},
                      note="a 1-d (n_k,) mask: the same keys hidden from every query"))
    cases.append(Case(inputs(rng, (), False, n_k=1), note="one key"))
    return cases
