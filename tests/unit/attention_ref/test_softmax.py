"""Tests of attention_ref.softmax: softmax and softmax_backward."""

from __future__ import annotations

import numpy as np
import pytest
from ref_oracles import GRADIENT_TOLERANCE, assert_close, loop_softmax

from attention_ref import softmax, softmax_backward


def test_softmax_matches_a_loop_over_rows(rng, dtype):
    """Does softmax agree with math.exp, row by row, over a batch of rows?"""
    x = rng.standard_normal((3, 4, 7)).astype(dtype) * 3
    expected = np.array([[loop_softmax(list(map(float, row))) for row in m] for m in x])
    got = softmax(x)
    assert got.dtype == dtype
    assert_close(got, expected, dtype)


def test_softmax_rows_sum_to_one_along_the_requested_axis(rng):
    """Do the weights sum to one along `axis`, and only along it?"""
    x = rng.standard_normal((5, 3))
    assert_close(softmax(x, axis=0).sum(axis=0), np.ones(3))
    assert_close(softmax(x).sum(axis=-1), np.ones(5))


def test_softmax_ignores_a_constant_added_to_the_logits(rng):
    """Is softmax(x + c) = softmax(x)?"""
    x = rng.standard_normal((4, 6))
    assert_close(softmax(x + 123.456), softmax(x))


@pytest.mark.parametrize("magnitude", [1e3, 1e4])
def test_softmax_of_huge_logits_is_finite_and_correct(rng, dtype, magnitude):
    """Do logits of magnitude 1e3–1e4 give finite weights equal to the loop oracle?"""
    x = (rng.standard_normal((3, 5)) * magnitude).astype(dtype)
    got = softmax(x)
    assert np.isfinite(got).all()
    expected = np.array([loop_softmax(list(map(float, row))) for row in x])
    assert_close(got, expected, dtype)


def test_softmax_of_an_all_minus_inf_row_is_zero():
    """Does a row with no allowed entry get zeros, without NaN or a warning?"""
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    np.testing.assert_array_equal(softmax(x), [[0.0, 0.0], [1.0, 0.0]])


def test_softmax_turns_integers_into_float64_and_leaves_input_alone():
    """Are integer logits promoted to float64, and is the input unchanged?"""
    x = np.array([[1, 2, 3]])
    before = x.copy()
    assert softmax(x).dtype == np.float64
    np.testing.assert_array_equal(x, before)


def test_softmax_backward_matches_finite_differences(rng):
    """Is softmax_backward the gradient of L = sum(dy * softmax(x)), by central differences?"""
    x = rng.standard_normal((3, 5))
    dy = rng.standard_normal((3, 5))
    eps = 1e-6
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = ((dy * softmax(plus)).sum() - (dy * softmax(minus)).sum()) / (2 * eps)
    rtol, atol = GRADIENT_TOLERANCE
    np.testing.assert_allclose(softmax_backward(softmax(x), dy), numeric, rtol=rtol, atol=atol)


def test_softmax_backward_along_axis_0_matches_finite_differences(rng):
    """Does softmax_backward honour `axis`?"""
    x = rng.standard_normal((4, 3))
    dy = rng.standard_normal((4, 3))
    eps = 1e-6
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = ((dy * softmax(plus, 0)).sum() - (dy * softmax(minus, 0)).sum()) / (2 * eps)
    rtol, atol = GRADIENT_TOLERANCE
    np.testing.assert_allclose(softmax_backward(softmax(x, 0), dy, axis=0), numeric, rtol=rtol, atol=atol)


def test_softmax_backward_rejects_mismatched_shapes():
    """Does a dy of the wrong shape raise a ValueError naming both shapes?"""
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        softmax_backward(np.ones((2, 3)) / 3, np.ones((3, 2)))
