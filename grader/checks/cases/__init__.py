"""Inputs of every check, generated from a seed on the trusted side.

Each notebook has a module of generators ``make(rng, hidden) -> list[Case]``, one per
exercise (an :class:`~grader.checks.exercise.Exercise` names its generator). The same
(exercise, hidden, seed) always gives the same cases: the grader writes them into the
grading kernel as data and later regenerates them to judge what the kernel recorded. Public
cases are also shipped, with their expected values, inside the student package.
Generators may use the reference (e.g. to make softmax outputs as inputs of its backward).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

#: Seed of the public (visible) cases: fixed, so the public check is the same for everyone.
PUBLIC_SEED = 20260101


@dataclass(frozen=True)
class Case:
    """One call of the learner's function.

    Attributes
    ----------
    args : tuple
        Positional arguments (arrays are fresh for every generation).
    kwargs : dict
        Keyword arguments.
    note : str
        What this case is about, shown to the learner when it fails
        (e.g. ``"logits of magnitude 1e4"``).
    measure : bool
        The case bounds the peak memory of the call (the exercise's ``peak_memory`` says how);
        it is there for that contract, so no known mistake is named on it.
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)
    note: str = ""
    measure: bool = False


def generate(name, make, hidden, seed):
    """The cases of one check.

    Parameters
    ----------
    name : str
        Exercise (function) name, e.g. ``"softmax"``; mixed into the seed so that two
        exercises graded with one seed get unrelated inputs.
    make : callable
        The exercise's generator ``make(rng, hidden) -> list[Case]``.
    hidden : bool
        Public (a few fixed cases) or hidden (randomised, with edge cases).
    seed : int
        Seed of the hidden cases; ignored for public ones.

    Returns
    -------
    list of Case
    """
    seed = int(seed) if hidden else PUBLIC_SEED
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return make(rng, hidden)


# ---- helpers shared by the generators ---------------------------------------------------------

DTYPES = (np.float32, np.float64)


def batch_shape(rng, max_dims=2, max_size=3):
    """A random batch shape of 0 … max_dims dimensions."""
    return tuple(int(s) for s in rng.integers(1, max_size + 1, size=rng.integers(0, max_dims + 1)))


def normal(rng, shape, dtype=np.float64, scale=1.0):
    """Standard normal values of a given shape and dtype."""
    return (rng.standard_normal(shape) * scale).astype(dtype)


def random_mask(rng, shape, p=0.7, full_rows=()):
    """A random boolean mask (True = may attend) with every row keeping at least one key.

    Rows listed in ``full_rows`` (indices along the query axis) are fully masked.
    """
    mask = rng.random(shape) < p
    keep = rng.integers(0, shape[-1], size=shape[:-1])
    np.put_along_axis(mask, keep[..., None], True, axis=-1)
    for row in full_rows:
        mask[..., row, :] = False
    return mask
