"""Boolean attention masks (True = may attend)."""

from __future__ import annotations

import numpy as np


def _check_count(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def causal_mask(n_q, n_k=None):
    """Mask that lets query ``i`` see keys ``0 … i`` only.

    Parameters
    ----------
    n_q : int
        Number of queries.
    n_k : int, optional
        Number of keys; defaults to ``n_q``.

    Returns
    -------
    ndarray of bool of shape (n_q, n_k)
        ``mask[i, j]`` is True iff ``j <= i``.
    """
    n_q = _check_count(n_q, "n_q")
    n_k = n_q if n_k is None else _check_count(n_k, "n_k")
    return np.arange(n_k)[None, :] <= np.arange(n_q)[:, None]


def padding_mask(lengths, n_k):
    """Mask that hides the padding at the end of each sequence of a batch.

    Parameters
    ----------
    lengths : array_like of int of shape (B,)
        Number of real (non-padding) keys of each sequence, ``0 <= lengths[b] <= n_k``.
    n_k : int
        Padded length of the key sequences.

    Returns
    -------
    ndarray of bool of shape (B, 1, n_k)
        ``mask[b, 0, j]`` is True iff ``j < lengths[b]``; the middle axis
        broadcasts over the queries.
    """
    n_k = _check_count(n_k, "n_k")
    lengths = np.asarray(lengths)
    if lengths.ndim != 1:
        raise ValueError(f"lengths must have shape (B,), got shape {lengths.shape}")
    if lengths.size and lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > n_k):
        raise ValueError(f"lengths must lie in [0, n_k={n_k}], got {lengths.tolist()}")
    return (np.arange(n_k)[None, :] < lengths[:, None])[:, None, :]
