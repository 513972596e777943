"""Smooth scalar test functions that checks pass to ``numerical_gradient``, described by data.

A check's inputs travel as data (public cases inside this package, hidden cases in a file the
grader writes), so a function argument is sent as its *kind* and parameter arrays and rebuilt
here. None of these is an exercise of the course: they are test functions with known
structure and non-zero higher derivatives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


def _cubic(params, x):
    """Σ a·x³ + Σ b·tanh(c·x) + ½ vec(x)ᵀ M vec(x): ``a, b, c`` of x's shape, ``M`` (x.size, x.size)."""
    flat = x.reshape(-1)
    return (np.sum(params["a"] * x**3) + np.sum(params["b"] * np.tanh(params["c"] * x))
            + 0.5 * (flat @ params["M"] @ flat))


def _tanh_mixing(params, Q):
    """Σ G ⊙ (tanh(Q Kᵀ/√d) V) for Q (..., n_q, d), K (..., n_k, d), V (..., n_k, d_v), G (..., n_q, d_v)."""
    K, V, G = params["K"], params["V"], params["G"]
    mixed = np.tanh(Q @ K.swapaxes(-2, -1) / np.sqrt(Q.shape[-1])) @ V  # (..., n_q, d_v)
    return np.sum(G * mixed)


#: The kinds of function a case may pass, by name.
KINDS = {"cubic": _cubic, "tanh_mixing": _tanh_mixing}


@dataclass(frozen=True)
class ScalarFunction:
    """A smooth function ``f(x) -> float`` given by its kind and parameter arrays.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`: ``"cubic"`` or ``"tanh_mixing"``.
    params : dict of str to ndarray
        The arrays the formula of that kind uses (see its docstring).

    Notes
    -----
    Calling it never modifies ``x``; the result is a Python float computed in float64.
    """

    kind: str
    params: Mapping = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown function kind {self.kind!r}; known: {', '.join(sorted(KINDS))}")

    def __call__(self, x):
        return float(KINDS[self.kind](self.params, np.asarray(x, dtype=np.float64)))

    def __repr__(self):
        return f"<{self.kind} test function>"
