"""The trusted verdict on an executed notebook: judge the records, rewrite the test cells' outputs.

Runs outside the learner's kernel. Every test cell's ``check(...)`` calls are
read from its *source* (which the grader took from the instructor's notebook,
not from the learner's), each expected record is judged from the recorded
outputs and inputs regenerated from the trusted seed, and the cell's outputs are
replaced by one line on success or one error output with the feedback on
failure — never a traceback of the hidden tests. nbgrader's SaveAutoGrades gives
zero points to a cell with an error output, so the rewritten notebook grades
correctly in nbgrader too.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

import nbformat

from . import record as _record
from .judge import REFERENCE_WORDS, judge_record


@dataclass
class ExerciseResult:
    """The outcome of one autograded test cell.

    Attributes
    ----------
    grade_id : str
        The test cell's nbgrader id (``test_<function>``).
    function : str or None
        The exercise checked in that cell.
    points, max_points : float
    passed : bool
    feedback : str
        What the learner reads.
    misconception : str or None
        Key of the named mistake of the first failing check.
    signals : list of str
        Tampering noticed in the kernel or in the records.
    """

    grade_id: str
    function: str | None
    points: float
    max_points: float
    passed: bool
    feedback: str
    misconception: str | None = None
    signals: list = field(default_factory=list)


def is_test_cell(cell):
    """True for an autograded test cell (nbgrader grade=True, solution=False)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def expected_checks(source):
    """The ``check("name", fn, hidden=...)`` calls of a test cell, in order.

    Returns
    -------
    list of tuple of (str, bool)
        ``(exercise name, hidden)`` per call.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            hidden = any(k.arg == "hidden" and isinstance(k.value, ast.Constant) and bool(k.value.value)
                         for k in node.keywords)
            calls.append((node.lineno, node.args[0].value, hidden))
    return [(name, hidden) for _, name, hidden in sorted(calls)]


def _records(cell):
    found = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if out.get("output_type") in ("display_data", "execute_result") and _record.MIME in data:
            rec = data[_record.MIME]
            found.append(rec if isinstance(rec, dict) else {})
    return found


def _cell_error(cell):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return "no result was recorded"


def answer_cell_errors(nb):
    """Errors raised by answer cells that point at the reference or the grader, by grade id."""
    found = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        for out in cell.get("outputs", []):
            text = f"{out.get('ename', '')}: {out.get('evalue', '')}"
            if out.get("output_type") == "error" and any(w in text for w in REFERENCE_WORDS):
                found[meta.get("grade_id")] = text
    return found


def judge_cell(cell, seed, answer_errors=None):
    """Judge one executed test cell.

    Parameters
    ----------
    cell : nbformat.NotebookNode
        An executed test cell.
    seed : int
        The trusted seed of the hidden cases.

    Returns
    -------
    ExerciseResult
    """
    meta = cell.metadata.get("nbgrader", {})
    grade_id = meta.get("grade_id", "")
    max_points = float(meta.get("points", 0) or 0)
    expected = expected_checks(cell.source)
    function = expected[0][0] if expected else (grade_id[5:] if grade_id.startswith("test_") else None)
    records = _records(cell)
    signals = sorted({s for rec in records for s in rec.get("signals", []) if isinstance(s, str)})
    reference_use = (answer_errors or {}).get(function)
    if reference_use:
        signals.append(f"the answer cell of {function} tried to use the reference solution or the "
                       f"grader's internals ({reference_use})")
    if not expected:
        return ExerciseResult(grade_id, function, 0.0, max_points, False,
                              "this test cell calls no check; it cannot be graded", None, signals)
    messages, misconception, passed = [], None, True
    used = set()
    for name, hidden in expected:
        mode = "hidden" if hidden else "public"
        matches = [i for i, rec in enumerate(records)
                   if rec.get("exercise") == name and rec.get("mode") == mode and i not in used]
        if not matches:
            passed = False
            if not any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                signals.append(f"the {mode} check of {name} ran but left no record (was `check` replaced?)")
            message = f"The {mode} check of {name} did not finish: {_cell_error(cell)}"
            if not hidden or message.replace("hidden", "public") not in messages:
                messages.append(message)
            misconception = misconception or ("used_reference" if reference_use else "did_not_finish")
            continue
        used.add(matches[0])
        try:
            verdict = judge_record(records[matches[0]], seed=seed if hidden else None)
        except Exception as error:  # a malformed record: the kernel side was tampered with
            passed = False
            signals.append(f"malformed check record ({type(error).__name__})")
            messages.append(f"The {mode} check of {name} produced an unreadable record.")
            misconception = misconception or "tampered"
            continue
        if verdict.passed:
            cases = len(records[matches[0]].get("outcomes", []))
            messages.append(f"✔ {name}: {mode} check passed ({cases} cases"
                            + (f", seed {seed})" if hidden else ")"))
        else:
            passed = False
            if verdict.message not in messages:  # public and hidden often fail alike
                messages.append(verdict.message)
            misconception = misconception or verdict.misconception
            if verdict.misconception == "used_reference":
                signals.append(f"{name} tried to use the reference solution or grader internals")
    extra = [i for i in range(len(records)) if i not in used]
    if extra:
        passed = False
        signals.append(f"{len(extra)} unexpected check record(s) in {grade_id} (forged output?)")
        messages.append("This cell produced check results that the grader did not ask for; "
                        "they were ignored and the exercise is not awarded.")
        misconception = misconception or "tampered"
    signals = list(dict.fromkeys(signals))  # the public and the hidden check often see the same thing
    if signals:
        messages.append("Reported to your instructor: " + "; ".join(signals) + ".")
    feedback = "\n".join(messages)
    return ExerciseResult(grade_id, function, max_points if passed else 0.0, max_points, passed,
                          feedback, None if passed else misconception, signals)


def verify_notebook(nb, seed):
    """Judge every test cell of an executed notebook and rewrite its outputs.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        Executed in record mode (not modified; a copy is returned).
    seed : int
        The trusted seed of the hidden cases.

    Returns
    -------
    nb : nbformat.NotebookNode
        A copy whose test cells hold only the feedback.
    results : list of ExerciseResult
        One per test cell, in notebook order.
    """
    nb = copy.deepcopy(nb)
    answer_errors = answer_cell_errors(nb)
    results = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not is_test_cell(cell):
            continue
        result = judge_cell(cell, seed, answer_errors)
        results.append(result)
        if result.passed:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=result.feedback + "\n")]
        else:
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="AssertionError", evalue=result.feedback,
                traceback=["AssertionError: " + result.feedback])]
    return nb, results
