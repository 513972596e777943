"""Turn the outcomes of a check into a verdict and the message a learner reads.

One judging loop for both sides of the trust boundary: the public check in a learner's
notebook feeds it expected values shipped as data, the trusted grader feeds it values it
computes from the reference. Either way the learner reads the same words: which case failed,
at which stage (type, shape, dtype, values), and the known mistake whose output matches theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from . import record as _record
from .compare import compare


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check.

    Attributes
    ----------
    passed : bool
    message : str
        Empty when passed; otherwise what failed, where, and the likely mistake.
    misconception : str or None
        Key of the named mistake (a :class:`Mistake` key, or one of ``not_implemented``,
        ``raised``, ``returned_none``, ``mutated_input``, ``exceeds_memory``, ``used_reference``,
        ``tampered``, ``wrong_<stage>``).
    case : int or None
        Index of the first failing case.
    """

    passed: bool
    message: str = ""
    misconception: str | None = None
    case: int | None = None


@dataclass(frozen=True)
class Mistake:
    """A known mistake as the learner reads it: ``Likely mistake: <label>. Hint: <hint>``."""

    key: str
    label: str
    hint: str


@dataclass(frozen=True)
class MemoryLimit:
    """A bound on the peak memory of one case's call, and what exceeding it means.

    Attributes
    ----------
    limit : int
        Bytes the call may allocate at its peak (the inputs, allocated before, do not count).
    message : str
        What exceeding it means, in the learner's words; ``{peak}`` stands for the measured peak.
    """

    limit: int
    message: str


@dataclass(frozen=True)
class CheckSpec:
    """What the messages of one exercise's check need to know about the exercise.

    Attributes
    ----------
    name : str
        The exercise's fixed function name.
    parameters : tuple of str
        The function's parameter names, in order (to name an input changed in place).
    returns : tuple of str, optional
        Names of the items of a returned tuple (``("output", "weights")``).
    mistakes : tuple of Mistake
        The known mistakes, in the order they are tried.
    tolerance : float
        Multiplies the per-dtype tolerances of :mod:`attention_course.compare`.
    hints : mapping of str to str
        ``mutation_hint``; for a check of given code, ``not_implemented`` (replaces the stub
        message) and ``error_hint`` (added to an error's message).
    measure_memory : bool
        Some cases bound the peak memory of the call (see :class:`MemoryLimit`): the probe
        measures it.
    """

    name: str
    parameters: tuple = ()
    returns: tuple | None = None
    mistakes: tuple = ()
    tolerance: float = 1.0
    hints: Mapping = field(default_factory=dict)
    measure_memory: bool = False


#: Words in an error message that show a learner reaching for the reference or the trusted grader.
REFERENCE_WORDS = ("attention_ref", "grader.", "not available while grading")

#: A custom comparison: ``(case index, value) -> None | message | (mistake key, message)``.
Comparison = Callable[[int, object], object]

#: What each error type usually means for a novice, added to the message of a call that raised it.
ERROR_HINTS = {
    "NameError": "a name used in the function is not defined where it runs: check its spelling "
                 "(Python is case-sensitive: np.exp, not np.Exp) and that the cell defining it (or "
                 "importing it) has been run.",
    "UnboundLocalError": "a variable is read before it is given a value on this path through the "
                         "function (an assignment inside an if or a loop that did not run?).",
}


def _location(error: Mapping) -> str:
    """``"line 3 of softmax: `e = np_exp(x)`"`` from a recorded error's ``where``, or empty."""
    where = error.get("where")
    if not isinstance(where, Mapping):
        return ""
    code = str(where.get("code", ""))[:200]
    text = f"line {str(where.get('line'))[:10]} of {str(where.get('function'))[:100]}"
    return f"{text}: `{code}`" if code else text


