"""Notebook 07's training check beyond naming mistakes: its case against the notebook's own model,
outcomes other than a named mistake, and the targets the notebook states.

Most tests here judge parameters directly with the trusted comparison, without training; the few that
train stop at the first step (a stub, an error) or run the public check once.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from checking import verdict
from learners.induction_heads import adam_forgets_the_update, given_cells, mha_backward_einsum, training_with

from attention_course import given as given_module
from attention_course.checks import _entry
from grader.checks import registry
from grader.checks.judge import given_namespace
from grader.sources import read_source

NAME = "induction_training"


@pytest.fixture(scope="module")
def namespace():
    exercise = registry.get(NAME)
    return given_namespace(exercise, registry.given_sources(exercise.notebook))


def _leaves(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def test_the_case_holds_parameters_shaped_as_the_notebooks_init_model_makes_them(namespace):
    """Does the grader's initial model have exactly the names, shapes and dtypes of the notebook's?"""
    (case,) = registry.cases(NAME, True, 3)
    params, seed = case.args
    notebook = namespace["init_model"](np.random.default_rng(0))
    assert {n: (a.shape, a.dtype) for n, a in _leaves(params)} == {
        n: (a.shape, a.dtype) for n, a in _leaves(notebook)}
    assert isinstance(seed, int)


def test_the_public_check_carries_the_notebooks_given_cells_verbatim():
    """Does the student package's public training check run the notebook's own given cells (the model
    exists once)?"""
    assert _entry(NAME)["given"] == given_cells()
    assert _entry(NAME)["comparison"] == "induction_outcome"


def test_untrained_parameters_are_named_as_unchanged(namespace):
    """Are the initial parameters handed back unchanged classified as such, with the measured scores
    and the targets in the message?"""
    (case,) = registry.cases(NAME, True, 0)
    found = given_module.induction_outcome(namespace, case.args, case.kwargs, case.args[0])
    assert isinstance(found, tuple) and found[0] == "parameters_unchanged"
    assert "target ≥ 0.6" in found[1] and "target ≤ 0.7" in found[1] and "section 5" in found[1]


def test_parameters_of_the_wrong_shape_or_not_a_dict_are_refused_by_name(namespace):
    """Is a return value that is not the model's parameters failed with a message naming what is wrong?"""
    (case,) = registry.cases(NAME, True, 0)
    params = case.args[0]
    broken = {**params, "layer2": {**params["layer2"], "W_v": params["layer2"]["W_v"][:3]}}
    found = given_module.induction_outcome(namespace, case.args, case.kwargs, broken)
    assert isinstance(found, str) and "'layer2.W_v'" in found and "(32, 32)" in found
    assert "as a dict" in given_module.induction_outcome(namespace, case.args, case.kwargs, [1, 2])
    nan = {**params, "W_U": np.full_like(params["W_U"], np.nan)}
    assert "NaN" in given_module.induction_outcome(namespace, case.args, case.kwargs, nan)


def test_stubs_make_the_training_check_say_what_to_implement_first():
    """With a training piece still a stub, does the check say so, naming the functions to write?"""
    def stub(*args, **kwargs):
        raise NotImplementedError()

    result = verdict(NAME, training_with(adam_update=stub), hidden=False)
    assert result.misconception == "not_implemented"
    assert "adam_update" in result.message and "multi_head_attention_backward" in result.message


def test_an_error_in_a_learners_function_is_pointed_at_not_the_given_loop():
    """Does an error raised inside the learner's backward pass fail the check with the error and the hint
    that the given training code is not the cause?"""
    def broken(dout, X_q, X_kv, params, num_heads, mask=None):
        grads = mha_backward_einsum(dout, X_q, X_kv, params, num_heads, mask)
        return {**grads, "X_kv": grads["X_kv"][..., :-1]}  # a shape the residual cannot add

    result = verdict(NAME, training_with(multi_head_attention_backward=broken), hidden=False)
    assert not result.passed and result.misconception == "raised"
    assert registry.get(NAME).hints["error_hint"] in result.message


def test_frozen_parameters_fail_the_public_check_as_unchanged():
    """Does the public check in the notebook (judged with the shipped data) name an Adam step that
    returns the old parameter, as the trusted side does?"""
    from attention_course.checks import public_verdict

    public = public_verdict(NAME, training_with(adam_update=adam_forgets_the_update))[0]
    assert not public.passed and public.misconception == "parameters_unchanged"


def test_the_notebook_states_the_targets_the_grader_applies():
    """Do the notebook's words (the graded check's table) give the thresholds the grader uses?"""
    text = "\n".join(cell.source for cell in read_source(registry.get(NAME).notebook).cells
                     if cell.cell_type == "markdown")
    assert f"| ≥ {given_module.INDUCTION_TARGET} |" in text
    assert f"| ≤ {given_module.REPEATED_LOSS_TARGET} nats |" in text
    assert re.search(rf"≤ log 32 \+ {given_module.FIRST_HALF_MARGIN} ≈ 3\.97", text)
    assert abs(np.log(32) + given_module.FIRST_HALF_MARGIN - 3.97) < 0.005
