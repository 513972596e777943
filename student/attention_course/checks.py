"""The public check a learner runs in a notebook: ``check("softmax", softmax)``.

The public cases, their expected values and the outputs of the known mistakes on them were
computed from the course's reference when the course was released and ship with this package
as data (``data/public_checks.json``); no reference code is needed to judge them. The hidden
checks run only when a notebook is graded (``python -m grader check`` or the instructor's
autograder), outside the learner's kernel.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from . import record as _record
from .given import COMPARISONS, run_given
from .probe import run_case
from .verdict import CheckSpec, MemoryLimit, Mistake, Verdict, judge_outcomes

#: The public-check data inside this package.
DATA = "data/public_checks.json"


@functools.cache
def _data() -> dict:
    return json.loads(resources.files(__package__).joinpath(DATA).read_text(encoding="utf-8"))


def exercises() -> list[str]:
    """Names of the exercises that have a public check."""
    return sorted(_data()["exercises"])


def _entry(name):
    table = _data()["exercises"]
    if name not in table:
        raise ValueError(f"no check is called {name!r}; known checks: {', '.join(sorted(table))}")
    return table[name]


def spec_of(entry: dict) -> CheckSpec:
    """The :class:`CheckSpec` stored in a data entry."""
    spec = entry["spec"]
    return CheckSpec(spec["name"], tuple(spec["parameters"]),
                     tuple(spec["returns"]) if spec["returns"] is not None else None,
                     tuple(Mistake(**m) for m in spec["mistakes"]), spec["tolerance"], spec["hints"],
                     bool(spec.get("measure_memory", False)))


def measures_memory(name: str) -> bool:
    """Does the check of exercise ``name`` bound the peak memory of some of its cases?

    The grader's recorder asks, to measure the calls of such a check in a grading kernel.
    """
    table = _data()["exercises"]
    return name in table and spec_of(table[name]).measure_memory


def _memory_limit(case: dict) -> MemoryLimit | None:
    bound = case.get("peak_limit")
    return MemoryLimit(int(bound["limit"]), str(bound["message"])) if bound else None


def public_verdict(name: str, fn) -> tuple[Verdict, int]:
    """Run the public check of exercise ``name`` on ``fn`` and judge it.

    Returns
    -------
    verdict : Verdict
    cases : int
        The number of public cases.
    """
    entry = _entry(name)
    spec = spec_of(entry)
    cases = entry["cases"]
    if not callable(fn):
        outcomes = [{"error": {"type": "TypeError",
                               "message": f"{name} is not a function but {type(fn).__name__}"}}]
    else:
        outcomes = [run_case(fn, _record.decode(c["args"], as_input=True),
                             _record.decode(c["kwargs"], as_input=True), spec.measure_memory)
                    for c in cases]
    comparison = None
    if entry.get("comparison"):
        given = run_given(entry["given"])
        compare = COMPARISONS[entry["comparison"]]

        def comparison(i, got):
            case = cases[i]
            return compare(given, _record.decode(case["args"], as_input=True),
                           _record.decode(case["kwargs"], as_input=True), got)

    verdict = judge_outcomes(
        spec, [c["description"] for c in cases], outcomes, "public",
        expected=lambda i: _record.decode(cases[i]["expected"]),
        wrong_outputs=lambda i: ((m, _record.decode(cases[i]["wrong"][m.key]))
                                 for m in spec.mistakes if m.key in cases[i]["wrong"]),
        comparison=comparison, memory=lambda i: _memory_limit(cases[i]))
    return verdict, len(cases)


def check(name: str, fn, hidden: bool = False) -> None:
    """Run the public check of one exercise on the learner's function.

    Parameters
    ----------
    name : str
        The exercise, i.e. the function's fixed name (``"softmax"``).
    fn : callable
        The learner's function, passed explicitly.
    hidden : bool, default False
        The hidden checks run when the notebook is graded, outside the learner's kernel. Only
        where the instructor's package is installed (stock ``nbgrader autograde`` of a
        source notebook) does ``hidden=True`` run them here.

    Raises
    ------
    AssertionError
        When a case fails; the message names the case, what differs and the likely mistake.
    ValueError
        For an unknown exercise, or ``hidden=True`` without the instructor's package.
    """
    if hidden:
        try:
            from grader.checks.local import check as run_here  # the instructor's package, when present
        except ImportError:
            raise ValueError("the hidden checks run when your notebook is graded, not in the notebook: "
                             "run `python -m grader check NOTEBOOK` (self-paced) or hand it in") from None
        return run_here(name, fn, hidden=True)
    verdict, count = public_verdict(name, fn)
    if not verdict.passed:
        raise AssertionError(verdict.message) from None
    print(f"✔ {name}: public check, {count} cases passed")
