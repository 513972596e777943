"""Cases of notebook 04_multi_head_attention: split_heads, merge_heads, multi_head_attention,
sinusoidal_positional_encoding.

Head layouts are only told apart when every axis has at least two entries (n >= 2, h >= 2,
d_head >= 2), so the cases that test a layout keep to those sizes; d_head differs from h
where it can, so that a transposed (d_head, h) split does not even have the right shape.
"""

from __future__ import annotations

import numpy as np

from . import DTYPES, Case, batch_shape, normal, random_mask

_WEIGHTS = ("W_q", "W_k", "W_v", "W_o")
_BIASES = ("b_q", "b_k", "b_v", "b_o")


def _d_head(rng, num_heads, low=2, high=5):
    """A head width in [low, high] that differs from ``num_heads`` when it can."""
    choices = [d for d in range(low, high + 1) if d != num_heads] or [low]
    return int(rng.choice(choices))


def params(rng, d_model, dtype=np.float64, biases=_BIASES):
    """Random multi-head parameters.

    Parameters
    ----------
    rng : numpy.random.Generator
    d_model : int
    dtype : numpy dtype
    biases : iterable of str
        Which of ``b_q, b_k, b_v, b_o`` to include (a missing key means no bias).

    Returns
    -------
    dict of str to ndarray
        ``W_q, W_k, W_v, W_o`` of shape (d_model, d_model) drawn from N(0, 1/d_model), and the
        requested biases of shape (d_model,), non-zero so that forgetting one shows.
    """
    out = {name: normal(rng, (d_model, d_model), dtype, scale=d_model ** -0.5) for name in _WEIGHTS}
    out.update({name: normal(rng, (d_model,), dtype, scale=0.5) for name in biases})
    return out


# ---- split_heads / merge_heads ------------------------------------------------------------------

def split_heads_cases(rng, hidden):
    """X (..., n, d_model) with num_heads h >= 2 dividing d_model; also h = 1 and h = d_model.

    Public: 2 and 3 heads of a 4 × 6 matrix; a batch of two with 4 heads; float32 with batch axes
    (2, 1) and heads of width 1 (h = d_model); a single head. Hidden: random batch shapes and
    dtypes with h in {2, 3, 4}, a single head and heads of width 1.
    """
    if not hidden:
        X = np.arange(24, dtype=np.float64).reshape(4, 6)
        return [
            Case((X, 2), note="4 positions, d_model 6, 2 heads of width 3"),
            Case((X, 3), note="4 positions, d_model 6, 3 heads of width 2"),
            Case((np.arange(48, dtype=np.float64).reshape(2, 3, 8) - 20.0, 4),
                 note="a batch of 2 sequences, 4 heads of width 2"),
            Case((np.arange(24, dtype=np.float32).reshape(2, 1, 3, 4), 4),
                 note="float32, batch axes (2, 1), 4 heads of width 1 (num_heads = d_model)"),
            Case((np.arange(12, dtype=np.float64).reshape(3, 4), 1), note="a single head"),
        ]
    cases = []
    for num_heads in (int(rng.integers(2, 5)), 2, 3, 4):
        d_head = _d_head(rng, num_heads)
        # n != h, or a (..., n, h, d_head) result would have the expected shape.
        n = int(rng.choice([n for n in range(2, 7) if n != num_heads]))
        shape = batch_shape(rng) + (n, num_heads * d_head)
        dtype = DTYPES[len(cases) % 2]
        cases.append(Case((normal(rng, shape, dtype), num_heads),
                          note=f"{num_heads} heads of width {d_head}"))
    cases.append(Case((normal(rng, (int(rng.integers(2, 5)), int(rng.integers(2, 6)))), 1),
                      note="a single head"))
    d_model = int(rng.integers(2, 6))
    n = int(rng.choice([n for n in range(2, 7) if n != d_model]))
    X = normal(rng, batch_shape(rng, 1) + (n, d_model), DTYPES[int(rng.integers(0, 2))])
    cases.append(Case((X, d_model),
                      note=f"{d_model} heads of width 1 (num_heads = d_model)"))
    return cases