def error_verdict(spec: CheckSpec, error: Mapping, where: str) -> Verdict:
    """The verdict on a case whose call raised ``error`` (``{"type", "message"}``)."""
    name = spec.name
    kind, message = str(error.get("type", "Exception")), str(error.get("message", ""))
    if kind == "NotImplementedError":
        if "not_implemented" in spec.hints:
            return Verdict(False, spec.hints["not_implemented"], "not_implemented")
        where_raised = error.get("where") if isinstance(error.get("where"), Mapping) else {}
        raised_in, depth = where_raised.get("function"), where_raised.get("depth")
        if (isinstance(raised_in, str) and raised_in.isidentifier() and len(raised_in) <= 100
                and isinstance(depth, int) and depth > 1):
            return Verdict(False, f"{name} calls {raised_in}, which is not implemented yet: implement "
                                  f"{raised_in} first (its stub still raises NotImplementedError), then run "
                                  "this check again.", "not_implemented")
        return Verdict(False, f"{name} is not implemented yet: replace `raise NotImplementedError` "
                              "with your code.", "not_implemented")
    if any(word in message for word in REFERENCE_WORDS) and kind in (
            "ImportError", "ModuleNotFoundError", "AttributeError", "PermissionError",
            "FileNotFoundError", "OSError", "NameError"):
        return Verdict(False, f"{name} tried to use the course's reference solution or the grader's "
                              f"internals ({kind}: {message}). Write your own implementation; "
                              "this attempt is reported to your instructor.", "used_reference")
    if kind == "NameError" and message == f"name '{name}' is not defined":
        return Verdict(False, f"{name} is not defined, so the check could not call it: run the cell that "
                              f"defines {name} (and fix the error it shows, if any) before this check.",
                       "raised")
    if kind == "SystemExit":
        text = f"{name} called sys.exit() {where}; a function should return its result instead."
    elif kind == "MemoryError":
        text = f"{name} ran out of memory {where}: it allocates far more than the inputs need."
    else:
        text = f"{name} raised {kind}: {message}\n{where}".rstrip()
        location = _location(error)
        if location:
            text += f"\nRaised at {location}"
    if "error_hint" in spec.hints:
        text += f"\nHint: {spec.hints['error_hint']}"
    elif kind in ERROR_HINTS:
        text += f"\nHint: {ERROR_HINTS[kind]}"
    return Verdict(False, text, "raised")


def argument_name(spec: CheckSpec, label: str) -> str:
    """``"argument 2['W_q']"`` in the words of the signature: ``"params['W_q']"``."""
    if label.startswith("argument "):
        number, _, rest = label[len("argument "):].partition("[")
        try:
            return spec.parameters[int(number) - 1] + (f"[{rest}" if rest else "")
        except (ValueError, IndexError):
            return label
    return label


def _named(spec, message, mistake):
    return f"{message}\nLikely mistake: {mistake.label}.\nHint: {mistake.hint}"


def explains(expected, wrong, got, tolerance: float = 1.0) -> bool:
    """Does a known mistake's output ``wrong`` explain the learner's ``got`` exactly?

    Only when it is what the learner returned — type, shape, dtype and values — and differs from
    ``expected``: a mistake that makes no difference on this case explains nothing, and one whose
    output matches only once the learner's dtype is corrected explains only part of the failure.
    """
    return compare(expected, wrong, tolerance) is not None and compare(wrong, got, tolerance) is None


def value_verdict(spec: CheckSpec, got, where: str, expected, wrong_outputs: Iterable) -> Verdict | None:
    """None when ``got`` matches ``expected``; else the verdict, naming a mistake only if it explains it.

    Parameters
    ----------
    spec : CheckSpec
    got : object
        The decoded learner value.
    where : str
        ``"on case 2 of 5 (public): Q (3, 4) float64, …"``.
    expected : object
        The expected value of this case.
    wrong_outputs : iterable of tuple of (Mistake, object)
        Each known mistake's output on this case, consumed only on a mismatch and only until
        one explains ``got`` (see :func:`explains`); none is named otherwise.
    """
    found = compare(expected, got, spec.tolerance, names=spec.returns)
    if found is None:
        return None
    stage, detail = found
    if got is None:
        return Verdict(False, f"{spec.name} returned None {where}\n{detail}.\nHint: end the function "
                              "with `return <the result>`; a result that is only computed, printed or "
                              "assigned to a variable is not returned.", "returned_none")
    message = f"{spec.name} gives a wrong result {where}\n{detail}"
    for mistake, wrong in wrong_outputs:
        if explains(expected, wrong, got, spec.tolerance):
            return Verdict(False, _named(spec, message, mistake), mistake.key)
    return Verdict(False, message, f"wrong_{stage}")


def memory_verdict(spec: CheckSpec, outcome: Mapping, bound: MemoryLimit, where: str) -> Verdict | None:
    """None when the recorded peak memory of a call is within ``bound``; else what exceeding it means."""
    peak = outcome.get("peak_bytes")
    if not isinstance(peak, int) or isinstance(peak, bool) or peak < 0:
        return Verdict(False, f"{spec.name}: the check's record lacks the peak memory of {where}; "
                              "the record was tampered with.", "tampered")
    if peak <= bound.limit:
        return None
    return Verdict(False, f"{spec.name} {bound.message.replace('{peak}', megabytes(peak))}\n"
                          f"This was {where}.", "exceeds_memory")


