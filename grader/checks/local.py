"""Run a check in this process: record the learner's function on the cases and judge it here.

What the tests of the checks are built on (hundreds of buggy and valid implementations judged
in seconds, no kernel), and what ``attention_course.check(..., hidden=True)`` falls back to in
an instructor's environment, so that a notebook graded by stock ``nbgrader autograde`` (its
own executor, no sandbox) still runs its hidden checks. Grading a class never uses this:
there the kernel only records and the verdict is computed outside it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from attention_course import record as _record
from attention_course.probe import run_case
from attention_course.verdict import Verdict

from . import registry
from .judge import judge_cases, judge_record


def record_check(name: str, fn, hidden: bool = False, seed: int | None = None) -> dict:
    """Run ``fn`` on the cases of one check and return the record, as a grading kernel makes it."""
    cases = registry.cases(name, hidden, seed)
    measure = registry.get(name).spec.measure_memory
    if callable(fn):
        outcomes = [run_case(fn, tuple(c.args), dict(c.kwargs), measure) for c in cases]
    else:
        outcomes = [{"error": {"type": "TypeError",
                               "message": f"{name} is not a function but {type(fn).__name__}"}}]
    return {"version": _record.VERSION, "exercise": name, "mode": "hidden" if hidden else "public",
            "cases": len(cases), "outcomes": outcomes, "signals": []}


class LazyOutcomes(Sequence):
    """The outcomes of ``fn`` on ``cases``, each case run when its outcome is first read.

    The judging loop reads them in order and stops at the first failing case, so that a wrong
    function is judged without running the cases after it (a grading kernel runs them all).
    """

    def __init__(self, fn, cases, measure_memory=False):
        self._fn, self._cases, self._measure = fn, cases, measure_memory
        self._done = {}

    def __len__(self):
        return len(self._cases)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = range(len(self))[index]
        if index not in self._done:
            case = self._cases[index]
            self._done[index] = run_case(self._fn, tuple(case.args), dict(case.kwargs), self._measure)
        return self._done[index]


def verdict(name: str, fn, hidden: bool = False, seed: int | None = None) -> Verdict:
    """The :class:`Verdict` of one check of ``fn``, run and judged in this process, case by case."""
    if hidden and seed is None:
        raise ValueError("a hidden check needs a seed")
    if not callable(fn):
        return judge_record(record_check(name, fn, hidden, seed), seed=seed)
    exercise = registry.get(name)
    cases = registry.cases(name, hidden, seed)
    outcomes = LazyOutcomes(fn, cases, exercise.spec.measure_memory)
    return judge_cases(exercise, cases, outcomes, f"hidden, seed {seed}" if hidden else "public")


def check(name: str, fn, hidden: bool = False, seed: int | None = None) -> None:
    """Run one check here; raise AssertionError with the feedback when it fails."""
    if hidden and seed is None:
        seed = secrets.randbelow(2**31)
    result = verdict(name, fn, hidden, seed)
    if not result.passed:
        raise AssertionError(result.message) from None
    print(f"✔ {name}: {'hidden' if hidden else 'public'} check passed"
          + (f" (seed {seed})" if hidden else ""))
