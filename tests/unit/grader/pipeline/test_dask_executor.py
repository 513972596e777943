"""The Dask executor's pure helpers (the cluster itself is exercised in tests/e2e/test_distributed.py)."""

from __future__ import annotations

import pytest

from grader.errors import AutogradeError
from grader.pipeline import distributed as dist


def test_an_errored_future_is_read_as_its_exception():
    """as_completed(with_results=True, raise_errors=False) delivers (type, exception, traceback)."""
    error = RuntimeError("worker lost")
    assert dist._value("error", (RuntimeError, error, None)) is error
    assert dist._value("finished", ("a", "tuple", "result")) == ("a", "tuple", "result")
    assert dist._value("finished", 42) == 42


def test_a_scheduler_is_an_address_or_an_existing_file(tmp_path):
    assert dist.scheduler_arguments("tcp://10.0.0.1:8786") == {"address": "tcp://10.0.0.1:8786"}
    file = tmp_path / "scheduler.json"
    file.write_text("{}")
    assert dist.scheduler_arguments(str(file)) == {"scheduler_file": str(file.resolve())}
    with pytest.raises(AutogradeError, match="neither a scheduler address"):
        dist.scheduler_arguments(str(tmp_path / "missing.json"))
