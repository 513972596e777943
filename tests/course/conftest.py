"""Parametrise the course tests over the assignments in solutions/, and over both trees."""

from __future__ import annotations

import pytest
from course_runs import ASSIGNMENTS


def pytest_generate_tests(metafunc):
    if "assignment" in metafunc.fixturenames:
        metafunc.parametrize("assignment", ASSIGNMENTS)


@pytest.fixture(params=["solutions", "notebooks"])
def tree(request):
    return request.param
