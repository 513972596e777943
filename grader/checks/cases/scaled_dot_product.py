"""Cases of notebook 02_scaled_dot_product: dot_product_attention, scaled_dot_product_attention,
causal_mask, padding_mask.

The first case of every check is the one that tells most mistakes apart: n_q, n_k, d_k and d_v
all differ (and none is 1, nor d_k²), so that a scaling by d_k, √d_v or √n_k, a transposed
result or a swapped (out, weights) pair each give a different answer. Masked cases come after
the unmasked ones; their first mask keeps at least one allowed and one hidden key in every row,
so that an inverted mask hides no whole row. Fully masked rows come later still.
"""

from __future__ import annotations

import numpy as np

from . import DTYPES, Case, batch_shape, normal, random_mask


def distinct_sizes(rng, low=2, high=9):
    """(n_q, n_k, d_k, d_v): four different sizes in [low, high), with d_k² ∉ {n_k, d_v}.

    With these, softmax(QKᵀ/s) differs for s = 1, √d_k, d_k, √d_v and √n_k, and
    (n_q, n_k) and (n_q, d_v) are different shapes.
    """
    while True:
        n_q, n_k, d_k, d_v = (int(s) for s in rng.choice(np.arange(low, high), size=4, replace=False))
        if d_k * d_k not in (n_k, d_v):
            return n_q, n_k, d_k, d_v


def partial_mask(rng, shape, p=0.7):
    """A random mask (True = may attend) whose every row allows at least one key and hides another.

    Parameters
    ----------
    shape : tuple of int
        ``(..., n_q, n_k)`` with ``n_k >= 2``.

    Returns
    -------
    ndarray of bool of shape ``shape``
    """
    mask = random_mask(rng, shape, p)
    full = np.nonzero(mask.all(axis=-1))  # rows that allow every key: hide one of their keys
    mask[full + (rng.integers(0, shape[-1], size=len(full[0])),)] = False
    return mask


def qkv(rng, batch, n_q, n_k, d_k, d_v, dtype=np.float64, scale=1.0):
    """Random Q (batch, n_q, d_k), K (batch, n_k, d_k) and V (batch, n_k, d_v).

    Q and K are multiplied by ``scale`` (logits grow like scale²·√d_k).
    """
    return (normal(rng, batch + (n_q, d_k), dtype, scale), normal(rng, batch + (n_k, d_k), dtype, scale),
            normal(rng, batch + (n_k, d_v), dtype))


def _rounded(rng, shape, scale=1.0):
    return np.round(rng.standard_normal(shape) * scale, 1)


