"""Cases of notebook 06_memory_efficient_attention: online_softmax, blockwise_attention.

The streaming mistakes (a running sum or output that is not rescaled when the running max
grows) only show when a later block holds a larger logit than every earlier one, so most
cases have logits that grow along the sequence, read in blocks that do not divide it.
"""

from __future__ import annotations

import numpy as np

from . import DTYPES, Case, batch_shape, normal, random_mask


def _awkward_block(rng, n):
    """A block size in [2, n-1] that does not divide n (n >= 5 always has one; else 2)."""
    sizes = [b for b in range(2, n) if n % b]
    return int(rng.choice(sizes)) if sizes else 2


def _growing(rng, shape, dtype, scale=1.0):
    """Logits that increase along the last axis, of spread ``scale`` per position on average."""
    steps = rng.random(shape) * 2 * scale
    return (np.cumsum(steps, axis=-1) + rng.standard_normal(shape[:-1] + (1,)) * scale).astype(dtype)


# ---- online_softmax -----------------------------------------------------------------------------

def online_softmax_cases(rng, hidden):
    """(x, block_size): growing logits, blocks that do not divide n, block 1 and block >= n.

    Public: increasing logits in blocks of 3; two rows in blocks of 2; logits around 1000; block 1;
    a block larger than n; float32 logits with batch axes (2, 1) that grow, in blocks of 3; one
    logit per row; integer logits (float64 weights, as the notebook says). Hidden: the same kinds at
    random sizes, in both dtypes, and integer logits.
    """
    if not hidden:
        return [
            Case((np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 3), note="increasing logits, blocks of 3"),
            Case((np.array([[3.0, -1.0, 0.5, 2.0, 7.0], [5.0, 4.0, 3.0, 2.0, 1.0]]), 2),
                 note="two rows, blocks of 2"),
            Case((np.array([1000.0, 1003.0, 1001.0, 1010.0, 1008.0, 1020.0]), 4),
                 note="logits around 1000 that grow, blocks of 4"),
            Case((np.array([2.0, 1.0, 4.0, 3.0]), 1), note="block_size 1"),
            Case((np.array([0.5, 1.5, -2.0]), 8), note="block_size larger than n"),
            Case((np.round(_growing(rng, (2, 1, 7), np.float64), 1).astype(np.float32), 3),
                 note="float32 logits that grow, batch axes (2, 1), blocks of 3"),
            Case((np.array([[0.5], [-3.0], [1e3]]), 2), note="a single logit per row"),
            Case((np.array([[3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8]]), 3),
                 note="integer logits: the weights are float64"),
        ]
    cases = []
    for dtype in DTYPES:
        n = int(rng.integers(5, 20))
        shape = batch_shape(rng) + (n,)
        cases.append(Case((_growing(rng, shape, dtype), _awkward_block(rng, n)),
                          note="logits that grow along the row"))
        cases.append(Case((normal(rng, shape, dtype, scale=3.0), _awkward_block(rng, n)),
                          note="random logits"))
        # float32 keeps |logits| around 1e3: near 1e4 its spacing (1e-3) exceeds the tolerance for a
        # valid answer that subtracts a rounded log-sum-exp instead of the max.
        scale, about = (float(rng.choice([1e3, 1e4])), "1e3–1e4") if dtype == np.float64 else (300.0, "1e3")
        big = _growing(rng, (int(rng.integers(1, 4)), n), dtype, scale=scale / 6)
        cases.append(Case((big, _awkward_block(rng, n)), note=f"growing logits of magnitude {about}"))
        cases.append(Case((normal(rng, shape, dtype, scale=scale), 3),
                          note=f"random logits of magnitude {about}"))
        cases.append(Case((_growing(rng, shape, dtype), 1), note="block_size 1"))
        cases.append(Case((normal(rng, shape, dtype), n + int(rng.integers(0, 3))), note="block_size >= n"))
    cases.append(Case((normal(rng, (int(rng.integers(1, 4)), 1)), 2), note="a single logit per row"))
    n = int(rng.integers(5, 12))
    cases.append(Case((rng.integers(-5, 10, size=(int(rng.integers(1, 4)), n)), _awkward_block(rng, n)),
                      note="integer logits: the weights are float64"))
    return cases


# ---- blockwise_attention ------------------------------------------------------------------------

