"""The trusted verdict on an executed notebook: plan its checks, judge the records, write the feedback.

Runs outside the learner's kernel. The checks of each test cell are read from its *source*
(the instructor's, never the learner's copy). Before execution every test cell is replaced by
a *neutral* cell that records those checks (:func:`neutral_source`), so the kernel never sees
the hidden tests' source. After execution each record is judged from the recorded outputs
and inputs regenerated from the trusted seed, and the test cell gets back its source with one
line on success or one error output with the feedback on failure — never a traceback of the
hidden tests. nbgrader's SaveAutoGrades gives zero points to a cell with an error output, so
the result grades correctly in nbgrader too.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from attention_course import record as _record
from attention_course.verdict import REFERENCE_WORDS, Verdict

from ..checks import registry
from ..checks.judge import judge_record
from .notebook import grade_id, is_answer_cell, is_test_cell


@dataclass(frozen=True)
class PlannedCheck:
    """One ``check("name", fn, hidden=...)`` call of a test cell's source."""

    exercise: str
    function: str
    hidden: bool


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


def planned_checks(source: str) -> list[PlannedCheck]:
    """The ``check("name", fn, hidden=...)`` calls of a test cell's source, in order.

    Only calls whose first argument is a string literal and whose second is a name count;
    anything else in the cell is ignored (a test cell of this course calls the grader only).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str) and isinstance(node.args[1], ast.Name)):
            hidden = any(k.arg == "hidden" and isinstance(k.value, ast.Constant) and bool(k.value.value)
                         for k in node.keywords)
            calls.append((node.lineno, node.col_offset,
                          PlannedCheck(node.args[0].value, node.args[1].id, hidden)))
    return [check for _, _, check in sorted(calls, key=lambda c: c[:2])]


def neutral_source(checks: list[PlannedCheck], given: list[str] = ()) -> str:
    """The code a grading kernel runs in place of a test cell.

    It re-runs the given code the exercise grades (so that a learner's redefinition of a
    given name changes nothing), then records each check. A function the learner never
    defined becomes that check's recorded error, not a failure of the cell.
    """
    lines = [*given, "from grader.kernel.recorder import record as __grader_record"]
    lines += [f"__grader_record({c.exercise!r}, lambda: {c.function}, hidden={c.hidden})" for c in checks]
    return "\n".join(lines) + "\n"


def given_cells_of(checks: list[PlannedCheck]) -> list[str]:
    """Grade ids of the given cells that the exercises of ``checks`` grade, in order, once each."""
    ids = []
    for check in checks:
        try:
            ids += [g for g in registry.get(check.exercise).given_cells if g not in ids]
        except ValueError:
            continue
    return ids


def _records(cell):
    found = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if out.get("output_type") in ("display_data", "execute_result") and _record.MIME in data:
            found.append(data[_record.MIME])
    return found


def _has_error(cell):
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _cell_error(cell):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return "no result was recorded"


def _signals_of(records):
    found = set()
    for rec in records:
        signals = rec.get("signals", []) if isinstance(rec, dict) else []
        if isinstance(signals, list):
            found.update(s[:300] for s in signals if isinstance(s, str))
    return sorted(found)


def answer_cell_errors(nb: NotebookNode) -> dict[str, str]:
    """Errors raised by answer cells that point at the reference or the grader, by grade id."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or not is_answer_cell(cell):
            continue
        for out in cell.get("outputs", []):
            text = f"{out.get('ename', '')}: {out.get('evalue', '')}"
            if out.get("output_type") == "error" and any(w in text for w in REFERENCE_WORDS):
                found[grade_id(cell)] = text
    return found


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _error_line(cell: NotebookNode, output: dict) -> int | None:
    """The line of the cell an error output points at (IPython writes it in the traceback)."""
    if output.get("ename") == "SyntaxError":
        found = re.search(r"line (\d+)\)?$", str(output.get("evalue", "")))
    else:
        trace = _ANSI.sub("", "\n".join(output.get("traceback", [])))
        found = re.findall(r"Cell In\[\d+\], line (\d+)", trace)
        found = re.match(r"(\d+)", found[0]) if found else None
    return int(found.group(1)) if found else None


def answer_cell_problems(nb: NotebookNode) -> dict[str, str]:
    """Why each answer cell that failed to run failed, in a learner's words, by grade id.

    ``"SyntaxError: invalid syntax, line 5: y = x +"``: the error, and the line of the cell it
    points at, so that a learner finds it before chasing what it broke.
    """
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or not is_answer_cell(cell):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            evalue = re.sub(r" \([^()]*\.py, line \d+\)$", "", str(out.get("evalue", "")))
            text = f"{out.get('ename', 'Error')}: {evalue}"
            line = _error_line(cell, out)
            lines = cell.source.splitlines()
            if line is not None and 1 <= line <= len(lines):
                text += f", line {line}: {lines[line - 1].strip()}"
            found[grade_id(cell)] = text
            break
    return found