def attention_cases(rng, hidden):
    """(Q, K, V) with and without a mask.

    Public: four small float64 cases — plain; logits up to about 3000; a (n_q, n_k) mask; a batch of
    two with a (B, 1, n_k) padding mask whose first sequence is empty (fully masked rows) — then one
    of each kind the hidden cases use: float32 with two batch axes and a mask of the full batch
    shape; one key; a float32 (n_q, 1) mask that hides every key from one query; a 1-d (n_k,) mask;
    logits of magnitude 1e4.

    Hidden, for float32 and float64: a plain case with random batch axes; logits of magnitude
    1e3–1e4; a random mask broadcast from (n_q, n_k), and one of the full batch shape; a mask
    with a fully masked row; a (B, 1, n_k) padding mask with lengths 0 and n_k; then an (n_q, 1)
    and an (n_k,) mask, and one key.
    """
    if not hidden:
        # n_q=3, n_k=5, d_k=4, d_v=2
        Q, K, V = _rounded(rng, (3, 4)), _rounded(rng, (5, 4)), _rounded(rng, (5, 2))
        Qb, Kb, Vb = _rounded(rng, (2, 3, 4)), _rounded(rng, (2, 5, 4)), _rounded(rng, (2, 5, 2))
        mask = np.array([[True, False, True, True, False],
                         [False, True, False, False, False],
                         [True, True, True, False, True]])
        padding = np.arange(5) < np.array([0, 3])[:, None, None]  # (2, 1, 5)
        four = tuple(_rounded(rng, (2, 2) + shape).astype(np.float32) for shape in ((3, 4), (5, 4), (5, 2)))
        one_key = (_rounded(rng, (1, 3, 4)), _rounded(rng, (1, 1, 4)), _rounded(rng, (1, 1, 2)))
        queries = np.array([[True], [False], [True]])  # (n_q, 1): query 1 may attend to no key
        keys = np.array([True, False, True, True, False])  # (n_k,): keys 1 and 4 hidden from every query
        return [
            Case((Q, K, V), note="three queries, five keys, d_k=4, d_v=2"),
            Case((Q * 30, K * 30, V), note="logits up to about 3000"),
            Case((Q, K, V), {"mask": mask}, note="a (n_q, n_k) mask"),
            Case((Qb, Kb, Vb), {"mask": padding},
                 note="a (B, 1, n_k) padding mask, lengths [0, 3]: the first sequence is all padding"),
            Case(four, {"mask": partial_mask(rng, (2, 2, 3, 5))},
                 note="float32, batch axes (2, 2), a random mask of the full batch shape"),
            Case(one_key, note="one key (n_k = 1), a batch of one"),
            Case(tuple(a.astype(np.float32) for a in (Q, K, V)), {"mask": queries},
                 note="float32, an (n_q, 1) mask: query 1 may attend to no key"),
            Case((Qb, Kb, Vb), {"mask": keys},
                 note="a 1-d (n_k,) mask: keys 1 and 4 are hidden from every query"),
            Case((Q * 100, K * 100, V), note="logits of magnitude 1e4"),
        ]
    cases = []
    for dtype in DTYPES:
        batch = batch_shape(rng)
        cases.append(Case(qkv(rng, batch, *distinct_sizes(rng), dtype), note="random"))
    for dtype in DTYPES:
        n_q, n_k, d_k, d_v = distinct_sizes(rng)
        scale = float(np.sqrt(rng.choice([1e3, 1e4]) / np.sqrt(d_k)))
        cases.append(Case(qkv(rng, batch_shape(rng, 1), n_q, n_k, d_k, d_v, dtype, scale),
                          note="logits of magnitude 1e3–1e4"))
    for dtype in DTYPES:
        batch = batch_shape(rng, 2) or (2,)
        n_q, n_k, d_k, d_v = distinct_sizes(rng)
        args = qkv(rng, batch, n_q, n_k, d_k, d_v, dtype)
        cases.append(Case(args, {"mask": partial_mask(rng, (n_q, n_k))},
                          note="random mask of shape (n_q, n_k), broadcast over the batch"))
        cases.append(Case(args, {"mask": partial_mask(rng, batch + (n_q, n_k), p=0.4)},
                          note="random mask of the full batch shape"))
    for dtype in DTYPES:
        n_q, n_k, d_k, d_v = distinct_sizes(rng)
        row = int(rng.integers(0, n_q))
        mask = partial_mask(rng, (n_q, n_k))
        mask[row] = False
        cases.append(Case(qkv(rng, batch_shape(rng, 1), n_q, n_k, d_k, d_v, dtype), {"mask": mask},
                          note=f"query {row} may attend to no key"))
        B = int(rng.integers(3, 5))
        lengths = rng.integers(1, n_k, size=B)
        lengths[rng.choice(B, size=2, replace=False)] = (0, n_k)
        padding = np.arange(n_k) < lengths[:, None, None]  # (B, 1, n_k)
        cases.append(Case(qkv(rng, (B,), n_q, n_k, d_k, d_v, dtype), {"mask": padding},
                          note=f"(B, 1, n_k) padding mask, lengths {lengths.tolist()}"))
    n_q, n_k, d_k, d_v = distinct_sizes(rng)
    queries = rng.random((n_q, 1)) < 0.7
    queries[rng.integers(0, n_q)] = False
    cases.append(Case(qkv(rng, batch_shape(rng, 1), n_q, n_k, d_k, d_v, DTYPES[int(rng.integers(0, 2))]),
                      {"mask": queries}, note="an (n_q, 1) mask: some queries may attend to no key"))
    n_q, n_k, d_k, d_v = distinct_sizes(rng)
    keys = partial_mask(rng, (1, n_k))[0]
    cases.append(Case(qkv(rng, batch_shape(rng, 1), n_q, n_k, d_k, d_v, DTYPES[int(rng.integers(0, 2))]),
                      {"mask": keys}, note="a 1-d (n_k,) mask: the same keys hidden from every query"))
    d_k = int(rng.integers(2, 6))
    cases.append(Case(qkv(rng, (), int(rng.integers(2, 5)), 1, d_k, d_k + 1), note="one key"))
    return cases


def causal_mask_cases(rng, hidden):
    """(n_q,) and (n_q, n_k) with n_k > n_q, n_k < n_q and n_k == n_q; hidden adds random sizes and 1."""
    if not hidden:
        return [Case((3, 5), note="more keys than queries"), Case((5, 3), note="more queries than keys"),
                Case((4,), note="n_k defaults to n_q")]
    # More keys than queries first: with n_k = n_q - 1, keys aligned to the last key give j < i.
    n_q, n_k = sorted(int(s) for s in rng.choice(np.arange(2, 10), size=2, replace=False))
    n = int(rng.integers(2, 10))
    return [Case((n_q, n_k)), Case((n_k, n_q)), Case((n, n), note="n_k == n_q"),
            Case((int(rng.integers(2, 10)),), note="n_k defaults to n_q"), Case((1,), note="one query")]


def padding_mask_cases(rng, hidden):
    """Integer lengths (B,) and n_k; lengths 0 and n_k appear in public and hidden cases."""
    if not hidden:
        return [Case((np.array([3, 1, 5]), 5), note="lengths [3, 1, 5]"),
                Case((np.array([0, 2]), 4), note="an empty sequence")]
    cases = []
    for _ in range(2):
        B, n_k = int(rng.integers(3, 6)), int(rng.integers(2, 9))
        lengths = rng.integers(1, n_k, size=B)
        lengths[rng.choice(B, size=2, replace=False)] = (0, n_k)
        cases.append(Case((lengths, n_k), note="lengths include 0 and n_k"))
    cases.append(Case((rng.integers(1, 6, size=1), 6), note="one sequence"))
    return cases