def merge_heads_cases(rng, hidden):
    """X (..., h, n, d_head) with h, n, d_head >= 2; also h = 1 and d_head = 1.

    Public: 2 heads; a batch of two with 3 heads; float32 with batch axes (2, 1) and heads of
    width 1; a single head. Hidden: random batch shapes and dtypes, a single head, width 1.
    """
    if not hidden:
        return [
            Case((np.arange(24, dtype=np.float64).reshape(2, 4, 3),), note="2 heads, 4 positions, width 3"),
            Case((np.arange(48, dtype=np.float64).reshape(2, 3, 4, 2) - 20.0,),
                 note="a batch of 2 sequences, 3 heads of width 2"),
            Case((np.arange(24, dtype=np.float32).reshape(2, 1, 4, 3, 1),),
                 note="float32, batch axes (2, 1), 4 heads of width 1"),
            Case((np.arange(8, dtype=np.float64).reshape(1, 4, 2),), note="a single head"),
        ]
    cases = []
    for num_heads in (int(rng.integers(2, 5)), 2, 3, 4):
        shape = batch_shape(rng) + (num_heads, int(rng.integers(2, 6)), _d_head(rng, num_heads))
        cases.append(Case((normal(rng, shape, DTYPES[len(cases) % 2]),), note=f"{num_heads} heads"))
    cases.append(Case((normal(rng, (1, int(rng.integers(2, 5)), int(rng.integers(2, 6)))),),
                      note="a single head"))
    shape = batch_shape(rng, 1) + (int(rng.integers(2, 5)), int(rng.integers(2, 5)), 1)
    cases.append(Case((normal(rng, shape, DTYPES[int(rng.integers(0, 2))]),), note="heads of width 1"))
    return cases


# ---- multi_head_attention -----------------------------------------------------------------------

def _mha_case(rng, num_heads, dtype, batch=(), self_attention=False, biases=_BIASES, mask="none",
              d_head=None):
    """One multi-head case: inputs, parameters and an optional mask.

    ``mask`` is one of ``"none"``, ``"random"`` (n_q, n_k) with a fully masked query,
    ``"padding"`` (1, n_k), ``"causal"`` (n, n), ``"queries"`` (n_q, 1) with a fully masked query,
    or ``"per_sequence"`` (*batch, 1, n_k): one padding length per sequence of the batch. (No 1-d
    mask: the notebook's solution, like the reference, gives the mask a head axis with
    ``mask[..., None, :, :]``.) ``d_head`` defaults to a random width that differs from ``num_heads``.
    """
    d_head = _d_head(rng, num_heads) if d_head is None else d_head
    d_model = num_heads * d_head
    # A padding mask keeps at least two keys, and each sequence gets its own padding length.
    fewest_keys = {"padding": 3, "per_sequence": int(np.prod(batch, dtype=int)) + 1}.get(mask, 2)
    n_q = int(rng.integers(2, 6))
    n_k = int(rng.choice([n for n in range(fewest_keys, fewest_keys + 5) if n != n_q]))
    if self_attention or mask == "causal":
        n_q = n_k = max(n_q, fewest_keys)
    X_q = normal(rng, batch + (n_q, d_model), dtype)
    X_kv = X_q if self_attention else normal(rng, batch + (n_k, d_model), dtype)
    args = (X_q, X_kv, params(rng, d_model, dtype, biases), num_heads)
    kind = "self-attention" if self_attention else "cross-attention"
    bias = "with biases" if len(biases) == 4 else ("no biases" if not biases else
                                                   f"biases {', '.join(biases)} only")
    heads = "1 head" if num_heads == 1 else f"{num_heads} heads"
    note = f"{kind}, {heads} of width {d_head}, {bias}"
    if mask == "none":
        return Case(args, note=note)
    if mask == "random":
        m = random_mask(rng, (n_q, n_k), full_rows=(int(rng.integers(0, n_q)),))
        note += ", a (n_q, n_k) mask with one fully masked query"
    elif mask == "padding":
        m = np.arange(n_k)[None, :] < int(rng.integers(2, n_k))
        note += ", a (1, n_k) padding mask"
    elif mask == "causal":
        m = np.tril(np.ones((n_q, n_k), dtype=bool))
        note += ", a causal mask"
    elif mask == "queries":
        m = np.ones((n_q, 1), dtype=bool)
        m[int(rng.integers(0, n_q))] = False
        note += ", an (n_q, 1) mask: one query may attend to no key"
    else:  # one padding length per sequence: the mask has batch axes that must not meet the heads'
        lengths = rng.permutation(np.arange(1, n_k + 1))[: int(np.prod(batch, dtype=int))]
        m = (np.arange(n_k) < lengths.reshape(batch + (1, 1)))
        note += f", a {m.shape} mask: one padding length per sequence"
    return Case(args + (m,), note=note)


