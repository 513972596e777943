"""Cases of notebook 05_backprop_through_attention: softmax_backward,
scaled_dot_product_attention_backward, numerical_gradient, reversal_training.

The first case of each check is the one that tells most mistakes apart: a square (n × n) softmax
or self-attention case, so that a sum without keepdims or a dV computed with P instead of Pᵀ gives
wrong numbers rather than a broadcasting error. Masked cases come after unmasked ones, and fully
masked rows after masks that keep every row. The functions given to ``numerical_gradient`` are
test functions described by data (:class:`attention_course.functions.ScalarFunction`), so that they
can travel to the kernel and be rebuilt there; the first of those cases passes a coarse
``eps=0.01``, where forward differences, a forgotten factor 2 and an ignored ``eps`` are all
far beyond rounding.

``reversal_training`` is the notebook's given training loop, run on the learner's backward pass:
its case is a training set and initial parameters drawn from the seed, and the trusted side
measures what the returned parameters have learned.
"""

from __future__ import annotations

import numpy as np

from attention_course.functions import ScalarFunction

from . import DTYPES, Case, batch_shape, normal, random_mask


def _softmax(x, axis=-1):
    """Softmax of ``x`` along ``axis``; a slice that is ``-inf`` everywhere gets zeros."""
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - np.where(np.isfinite(m), m, 0))
    total = e.sum(axis=axis, keepdims=True)
    return (e / np.where(total > 0, total, 1)).astype(x.dtype)


def _rounded(rng, shape, scale=1.0):
    """Standard normal values rounded to one decimal (readable public cases)."""
    return np.round(rng.standard_normal(shape) * scale, 1)


# ---- softmax_backward ---------------------------------------------------------------------------

def softmax_backward_cases(rng, hidden):
    """(y, dy) with y = softmax(x) and a random upstream gradient dy of the same shape.

    Public: three weights; a 3 × 3 matrix (rows and columns alike); 2 × 4; a 4 × 2 matrix whose
    softmax was taken over ``axis=0``; float32 masked weights with two batch axes and a fully
    masked (all-zero) row; one key in a batch of three. Hidden: a square n × n case; random batch
    shapes in float32 and float64; masked weights with a fully masked (all-zero) row; saturated
    weights; one key; a softmax over ``axis=-2``.
    """
    if not hidden:
        tall = _rounded(rng, (4, 2), 2.0)
        masked = np.where(np.arange(4) < np.array([[4], [0], [2]]), _rounded(rng, (2, 1, 3, 4), 2.0), -np.inf)
        return [
            Case((_softmax(np.array([1.0, 2.0, 3.0])), np.array([0.5, -1.0, 2.0])), note="three weights"),
            Case((_softmax(_rounded(rng, (3, 3), 2.0)), _rounded(rng, (3, 3))),
                 note="three rows of three weights"),
            Case((_softmax(_rounded(rng, (2, 4), 2.0)), _rounded(rng, (2, 4))),
                 note="two rows of four weights"),
            Case((_softmax(tall, axis=0), _rounded(rng, (4, 2))), {"axis": 0},
                 note="softmax taken over axis 0 (each column sums to one)"),
            Case((_softmax(masked.astype(np.float32)), _rounded(rng, (2, 1, 3, 4)).astype(np.float32)),
                 note="float32 masked weights with batch axes (2, 1); row 1 is fully masked (all zero)"),
            Case((np.ones((3, 2, 1)), _rounded(rng, (3, 2, 1))), note="one key (every weight is 1)"),
        ]
    n = int(rng.integers(3, 7))
    cases = [Case((_softmax(normal(rng, (n, n), scale=2.0)), normal(rng, (n, n))),
                  note="n × n weights (rows and columns alike)")]
    for dtype in DTYPES:
        shape = batch_shape(rng) + (int(rng.integers(2, 5)), int(rng.integers(3, 8)))
        cases.append(Case((_softmax(normal(rng, shape, dtype, 2.0)), normal(rng, shape, dtype)),
                          note="random weights and upstream gradient"))
    for dtype in DTYPES:
        shape = batch_shape(rng, 1) + (int(rng.integers(2, 5)), int(rng.integers(3, 7)))
        row = int(rng.integers(0, shape[-2]))
        x = np.where(random_mask(rng, shape, full_rows=(row,)), normal(rng, shape, dtype), -np.inf)
        cases.append(Case((_softmax(x.astype(dtype)), normal(rng, shape, dtype)),
                          note=f"masked weights (zeros); row {row} is fully masked"))
    shape = (int(rng.integers(2, 4)), int(rng.integers(3, 7)))
    cases.append(Case((_softmax(normal(rng, shape, np.float32, 30.0)), normal(rng, shape, np.float32)),
                      note="saturated (nearly one-hot) weights"))
    m = int(rng.integers(2, 4))
    cases.append(Case((np.ones((m, 1)), normal(rng, (m, 1))), note="one key (every weight is 1)"))
    shape = batch_shape(rng, 1) + (int(rng.integers(3, 6)), int(rng.integers(2, 4)))
    cases.append(Case((_softmax(normal(rng, shape, scale=2.0), axis=-2), normal(rng, shape)), {"axis": -2},
                      note="softmax taken over axis -2"))
    return cases


