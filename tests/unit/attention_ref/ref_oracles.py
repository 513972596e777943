"""Tolerances and independent oracles (explicit loops, math.exp) for the reference package's tests."""

from __future__ import annotations

import math

import numpy as np

#: (rtol, atol) by dtype: the one place where the tests' tolerances are set.
TOLERANCES = {np.dtype(np.float32): (1e-4, 1e-5), np.dtype(np.float64): (1e-10, 1e-12)}
#: Finite-difference gradients agree with analytic ones to about eps² ≈ 1e-12 relative;
#: rounding in f(x ± eps) adds ~1e-16 / eps.
GRADIENT_TOLERANCE = (1e-6, 1e-8)

SEEDS = [0, 1, 2]


def assert_close(actual, expected, dtype=np.float64):
    """assert_allclose with the tolerance of ``dtype``."""
    rtol, atol = TOLERANCES[np.dtype(dtype)]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def loop_softmax(row):
    """Softmax of a list of floats with math.exp; -inf entries get weight 0, all -inf gives zeros."""
    finite = [x for x in row if x != -math.inf]
    if not finite:
        return [0.0] * len(row)
    m = max(finite)
    e = [0.0 if x == -math.inf else math.exp(x - m) for x in row]
    total = sum(e)
    return [v / total for v in e]


def loop_attention(Q, K, V, mask=None, scale=None):
    """Attention of 2-D Q (n_q, d_k), K (n_k, d_k), V (n_k, d_v), one query and one key at a time."""
    n_q, d_k = Q.shape
    n_k, d_v = V.shape
    scale = 1 / math.sqrt(d_k) if scale is None else scale
    out = np.zeros((n_q, d_v))
    weights = np.zeros((n_q, n_k))
    for i in range(n_q):
        logits = []
        for j in range(n_k):
            allowed = True if mask is None else bool(mask[i, j])
            dot = sum(float(Q[i, t]) * float(K[j, t]) for t in range(d_k))
            logits.append(dot * scale if allowed else -math.inf)
        w = loop_softmax(logits)
        weights[i] = w
        for j in range(n_k):
            for t in range(d_v):
                out[i, t] += w[j] * float(V[j, t])
    return out, weights


def central_differences(loss, x, eps=1e-6):
    """Gradient of ``loss(x) -> float`` by central differences, one float64 entry of a copy of x at a time."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (loss(plus) - loss(minus)) / (2 * eps)
    return grad


def random_shapes(rng):
    """A batch shape and distinct n_q, n_k, d_k, d_v."""
    batch = tuple(int(s) for s in rng.integers(1, 4, size=rng.integers(0, 3)))
    n_q, n_k = (int(x) for x in rng.choice(np.arange(1, 9), size=2, replace=False))
    d_k, d_v = (int(x) for x in rng.choice(np.arange(2, 9), size=2, replace=False))
    return batch, n_q, n_k, d_k, d_v
