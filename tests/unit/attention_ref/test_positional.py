"""Tests of attention_ref.positional."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ref_oracles import assert_close

from attention_ref import sinusoidal_positional_encoding


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
