"""Exercises of notebook 04_multi_head_attention and the mistakes learners make in them."""

from __future__ import annotations

import math
from functools import partial

import numpy as np

import attention_ref as ref
from attention_ref.softmax import masked_softmax

from ..cases import multi_head_attention as cases
from ..exercise import Exercise, Variant

NOTEBOOK = "04_multi_head_attention"


# ---- head layouts: (..., n, d_model) <-> (..., h, n, d_head) ------------------------------------

def _split_reshape_only(X, num_heads):
    """Reshaped straight to (..., h, n, d_head): rows of different positions end up in one head."""
    X = np.asarray(X)
    n, d_model = X.shape[-2:]
    return X.reshape(X.shape[:-2] + (num_heads, n, d_model // num_heads))


def _split_strided(X, num_heads):
    """Head i gets columns i, i+h, i+2h, …: reshaped to (..., n, d_head, h), heads moved first."""
    X = np.asarray(X)
    n, d_model = X.shape[-2:]
    X = X.reshape(X.shape[:-1] + (d_model // num_heads, num_heads))  # (..., n, d_head, h)
    return np.moveaxis(X, -1, -3)  # (..., h, n, d_head)


def _split_heads_not_moved(X, num_heads):
    """Columns grouped per head, but left as (..., n, h, d_head)."""
    X = np.asarray(X)
    return X.reshape(X.shape[:-1] + (num_heads, X.shape[-1] // num_heads))


def _merge_reshape_only(X):
    """(..., h, n, d_head) reshaped straight to (..., n, h*d_head)."""
    X = np.asarray(X)
    h, n, d_head = X.shape[-3:]
    return X.reshape(X.shape[:-3] + (n, h * d_head))


def _merge_interleaved(X):
    """Heads interleaved column by column: column j*h + i holds feature j of head i."""
    X = np.moveaxis(np.asarray(X), -3, -1)  # (..., n, d_head, h)
    return X.reshape(X.shape[:-2] + (X.shape[-2] * X.shape[-1],))


SPLIT_HEADS = Exercise(
    name="split_heads", notebook=NOTEBOOK, reference=ref.split_heads,
    cases=cases.split_heads_cases,
    variants=(
        Variant("reshape_without_transpose", "X is reshaped straight to (..., h, n, d_head) without "
                "moving the head axis, so a head mixes rows of different positions",
                "A reshape only re-reads the numbers in memory order, position by position. Reshape to a "
                "layout that keeps each position's row together first, then move the head axis "
                "in front of the positions.", _split_reshape_only),
        Variant("strided_columns", "head i takes every h-th column (i, i+h, i+2h, …) instead of the "
                "contiguous block i·d_head … (i+1)·d_head−1",
                "Write out which columns of a row land in head 0 for d_model=6, h=2: they must be "
                "columns 0, 1, 2. In the reshape of the last axis, which size comes first?", _split_strided),
        Variant("heads_axis_not_moved", "the heads are left after the positions, in shape (..., n, h, "
                "d_head) instead of (..., h, n, d_head)",
                "Each head must be a whole (n, d_head) matrix of its own, so the head axis comes before "
                "the positions.", _split_heads_not_moved),
    ),
)

MERGE_HEADS = Exercise(
    name="merge_heads", notebook=NOTEBOOK, reference=ref.merge_heads,
    cases=cases.merge_heads_cases,
    variants=(
        Variant("reshape_without_transpose", "the heads are reshaped straight to (..., n, d_model) "
                "without first bringing the positions in front of the heads",
                "merge_heads must undo split_heads step by step: put the axes back in their order "
                "before the reshape.", _merge_reshape_only),
        Variant("interleaved_columns", "the heads are interleaved column by column instead of "
                "concatenated one after the other",
                "After merging, columns 0 … d_head−1 must be head 0 entire, then head 1, and so on. "
                "Check which axis ends up last before the reshape.", _merge_interleaved),
    ),
)


# ---- multi_head_attention -----------------------------------------------------------------------

def _multi_head(X_q, X_kv, params, num_heads, mask=None, *, split=ref.split_heads, merge=ref.merge_heads,
                scale="head", biases=True, output_projection=True, swap_kv=False, mask_per_head=True,
                weights_layout="heads", use_mask=True):
    """Multi-head attention with one thing (chosen by the keywords) done wrong."""
    mask = mask if use_mask else None
    p = {name: np.asarray(value) for name, value in params.items()}

    def project(X, w, b):
        out = np.asarray(X) @ p[w]
        return out + p[b] if biases and b in p else out

    key, value = (("W_v", "b_v"), ("W_k", "b_k")) if swap_kv else (("W_k", "b_k"), ("W_v", "b_v"))
    Q = split(project(X_q, "W_q", "b_q"), num_heads)  # (..., h, n_q, d_head)
    K = split(project(X_kv, *key), num_heads)  # (..., h, n_k, d_head)
    V = split(project(X_kv, *value), num_heads)  # (..., h, n_k, d_head)
    d_model = p["W_q"].shape[-1]
    factor = {"head": 1 / math.sqrt(d_model // num_heads), "model": 1 / math.sqrt(d_model), "none": 1.0}
    scores = (Q @ K.swapaxes(-2, -1)) * factor[scale]  # (..., h, n_q, n_k)
    if mask is not None:
        mask = np.asarray(mask)
        mask = np.expand_dims(mask, -3) if mask_per_head else mask
    weights = masked_softmax(scores, mask)
    out = merge(weights @ V)  # (..., n_q, d_model)
    if output_projection:
        out = project(out, "W_o", "b_o")
    if weights_layout == "averaged":
        weights = weights.mean(axis=-3)  # (..., n_q, n_k)
    elif weights_layout == "merged":
        weights = ref.merge_heads(weights)  # (..., n_q, h * n_k)
    elif weights_layout == "queries_first":
        weights = weights.swapaxes(-3, -2)  # (..., n_q, h, n_k)
    return out, weights


def _mha(**wrong):
    return partial(_multi_head, **wrong)


MULTI_HEAD_ATTENTION = Exercise(
    name="multi_head_attention", notebook=NOTEBOOK, reference=ref.multi_head_attention,
    cases=cases.multi_head_attention_cases, returns=("out", "weights"),
    variants=(
        Variant("heads_by_reshape_only", "the heads are split and merged with a plain reshape, without "
                "moving the head axis",
                "Check split_heads and merge_heads on their own first: each head must see every position, "
                "with its own block of d_head columns.",
                _mha(split=_split_reshape_only, merge=_merge_reshape_only)),
        Variant("split_without_transpose", "the projections are split into heads with a plain reshape, "
                "so a head mixes rows of different positions",
                "Check split_heads on its own first: head i must hold columns i·d_head … (i+1)·d_head−1 "
                "of every position.", _mha(split=_split_reshape_only)),
        Variant("merge_without_transpose", "the heads' outputs are merged with a plain reshape, without "
                "bringing the positions back in front of the heads",
                "Check merge_heads on its own first: it must be the exact inverse of split_heads.",
                _mha(merge=_merge_reshape_only)),
        Variant("strided_split_and_merge", "each head takes every h-th column of the projections, and "
                "the heads are merged back the same way, instead of contiguous blocks of d_head columns",
                "Head i owns columns i·d_head … (i+1)·d_head−1 of XW: check split_heads and merge_heads on "
                "their own.", _mha(split=_split_strided, merge=_merge_interleaved)),
        Variant("strided_head_columns", "each head takes every h-th column of the projections instead "
                "of a contiguous block of d_head columns",
                "Head i owns columns i·d_head … (i+1)·d_head−1 of XW (and of W_q, W_k, W_v): a contiguous "
                "block, not a stride.", _mha(split=_split_strided)),
        Variant("heads_merged_interleaved", "the heads' outputs are interleaved column by column instead "
                "of concatenated head after head",
                "concat(head_1, …, head_h) puts head 1's d_head columns first, then head 2's: check "
                "merge_heads on its own.", _mha(merge=_merge_interleaved)),
        Variant("no_output_projection", "the concatenated heads are returned without the output "
                "projection W_o", "MultiHead = concat(head_1, …, head_h) Wᴼ: the heads are mixed by one "
                "last projection (with its bias b_o, when there is one).",
                _mha(output_projection=False)),
        Variant("scaled_by_sqrt_d_model", "the scores are divided by √d_model instead of √d_head",
                "Each head takes dot products of vectors of length d_head, not d_model.",
                _mha(scale="model")),
        Variant("not_scaled", "the scores are not divided by √d_head",
                "Each head is a scaled dot-product attention of width d_head.", _mha(scale="none")),
        Variant("biases_ignored", "the biases b_q, b_k, b_v, b_o are ignored",
                "A projection is X W + b when params holds the bias; a missing key means no bias.",
                _mha(biases=False)),
        Variant("key_value_swapped", "the keys are projected with W_v and the values with W_k",
                "K = X_kv W_k is compared with the queries; V = X_kv W_v is what gets averaged.",
                _mha(swap_kv=True)),
        Variant("mask_not_broadcast_over_heads", "the mask is applied to the (..., h, n_q, n_k) scores "
                "without a head axis, so its batch axis lines up with the heads",
                "Broadcasting aligns shapes from the right: a mask of shape (batch, n_q, n_k) against "
                "scores (batch, h, n_q, n_k) pairs the batch with the heads. Give the mask an axis of "
                "size 1 where the heads are.", _mha(mask_per_head=False)),
        Variant("mask_ignored", "the mask is ignored",
                "With a mask, the keys it hides (False) must get zero weight in every head: set their "
                "scores to −inf before the softmax.", _mha(use_mask=False)),
        Variant("weights_averaged_over_heads", "the weights are averaged over the heads instead of "
                "returned per head", "Return every head's weights, of shape (..., h, n_q, n_k).",
                _mha(weights_layout="averaged")),
        Variant("weights_merged", "the weights are merged like the heads' outputs, into shape "
                "(..., n_q, h·n_k)", "Only the outputs are merged; the weights stay (..., h, n_q, n_k).",
                _mha(weights_layout="merged")),
        Variant("weights_heads_after_queries", "the weights are returned in shape (..., n_q, h, n_k)",
                "The head axis of the weights comes before the queries: (..., h, n_q, n_k).",
                _mha(weights_layout="queries_first")),
    ),
)


# ---- sinusoidal_positional_encoding -------------------------------------------------------------

def _encoding(n, d, *, first=0, exponent="2i", halves=False, swapped=False):
    """PE with one thing (chosen by the keywords) done wrong."""
    positions = np.arange(first, first + n, dtype=np.float64)[:, None]  # (n, 1)
    if halves:
        angles = positions / 10000.0 ** (np.arange(0, d, 2) / d)  # (n, d/2)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)
    column = np.arange(d)
    power = {"2i": 2 * (column // 2), "i": column // 2, "column": column}[exponent] / d
    angles = positions / 10000.0 ** power  # (n, d): the same angle for columns 2i and 2i+1
    sin, cos = (np.cos, np.sin) if swapped else (np.sin, np.cos)
    return np.where(column % 2 == 0, sin(angles), cos(angles))


SINUSOIDAL_POSITIONAL_ENCODING = Exercise(
    name="sinusoidal_positional_encoding", notebook=NOTEBOOK, reference=ref.sinusoidal_positional_encoding,
    cases=cases.sinusoidal_positional_encoding_cases,
    variants=(
        Variant("sin_cos_swapped", "the even columns hold the cosines and the odd columns the sines",
                "PE[p, 2i] is a sine and PE[p, 2i+1] a cosine: at position 0 the row reads 0, 1, 0, 1, …",
                partial(_encoding, swapped=True)),
        Variant("halves_not_interleaved", "the sines fill the first half of the columns and the cosines "
                "the second half, instead of alternating",
                "Columns 2i and 2i+1 form a pair with the same frequency: sine, cosine, sine, cosine, …",
                partial(_encoding, halves=True)),
        Variant("exponent_without_two", "the exponent is i/d instead of 2i/d",
                "The pair index i runs up to d/2, so the exponent 2i/d runs from 0 up to almost 1.",
                partial(_encoding, exponent="i")),
        Variant("exponent_uses_column_index", "the exponent uses the column index (2i+1 in the cosine "
                "columns) instead of 2i",
                "A sine and the cosine next to it share one frequency: both use 2i, with i the pair index.",
                partial(_encoding, exponent="column")),
        Variant("positions_start_at_one", "positions are counted from 1 instead of 0",
                "The first position is p = 0, whose row is 0, 1, 0, 1, …", partial(_encoding, first=1)),
    ),
)

EXERCISES = [SPLIT_HEADS, MERGE_HEADS, MULTI_HEAD_ATTENTION, SINUSOIDAL_POSITIONAL_ENCODING]
