"""Learner-style answers to notebook 06: buggy ones, with the mistake each must be named as; valid ones.

The buggy and valid implementations are written the way a learner would write them (Python loops
over blocks, tiles over queries and keys), independently of the variants in grader.checks.exercises.
Only the streaming mistakes are visible in online_softmax's output: a streaming softmax and a
plain one give the same numbers.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

NOTEBOOK = "06_memory_efficient_attention"


# ---- buggy answers: (exercise, misconception key, implementation) ------------------------------

def online_sum_not_rescaled(x, block_size):
    m = np.full(x.shape[:-1], -np.inf, dtype=x.dtype)
    s = np.zeros(x.shape[:-1], dtype=x.dtype)
    for start in range(0, x.shape[-1], block_size):
        block = x[..., start:start + block_size]
        m = np.maximum(m, block.max(axis=-1))
        s = s + np.exp(block - m[..., None]).sum(axis=-1)  # the old s is still relative to the old m
    return np.exp(x - m[..., None]) / s[..., None]


def online_blocks_not_rescaled(x, block_size):
    m = np.full(x.shape[:-1] + (1,), -np.inf, dtype=x.dtype)
    s = np.zeros(x.shape[:-1] + (1,), dtype=x.dtype)
    out = np.empty_like(x)
    for start in range(0, x.shape[-1], block_size):
        block = x[..., start:start + block_size]
        new_m = np.maximum(m, block.max(axis=-1, keepdims=True))
        s = s * np.exp(m - new_m)
        out[..., start:start + block_size] = np.exp(block - new_m)
        s = s + out[..., start:start + block_size].sum(axis=-1, keepdims=True)
        m = new_m
    return out / s


def online_per_block(x, block_size):
    out = np.empty_like(x)
    for start in range(0, x.shape[-1], block_size):
        block = x[..., start:start + block_size]
        e = np.exp(block - block.max(axis=-1, keepdims=True))
        out[..., start:start + block_size] = e / e.sum(axis=-1, keepdims=True)
    return out


def online_loop_keeps_integers(x, block_size):
    """Right for floats, but the output array is made like x: integer logits give integer weights."""
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        row = x[index]
        m, s = -math.inf, 0.0
        for start in range(0, len(row), block_size):
            block = row[start:start + block_size]
            new_m = max(m, float(block.max()))
            s = s * math.exp(m - new_m) + sum(math.exp(float(v) - new_m) for v in block)
            m = new_m
        out[index] = [math.exp(float(v) - m) / s for v in row]
    return out


def online_no_max(x, block_size):
    total = 0
    for start in range(0, x.shape[-1], block_size):
        total = total + np.exp(x[..., start:start + block_size]).sum(axis=-1, keepdims=True)
    return np.exp(x) / total


def blockwise(Q, K, V, mask=None, block_size=128, bug=None):
    """A learner's tiled attention (query tiles, then key tiles); ``bug`` picks one mistake."""
    if bug != "int_dtype" and not all(A.dtype == np.float32 for A in (Q, K, V)):  # the rest: float64
        Q, K, V = (np.asarray(A, dtype=np.float64) for A in (Q, K, V))
    *batch, n_q, d = Q.shape
    n_k = K.shape[-2]
    batch = np.broadcast_shapes(tuple(batch), K.shape[:-2], V.shape[:-2])
    if mask is not None:
        mask = np.broadcast_to(mask, batch + (n_q, n_k))
    scale = 1.0 if bug == "unscaled" else math.sqrt(d)
    out = np.zeros(batch + (n_q, V.shape[-1]), dtype=Q.dtype)
    lse = np.zeros(batch + (n_q,), dtype=Q.dtype)
    for i in range(0, n_q, block_size):
        q = Q[..., i:i + block_size, :]
        m = np.full(q.shape[:-1], -np.inf, dtype=Q.dtype)
        ell = np.zeros(q.shape[:-1], dtype=Q.dtype)
        o = np.zeros(batch + (q.shape[-2], V.shape[-1]), dtype=Q.dtype)
        for j in range(0, n_k, block_size):
            s = q @ np.swapaxes(K[..., j:j + block_size, :], -1, -2) / scale
            if mask is not None and bug != "mask_ignored":
                s = np.where(mask[..., i:i + block_size, j:j + block_size], s, -np.inf)
            if bug == "no_max":
                p = np.exp(s)
                ell = ell + p.sum(axis=-1)
                o = o + p @ V[..., j:j + block_size, :]
                continue
            m_new = np.maximum(m, s.max(axis=-1))
            m_safe = m_new if bug == "nan" else np.where(m_new == -np.inf, 0, m_new)
            p = np.exp(s - m_safe[..., None])
            c = np.exp(m - m_safe)
            ell = (ell if bug in ("sum", "neither") else ell * c) + p.sum(axis=-1)
            o = (o if bug in ("out", "neither") else o * c[..., None]) + p @ V[..., j:j + block_size, :]
            m = m_new
        if bug == "zero_division":
            out[..., i:i + block_size, :] = o / ell[..., None]
        else:
            out[..., i:i + block_size, :] = o / np.where(ell == 0, 1, ell)[..., None]
        if bug == "no_max":
            lse[..., i:i + block_size] = np.log(ell)
        elif bug == "lse_max":
            lse[..., i:i + block_size] = m
        elif bug == "lse_log_l":
            lse[..., i:i + block_size] = np.log(ell)
        else:
            lse[..., i:i + block_size] = m + np.log(ell)
    if bug == "lse_unscaled":
        raw = Q @ np.swapaxes(K, -1, -2)
        if mask is not None:
            raw = np.where(mask, raw, -np.inf)
        top = np.max(raw, axis=-1)
        top = np.where(np.isinf(top), 0, top)
        lse = top + np.log(np.exp(raw - top[..., None]).sum(axis=-1))
    return out, lse


