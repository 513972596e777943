"""Are the contracts the notebooks state measured: blockwise attention never builds the n_q × n_k
scores, no function changes its inputs, and the grading kernel records what the judge needs?

Values are not everything an exercise asks for. Notebook 06's point is that blockwise attention
holds one tile of scores at a time: its check measures the peak memory of a call large enough to
tell a tile from the full matrix. Every notebook says that inputs are never modified: every check
compares its inputs before and after each call, arrays and the entries of a params dict alike.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
from checking import SEEDS, verdict
from learners.memory_efficient_attention import blockwise_correct, blockwise_keys_only, blockwise_whole_matrix

import attention_ref as ref
from attention_course import record as _record
from attention_course.checks import public_verdict
from attention_course.probe import run_case
from grader.checks import local, registry
from grader.checks.judge import judge_record
from grader.kernel import recorder

MEASURED = sorted(name for name, exercise in registry.exercises().items() if exercise.peak_memory)


def test_blockwise_attention_is_the_exercise_with_a_memory_contract():
    assert MEASURED == ["blockwise_attention"]


@pytest.mark.parametrize("name", sorted(registry.exercises()))
def test_a_memory_contract_is_measured_by_a_public_and_every_hidden_check(name):
    """Does an exercise with a memory contract measure it in its public cases and in the hidden cases
    of every seed — and does no other exercise mark a case for measuring?"""
    has_contract = registry.get(name).peak_memory is not None
    for hidden, seed in [(False, None)] + [(True, s) for s in SEEDS]:
        measured = [c for c in registry.cases(name, hidden, seed) if c.measure]
        assert bool(measured) == has_contract, (hidden, seed)


def _measured_cases():
    return [(hidden, seed, case) for hidden, seed in [(False, None)] + [(True, s) for s in SEEDS[:2]]
            for case in registry.cases("blockwise_attention", hidden, seed) if case.measure]


def test_the_memory_bound_tells_tiles_from_the_full_matrix_by_a_wide_margin():
    """On every measured case, do square tiles (the reference, a learner's) stay at least 10× under the
    bound, tiles over the keys only (every query at once) 3× under, and the full matrix 2× over?"""
    exercise = registry.get("blockwise_attention")
    for _, _, case in _measured_cases():
        bound = exercise.memory_limit(case).limit
        for tiled, margin in ((ref.blockwise_attention, 10), (blockwise_correct, 10),
                              (blockwise_keys_only, 3)):
            peak = run_case(tiled, case.args, case.kwargs, True)["peak_bytes"]
            assert peak * margin <= bound, (tiled.__name__, peak, bound)
        assert run_case(blockwise_whole_matrix, case.args, case.kwargs, True)["peak_bytes"] >= 2 * bound


def test_the_measured_cases_are_small_enough_for_a_shared_machine():
    """Does the full score matrix of each measured case stay between 1 and 10 MB?"""
    for _, _, case in _measured_cases():
        Q, K = case.args[0], case.args[1]
        size = Q.shape[-2] * K.shape[-2] * np.result_type(Q, K).itemsize
        assert 1e6 <= size <= 1e7, size


def test_building_the_full_score_matrix_is_named_as_the_contract_it_breaks():
    """Does a blockwise_attention with the right numbers from the whole matrix fail the public and
    the hidden check with a message that names the matrix, the sizes, the block size and the point?"""
    for hidden, seed in [(False, None), (True, SEEDS[0])]:
        result = verdict("blockwise_attention", blockwise_whole_matrix, hidden=hidden, seed=seed)
        assert result.misconception == "exceeds_memory"
        message = result.message
        assert message.startswith("blockwise_attention built an array as large as the full n_q × n_k "
                                  "score matrix: its peak memory was ")
        assert "n_q = " in message and "n_k = " in message and "block_size = " in message
        assert "The point of blockwise attention is never to build it" in message
        assert "Likely mistake" not in message


def test_the_public_check_in_the_notebook_measures_memory_as_the_grader_does():
    """Does the public check run from the shipped data give the same verdict on the full matrix?"""
    public, _ = public_verdict("blockwise_attention", blockwise_whole_matrix)
    assert public == verdict("blockwise_attention", blockwise_whole_matrix, hidden=False)


def _changes_its_first_input(fn):
    """``fn``, then the first array among its arguments (or a params dict's entries) changed in place."""
    def answer(*args, **kwargs):
        result = fn(*args, **kwargs)
        for value in args:
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
                value.reshape(-1)[0] += 1
                return result
            if isinstance(value, dict):
                value["b_extra"] = np.zeros(1)
                return result
        for value in args:
            if isinstance(value, np.ndarray) and value.size:
                flat = value.reshape(-1)
                flat[0] = not flat[0] if value.dtype.kind == "b" else flat[0] + 1
                return result
        return result
    return answer


def _takes_arrays(name):
    case = registry.cases(name, False)[0]
    return any(isinstance(a, (np.ndarray, dict)) for a in case.args)


@pytest.mark.parametrize("name", sorted(n for n, e in registry.exercises().items()
                                        if not e.given_cells and _takes_arrays(n)))
def test_an_input_changed_in_place_fails_the_public_and_the_hidden_check(name):
    """Is a right answer that changes one of its inputs (an array, or a params dict's entries) reported
    as changing its input, naming the argument, on the public and the hidden check?"""
    answer = _changes_its_first_input(registry.get(name).reference)
    parameters = list(inspect.signature(registry.get(name).reference).parameters)
    for hidden, seed in [(False, None), (True, SEEDS[0])]:
        result = verdict(name, answer, hidden=hidden, seed=seed)
        assert result.misconception == "mutated_input", result.message
        assert any(f"changed its input {p}" in result.message for p in parameters), result.message


# ---- the kernel side records what the judge needs --------------------------------------------

@pytest.fixture
def cases_file(tmp_path, monkeypatch):
    """A cases file for the public check of blockwise_attention, as the grader writes it."""
    path = tmp_path / "cases.json"
    cases = registry.cases("blockwise_attention", False)
    path.write_text(json.dumps({"blockwise_attention/public": [
        {"args": _record.encode(tuple(c.args)), "kwargs": _record.encode(dict(c.kwargs))} for c in cases]}))
    monkeypatch.setenv(recorder.CASES_ENV, str(path))
    recorder._cases_file.cache_clear()
    yield path
    recorder._cases_file.cache_clear()


def _recorded(monkeypatch, fn):
    shown = []
    monkeypatch.setattr(recorder, "display", lambda data, raw: shown.append(data[_record.MIME]))
    recorder.record("blockwise_attention", lambda: fn)
    (rec,) = shown
    return json.loads(json.dumps(rec))  # as it travels in the notebook


def test_the_grading_kernel_measures_the_peak_memory_the_judge_bounds(cases_file, monkeypatch):
    """Does the recorder of a grading kernel measure memory for blockwise_attention, so that the trusted
    judge passes a tiled answer and fails the full matrix on the record alone?"""
    tiled = _recorded(monkeypatch, ref.blockwise_attention)
    assert all(isinstance(o.get("peak_bytes"), int) for o in tiled["outcomes"])
    assert judge_record(tiled).passed
    assert judge_record(_recorded(monkeypatch, blockwise_whole_matrix)).misconception == "exceeds_memory"


def test_a_record_without_the_measured_peak_is_refused(cases_file, monkeypatch):
    """Is a record whose measured case lost its peak memory (edited by learner code) refused?"""
    rec = _recorded(monkeypatch, ref.blockwise_attention)
    for outcome in rec["outcomes"]:
        outcome.pop("peak_bytes")
    assert judge_record(rec).misconception == "tampered"


@pytest.mark.parametrize("fn", [blockwise_correct, blockwise_whole_matrix], ids=lambda f: f.__name__)
def test_judging_case_by_case_gives_the_verdict_of_a_full_record(fn):
    """Does the in-process verdict (cases run until the first failure) equal the verdict on a record of
    every case, as a grading kernel makes it?"""
    record = local.record_check("blockwise_attention", fn, hidden=True, seed=SEEDS[0])
    assert judge_record(record, seed=SEEDS[0]) == local.verdict("blockwise_attention", fn, True, SEEDS[0])
