"""Tests of attention_ref.backward: the attention backward pass and numerical_gradient."""

from __future__ import annotations

import numpy as np
import pytest
from ref_oracles import GRADIENT_TOLERANCE, central_differences

from attention_ref import (
    causal_mask,
    numerical_gradient,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "causal+fully-masked"])
def test_backward_matches_finite_differences_for_a_random_upstream_gradient(rng, masked):
    """Are dQ, dK, dV the gradients of L = sum(dout * out), checked by central differences?"""
    Q, K, V = (rng.standard_normal(s) for s in [(2, 4, 3), (2, 5, 3), (2, 5, 2)])
    dout = rng.standard_normal((2, 4, 2))
    mask = None
    if masked:
        mask = causal_mask(4, 5).copy()
        mask[0] = False  # a fully masked query: zero output, zero gradient
    dQ, dK, dV = scaled_dot_product_attention_backward(dout, Q, K, V, mask)

    def loss(Q_, K_, V_):
        return float((dout * scaled_dot_product_attention(Q_, K_, V_, mask)[0]).sum())

    rtol, atol = GRADIENT_TOLERANCE
    np.testing.assert_allclose(dQ, central_differences(lambda x: loss(x, K, V), Q), rtol=rtol, atol=atol)
    np.testing.assert_allclose(dK, central_differences(lambda x: loss(Q, x, V), K), rtol=rtol, atol=atol)
    np.testing.assert_allclose(dV, central_differences(lambda x: loss(Q, K, x), V), rtol=rtol, atol=atol)


def test_backward_sums_over_broadcast_batch_dimensions(rng):
    """Does a K shared by every batch entry get the sum of their gradients, in K's shape?"""
    Q = rng.standard_normal((3, 2, 4))
    K = rng.standard_normal((1, 5, 4))
    V = rng.standard_normal((5, 2))
    dout = rng.standard_normal((3, 2, 2))
    dQ, dK, dV = scaled_dot_product_attention_backward(dout, Q, K, V)
    assert dQ.shape == Q.shape and dK.shape == K.shape and dV.shape == V.shape
    per_batch = [scaled_dot_product_attention_backward(dout[b], Q[b], K[0], V) for b in range(3)]
    np.testing.assert_allclose(dK[0], sum(g[1] for g in per_batch), rtol=1e-10)
    np.testing.assert_allclose(dV, sum(g[2] for g in per_batch), rtol=1e-10)


def test_backward_keeps_float32(rng):
    """Do float32 inputs give float32 gradients?"""
    Q, K, V, dout = (rng.standard_normal(s).astype(np.float32) for s in [(3, 2), (4, 2), (4, 3), (3, 3)])
    assert all(g.dtype == np.float32 for g in scaled_dot_product_attention_backward(dout, Q, K, V))


def test_backward_rejects_a_misshapen_upstream_gradient(rng):
    """Does a dout of the wrong shape raise a ValueError naming it?"""
    Q, K, V = np.ones((3, 2)), np.ones((4, 2)), np.ones((4, 5))
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        scaled_dot_product_attention_backward(np.ones((3, 4)), Q, K, V)


def test_numerical_gradient_matches_an_analytic_gradient(rng):
    """Is the central difference of f(x) = sum(sin(x) * A) equal to cos(x) * A?"""
    x = rng.standard_normal((3, 4))
    A = rng.standard_normal((3, 4))
    grad = numerical_gradient(lambda z: float((np.sin(z) * A).sum()), x)
    np.testing.assert_allclose(grad, np.cos(x) * A, rtol=1e-7, atol=1e-9)


def test_numerical_gradient_is_central_not_forward():
    """With a large eps, is the error O(eps²) (central) rather than O(eps) (forward)?"""
    x = np.array([0.3])
    grad = numerical_gradient(lambda z: float(z[0] ** 3), x, eps=1e-2)
    # central: 3x² + eps² = 0.2701; forward would give 3x² + 3x·eps + eps² = 0.2791
    np.testing.assert_allclose(grad, [0.27 + 1e-4], rtol=1e-9)


def test_numerical_gradient_leaves_x_exactly_as_it_was(rng):
    """Is x bitwise unchanged, even when f reads it through a closure?"""
    x = rng.standard_normal((2, 3))
    before = x.copy()
    seen = []
    numerical_gradient(lambda z: seen.append(np.array_equal(x, before)) or float(z.sum()), x)
    assert np.array_equal(x, before) and x.tobytes() == before.tobytes()
    assert all(seen)


def test_numerical_gradient_rejects_a_function_that_is_not_scalar():
    """Does an f that returns an array raise a ValueError saying so?"""
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda z: z * 2, np.ones(3))
