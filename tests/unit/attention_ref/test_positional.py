"""Tests of attention_ref.positional."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ref_oracles import assert_close

from attention_ref import rotary_embedding, sinusoidal_positional_encoding


def test_encoding_follows_the_sin_cos_formula():
    """Is PE[p, 2i] = sin(p / 10000^(2i/d)) and PE[p, 2i+1] = cos(p / 10000^(2i/d))?"""
    n, d = 7, 6
    pe = sinusoidal_positional_encoding(n, d)
    assert pe.shape == (n, d) and pe.dtype == np.float64
    for p in range(n):
        for i in range(d // 2):
            angle = p / 10000 ** (2 * i / d)
            assert math.isclose(pe[p, 2 * i], math.sin(angle), abs_tol=1e-12)
            assert math.isclose(pe[p, 2 * i + 1], math.cos(angle), abs_tol=1e-12)


def test_position_zero_is_alternating_zeros_and_ones():
    """Is the encoding of position 0 equal to [0, 1, 0, 1, …]?"""
    assert_close(sinusoidal_positional_encoding(1, 8)[0], [0, 1] * 4)


def test_odd_width_is_rejected():
    """Does an odd d raise a ValueError naming d?"""
    with pytest.raises(ValueError, match="d=5"):
        sinusoidal_positional_encoding(4, 5)


def _loop_rotary(X, positions, base=10000.0):
    """Rotate each pair (x[2i], x[2i+1]) of each row by positions[p] / base^(2i/d), with math.cos/sin."""
    *batch, n, d = X.shape
    out = np.zeros(X.shape)
    for b in np.ndindex(*batch):
        for p in range(n):
            for i in range(d // 2):
                angle = float(positions[p]) / base ** (2 * i / d)
                c, s = math.cos(angle), math.sin(angle)
                x0, x1 = float(X[b + (p, 2 * i)]), float(X[b + (p, 2 * i + 1)])
                out[b + (p, 2 * i)] = c * x0 - s * x1
                out[b + (p, 2 * i + 1)] = s * x0 + c * x1
    return out


@pytest.mark.parametrize("base", [10000.0, 100.0])
@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 4, 8)], ids=["2-d", "batch"])
def test_rotary_rotates_each_pair_by_its_angle(rng, dtype, shape, base):
    """Is each pair (x[2i], x[2i+1]) of row p turned by p / base^(2i/d), as a 2x2 rotation loop finds?"""
    X = rng.standard_normal(shape).astype(dtype)
    got = rotary_embedding(X, base=base)
    assert got.shape == X.shape and got.dtype == dtype
    assert_close(got, _loop_rotary(X, range(shape[-2]), base), dtype)


def test_rotary_with_given_positions_ints_and_floats(rng):
    """Are explicit positions (ints, or floats such as 2.5) used instead of 0 … n-1?"""
    X = rng.standard_normal((4, 6))
    for positions in (np.array([3, 0, 7, 100]), np.array([0.5, 2.5, -1.0, 12.25])):
        assert_close(rotary_embedding(X, positions), _loop_rotary(X, positions))


def test_rotary_default_positions_are_arange(rng):
    """Does positions=arange(n) (int or float) give exactly the default?"""
    X = rng.standard_normal((2, 5, 4))
    default = rotary_embedding(X)
    np.testing.assert_array_equal(rotary_embedding(X, np.arange(5)), default)
    np.testing.assert_array_equal(rotary_embedding(X, np.arange(5.0)), default)
    np.testing.assert_array_equal(default[..., 0, :], X[..., 0, :])  # position 0: no rotation


def test_rotary_preserves_the_norm_of_every_pair(rng):
    """Is |(x[2i], x[2i+1])| unchanged for every row and pair (a rotation, not a scaling)?"""
    X = rng.standard_normal((3, 7, 10))
    out = rotary_embedding(X, rng.uniform(-50, 50, size=7))
    assert_close(np.hypot(out[..., 0::2], out[..., 1::2]), np.hypot(X[..., 0::2], X[..., 1::2]))
    assert not np.allclose(out, X)


def test_rotary_score_depends_only_on_the_offset(rng):
    """Is <rot(q, i), rot(k, j)> the same for every i when j - i is fixed, and different across offsets?"""
    d = 8
    q, k = rng.standard_normal((2, 1, d))
    scores = {}
    for shift in (0, 1, 3, -5, 17):
        per_start = []
        for i in (0.0, 2.0, 11.0, 250.0, -7.5):
            q_i = rotary_embedding(q, [i])[0]
            k_j = rotary_embedding(k, [i + shift])[0]
            per_start.append(float(q_i @ k_j))
        assert_close(per_start, [per_start[0]] * len(per_start))
        scores[shift] = per_start[0]
    assert_close(scores[0], float(q[0] @ k[0]))  # equal positions: the plain dot product
    values = sorted(scores.values())
    assert min(b - a for a, b in zip(values, values[1:], strict=False)) > 1e-3  # offsets are told apart


def test_rotary_angles_are_those_of_the_sinusoidal_encoding():
    """Does rotating (1, 0) give (cos, sin), and (0, 1) give (-sin, cos), of the sinusoidal angles?"""
    n, d = 9, 6
    pe = sinusoidal_positional_encoding(n, d)  # sin at even columns, cos at odd ones
    ones_zeros = np.tile([1.0, 0.0], (n, d // 2))
    zeros_ones = np.tile([0.0, 1.0], (n, d // 2))
    out = rotary_embedding(ones_zeros)
    assert_close(out[:, 0::2], pe[:, 1::2])
    assert_close(out[:, 1::2], pe[:, 0::2])
    out = rotary_embedding(zeros_ones)
    assert_close(out[:, 0::2], -pe[:, 0::2])
    assert_close(out[:, 1::2], pe[:, 1::2])


def test_rotary_float32_stays_accurate_at_large_positions(rng):
    """With positions in the thousands, does float32 stay float32 and within float32 tolerance?"""
    X = rng.standard_normal((6, 10))
    positions = np.array([0, 1, 999, 4096.5, 12345, 65535])
    got = rotary_embedding(X.astype(np.float32), positions)
    assert got.dtype == np.float32
    assert_close(got, _loop_rotary(X.astype(np.float32), positions), np.float32)


def test_rotary_integers_become_float64_and_input_is_untouched():
    """Do integer inputs give float64, and is X left as it was?"""
    X = np.arange(12).reshape(3, 4)
    before = X.copy()
    out = rotary_embedding(X)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(X, before)
    assert_close(out, _loop_rotary(X, range(3)))


@pytest.mark.parametrize(
    ("X", "positions", "match"),
    [
        (np.ones((4, 5)), None, r"\(4, 5\)"),
        (np.ones((4, 6)), np.arange(3), r"positions.*\(3,\).*\(4, 6\)"),
        (np.ones((4, 6)), np.ones((1, 4)), r"positions.*\(1, 4\)"),
        (np.ones(6), None, r"\(6,\)"),
    ],
    ids=["odd-d", "too-few-positions", "2-d-positions", "1-d-X"],
)
def test_rotary_rejects_bad_shapes_naming_them(X, positions, match):
    """Do an odd d, a wrong number of positions and a 1-D X raise a ValueError naming the shapes?"""
    with pytest.raises(ValueError, match=match):
        rotary_embedding(X, positions)


@pytest.mark.parametrize("base", [0.0, -2.0, np.inf, "10000"])
def test_rotary_rejects_a_base_that_is_not_a_positive_number(base):
    """Does a base that is not a positive finite number raise a ValueError naming base?"""
    with pytest.raises(ValueError, match="base"):
        rotary_embedding(np.ones((2, 4)), base=base)
