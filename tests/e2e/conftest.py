"""Fixtures shared by the end-to-end tests: the course's two wheels, built once per session."""

from __future__ import annotations

import pytest
from wheels import Wheels, build_wheels


@pytest.fixture(scope="session")
def wheels(tmp_path_factory) -> Wheels:
    """The student wheel and the instructor's wheel, built from copies of this tree's sources."""
    return build_wheels(tmp_path_factory.mktemp("wheels"))
