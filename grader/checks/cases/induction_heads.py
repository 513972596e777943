"""Cases of notebook 07_induction_heads: multi_head_attention_backward, cross_entropy_backward,
embedding_backward, adam_update, induction_training.

``multi_head_attention_backward`` takes the inputs of notebook 04's multi-head cases (self- and
cross-attention, biases present or absent, masks of every layout) and a random upstream gradient.
The first case of each check is the one that tells most mistakes apart: self-attention with
every bias and two heads, a square (n × V) batch of logits whose dloss would broadcast along the
wrong axis without its ``[..., None]``, tokens that repeat, Adam from a non-zero state.

``induction_training`` is the notebook's given training loop, run on the learner's functions: its
case is the model's initial parameters and the seed of the training batches, both drawn from the
seed; the trusted side measures what the returned parameters have learned
(:func:`attention_course.given.induction_outcome`).
"""

from __future__ import annotations

import numpy as np

from . import DTYPES, Case, batch_shape, normal
from .multi_head_attention import _mha_case, multi_head_attention_cases


def _rounded(rng, shape, scale=1.0):
    """Normal values rounded to one decimal (readable public cases)."""
    return np.round(rng.standard_normal(shape) * scale, 1)


# ---- multi_head_attention_backward --------------------------------------------------------------

def _with_dout(rng, case: Case) -> Case:
    """``case`` (inputs of multi_head_attention) with a random upstream gradient in front."""
    X_q, X_kv, params, num_heads, *mask = case.args
    batch = X_q.shape[:-2]
    if mask:
        batch = np.broadcast_shapes(np.shape(mask[0])[:-2], batch, X_kv.shape[:-2])
    dout = normal(rng, batch + X_q.shape[-2:], X_q.dtype)
    return Case((dout, X_q, X_kv, params, num_heads, *mask), note=case.note)


def multi_head_attention_backward_cases(rng, hidden):
    """(dout, X_q, X_kv, params, num_heads) and an optional mask, dout random of the output's shape.

    Public: self-attention, 2 heads, every bias; cross-attention, 3 heads, no biases and a
    (n_q, n_k) mask with a fully masked query; a mask per sequence; float32 with batch axes (2, 1),
    heads of width 1 and biases b_q, b_v; one head and an (n_q, 1) mask; float32 self-attention
    with a causal mask and biases b_k, b_o; a (1, n_k) padding mask. Hidden: the same kinds
    with random sizes, batch shapes and dtypes.
    """
    if not hidden:
        made = [
            _mha_case(rng, 2, np.float64, self_attention=True),
            _mha_case(rng, 3, np.float64, batch=(2,), biases=(), mask="random"),
            _mha_case(rng, 2, np.float64, batch=(2,), mask="per_sequence"),
            _mha_case(rng, 4, np.float32, batch=(2, 1), biases=("b_q", "b_v"), d_head=1),
            _mha_case(rng, 1, np.float64, biases=("b_k", "b_o"), mask="queries"),
            _mha_case(rng, 2, np.float32, batch=(2,), self_attention=True, biases=("b_k", "b_o"),
                      mask="causal"),
            _mha_case(rng, 3, np.float64, batch=(2,), biases=("b_q", "b_k", "b_v"), mask="padding"),
        ]
        return [_with_dout(rng, case) for case in made]
    # A self-attention case with two heads first (it tells most mistakes apart), then notebook 04's.
    made = [_mha_case(rng, 2, DTYPES[int(rng.integers(0, 2))], batch_shape(rng), self_attention=True)]
    made += multi_head_attention_cases(rng, hidden=True)
    return [_with_dout(rng, case) for case in made]


# ---- cross_entropy_backward ---------------------------------------------------------------------

def _targets(rng, shape, V):
    return rng.integers(0, V, size=shape)