def _qkv(rng, batch, n_q, n_k, dtype, scale=1.0, growing=False):
    """Q (..., n_q, d_k), K (..., n_k, d_k), V (..., n_k, d_v).

    With ``growing``, Q has positive entries and the keys grow along the sequence, so every
    query's scores increase from key to key and its running max grows at every key block.
    """
    d_k, d_v = int(rng.integers(2, 7)), int(rng.integers(1, 5))
    if growing:
        Q = np.abs(normal(rng, batch + (n_q, d_k), dtype, scale)) + dtype(0.1)
        steps = np.cumsum(rng.random(n_k) * 2.0 / d_k, dtype=np.float64)[:, None]  # (n_k, 1)
        K = (steps + 0.1 * rng.standard_normal(batch + (n_k, d_k))).astype(dtype) * dtype(scale)
    else:
        Q, K = normal(rng, batch + (n_q, d_k), dtype, scale), normal(rng, batch + (n_k, d_k), dtype, scale)
    return Q, K, normal(rng, batch + (n_k, d_v), dtype)


def _mask(rng, batch, n_q, n_k):
    """A boolean mask of a broadcastable shape, with one fully masked query."""
    full = (int(rng.integers(0, n_q)),)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return random_mask(rng, (n_q, n_k), full_rows=full), "a (n_q, n_k) mask with a fully masked query"
    if kind == 1 and batch:
        return (random_mask(rng, batch + (n_q, n_k), full_rows=full),
                "a mask per sequence, with a fully masked query")
    mask = np.zeros((n_q, 1), dtype=bool)
    mask[np.arange(n_q) != full[0]] = True
    return mask, "an (n_q, 1) mask: one query fully masked"


#: Sizes of the cases that measure the peak memory: large enough that the full n_q × n_k score matrix
#: (2–4 MB) dwarfs a tile of scores, small enough to run in well under a second on a shared machine.
MEASURED_QUERIES, MEASURED_KEYS = (384, 512), (768, 1024)


def _measured(rng, dtype, n_q, n_k, block_size, mask=None, note=""):
    """A case that measures the peak memory of the call (see ``full_scores_limit``)."""
    Q, K, V = _qkv(rng, (), n_q, n_k, dtype)
    args = (Q, K, V) if mask is None else (Q, K, V, mask)
    return Case(args, {"block_size": block_size}, measure=True,
                note=f"{n_q} queries, {n_k} keys: the peak memory of the call is measured{note}")