def megabytes(size: int) -> str:
    """``"3.2 MB"``: a number of bytes in megabytes (10⁶ bytes), for messages."""
    return f"{size / 1e6:.2f} MB" if size < 1e7 else f"{size / 1e6:.0f} MB"


def comparison_verdict(spec: CheckSpec, found, where: str) -> Verdict | None:
    """The verdict of a custom comparison's answer (None, a message, or ``(key, message)``)."""
    if found is None:
        return None
    key, message = found if isinstance(found, tuple) else ("wrong_value", found)
    message = f"{spec.name} {where}\n{message}"
    for mistake in spec.mistakes:
        if mistake.key == key:
            message = _named(spec, message, mistake)
    return Verdict(False, message, key)


def judge_outcomes(spec: CheckSpec, descriptions: Sequence[str], outcomes: Sequence, mode: str,
                   expected: Callable[[int], object] | None = None,
                   wrong_outputs: Callable[[int], Iterable] | None = None,
                   comparison: Comparison | None = None,
                   memory: Callable[[int], MemoryLimit | None] | None = None) -> Verdict:
    """Judge the outcomes of one check, case by case; the first failing case decides.

    Parameters
    ----------
    spec : CheckSpec
    descriptions : sequence of str
        One per case: its inputs in words (``"x (2, 3) float64 — two rows"``).
    outcomes : sequence of dict
        One per case, as :func:`attention_course.probe.run_case` returns them (a list read from a
        record, or a sequence that runs each case when it is first read: only the cases up to the
        first failing one are read).
    mode : str
        ``"public"`` or ``"hidden, seed 12"``: shown with the failing case.
    expected : callable, optional
        ``expected(i)`` the expected value of case ``i`` (called only for cases that returned).
    wrong_outputs : callable, optional
        ``wrong_outputs(i)`` the (Mistake, output) pairs of case ``i`` (see :func:`value_verdict`).
    comparison : callable, optional
        Replaces the value comparison (e.g. grading what trained parameters achieve).
    memory : callable, optional
        ``memory(i)`` the :class:`MemoryLimit` of case ``i``, or None; checked once its value
        is right.

    Returns
    -------
    Verdict
    """
    total = len(descriptions)
    malformed = Verdict(False, f"{spec.name}: the check's record is malformed.", "tampered")
    if not isinstance(outcomes, Sequence) or isinstance(outcomes, (str, bytes)):
        return malformed
    if len(outcomes) == 1 and isinstance(outcomes[0], dict) and "error" in outcomes[0] and total != 1:
        return error_verdict(spec, outcomes[0]["error"], "")  # the check could not even call it
    if len(outcomes) != total:
        return Verdict(False, f"{spec.name}: the check recorded {len(outcomes)} results for {total} "
                              "cases; the record was tampered with.", "tampered")
    for index in range(total):
        outcome = outcomes[index]
        if not isinstance(outcome, dict):
            return malformed
        where = f"on case {index + 1} of {total} ({mode}): {descriptions[index]}"
        if "error" in outcome and not isinstance(outcome["error"], Mapping):
            return malformed
        if "error" in outcome:
            verdict = error_verdict(spec, outcome["error"], where)
        elif outcome.get("mutated"):
            changed = ", ".join(argument_name(spec, str(m)) for m in outcome["mutated"])
            hint = spec.hints.get("mutation_hint", "work on a copy, or build a new array")
            verdict = Verdict(False, f"{spec.name} changed its input {changed} in place {where}.\n"
                                     f"Hint: {hint}.", "mutated_input")
        else:
            try:
                got = _record.decode(outcome["value"])
            except Exception:  # not something the recorder writes: a forged or damaged record
                return Verdict(False, f"{spec.name}: the result of case {index + 1} could not be read; "
                                      "the record was tampered with.", "tampered", index)
            if comparison is not None:
                verdict = comparison_verdict(spec, comparison(index, got), where)
            else:
                verdict = value_verdict(spec, got, where, expected(index), wrong_outputs(index))
            warned = outcome.get("warnings")
            if verdict is not None and warned:
                verdict = Verdict(False, verdict.message + "\nWarnings raised: "
                                  + "; ".join(map(str, warned)), verdict.misconception)
            bound = memory(index) if memory is not None else None
            if verdict is None and bound is not None:
                verdict = memory_verdict(spec, outcome, bound, where)
        if verdict is not None:
            return Verdict(False, verdict.message, verdict.misconception, index)
    return Verdict(True)
