"""Exercises of notebook 06_memory_efficient_attention and the mistakes learners make in them.

The variants stream in the inputs' own dtype, so that an overflow happens where the learner's
does (exp overflows at 88 in float32, at 709 in float64).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

import attention_ref as ref
from attention_course.verdict import MemoryLimit, megabytes

from ..cases import Case
from ..cases import memory_efficient_attention as cases
from ..exercise import Exercise, Variant

NOTEBOOK = "06_memory_efficient_attention"


# ---- online_softmax -----------------------------------------------------------------------------

def _as_float(*arrays):
    """The arrays as float32 when all are float32, else as float64 (the notebook's dtype rule)."""
    arrays = [np.asarray(a) for a in arrays]
    dtype = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
    return [a.astype(dtype, copy=False) for a in arrays]


def _online_softmax(x, block_size, *, rescale_sum=True, rescale_blocks=True, subtract_max=True):
    """Streaming softmax with one thing (chosen by the keywords) done wrong."""
    (x,) = _as_float(x)
    m = np.full(x.shape[:-1] + (1,), -np.inf, dtype=x.dtype)  # running max
    total = np.zeros(x.shape[:-1] + (1,), dtype=x.dtype)  # running sum
    blocks = []  # exp(block - max known when the block was read)
    for start in range(0, x.shape[-1], block_size):
        block = x[..., start:start + block_size]
        m_new = np.maximum(m, block.max(axis=-1, keepdims=True)) if subtract_max else np.zeros_like(m)
        alpha = np.exp(m - m_new) if rescale_sum else 1.0
        blocks.append(np.exp(block - m_new))
        total = total * alpha + blocks[-1].sum(axis=-1, keepdims=True)
        m = m_new
    numerators = np.exp(x - m) if rescale_blocks else np.concatenate(blocks, axis=-1)
    return numerators / total


def _softmax_per_block(x, block_size):
    (x,) = _as_float(x)
    return np.concatenate([ref.softmax(x[..., s:s + block_size]) for s in range(0, x.shape[-1], block_size)],
                          axis=-1)


ONLINE_SOFTMAX = Exercise(
    name="online_softmax", notebook=NOTEBOOK, reference=ref.online_softmax,
    cases=cases.online_softmax_cases,
    variants=(
        Variant("sum_not_rescaled", "the running sum is not rescaled when the running max grows",
                "The running sum holds Σ exp(x_j − m) for the old max m. When a block raises the max to m', "
                "what factor turns each old term into exp(x_j − m')?",
                partial(_online_softmax, rescale_sum=False)),
        Variant("block_exponentials_not_rescaled", "each block's exponentials keep the max known when "
                "that block was read, instead of the final max",
                "All the numerators must be exp(x_j − m) with the same, final m — the one the sum was "
                "brought to.", partial(_online_softmax, rescale_blocks=False)),
        Variant("softmax_per_block", "each block is normalised on its own instead of over the whole row",
                "The weights of the whole row add up to one; the blocks only share a running max and a "
                "running sum.", _softmax_per_block),
        Variant("no_max_subtraction", "exp is applied to the raw logits, without subtracting the running "
                "max", "exp(1000) overflows to inf. Keep a running max, subtract it before exp, and rescale "
                "the sum when it grows.", partial(_online_softmax, subtract_max=False)),
    ),
)


# ---- blockwise_attention ------------------------------------------------------------------------

def _blockwise(Q, K, V, mask=None, block_size=128, *, rescale_sum=True, rescale_out=True,
               subtract_max=True, guard_inf=True, safe_divide=True, scaled=True, lse="m+log(l)",
               use_mask=True):
    """Blockwise attention over key blocks with one thing (chosen by the keywords) done wrong."""
    Q, K, V = _as_float(Q, K, V)
    mask = mask if use_mask else None
    dtype = Q.dtype
    batch = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
    n_q, n_k = Q.shape[-2], K.shape[-2]
    if mask is not None:
        mask = np.broadcast_to(mask, batch + (n_q, n_k))
    factor = 1 / math.sqrt(Q.shape[-1]) if scaled else 1.0
    m = np.full(batch + (n_q, 1), -np.inf, dtype=dtype)  # running max
    total = np.zeros(batch + (n_q, 1), dtype=dtype)  # running sum
    acc = np.zeros(batch + (n_q, V.shape[-1]), dtype=dtype)  # unnormalised output
    for k0 in range(0, n_k, block_size):
        S = (Q * factor) @ K[..., k0:k0 + block_size, :].swapaxes(-2, -1)  # (..., n_q, bk)
        if mask is not None:
            S = np.where(mask[..., k0:k0 + block_size], S, -np.inf)
        if subtract_max:
            m_new = np.maximum(m, S.max(axis=-1, keepdims=True))
            shift = np.where(np.isfinite(m_new), m_new, 0) if guard_inf else m_new
            alpha = np.exp(m - shift)
        else:
            m_new, shift, alpha = m, 0.0, 1.0
        P = np.exp(S - shift)
        total = total * (alpha if rescale_sum else 1.0) + P.sum(axis=-1, keepdims=True)
        acc = acc * (alpha if rescale_out else 1.0) + P @ V[..., k0:k0 + block_size, :]
        m = m_new
    out = acc / (np.where(total > 0, total, 1) if safe_divide else total)
    log_sum = np.log(total)
    if lse == "m+log(l)":
        result = m + log_sum if subtract_max else log_sum
    elif lse == "m":
        result = m
    elif lse == "log(l)":
        result = log_sum
    else:  # "unscaled": the log-sum-exp of Q Kᵀ itself
        S = np.asarray(Q @ K.swapaxes(-2, -1))
        if mask is not None:
            S = np.where(mask, S, -np.inf)
        top = S.max(axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0)
        result = top + np.log(np.exp(S - top).sum(axis=-1, keepdims=True))
    return out.astype(dtype), result[..., 0].astype(dtype)


def _bw(**wrong):
    return partial(_blockwise, **wrong)


#: The share of the full score matrix's size that blockwise attention may allocate at its peak. On the
#: measured cases tiles, state and output take about 1 % of it, tiles over the keys only (every query
#: at once) about 10 %, and an (n_q, n_k) boolean mask built for a missing one a quarter in float32;
#: building the scores in the inputs' dtype takes the whole matrix at least once.
FULL_SCORES_SHARE = 0.5


def full_scores_limit(case: Case) -> MemoryLimit:
    """The peak memory that tells a blockwise call from one that builds the (…, n_q, n_k) scores.

    Parameters
    ----------
    case : Case
        ``(Q (..., n_q, d_k), K (..., n_k, d_k), V (..., n_k, d_v)[, mask])`` and ``block_size``.

    Returns
    -------
    MemoryLimit
        :data:`FULL_SCORES_SHARE` of the bytes of the full score matrix in the inputs' dtype.
    """
    Q, K, V = (np.asarray(a) for a in case.args[:3])
    batch = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
    n_q, n_k = Q.shape[-2], K.shape[-2]
    dtype = np.result_type(Q, K, V)
    full = math.prod(batch) * n_q * n_k * dtype.itemsize
    block = case.kwargs.get("block_size", 128)
    message = (f"built an array as large as the full n_q × n_k score matrix: its peak memory was {{peak}} "
               f"for n_q = {n_q}, n_k = {n_k}, block_size = {block}, where the whole {dtype} score matrix "
               f"takes {megabytes(full)} (a peak above half of that means an array of that size was "
               "built). The point of blockwise attention is never to build it: hold one (block_size, "
               "block_size) tile of scores at a time, and the running max, sum and output of its queries.")
    return MemoryLimit(int(full * FULL_SCORES_SHARE), message)


BLOCKWISE_ATTENTION = Exercise(
    name="blockwise_attention", notebook=NOTEBOOK, reference=ref.blockwise_attention,
    cases=cases.blockwise_attention_cases, returns=("out", "lse"), peak_memory=full_scores_limit,
    variants=(
        Variant("sum_not_rescaled", "the running sum ℓ is not rescaled when the running max grows",
                "ℓ holds Σ exp(s_j − m) for the old max m: multiply it by the factor that moves it to the "
                "new max, exactly as you do for the output accumulator.", _bw(rescale_sum=False)),
        Variant("output_not_rescaled", "the output accumulator is not rescaled when the running max grows",
                "The accumulated Σ exp(s_j − m) v_j was computed with the old max: it needs the same "
                "factor as the running sum.", _bw(rescale_out=False)),
        Variant("no_rescaling", "neither the running sum nor the output accumulator is rescaled when the "
                "running max grows", "Whatever was accumulated with the old max m must be multiplied by "
                "exp(m − m') when the max becomes m'.", _bw(rescale_sum=False, rescale_out=False)),
        Variant("no_max_subtraction", "exp is applied to the raw scores, without subtracting the running "
                "max", "exp of a score of 1000 overflows to inf. Keep a running max per query and subtract "
                "it before exp.", _bw(subtract_max=False)),
        Variant("fully_masked_nan", "a query whose keys in a tile (or in all tiles) are all masked gets NaN",
                "While no key has been attended the running max is −inf, and −inf − (−inf) is NaN. Which "
                "shift keeps exp(−inf − shift) = 0 when the running max is still −inf?",
                _bw(guard_inf=False)),
        Variant("fully_masked_divides_by_zero", "a fully masked query gets NaN: its output divides 0 by a "
                "running sum of 0", "A query with no attended key gets a zero output and lse −inf; "
                "guard the division where the running sum is 0.", _bw(safe_divide=False)),
        Variant("not_scaled", "the scores are not divided by √d_k",
                "blockwise_attention computes the same thing as scaled_dot_product_attention.",
                _bw(scaled=False)),
        Variant("lse_unscaled", "the log-sum-exp is taken over the unscaled scores Q Kᵀ",
                "lse is the log of the softmax's denominator: it uses the same scaled scores as the output.",
                _bw(lse="unscaled")),
        Variant("lse_is_max", "lse is returned as the running max instead of the log-sum-exp",
                "log Σ_j exp(s_j) = m + log Σ_j exp(s_j − m): the running sum is needed too.", _bw(lse="m")),
        Variant("lse_without_max", "lse is returned as log ℓ, without adding back the running max",
                "ℓ was computed with the max subtracted: log Σ_j exp(s_j) = m + log ℓ.", _bw(lse="log(l)")),
        Variant("mask_ignored", "the mask is ignored",
                "Inside each tile, set the scores of the keys the mask hides (False) to −inf before "
                "the running max and the exponentials: use the tile of the mask that matches the tile "
                "of scores.", _bw(use_mask=False)),
    ),
)

EXERCISES = [ONLINE_SOFTMAX, BLOCKWISE_ATTENTION]