def blockwise_attention_cases(rng, hidden):
    """(Q, K, V[, mask][, block_size]): n_q != n_k, growing scores, masks, huge scores, block 1.

    Public: growing scores in blocks of 2; a causal mask with a fully masked query; scores of
    magnitude 1e3; block 1; the default block (larger than n); then float32 with batch axes
    (2, 1) and a mask of the full batch shape; more queries than keys with an (n_q, 1) mask; scores
    of magnitude 1e4; a 1-d (n_k,) mask; integer inputs (float64 results, as the notebook says); and
    last the two cases that measure the peak memory, without and with a mask. Hidden: the same kinds
    at random sizes, in both dtypes, and two measured cases.
    """
    if not hidden:
        Q, K, V = _qkv(rng, (), 3, 5, np.float64, growing=True)
        causal = np.tril(np.ones((4, 4), dtype=bool))
        causal[2] = False
        Qb, Kb, Vb = _qkv(rng, (2,), 4, 4, np.float64)
        big = _qkv(rng, (), 3, 5, np.float64, scale=30.0)
        four = _qkv(rng, (2, 1), 3, 7, np.float32, growing=True)
        full = random_mask(rng, (2, 1, 3, 7), full_rows=(1,))
        tall = _qkv(rng, (2,), 6, 4, np.float64)
        queries = np.array([[True, True, False, True, True, True],
                            [True, False, True, True, True, True]])[..., None]  # (2, n_q, 1)
        return [
            Case((Q, K, V), {"block_size": 2}, note="scores that grow along the keys, blocks of 2"),
            Case((Qb, Kb, Vb, causal), {"block_size": 3},
                 note="a causal mask with query 2 fully masked, blocks of 3"),
            Case(big, {"block_size": 2}, note="scores of magnitude 1e3"),
            Case((Q.copy(), K.copy(), V.copy()), {"block_size": 1}, note="block_size 1"),
            Case((Q[:2].copy(), K.copy(), V.copy()), note="the default block_size (larger than n)"),
            Case(four + (full,), {"block_size": 3},
                 note="float32, batch axes (2, 1), a mask of the full batch shape with query 1 fully masked"),
            Case(tall + (queries,), {"block_size": 4},
                 note="more queries than keys, a (B, n_q, 1) mask: in each sequence one query may "
                      "attend to no key"),
            Case(_qkv(rng, (), 3, 5, np.float64, scale=100.0), {"block_size": 2},
                 note="scores of magnitude 1e4"),
            Case((Qb, Kb, Vb, np.array([True, False, True, True])), {"block_size": 3},
                 note="a 1-d (n_k,) mask: key 1 is hidden from every query"),
            Case((np.array([[1, 0, 2], [0, 1, 1], [2, 2, 0]]),
                  np.array([[1, 1, 0], [2, 0, 1], [0, 1, 1], [1, 2, 2]]),
                  np.array([[1, 2], [3, 4], [5, 6], [7, 8]])), {"block_size": 3},
                 note="integer queries, keys and values: the results are float64"),
            _measured(rng, np.float32, MEASURED_QUERIES[1], MEASURED_KEYS[1], 32),
            _measured(rng, np.float64, MEASURED_QUERIES[0], MEASURED_KEYS[0], 30,
                      np.arange(MEASURED_KEYS[0])[None, :] < 700, ", a (1, n_k) padding mask"),
        ]
    cases = []
    for dtype in DTYPES:
        batch, n_q, n_k = batch_shape(rng), int(rng.integers(2, 9)), int(rng.integers(5, 12))
        block = _awkward_block(rng, n_k)
        cases.append(Case(_qkv(rng, batch, n_q, n_k, dtype, growing=True), {"block_size": block},
                          note=f"scores that grow along the keys, blocks of {block}"))
        cases.append(Case(_qkv(rng, batch, n_k, n_q, dtype), {"block_size": _awkward_block(rng, n_k)},
                          note="random scores, more queries than keys"))
        mask, about = _mask(rng, batch, n_q, n_k)
        cases.append(Case(_qkv(rng, batch, n_q, n_k, dtype, growing=True) + (mask,),
                          {"block_size": block}, note=about))
        cases.append(Case(_qkv(rng, batch, n_q, n_k, dtype, growing=True), {"block_size": 1},
                          note="block_size 1"))
        wide = max(n_q, n_k) + int(rng.integers(0, 3))
        cases.append(Case(_qkv(rng, batch, n_q, n_k, dtype), {"block_size": wide}, note="block_size >= n"))
    # Huge scores in float64 only: in float32 the rounding of q·k alone exceeds the tolerance.
    batch, n_q, n_k = batch_shape(rng), int(rng.integers(2, 7)), int(rng.integers(5, 10))
    scale = float(rng.choice([30.0, 80.0]))
    cases.append(Case(_qkv(rng, batch, n_q, n_k, np.float64, scale=scale),
                      {"block_size": _awkward_block(rng, n_k)}, note="scores of magnitude 1e3–1e4"))
    mask, about = _mask(rng, batch, n_q, n_k)
    cases.append(Case(_qkv(rng, batch, n_q, n_k, np.float64, scale=scale, growing=True) + (mask,),
                      {"block_size": _awkward_block(rng, n_k)}, note="growing scores of magnitude 1e3–1e4, "
                      + about))
    batch, n_q, n_k = batch_shape(rng, 1), int(rng.integers(2, 7)), int(rng.integers(5, 10))
    keys = np.arange(n_k) != int(rng.integers(0, n_k))
    cases.append(Case(_qkv(rng, batch, n_q, n_k, DTYPES[int(rng.integers(0, 2))], growing=True) + (keys,),
                      {"block_size": _awkward_block(rng, n_k)}, note="a 1-d (n_k,) mask: one key hidden"))
    n_q, n_k = int(rng.integers(2, 7)), int(rng.integers(5, 10))
    d_k, d_v = int(rng.integers(2, 5)), int(rng.integers(1, 4))
    integers = tuple(rng.integers(-3, 4, size=shape) for shape in ((n_q, d_k), (n_k, d_k), (n_k, d_v)))
    cases.append(Case(integers, {"block_size": _awkward_block(rng, n_k)},
                      note="integer queries, keys and values: the results are float64"))
    n = int(rng.integers(4, 9))
    causal = np.tril(np.ones((n, n), dtype=bool))
    cases.append(Case(_qkv(rng, (), n, n, np.float64) + (causal,), {"block_size": int(rng.integers(2, 4))},
                      note="self-attention sizes with a causal mask"))
    for with_mask in (False, True):
        n_q, n_k = int(rng.integers(*MEASURED_QUERIES)), int(rng.integers(*MEASURED_KEYS))
        block = int(rng.choice([b for b in range(24, 41) if n_k % b]))
        padding = np.arange(n_k)[None, :] < int(rng.integers(n_k // 2, n_k))  # (1, n_k)
        about = ", a (1, n_k) padding mask" if with_mask else ""
        cases.append(_measured(rng, DTYPES[int(rng.integers(0, 2))], n_q, n_k, block,
                               padding if with_mask else None, about))
    return cases
