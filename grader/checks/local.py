"""Run a check in this process: record the learner's function on the cases and judge it here.

What the tests of the checks are built on (hundreds of buggy and valid implementations judged
in seconds, no kernel), and what ``attention_course.check(..., hidden=True)`` falls back to in
an instructor's environment, so that a notebook graded by stock ``nbgrader autograde`` (its
own executor, no sandbox) still runs its hidden checks. Grading a class never uses this:
there the kernel only records and the verdict is computed outside it.
"""

from __future__ import annotations

import secrets

from attention_course import record as _record
from attention_course.probe import run_case
from attention_course.verdict import Verdict

from . import registry
from .judge import judge_record


def record_check(name: str, fn, hidden: bool = False, seed: int | None = None) -> dict:
    """Run ``fn`` on the cases of one check and return the record, as a grading kernel makes it."""
    cases = registry.cases(name, hidden, seed)
    if callable(fn):
        outcomes = [run_case(fn, tuple(c.args), dict(c.kwargs)) for c in cases]
    else:
        outcomes = [{"error": {"type": "TypeError",
                               "message": f"{name} is not a function but {type(fn).__name__}"}}]
    return {"version": _record.VERSION, "exercise": name, "mode": "hidden" if hidden else "public",
            "cases": len(cases), "outcomes": outcomes, "signals": []}


def verdict(name: str, fn, hidden: bool = False, seed: int | None = None) -> Verdict:
    """The :class:`Verdict` of one check of ``fn``, recorded and judged in this process."""
    if hidden and seed is None:
        raise ValueError("a hidden check needs a seed")
    return judge_record(record_check(name, fn, hidden, seed), seed=seed)


def check(name: str, fn, hidden: bool = False, seed: int | None = None) -> None:
    """Run one check here; raise AssertionError with the feedback when it fails."""
    if hidden and seed is None:
        seed = secrets.randbelow(2**31)
    result = verdict(name, fn, hidden, seed)
    if not result.passed:
        raise AssertionError(result.message) from None
    print(f"✔ {name}: {'hidden' if hidden else 'public'} check passed"
          + (f" (seed {seed})" if hidden else ""))