# ---- scaled_dot_product_attention_backward ------------------------------------------------------

def _attention_args(rng, batch, n_q, n_k, d_k, d_v, dtype=np.float64):
    """Random (dout, Q, K, V) of shapes (*batch, n_q, d_v), (*batch, n_q, d_k), (*batch, n_k, d_k),
    (*batch, n_k, d_v)."""
    return (normal(rng, batch + (n_q, d_v), dtype), normal(rng, batch + (n_q, d_k), dtype),
            normal(rng, batch + (n_k, d_k), dtype), normal(rng, batch + (n_k, d_v), dtype))


def _sizes(rng, square=False):
    """(n_q, n_k, d_k, d_v) with d_k ≥ 2, d_k ≠ d_v, and n_q ≠ n_k unless ``square``."""
    n_q, n_k, d_k, d_v = (int(s) for s in rng.choice(np.arange(2, 7), size=4, replace=False))
    return (n_q, n_q, d_k, d_v) if square else (n_q, n_k, d_k, d_v)


def _mask_hiding_some(rng, shape, full_rows=()):
    """A random mask (True = may attend) with at least one hidden key somewhere."""
    while True:
        mask = random_mask(rng, shape, p=0.6, full_rows=full_rows)
        if not mask.all():
            return mask


def attention_backward_cases(rng, hidden):
    """(dout, Q, K, V) and an optional boolean mask (True = may attend).

    Public (float64 first): self-attention with three queries and keys, d_k=2, d_v=4; a batch of two
    cross-attention problems (n_q=2, n_k=4); the first with a causal mask; the second with a mask
    whose second query may attend to no key; float32 with batch axes (2, 1) and a mask of the full
    batch shape with a fully masked row; one key; a (B, 1, n_k) padding mask; a 1-d (n_k,) mask.
    Hidden: self-attention; cross-attention in float32 and float64 with random batch shapes; a
    random (n_q, n_k) mask; a float32 mask of the full batch shape with a fully masked row; a
    (B, 1, n_k) padding mask; a 1-d (n_k,) mask; one key.
    """
    if not hidden:
        self_args = tuple(_rounded(rng, s) for s in ((3, 4), (3, 2), (3, 2), (3, 4)))
        cross_args = tuple(_rounded(rng, (2,) + s) for s in ((2, 2), (2, 3), (4, 3), (4, 2)))
        causal = np.tril(np.ones((3, 3), dtype=bool))
        one_empty = np.array([[[True, False, True, True], [False, False, False, False]],
                              [[False, True, True, True], [True, True, False, True]]])  # (2, n_q, n_k)
        four = tuple(_rounded(rng, (2, 1) + s).astype(np.float32) for s in ((2, 2), (2, 3), (4, 3), (4, 2)))
        full = np.array([[[[True, True, False, True], [False, False, False, False]]],
                         [[[False, True, True, False], [True, False, True, True]]]])  # (2, 1, 2, 4)
        return [
            Case(self_args, note="self-attention: three queries, three keys, d_k=2, d_v=4"),
            Case(cross_args, note="a batch of two, two queries, four keys, d_k=3, d_v=2"),
            Case(tuple(a.copy() for a in self_args), {"mask": causal}, note="causal mask"),
            Case(tuple(a.copy() for a in cross_args), {"mask": one_empty},
                 note="a mask per sequence; in the first, query 1 may attend to no key (zero output, "
                      "zero gradients)"),
            Case(four, {"mask": full}, note="float32, batch axes (2, 1), a mask of the full batch shape "
                                            "in which one query may attend to no key"),
            Case(_attention_args(rng, (3,), 2, 1, 3, 2), note="one key"),
            Case(tuple(a.copy() for a in cross_args),
                 {"mask": np.arange(4) < np.array([1, 3])[:, None, None]},
                 note="a (B, 1, n_k) padding mask, lengths [1, 3]"),
            Case(tuple(a.copy() for a in self_args), {"mask": np.array([True, False, True])},
                 note="a 1-d (n_k,) mask: key 1 is hidden from every query"),
        ]
    cases = [Case(_attention_args(rng, batch_shape(rng), *_sizes(rng, square=True)),
                  note="self-attention (n_q == n_k)")]
    for dtype in DTYPES:
        cases.append(Case(_attention_args(rng, batch_shape(rng), *_sizes(rng), dtype),
                          note="cross-attention, random upstream gradient"))
    n_q, n_k, d_k, d_v = _sizes(rng)
    cases.append(Case(_attention_args(rng, batch_shape(rng, 1), n_q, n_k, d_k, d_v),
                      {"mask": _mask_hiding_some(rng, (n_q, n_k))},
                      note="random mask of shape (n_q, n_k), broadcast over the batch"))
    n_q, n_k, d_k, d_v = _sizes(rng)
    batch = batch_shape(rng, 1) or (2,)
    row = int(rng.integers(0, n_q))
    cases.append(Case(_attention_args(rng, batch, n_q, n_k, d_k, d_v, np.float32),
                      {"mask": _mask_hiding_some(rng, batch + (n_q, n_k), full_rows=(row,))},
                      note=f"query {row} may attend to no key"))
    n_q, n_k, d_k, d_v = _sizes(rng)
    B = int(rng.integers(2, 4))
    lengths = rng.integers(1, n_k + 1, size=B)
    cases.append(Case(_attention_args(rng, (B,), n_q, n_k, d_k, d_v, DTYPES[int(rng.integers(0, 2))]),
                      {"mask": np.arange(n_k) < lengths[:, None, None]},
                      note=f"a (B, 1, n_k) padding mask, lengths {lengths.tolist()}"))
    n_q, n_k, d_k, d_v = _sizes(rng)
    cases.append(Case(_attention_args(rng, batch_shape(rng, 1), n_q, n_k, d_k, d_v),
                      {"mask": np.arange(n_k) != int(rng.integers(0, n_k))},
                      note="a 1-d (n_k,) mask: one key hidden from every query"))
    d_k = int(rng.integers(2, 5))
    cases.append(Case(_attention_args(rng, (), int(rng.integers(2, 5)), 1, d_k, d_k + 1), note="one key"))
    return cases


