"""The trusted verdict on one recorded check: regenerate its cases, compute what they should give.

A record holds only what the learner's function returned on each case. Here the cases are
regenerated from the trusted seed, the expected values come from the reference and the
known mistakes from their variants, and :func:`attention_course.verdict.judge_outcomes` —
the same loop the public check runs in a learner's notebook — turns them into a verdict.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from attention_course.given import run_given
from attention_course.verdict import Verdict, judge_outcomes

from . import registry
from .cases import Case
from .exercise import Exercise


def describe(reference, case):
    """Describe a case's inputs by the reference's parameter names: ``Q (2, 5, 4) float32, …``."""
    try:
        names = list(inspect.signature(reference).parameters)
    except (TypeError, ValueError):
        names = []
    parts = []
    values = list(zip(names, case.args, strict=False)) + list(case.kwargs.items())
    for name, value in values:
        if isinstance(value, np.ndarray):
            parts.append(f"{name} {value.shape} {value.dtype}")
        elif callable(value):
            parts.append(f"{name}: a function")
        elif isinstance(value, dict):
            parts.append(f"{name}: dict of {', '.join(value)}")
        else:
            parts.append(f"{name}={value!r}")
    text = ", ".join(parts)
    return f"{text} — {case.note}" if case.note else text


def _fresh(case: Case):
    """The case's arguments with every array copied, so a call cannot change the case."""
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in case.args], {
        k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}


def call_quietly(fn, case: Case):
    """``fn`` on fresh copies of the case's arguments, with NumPy's warnings silenced."""
    args, kwargs = _fresh(case)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def wrong_outputs(exercise: Exercise, case: Case):
    """(Mistake, output) of each variant on ``case``, lazily; a variant that raises is skipped.

    None on a case that measures memory: it is there for the contract, and mistakes are named on
    the small cases before it.
    """
    if case.measure:
        return
    for variant in exercise.variants:
        try:
            yield variant.mistake, call_quietly(variant.fn, case)
        except Exception:  # a variant that cannot run on this case does not match it
            continue


def given_namespace(exercise: Exercise, given: Mapping[str, str]) -> dict:
    """The namespace of the given cells ``exercise`` grades, run from their (source) text."""
    missing = [g for g in exercise.given_cells if g not in given]
    if missing:
        raise ValueError(f"{exercise.name}: the given cells {missing} are not in the notebook")
    return run_given([given[g] for g in exercise.given_cells])


def _well_formed(rec) -> bool:
    return (isinstance(rec, dict) and isinstance(rec.get("exercise"), str)
            and rec.get("mode") in ("public", "hidden") and isinstance(rec.get("outcomes"), list))


def judge_record(rec: Mapping, seed: int | None = None, given: Mapping[str, str] | None = None) -> Verdict:
    """Judge one recorded check.

    Parameters
    ----------
    rec : mapping
        A record left by :func:`grader.kernel.recorder.record` (or built in-process by
        :func:`grader.checks.local.record_check`): ``exercise``, ``mode``, ``outcomes``.
    seed : int, optional
        The trusted seed of the hidden cases; required for a hidden record.
    given : mapping of str to str, optional
        Source of the locked cells of given code by grade id, for exercises that grade given
        code (default: the exercise's source notebook).

    Returns
    -------
    Verdict
        A malformed record is a failed verdict with the reason, never an exception.
    """
    if not _well_formed(rec):
        return Verdict(False, "The check's record is malformed; it was not produced by the grader.",
                       "tampered")
    try:
        exercise = registry.get(rec["exercise"])
    except ValueError as error:
        return Verdict(False, f"The record names no exercise of the course ({error}).", "tampered")
    hidden = rec["mode"] == "hidden"
    if hidden and seed is None:
        raise ValueError("judging a hidden check needs the trusted seed")
    cases = registry.cases(exercise.name, hidden, seed)
    return judge_cases(exercise, cases, rec["outcomes"], f"hidden, seed {seed}" if hidden else "public",
                       given)


def judge_cases(exercise: Exercise, cases: Sequence[Case], outcomes: Sequence, mode: str,
                given: Mapping[str, str] | None = None) -> Verdict:
    """Judge the outcomes of ``exercise``'s function on ``cases``, the first failing case deciding.

    Parameters
    ----------
    exercise : Exercise
    cases : sequence of Case
        The check's cases, regenerated on the trusted side.
    outcomes : sequence of dict
        One per case, as :func:`attention_course.probe.run_case` returns them; read in order and
        only up to the first failing case.
    mode : str
        ``"public"`` or ``"hidden, seed 12"``.
    given : mapping of str to str, optional
        As for :func:`judge_record`.
    """
    comparison = None
    if exercise.compare is not None:
        namespace = given_namespace(exercise, given if given is not None
                                    else registry.given_sources(exercise.notebook))
        comparison = lambda i, got: exercise.compare(namespace, cases[i].args, cases[i].kwargs, got)  # noqa: E731
    return judge_outcomes(
        exercise.spec, [describe(exercise.reference, c) for c in cases], outcomes, mode,
        expected=lambda i: call_quietly(exercise.reference, cases[i]),
        wrong_outputs=lambda i: wrong_outputs(exercise, cases[i]),
        comparison=comparison, memory=lambda i: exercise.memory_limit(cases[i]))
