"""Positional information: the sinusoidal encoding and rotary embeddings."""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, require_ndim


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


def rotary_embedding(X, positions=None, base=10000.0):
    """Rotary position embedding (RoPE): turn each pair of features by an angle proportional to the position.

    Parameters
    ----------
    X : array_like of shape (..., n, d)
        Queries or keys, one row per position; ``d`` must be even.
    positions : array_like of shape (n,), optional
        Position of each row (integers or floats); defaults to ``0 … n-1``.
    base : float, default 10000.0
        Positive base of the geometric sequence of frequencies.

    Returns
    -------
    ndarray of shape (..., n, d)
        Of the dtype of ``X`` (integers become float64). The angles and their
        cosines and sines are computed in float64 and then cast to that dtype,
        so float32 results stay within float32 rounding even at positions in
        the tens of thousands.

    Notes
    -----
    Pair ``i`` of row ``p`` (features ``2i`` and ``2i+1``, the pairing of
    :func:`sinusoidal_positional_encoding`) is rotated by
    :math:`\\theta_{p,i} = \\text{positions}_p \\cdot \\text{base}^{-2i/d}`:

    .. math:: \\text{out}_{p,2i} = x_{p,2i} \\cos\\theta_{p,i} - x_{p,2i+1} \\sin\\theta_{p,i}, \\qquad
              \\text{out}_{p,2i+1} = x_{p,2i} \\sin\\theta_{p,i} + x_{p,2i+1} \\cos\\theta_{p,i}

    Writing :math:`R(\\theta)` for the 2x2 rotation, a query rotated at
    position :math:`a` and a key rotated at position :math:`b` score
    :math:`\\sum_i q_{(i)}^\\top R(\\theta_{a,i})^\\top R(\\theta_{b,i})\\, k_{(i)}
    = \\sum_i q_{(i)}^\\top R\\big((b - a)\\, \\text{base}^{-2i/d}\\big)\\, k_{(i)}`:
    the dot product depends on the positions only through the offset
    :math:`b - a`, and every pair keeps its norm.
    """
    X = as_float_array(X, "X")
    require_ndim(X, "X", 2, "(..., n, d)")
    n, d = X.shape[-2:]
    if d % 2:
        raise ValueError(f"X (..., n, d) needs an even d (features turn in pairs), got shape {X.shape}")
    real = isinstance(base, (int, float, np.integer, np.floating)) and not isinstance(base, (bool, np.bool_))
    if not (real and 0 < base < np.inf):
        raise ValueError(f"base must be a positive finite number, got {base!r}")
    if positions is None:
        positions = np.arange(n, dtype=np.float64)  # (n,)
    else:
        positions = as_float_array(positions, "positions").astype(np.float64, copy=False)
        if positions.shape != (n,):
            raise ValueError(
                f"positions of shape {positions.shape} do not fit X of shape {X.shape}: "
                f"expected shape ({n},), one position per row of X (..., n, d)"
            )
    inv_freq = float(base) ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (d/2,)
    angles = positions[:, None] * inv_freq  # (n, d/2), float64 whatever X's dtype
    cos = np.cos(angles).astype(X.dtype, copy=False)  # (n, d/2)
    sin = np.sin(angles).astype(X.dtype, copy=False)  # (n, d/2)
    x_even, x_odd = X[..., 0::2], X[..., 1::2]  # (..., n, d/2) each: the pairs' first and second features
    out = np.empty_like(X)
    out[..., 0::2] = x_even * cos - x_odd * sin
    out[..., 1::2] = x_even * sin + x_odd * cos
    return out
