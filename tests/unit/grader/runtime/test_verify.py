"""Is a malformed or forged check record that exercise's zero with the reason, never a crash?"""

from __future__ import annotations

import nbformat
import pytest

from attention_course import record as _record
from grader.runtime.verify import PlannedCheck, judge_cell, neutral_source, planned_checks

CHECKS = [PlannedCheck("softmax", "softmax", False)]


def _test_cell(*records, error=None):
    cell = nbformat.v4.new_code_cell('check("softmax", softmax)')
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "test_softmax",
                                 "points": 2}
    cell.outputs = [nbformat.v4.new_output("display_data", data={_record.MIME: r}) for r in records]
    if error:
        cell.outputs.append(nbformat.v4.new_output("error", ename="NameError", evalue=error, traceback=[]))
    return cell


@pytest.mark.parametrize("record", [
    "not a dict",
    {"exercise": "softmax", "mode": "public", "outcomes": "not a list"},
    {"exercise": "softmax", "mode": "public", "outcomes": [{"value": {"t": "ndarray", "npy": "!!"}}] * 3},
    {"exercise": "softmax", "mode": "public", "outcomes": [1, 2, 3]},
    {"exercise": "softmax", "mode": "public", "outcomes": [], "signals": 5},
    {"exercise": "softmax", "mode": "public", "outcomes": [], "signals": [{"not": "a string"}]},
])
def test_a_malformed_record_is_a_zero_with_the_reason(record):
    result = judge_cell(_test_cell(record), CHECKS, seed=1)
    assert result.points == 0 and not result.passed and result.feedback
    assert result.misconception in ("tampered", "raised")


def test_a_second_record_is_ignored_and_reported():
    """Does a forged extra record (shown by the learner's function during the check) cost the points?"""
    good = {"exercise": "softmax", "mode": "public", "outcomes": []}
    result = judge_cell(_test_cell(good, good), CHECKS, seed=1)
    assert not result.passed and any("unexpected check record" in s for s in result.signals)


def test_the_checks_of_a_test_cell_come_from_its_source_and_run_as_a_neutral_cell():
    """Are only literal check calls planned, and does the kernel get a cell without the source's text?"""
    source = ('check("softmax", softmax)\n### BEGIN HIDDEN TESTS\ncheck("softmax", softmax, hidden=True)\n'
              "assert secret_value == 42\n### END HIDDEN TESTS")
    checks = planned_checks(source)
    assert checks == [PlannedCheck("softmax", "softmax", False), PlannedCheck("softmax", "softmax", True)]
    neutral = neutral_source(checks)
    assert "secret_value" not in neutral and "HIDDEN" not in neutral and "check(" not in neutral
    assert neutral.count("__grader_record(") == 2