def blockwise_whole_matrix(Q, K, V, mask=None, block_size=128):
    """Right numbers, but from the whole (n_q, n_k) score matrix: the contract says never."""
    S = Q @ np.swapaxes(K, -1, -2) / math.sqrt(Q.shape[-1])
    if mask is not None:
        S = np.where(mask, S, -np.inf)
    m = S.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    P = np.exp(S - m)
    ell = P.sum(axis=-1, keepdims=True)
    out = P @ V / np.where(ell > 0, ell, 1)
    with np.errstate(divide="ignore"):
        return out, (m + np.log(ell))[..., 0]


def blockwise_one_block_when_no_mask(Q, K, V, mask=None, block_size=128):
    """Tiles only when there is a mask; otherwise "no need", and the whole matrix at once."""
    if mask is None:
        return blockwise(Q, K, V, None, max(Q.shape[-2], K.shape[-2]))
    return blockwise(Q, K, V, mask, block_size)


def blockwise_scales_queries_in_place(Q, K, V, mask=None, block_size=128):
    Q /= math.sqrt(Q.shape[-1])  # changes the caller's queries
    return blockwise(Q, K, V, mask, block_size, bug="unscaled")


BUGGY = [
    ("online_softmax", "sum_not_rescaled", online_sum_not_rescaled),
    ("online_softmax", "block_exponentials_not_rescaled", online_blocks_not_rescaled),
    ("online_softmax", "softmax_per_block", online_per_block),
    ("online_softmax", "no_max_subtraction", online_no_max),
    ("online_softmax", "wrong_dtype", online_loop_keeps_integers),
    ("blockwise_attention", "sum_not_rescaled", partial(blockwise, bug="sum")),
    ("blockwise_attention", "output_not_rescaled", partial(blockwise, bug="out")),
    ("blockwise_attention", "no_rescaling", partial(blockwise, bug="neither")),
    ("blockwise_attention", "no_max_subtraction", partial(blockwise, bug="no_max")),
    ("blockwise_attention", "fully_masked_nan", partial(blockwise, bug="nan")),
    ("blockwise_attention", "fully_masked_divides_by_zero", partial(blockwise, bug="zero_division")),
    ("blockwise_attention", "not_scaled", partial(blockwise, bug="unscaled")),
    ("blockwise_attention", "lse_unscaled", partial(blockwise, bug="lse_unscaled")),
    ("blockwise_attention", "lse_is_max", partial(blockwise, bug="lse_max")),
    ("blockwise_attention", "lse_without_max", partial(blockwise, bug="lse_log_l")),
    ("blockwise_attention", "mask_ignored", partial(blockwise, bug="mask_ignored")),
    ("blockwise_attention", "wrong_dtype", partial(blockwise, bug="int_dtype")),
    ("blockwise_attention", "exceeds_memory", blockwise_whole_matrix),
    ("blockwise_attention", "exceeds_memory", blockwise_one_block_when_no_mask),
    ("blockwise_attention", "mutated_input", blockwise_scales_queries_in_place),
]

#: Mistakes the public cases cannot show (they need the hidden edge cases).
HIDDEN_ONLY = set()




# ---- valid answers: other ways to write the right thing -----------------------------------------

def online_python_loop(x, block_size):
    """Two passes: stream the max and the rescaled sum block by block, then normalise."""
    out = np.empty(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64)
    for index in np.ndindex(x.shape[:-1]):
        row = x[index]
        m, s = -math.inf, 0.0
        for start in range(0, len(row), block_size):
            block = row[start:start + block_size]
            new_m = max(m, float(block.max()))
            s = s * math.exp(m - new_m) + sum(math.exp(float(v) - new_m) for v in block)
            m = new_m
        out[index] = [math.exp(float(v) - m) / s for v in row]
    return out