def judge_cell(cell: NotebookNode, checks: list[PlannedCheck], seed: int,
               given: Mapping[str, str] | None = None, answer_errors: Mapping[str, str] | None = None,
               answer_problems: Mapping[str, str] | None = None) -> ExerciseResult:
    """Judge one executed test cell against the checks its source asks for.

    Parameters
    ----------
    cell : nbformat.NotebookNode
        The executed (neutral) test cell: its metadata are the source's.
    checks : list of PlannedCheck
        The checks of the source test cell.
    seed : int
        The trusted seed of the hidden cases.
    given : mapping of str to str, optional
        The notebook's given code by grade id (for checks of given code).
    answer_errors : mapping, optional
        From :func:`answer_cell_errors`.
    answer_problems : mapping, optional
        From :func:`answer_cell_problems`: an exercise whose own answer cell failed to run is
        failed with that cell's error, the real cause, not the NameError it led to.

    Returns
    -------
    ExerciseResult
    """
    meta = cell.metadata.get("nbgrader", {})
    gid = meta.get("grade_id", "")
    max_points = float(meta.get("points", 0) or 0)
    function = checks[0].exercise if checks else (gid[5:] if gid.startswith("test_") else None)
    records = _records(cell)
    signals = _signals_of(records)
    reference_use = (answer_errors or {}).get(function)
    if reference_use:
        signals.append(f"the answer cell of {function} tried to use the reference solution or the "
                       f"grader's internals ({reference_use})")
    if not checks:
        return ExerciseResult(gid, function, 0.0, max_points, False,
                              "this test cell calls no check; it cannot be graded", None, signals)
    messages, misconception, passed = [], None, True
    used = set()
    for check in checks:
        mode = "hidden" if check.hidden else "public"
        matches = [i for i, rec in enumerate(records) if isinstance(rec, dict) and i not in used
                   and rec.get("exercise") == check.exercise and rec.get("mode") == mode]
        if not matches:
            passed = False
            error = _cell_error(cell) if _has_error(cell) else None
            if error is None:
                signals.append(f"the {mode} check of {check.exercise} ran but left no record "
                               "(was the grader's recorder replaced?)")
            elif "grader" in error:
                signals.append(f"the grader's recorder could not run ({error[:200]})")
            error = _cell_error(cell)
            message = f"The {mode} check of {check.exercise} did not finish: {error}"
            if "longer than" in error:
                message = (f"{check.exercise} did not return: the {mode} check was stopped at the time "
                           "limit. Look for a loop that never ends (a `while` whose condition never "
                           "changes, an index that is never increased) or for work far larger than the "
                           "inputs need.")
            if not check.hidden or message.replace("hidden", "public") not in messages:
                messages.append(message)
            misconception = misconception or ("used_reference" if reference_use else "did_not_finish")
            continue
        used.add(matches[0])
        try:
            verdict = judge_record(records[matches[0]], seed=seed, given=given)
        except Exception as error:  # whatever a forged record holds, it costs this exercise only
            verdict = Verdict(False, f"The {mode} check of {check.exercise} left a record that could not "
                                     f"be judged ({type(error).__name__}).", "tampered")
        if verdict.passed:
            cases = len(records[matches[0]]["outcomes"])
            messages.append(f"✔ {check.exercise}: {mode} check passed ({cases} cases"
                            + (f", seed {seed})" if check.hidden else ")"))
            continue
        passed = False
        if verdict.message not in messages:  # public and hidden often fail alike
            messages.append(verdict.message)
        misconception = misconception or verdict.misconception
        if verdict.misconception == "used_reference":
            signals.append(f"{check.exercise} tried to use the reference solution or grader internals")
        if verdict.misconception == "tampered":
            signals.append(f"malformed check record in {gid}")
    problem = (answer_problems or {}).get(function)
    if problem and not passed and not reference_use:  # the real cause comes first
        messages.insert(0, f"Your answer cell for {function} did not run — {problem}. Until it runs, "
                           f"{function} is not defined (or is an older version): fix this error, run the "
                           "cell again, then this check.")
        misconception = "answer_cell_failed"
    if reference_use and not passed:  # the answer cell's own failure is the cause, whatever the check saw
        misconception = "used_reference"
    malformed = [r for r in records if not isinstance(r, dict)]
    if malformed:
        signals.append(f"{len(malformed)} malformed check record(s) in {gid}")
        misconception = "tampered"
    extra = [i for i in range(len(records)) if i not in used]
    if extra:
        passed = False
        signals.append(f"{len(extra)} unexpected check record(s) in {gid} (forged output?)")
        messages.append("This cell produced check results that the grader did not ask for; "
                        "they were ignored and the exercise is not awarded.")
        misconception = misconception or "tampered"
    signals = list(dict.fromkeys(signals))  # the public and the hidden check often see the same thing
    if signals:
        messages.append("Reported to your instructor: " + "; ".join(signals) + ".")
    return ExerciseResult(gid, function, max_points if passed else 0.0, max_points, passed,
                          "\n".join(messages), None if passed else misconception, signals)


