"""Fixtures of the reference package's tests: seeds, dtypes, a headless matplotlib."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from ref_oracles import SEEDS  # noqa: E402


@pytest.fixture(params=SEEDS)
def rng(request):
    """A fresh generator per seed."""
    return np.random.default_rng(request.param)


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return np.dtype(request.param)