# ---- numerical_gradient -------------------------------------------------------------------------

def cubic_loss(rng, shape):
    """A smooth scalar function of an array of ``shape`` with non-zero 2nd and 3rd derivatives.

    Returns
    -------
    ScalarFunction
        ``f(x) = Σ a·x³ + Σ b·tanh(c·x) + ½ vec(x)ᵀ M vec(x)`` for ``x`` of shape ``shape``,
        with fixed random a, b, c of that shape and M of shape (size, size).
    """
    a, b, c = normal(rng, shape), normal(rng, shape), normal(rng, shape)
    size = int(np.prod(shape))
    return ScalarFunction("cubic", {"a": a, "b": b, "c": c, "M": normal(rng, (size, size)) / size})


def mixing_loss(rng, shape):
    """A loss that mixes the rows of queries as attention does, but through tanh.

    Parameters
    ----------
    shape : tuple of int
        Shape ``(..., n_q, d_k)`` of the queries Q.

    Returns
    -------
    ScalarFunction
        ``f(Q) = Σ G ⊙ tanh(Q Kᵀ / √d_k) V`` with fixed random K (..., n_k, d_k),
        V (..., n_k, d_v) and G (..., n_q, d_v).
    """
    n_k, d_v = int(rng.integers(2, 5)), int(rng.integers(1, 4))
    return ScalarFunction("tanh_mixing", {"K": normal(rng, shape[:-2] + (n_k, shape[-1])),
                                          "V": normal(rng, shape[:-2] + (n_k, d_v)),
                                          "G": normal(rng, shape[:-1] + (d_v,))})


