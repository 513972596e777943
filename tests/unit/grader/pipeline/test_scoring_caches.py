"""nbgrader_bridge.scoring_caches: the same validation verdicts and gradebook, less repeated work."""

from __future__ import annotations

import jsonschema
import nbgrader.api as nbgrader_api
import nbgrader.nbgraderformat.common as metadata_format
import pytest
from nbformat.v4 import new_code_cell
from nbgrader.api import Gradebook
from nbgrader.nbgraderformat import MetadataValidator

from grader.pipeline.nbgrader_bridge import scoring_caches


def _cell(**nbgrader):
    cell = new_code_cell("x = 1")
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                                 "grade_id": "test_x", "points": 2, **nbgrader}
    return cell


BROKEN = [
    {"points": "two"},           # wrong type
    {"grade_id": 7},             # wrong type
    {"task": "yes"},             # wrong type of an optional key
]


def _verdict(cell):
    try:
        MetadataValidator().validate_cell(cell)
    except jsonschema.ValidationError as error:
        return error.message, list(error.absolute_path)
    return None


@pytest.mark.parametrize("broken", [{}, *BROKEN], ids=["valid", *(next(iter(b)) for b in BROKEN)])
def test_metadata_verdicts_are_jsonschemas_own(broken):
    plain = _verdict(_cell(**broken))
    with scoring_caches():
        cached = [_verdict(_cell(**broken)) for _ in range(3)]  # a cached validator, used again
    assert cached == [plain] * 3
    assert (plain is None) == (not broken)


def test_gradebooks_share_one_engine_inside_and_everything_is_put_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    originals = nbgrader_api.create_engine, metadata_format.jsonschema
    with scoring_caches():
        with Gradebook(url, course_id="course") as first:
            first.add_assignment("a1")
            engine = first.engine
        with Gradebook(url, course_id="course") as second:
            assert second.engine is engine  # compiled statements are kept between gradebooks
            assert [a.name for a in second.assignments] == ["a1"]  # a closed gradebook's writes are there
        with Gradebook(f"sqlite:///{tmp_path / 'other.db'}", course_id="course") as other:
            assert other.engine is not engine
    assert (nbgrader_api.create_engine, metadata_format.jsonschema) == originals
    with Gradebook(url, course_id="course") as outside:
        assert outside.engine is not engine
        assert [a.name for a in outside.assignments] == ["a1"]


def test_an_error_inside_still_puts_everything_back():
    originals = nbgrader_api.create_engine, metadata_format.jsonschema
    with pytest.raises(RuntimeError, match="boom"):
        with scoring_caches():
            raise RuntimeError("boom")
    assert (nbgrader_api.create_engine, metadata_format.jsonschema) == originals