def cross_entropy_backward_cases(rng, hidden):
    """(dloss, logits, targets): dloss (...) float, logits (..., V), targets (...) int in [0, V).

    Public: four predictions over four tokens (square, so that a dloss without ``[..., None]``
    broadcasts silently along the wrong axis) with uneven dloss; a mean over 2 × 3 predictions
    (dloss = 1/6 everywhere) in float32; logits around 1000 (exp overflows unless the maximum
    is subtracted) with a zero dloss somewhere; one prediction (a 1-d logits vector and
    0-d arrays); a batch of predictions with two batch axes and a single token (V = 1). Hidden:
    the same kinds with random sizes and dtypes.
    """
    if not hidden:
        logits = _rounded(rng, (4, 4), 2.0)
        big = _rounded(rng, (3, 5), 1.0) * 100 + 1000
        return [
            Case((np.array([0.1, 0.4, 0.2, 0.3]), logits, np.array([2, 0, 3, 0])),
                 note="four predictions over four tokens, uneven upstream gradient"),
            Case((np.full((2, 3), 1 / 6, dtype=np.float32), _rounded(rng, (2, 3, 5)).astype(np.float32),
                  _targets(rng, (2, 3), 5)), note="float32: the mean over 2 × 3 predictions (dloss = 1/6)"),
            Case((np.array([0.5, 0.0, 0.25]), big, _targets(rng, (3,), 5)),
                 note="logits around 1000 (exp overflows unless the maximum is subtracted); "
                      "one prediction has dloss 0"),
            Case((np.array(1.0), _rounded(rng, (6,)), np.array(4)),
                 note="one prediction: logits of shape (V,)"),
            Case((_rounded(rng, (2, 2)), np.zeros((2, 2, 1)), np.zeros((2, 2), dtype=np.int64)),
                 note="batch axes (2, 2) and a single token (V = 1): the gradient is zero"),
        ]
    n = int(rng.integers(3, 7))
    cases = [Case((np.abs(normal(rng, (n,))), normal(rng, (n, n), scale=2.0), _targets(rng, (n,), n)),
                  note="n predictions over n tokens, uneven upstream gradient")]
    for dtype in DTYPES:
        shape, V = batch_shape(rng, 1) + (int(rng.integers(2, 5)),), int(rng.integers(2, 9))
        dloss = np.full(shape, 1 / np.prod(shape)).astype(dtype)
        cases.append(Case((dloss, normal(rng, shape + (V,), dtype, 2.0), _targets(rng, shape, V)),
                          note="the mean over every prediction"))
    shape, V = (int(rng.integers(2, 5)),), int(rng.integers(3, 8))
    dloss = np.abs(normal(rng, shape))
    dloss[int(rng.integers(0, shape[0]))] = 0.0
    cases.append(Case((dloss, normal(rng, shape + (V,), scale=100.0) + 1000, _targets(rng, shape, V)),
                      note="logits around 1000 (exp overflows unless the maximum is subtracted); one "
                           "prediction has dloss 0"))
    V = int(rng.integers(2, 8))
    cases.append(Case((np.array(normal(rng, ())), normal(rng, (V,)), np.array(int(rng.integers(0, V)))),
                      note="one prediction: logits of shape (V,)"))
    shape = batch_shape(rng, 1) + (2,)
    cases.append(Case((normal(rng, shape), np.zeros(shape + (1,)), np.zeros(shape, dtype=np.int64)),
                      note="a single token (V = 1): the gradient is zero"))
    shape, V = batch_shape(rng, 1) + (int(rng.integers(2, 5)),), int(rng.integers(2, 9))
    cases.append(Case((normal(rng, shape, np.float32), normal(rng, shape + (V,), np.float32),
                       _targets(rng, shape, V)), note="float32, random upstream gradient"))
    return cases


# ---- embedding_backward -------------------------------------------------------------------------

def embedding_backward_cases(rng, hidden):
    """(dout, tokens, vocab_size): dout (..., d) float, tokens (...) int in [0, vocab_size).

    Public: one sequence of six tokens in which two tokens repeat and one of the five does not
    occur; a float32 batch (2, 4) of tokens; a 3-d batch; one token (tokens of shape ()); every
    position the same token. Hidden: the same kinds with random sizes.
    """
    if not hidden:
        return [
            Case((_rounded(rng, (6, 3)), np.array([3, 1, 3, 0, 1, 3]), 5),
                 note="one sequence; tokens 3 and 1 repeat, token 2 and 4 do not occur"),
            Case((_rounded(rng, (2, 4, 2)).astype(np.float32), rng.integers(0, 4, size=(2, 4)), 6),
                 note="float32, a batch of two sequences"),
            Case((_rounded(rng, (2, 2, 3, 2)), rng.integers(0, 3, size=(2, 2, 3)), 3), note="two batch axes"),
            Case((_rounded(rng, (4,)), np.array(2), 3), note="a single token: tokens of shape ()"),
            Case((_rounded(rng, (5, 2)), np.full(5, 1), 2), note="every position holds the same token"),
        ]
    cases = []
    for dtype in DTYPES:
        V = int(rng.integers(3, 8))
        shape = batch_shape(rng, 1) + (int(rng.integers(V, 2 * V + 1)),)  # more positions than tokens
        dout = normal(rng, shape + (int(rng.integers(2, 5)),), dtype)
        cases.append(Case((dout, rng.integers(0, V, size=shape), V), note="tokens that repeat"))
    V = int(rng.integers(2, 5))
    shape = (2, int(rng.integers(1, 3)), int(rng.integers(2, 5)))
    cases.append(Case((normal(rng, shape + (2,)), rng.integers(0, V, size=shape), V), note="two batch axes"))
    V = int(rng.integers(2, 6))
    cases.append(Case((normal(rng, (int(rng.integers(2, 5)),)), np.array(int(rng.integers(0, V))), V),
                      note="a single token: tokens of shape ()"))
    V, n = int(rng.integers(2, 6)), int(rng.integers(3, 7))
    cases.append(Case((normal(rng, (n, 3)), np.full(n, int(rng.integers(0, V))), V),
                      note="every position holds the same token"))
    return cases


# ---- adam_update --------------------------------------------------------------------------------