def numerical_gradient_cases(rng, hidden):
    """(f, x) and sometimes ``eps``: f a fixed smooth function built here, x float64 of any shape.

    Public: a cubic-and-tanh loss of a 2 × 3 array with ``eps=0.01``; a loss that mixes the rows of
    Q (2, 3); a cubic loss of a vector; of a 3-d array; of a single number (0-d array). Hidden: the
    same kinds with random shapes and ``eps`` of 0.01, 0.001 or the default.
    """
    if not hidden:
        return [
            Case((cubic_loss(rng, (2, 3)), _rounded(rng, (2, 3))), {"eps": 1e-2},
                 note="a cubic-and-tanh loss, coarse step eps=0.01"),
            Case((mixing_loss(rng, (2, 3)), _rounded(rng, (2, 3))), note="a loss that mixes the rows of Q"),
            Case((cubic_loss(rng, (4,)), _rounded(rng, (4,))), note="a cubic-and-tanh loss of a vector"),
            Case((cubic_loss(rng, (2, 2, 3)), _rounded(rng, (2, 2, 3))), note="a 3-d array"),
            Case((cubic_loss(rng, ()), np.asarray(0.7)), {"eps": 1e-3},
                 note="a single number (0-d array), eps=0.001"),
        ]
    shape = (int(rng.integers(2, 4)), int(rng.integers(2, 5)))
    cases = [Case((cubic_loss(rng, shape), normal(rng, shape)), {"eps": 1e-2},
                  note="a cubic-and-tanh loss, coarse step eps=0.01")]
    shape = batch_shape(rng, 1) + (int(rng.integers(2, 4)), int(rng.integers(2, 4)))
    cases.append(Case((mixing_loss(rng, shape), normal(rng, shape)), note="a loss that mixes the rows of Q"))
    shape = (int(rng.integers(2, 7)),)
    cases.append(Case((cubic_loss(rng, shape), normal(rng, shape)), {"eps": 1e-3},
                      note="a cubic-and-tanh loss of a vector, eps=0.001"))
    shape = (2, int(rng.integers(2, 4)), int(rng.integers(2, 4)))
    cases.append(Case((cubic_loss(rng, shape), normal(rng, shape)), note="a 3-d array"))
    cases.append(Case((cubic_loss(rng, ()), np.asarray(normal(rng, ()))), note="a single number (0-d array)"))
    shape = (int(rng.integers(2, 4)), int(rng.integers(2, 4)))
    cases.append(Case((mixing_loss(rng, shape), normal(rng, shape)), {"eps": 1e-2},
                      note="a loss that mixes the rows of Q, eps=0.01"))
    return cases


# ---- reversal_training --------------------------------------------------------------------------

#: The reversal model of notebook 05, section 7: vocabulary, sequence length, query/key width.
REVERSAL_TOKENS, REVERSAL_LENGTH, REVERSAL_D_K = 6, 6, 8
#: Training sequences, gradient-descent steps and learning rate of every training check.
REVERSAL_TRAIN, REVERSAL_STEPS, REVERSAL_LR = 200, 300, 0.5


def reversal_training_cases(rng, hidden):
    """(tokens, params) with ``steps=300, lr=0.5``: one training run of the reversal model.

    ``tokens`` holds 200 random training sequences, int64 of shape (200, 6) with tokens 0 … 5;
    ``params`` the initial ``W_q`` (6, 8) and ``W_k`` (12, 8), entries drawn from N(0, 0.5²) as
    in the notebook. Public and hidden alike: one run, its data and initialisation drawn from the
    seed (the public one is the same for everyone).
    """
    tokens = rng.integers(0, REVERSAL_TOKENS, size=(REVERSAL_TRAIN, REVERSAL_LENGTH))
    params = {"W_q": normal(rng, (REVERSAL_LENGTH, REVERSAL_D_K), scale=0.5),
              "W_k": normal(rng, (REVERSAL_TOKENS + REVERSAL_LENGTH, REVERSAL_D_K), scale=0.5)}
    seed_kind = "a new hidden seed" if hidden else "the public seed"
    return [Case((tokens, params), {"steps": REVERSAL_STEPS, "lr": REVERSAL_LR},
                 note=f"{REVERSAL_STEPS} steps of gradient descent on {REVERSAL_TRAIN} random training "
                      f"sequences from random initial parameters ({seed_kind})")]