def online_running_lse(x, block_size):
    """Another stabilisation: keep a running log-sum-exp, merged block by block with logaddexp."""
    x = x if x.dtype == np.float32 else x.astype(np.float64)
    lse = np.full(x.shape[:-1] + (1,), -np.inf, dtype=x.dtype)
    for start in range(0, x.shape[-1], block_size):
        block = x[..., start:start + block_size]
        top = block.max(axis=-1, keepdims=True)
        lse = np.logaddexp(lse, top + np.log(np.exp(block - top).sum(axis=-1, keepdims=True)))
    return np.exp(x - lse)


def online_one_pass_rescaled(x, block_size):
    """One pass that stores each block's exponentials and rescales them all at the end."""
    x = x if x.dtype == np.float32 else x.astype(np.float64)
    maxima, parts = [], []
    m = np.full(x.shape[:-1] + (1,), -np.inf, dtype=x.dtype)
    s = np.zeros_like(m)
    for start in range(0, x.shape[-1], block_size):
        block = x[..., start:start + block_size]
        new_m = np.maximum(m, block.max(axis=-1, keepdims=True))
        s = s * np.exp(m - new_m) + np.exp(block - new_m).sum(axis=-1, keepdims=True)
        parts.append(np.exp(block - new_m))
        maxima.append(new_m)
        m = new_m
    return np.concatenate([p * np.exp(mb - m) for p, mb in zip(parts, maxima, strict=True)], axis=-1) / s


def blockwise_keys_only(Q, K, V, mask=None, block_size=128):
    """Tiles over the keys only, keeping the output normalised after every tile."""
    batch = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
    n_q, n_k = Q.shape[-2], K.shape[-2]
    if mask is not None:
        mask = np.broadcast_to(mask, batch + (n_q, n_k))
    lse = np.full(batch + (n_q, 1), -np.inf, dtype=Q.dtype)
    out = np.zeros(batch + (n_q, V.shape[-1]), dtype=Q.dtype)
    for j in range(0, n_k, block_size):
        s = Q @ np.swapaxes(K[..., j:j + block_size, :], -1, -2) / math.sqrt(Q.shape[-1])
        if mask is not None:
            s = np.where(mask[..., j:j + block_size], s, -np.inf)
        top = s.max(axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0)
        with np.errstate(divide="ignore"):
            tile_lse = top + np.log(np.exp(s - top).sum(axis=-1, keepdims=True))
        new_lse = np.logaddexp(lse, tile_lse)
        seen = np.isfinite(new_lse)
        safe = np.where(seen, new_lse, 0)
        out = np.where(seen, out * np.exp(lse - safe) + np.exp(s - safe) @ V[..., j:j + block_size, :], 0)
        lse = new_lse
    return out, lse[..., 0]


def blockwise_square_tiles(Q, K, V, mask=None, block_size=128):
    """Explicit loops over query tiles and key tiles, one batch element at a time."""
    dtype = np.result_type(Q, K, V, np.float32)  # float32 stays float32, integers become float64
    batch = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
    n_q, n_k, d_v = Q.shape[-2], K.shape[-2], V.shape[-1]
    Qb, Kb, Vb = (np.broadcast_to(A, batch + A.shape[-2:]) for A in (Q, K, V))
    full = np.ones((n_q, n_k), dtype=bool) if mask is None else mask
    M = np.broadcast_to(full, batch + (n_q, n_k))
    out = np.zeros(batch + (n_q, d_v), dtype=dtype)
    lse = np.full(batch + (n_q,), -np.inf, dtype=dtype)
    for b in np.ndindex(batch):
        for i in range(0, n_q, block_size):
            rows = slice(i, i + block_size)
            m = np.full(len(range(n_q)[rows]), -np.inf)
            ell = np.zeros_like(m)
            acc = np.zeros((len(m), d_v))
            for j in range(0, n_k, block_size):
                cols = slice(j, j + block_size)
                s = (Qb[b][rows] @ Kb[b][cols].T).astype(np.float64) / math.sqrt(Q.shape[-1])
                s[~M[b][rows, cols]] = -np.inf
                m_new = np.maximum(m, s.max(axis=1))
                shift = np.where(np.isneginf(m_new), 0.0, m_new)
                p = np.exp(s - shift[:, None])
                alpha = np.exp(m - shift)
                ell = ell * alpha + p.sum(axis=1)
                acc = acc * alpha[:, None] + p @ Vb[b][cols]
                m = m_new
            has = ell > 0
            out[b][rows] = np.where(has[:, None], acc / np.where(has, ell, 1)[:, None], 0)
            lse[b][rows] = np.where(has, m + np.log(np.where(has, ell, 1)), -np.inf)
    return out, lse


def blockwise_correct(Q, K, V, mask=None, block_size=128):
    return blockwise(Q, K, V, mask, block_size)


VALID = [
    ("online_softmax", online_python_loop),
    ("online_softmax", online_running_lse),
    ("online_softmax", online_one_pass_rescaled),
    ("blockwise_attention", blockwise_correct),
    ("blockwise_attention", blockwise_keys_only),
    ("blockwise_attention", blockwise_square_tiles),
]
