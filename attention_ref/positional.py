"""Sinusoidal positional encoding."""

from __future__ import annotations

import numpy as np


def sinusoidal_positional_encoding(n, d):
    """Sinusoidal encodings of the positions ``0 … n-1``.

    Parameters
    ----------
    n : int
        Number of positions.
    d : int
        Encoding width; must be even (sines and cosines come in pairs).

    Returns
    -------
    ndarray of shape (n, d), float64

    Notes
    -----
    .. math:: PE_{p, 2i} = \\sin\\big(p / 10000^{2i/d}\\big), \\qquad
              PE_{p, 2i+1} = \\cos\\big(p / 10000^{2i/d}\\big)
    """
    for name, value in (("n", n), ("d", d)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if d % 2:
        raise ValueError(f"d must be even (sin/cos pairs), got d={d}")
    positions = np.arange(n, dtype=np.float64)[:, None]  # (n, 1)
    inv_freq = 10000.0 ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (d/2,)
    angles = positions * inv_freq  # (n, d/2)
    pe = np.empty((n, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe
