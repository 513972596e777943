"""Input checks shared by the reference functions.

Every public function converts its array inputs with :func:`as_float_array`
(float32 stays float32, float64 stays float64, anything numeric becomes
float64) and raises ``ValueError`` with the offending shapes when they do not
fit together.
"""

from __future__ import annotations

import numpy as np

_KEPT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x, name):
    """Return ``x`` as a floating ndarray without copying when it already is one.

    Parameters
    ----------
    x : array_like
        Input values.
    name : str
        Name of the argument, used in error messages.

    Returns
    -------
    ndarray
        float32 or float64 data; integers, booleans and other real floats become
        float64.
    """
    arr = np.asarray(x)
    if arr.dtype in _KEPT_DTYPES:
        return arr
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64)
    raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def require_ndim(x, name, ndim, layout):
    """Raise ``ValueError`` unless ``x`` has at least ``ndim`` dimensions."""
    if x.ndim < ndim:
        raise ValueError(f"{name} must have shape {layout}, got shape {x.shape}")


def broadcast_batch(*named_arrays, core_ndim=2):
    """Return the broadcast batch shape of arrays whose last ``core_ndim`` axes are core axes.

    Parameters
    ----------
    *named_arrays : tuple of (str, ndarray)
        Arrays with their argument names.
    core_ndim : int
        Number of trailing axes that are not batch axes.

    Returns
    -------
    tuple of int
        The broadcast shape of the leading (batch) axes.
    """
    shapes = [arr.shape[: arr.ndim - core_ndim] for _, arr in named_arrays]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        described = ", ".join(f"{name} {arr.shape}" for name, arr in named_arrays)
        raise ValueError(f"batch dimensions do not broadcast: {described}") from None


def check_mask(mask, scores_shape):
    """Validate a boolean attention mask against the shape of the scores.

    Parameters
    ----------
    mask : ndarray of bool or None
        True where a query may attend to a key; broadcastable to ``scores_shape``.
    scores_shape : tuple of int
        ``(..., n_q, n_k)``.

    Returns
    -------
    ndarray of bool or None
        The mask as an ndarray.
    """
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise ValueError(
            f"mask must be a boolean array (True = may attend), got dtype {mask.dtype}"
        )
    try:
        np.broadcast_shapes(mask.shape, tuple(scores_shape))
    except ValueError:
        raise ValueError(
            f"mask of shape {mask.shape} does not broadcast to the scores' shape "
            f"{tuple(scores_shape)} (..., n_q, n_k)"
        ) from None
    return mask


def check_positive_int(value, name):
    """Return ``value`` as an int, raising ``ValueError`` unless it is an integer >= 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)