def multi_head_attention_cases(rng, hidden):
    """Self- and cross-attention, with and without biases and masks; h in {1, 2, 3, 4} and h = d_model.

    Public: self-attention with biases; cross-attention without biases and a (n_q, n_k) mask; a
    mask per sequence; then float32 with batch axes (2, 1), heads of width 1 and biases b_q, b_v
    only; a single head with an (n_q, 1) mask; a causal mask; a (1, n_k) padding mask. Hidden: the
    same kinds with random batch shapes, dtypes and sizes.
    """
    if not hidden:
        return [
            _mha_case(rng, 2, np.float64, self_attention=True),
            _mha_case(rng, 3, np.float64, batch=(2,), biases=(), mask="random"),
            _mha_case(rng, 2, np.float64, batch=(2,), mask="per_sequence"),
            _mha_case(rng, 4, np.float32, batch=(2, 1), biases=("b_q", "b_v"), d_head=1),
            _mha_case(rng, 1, np.float64, biases=("b_k", "b_o"), mask="queries"),
            _mha_case(rng, 2, np.float32, self_attention=True, biases=("b_k", "b_o"), mask="causal"),
            _mha_case(rng, 3, np.float64, batch=(2,), biases=("b_q", "b_k", "b_v"), mask="padding"),
        ]
    cases = []
    for num_heads, dtype, self_attention, mask, biases in (
            (int(rng.integers(2, 5)), np.float64, False, "none", _BIASES),
            (2, np.float32, True, "causal", ()),
            (3, np.float64, False, "random", _BIASES),
            (4, np.float32, False, "padding", ()),
            (1, DTYPES[int(rng.integers(0, 2))], bool(rng.integers(0, 2)), "random", _BIASES)):
        cases.append(_mha_case(rng, num_heads, dtype, batch_shape(rng), self_attention, biases, mask))
    num_heads = int(rng.integers(2, 5))
    cases.append(_mha_case(rng, num_heads, DTYPES[int(rng.integers(0, 2))], batch=(num_heads,),
                           self_attention=bool(rng.integers(0, 2)), mask="per_sequence"))
    for some in (("b_q", "b_v"), ("b_k", "b_o")):  # each bias present, and absent, somewhere
        cases.append(_mha_case(rng, int(rng.integers(2, 5)), np.float64, batch_shape(rng), biases=some))
    num_heads = int(rng.integers(2, 5))
    cases.append(_mha_case(rng, num_heads, DTYPES[int(rng.integers(0, 2))], batch_shape(rng, 1),
                           biases=_BIASES, mask="queries", d_head=1))
    return cases


# ---- sinusoidal_positional_encoding -------------------------------------------------------------

def sinusoidal_positional_encoding_cases(rng, hidden):
    """(n, d) with d even; sizes >= 2 and d >= 4 so that every layout mistake shows."""
    if not hidden:
        return [Case((4, 6), note="4 positions, width 6"), Case((12, 8), note="12 positions, width 8")]
    cases = [Case((int(rng.integers(2, 60)), 2 * int(rng.integers(2, 33))), note="random size")
             for _ in range(3)]
    cases.append(Case((int(rng.integers(100, 200)), 2 * int(rng.integers(32, 65))), note="long and wide"))
    cases.append(Case((int(rng.integers(2, 9)), 2), note="width 2: one sin/cos pair"))
    cases.append(Case((1, 2 * int(rng.integers(1, 5))), note="a single position"))
    return cases