def adam_update_cases(rng, hidden):
    """(param, grad, m, v, t, lr) and sometimes beta1, beta2, eps.

    Public: step 3 from a non-zero state; the first step (m = v = 0, t = 1) in float32; a step with
    other betas and a large eps = 0.1 (so that where eps goes matters); a 0-d parameter at step 50;
    a 3-d parameter. Hidden: the same kinds with random shapes, values and steps.
    """
    def away_from_zero(shape, dtype=np.float64, scale=1.0):
        # |g| >= 0.05·scale: ε = 1e-8 inside or outside the square root then changes nothing
        g = rng.standard_normal(shape)
        return (np.sign(g) * (0.05 + np.abs(g)) * scale).astype(dtype)

    def state(shape, dtype=np.float64, scale=1.0):
        grad = away_from_zero(shape, dtype, scale)
        return (normal(rng, shape, dtype), grad, normal(rng, shape, dtype, 0.1 * scale),
                (0.02 * scale**2 * np.abs(normal(rng, shape)) + 1e-4 * scale**2).astype(dtype))

    if not hidden:
        zeros = np.zeros((2, 3), dtype=np.float32)
        return [
            Case(state((2, 3)) + (3, 0.1), note="step t=3 from a non-zero state"),
            Case((_rounded(rng, (2, 3)).astype(np.float32), away_from_zero((2, 3), np.float32),
                  zeros, zeros.copy(), 1, 0.1), note="float32, the first step (m = v = 0, t = 1)"),
            Case(state((4,), scale=0.1) + (2, 0.1), {"beta1": 0.5, "beta2": 0.9, "eps": 0.1},
                 note="beta1 0.5, beta2 0.9 and a large eps 0.1 (where eps goes matters)"),
            Case(tuple(np.asarray(a[0]) for a in state((1,))) + (50, 0.1),
                 note="a single number at step 50"),
            Case(state((2, 2, 3), scale=3.0) + (7, 0.05), note="a 3-d parameter at step 7"),
        ]
    dtype = DTYPES[int(rng.integers(0, 2))]
    shape = (int(rng.integers(2, 4)), int(rng.integers(2, 5)))
    cases = [Case(state(shape, dtype) + (int(rng.integers(2, 6)), 0.1), note="a step from a non-zero state")]
    shape = (int(rng.integers(2, 4)), int(rng.integers(2, 5)))
    zeros = np.zeros(shape, dtype=np.float32)
    first = (normal(rng, shape, np.float32), away_from_zero(shape, np.float32), zeros, zeros.copy(), 1, 0.1)
    cases.append(Case(first, note="float32, the first step (m = v = 0, t = 1)"))
    cases.append(Case(state((int(rng.integers(2, 6)),), scale=0.1) + (int(rng.integers(2, 20)), 0.1),
                      {"beta1": float(rng.choice([0.5, 0.8])), "beta2": float(rng.choice([0.9, 0.95])),
                       "eps": 0.1},
                      note="other betas and a large eps 0.1"))
    cases.append(Case(tuple(np.asarray(a[0]) for a in state((1,))) + (int(rng.integers(10, 100)), 0.1),
                      note="a single number"))
    cases.append(Case(state((2, int(rng.integers(2, 4)), 3), scale=3.0) + (int(rng.integers(2, 10)), 0.05),
                      note="a 3-d parameter"))
    return cases


# ---- induction_training -------------------------------------------------------------------------

#: The model of notebook 07: vocabulary (BOS is one more token), longest sequence, width.
VOCAB, MAX_LEN, D_MODEL = 32, 26, 32


def initial_model(rng):
    """Initial float32 parameters of notebook 07's model, drawn as its ``init_model`` draws them.

    Returns
    -------
    dict
        ``W_E`` (33, 32) ~ N(0, 1), ``P`` (26, 32) ~ N(0, 0.5²), ``layer1`` and ``layer2`` with
        ``W_q, W_k, W_v, W_o`` (32, 32) ~ N(0, 1/32), ``W_U`` (32, 32) ~ N(0, 1/32).
    """
    d = D_MODEL
    params = {"W_E": normal(rng, (VOCAB + 1, d), np.float32), "P": normal(rng, (MAX_LEN, d), np.float32, 0.5)}
    for layer in ("layer1", "layer2"):
        params[layer] = {w: normal(rng, (d, d), np.float32, d ** -0.5) for w in ("W_q", "W_k", "W_v", "W_o")}
    params["W_U"] = normal(rng, (d, VOCAB), np.float32, d ** -0.5)
    return params


def induction_training_cases(rng, hidden):
    """(params, seed): one training run of notebook 07's model, 400 steps of Adam.

    ``params`` are initial parameters drawn from the seed as the notebook's ``init_model`` draws
    them; ``seed`` seeds the training batches. Public and hidden alike: one run (the public one is
    the same for everyone); the grader measures the result on sequences of its own, drawn from
    ``seed`` apart from the training batches.
    """
    params = initial_model(rng)
    seed = int(rng.integers(0, 2**31))
    seed_kind = "a new hidden seed" if hidden else "the public seed"
    return [Case((params, seed), note=f"400 steps of Adam from random initial parameters ({seed_kind})")]