def _calls(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.func.id for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


def point_at_causes(results: list[ExerciseResult], nb: NotebookNode) -> None:
    """Tell each failed exercise that calls an earlier failed exercise's function to fix that first.

    A bug in ``softmax`` fails ``attention_weights`` and, through it, ``attend``; each of them gets
    one line naming ``softmax``, the root of the chain, so a learner fixes one bug, not three.
    """
    answers = {grade_id(c): c.source for c in nb.cells if c.cell_type == "code" and is_answer_cell(c)}
    failed = [r.function for r in results if not r.passed and r.function]
    calls = {name: [other for other in failed[:failed.index(name)] if other in _calls(answers.get(name, ""))]
             for name in failed}

    def roots(name, seen=()):
        found = []
        for callee in calls.get(name, []):
            deeper = roots(callee, (*seen, name)) if callee not in seen else []
            found += [r for r in (deeper or [callee]) if r not in found]
        return found

    for result in results:
        if result.passed or not calls.get(result.function):
            continue
        direct, root = calls[result.function], roots(result.function)
        line = f"{result.function} calls your {_names(direct)}, which fails its own check above"
        if root != direct:
            line += f" because of {_names(root)}"
        advice = f"{line}: fix {_names(root)} first — this failure may be the same bug."
        result.feedback = f"{advice}\n{result.feedback}"


def _names(names):
    return ", ".join(f"`{name}`" for name in names)


def neutralise(nb: NotebookNode, given: Mapping[str, str]) -> tuple[NotebookNode, dict[int, list]]:
    """A copy of ``nb`` whose test cells record their checks instead of running their source.

    Returns
    -------
    nb : nbformat.NotebookNode
        The copy to execute.
    plan : dict of int to list of PlannedCheck
        The checks of each test cell, by cell index.
    """
    nb = copy.deepcopy(nb)
    plan = {}
    for index, cell in enumerate(nb.cells):
        if is_test_cell(cell):
            checks = planned_checks(cell.source)
            plan[index] = checks
            cell.source = neutral_source(checks, [given[g] for g in given_cells_of(checks) if g in given])
    return nb, plan


def verify_notebook(executed: NotebookNode, source_cells: NotebookNode, plan: Mapping[int, list],
                    seed: int, given: Mapping[str, str] | None = None,
                    ) -> tuple[NotebookNode, list[ExerciseResult]]:
    """Judge every test cell of an executed notebook and write its feedback.

    Parameters
    ----------
    executed : nbformat.NotebookNode
        The neutralised notebook after execution (not modified; a copy is returned).
    source_cells : nbformat.NotebookNode
        The notebook before neutralising: its test cells' sources are put back.
    plan : mapping of int to list of PlannedCheck
        From :func:`neutralise`.
    seed : int
        The trusted seed of the hidden cases.
    given : mapping of str to str, optional
        The notebook's given code by grade id.

    Returns
    -------
    nb : nbformat.NotebookNode
        A copy whose test cells hold their source and only the feedback.
    results : list of ExerciseResult
        One per test cell, in notebook order.
    """
    nb = copy.deepcopy(executed)
    answer_errors, answer_problems = answer_cell_errors(nb), answer_cell_problems(nb)
    results = []
    for index, checks in sorted(plan.items()):
        result = judge_cell(nb.cells[index], checks, seed, given, answer_errors, answer_problems)
        results.append(result)
    point_at_causes(results, nb)
    for index, result in zip(sorted(plan), results, strict=True):
        cell = nb.cells[index]
        cell.source = source_cells.cells[index].source
        if result.passed:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=result.feedback + "\n")]
        else:
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="AssertionError", evalue=result.feedback,
                traceback=["AssertionError: " + result.feedback])]
    return nb, results
