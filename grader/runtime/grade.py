"""Grade one notebook: the one path from a learner's notebook to its verdicts.

``python -m grader check`` (a self-paced learner) and ``python -m grader autograde`` (a
class) both call :func:`grade_notebook`:

1. every locked cell is restored from the instructor's source (:mod:`.notebook`);
2. each test cell is replaced by a neutral cell that records its checks, and the checks'
   inputs are written as data for the kernel (:mod:`.verify`);
3. the notebook runs in a fresh, sandboxed kernel (:mod:`.execute`, :mod:`.sandbox`);
4. the records are judged here, outside the kernel, and the test cells get their feedback.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from nbformat import NotebookNode

from attention_course import record as _record

from ..checks import registry
from ..kernel.recorder import CASES_ENV
from ..sources import SOLUTIONS, read_source
from .execute import CellEvent, execute_notebook
from .notebook import find_assignment, grade_id, locked_code, make_workdir, read_notebook, rebuild_from_source
from .scan import scan_notebook
from .template import KernelTemplate
from .verify import ExerciseResult, neutralise, verify_notebook


@dataclass(frozen=True)
class Limits:
    """What one notebook may use while it is graded.

    Attributes
    ----------
    cell_timeout : float
        Seconds one cell may run; a cell that runs longer is stopped (even if it ignores
        SIGINT) and costs only the exercises that need it.
    notebook_timeout : float
        Seconds all the cells of the notebook may run together, replays after a crash included.
    memory : int
        Address-space limit of a kernel, bytes.
    output : int
        Characters of output kept per cell.
    notebook_output : int
        Characters of output kept for the whole notebook (check records aside).
    retries : int
        Extra attempts to start a kernel that failed to start.
    """

    cell_timeout: float = 30.0
    notebook_timeout: float = 600.0
    memory: int = 2 * 1024**3
    output: int = 1_000_000
    notebook_output: int = 5_000_000
    retries: int = 2


#: The limits when none are given.
DEFAULT_LIMITS = Limits()


@dataclass
class GradedNotebook:
    """One notebook after grading.

    Attributes
    ----------
    notebook : nbformat.NotebookNode
        The executed notebook; each test cell holds its source and the feedback as its output.
    results : list of ExerciseResult
        One per test cell, in notebook order.
    events : list of CellEvent
        Timeouts, crashed kernels, truncated outputs, kernels that could not start.
    seed : int
        Seed of the hidden cases.
    signals : list of str
        Tampering seen in the notebook as a whole: its cells compared with the source, its
        code read on the trusted side, check records outside the test cells.
    """

    notebook: NotebookNode
    results: list[ExerciseResult]
    events: list[CellEvent]
    seed: int
    signals: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return float(sum(r.points for r in self.results))

    @property
    def max_score(self) -> float:
        return float(sum(r.max_points for r in self.results))


def write_cases(path: Path, plan: dict, seed: int) -> Path:
    """Write the inputs of every planned check as JSON (what the grading kernel reads).

    Parameters
    ----------
    path : pathlib.Path
    plan : dict of int to list of PlannedCheck
    seed : int
        Seed of the hidden cases.
    """
    table = {}
    for checks in plan.values():
        for check in checks:
            key = f"{check.exercise}/{'hidden' if check.hidden else 'public'}"
            try:
                generated = registry.cases(check.exercise, check.hidden, seed)
            except ValueError:  # no such exercise: the judge reports it
                continue
            table[key] = [{"args": _record.encode(tuple(c.args)), "kwargs": _record.encode(dict(c.kwargs))}
                          for c in generated]
    path.write_text(json.dumps(table))
    return path


def grade_notebook(learner: NotebookNode, source: NotebookNode, *, workdir: Path, seed: int | None = None,
                   limits: Limits = DEFAULT_LIMITS, sandbox="auto", hidden=(),
                   template: KernelTemplate | None = None) -> GradedNotebook:
    """Execute a learner's notebook in a sandboxed kernel and judge every test cell.

    Parameters
    ----------
    learner : nbformat.NotebookNode
        The learner's notebook (not modified).
    source : nbformat.NotebookNode
        The assignment's source: locked cells, test cells with their hidden checks.
    workdir : pathlib.Path
        Folder the kernel runs in (its only writable folder in the sandbox).
    seed : int, optional
        Seed of the hidden cases; default a fresh one.
    limits : Limits
    sandbox : {"auto", True, False}
        As for :func:`grader.runtime.execute.execute_notebook`.
    hidden : sequence of path-like
        Folders the kernel must not see besides the defaults (a course folder).
    template : grader.runtime.template.KernelTemplate, optional
        Fork the kernels from this template (:mod:`grader.runtime.template`) instead of
        starting each from scratch; the isolation and the limits are the same.

    Returns
    -------
    GradedNotebook
    """
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    rebuilt = rebuild_from_source(learner, source)
    given = locked_code(rebuilt.notebook)
    neutral, plan = neutralise(rebuilt.notebook, given)
    with tempfile.TemporaryDirectory(prefix="grader-cases-") as folder:
        os.chmod(folder, 0o755)  # readable by a sandbox running as another user
        cases = write_cases(Path(folder) / "cases.json", plan, seed)
        executed, events = execute_notebook(
            neutral, workdir=workdir, inputs={CASES_ENV: cases},
            cell_timeout=limits.cell_timeout, notebook_timeout=limits.notebook_timeout,
            memory_limit=limits.memory, output_limit=limits.output,
            notebook_output_limit=limits.notebook_output, record_cells=set(plan),
            calls={index: [c.function for c in checks] for index, checks in plan.items()}, sandbox=sandbox,
            hidden=hidden, start_attempts=limits.retries + 1, template=template)
    graded, results = verify_notebook(executed, rebuilt.notebook, plan, seed, given)
    signals = [*rebuilt.signals, *scan_notebook(rebuilt.notebook, source),
               *(f"{_cell_name(graded, e.index)}: {e.detail}" for e in events if e.kind == "forged_record")]
    return GradedNotebook(graded, results, events, seed, list(dict.fromkeys(signals)))


def _cell_name(nb, index):
    cell = nb.cells[index]
    return grade_id(cell) or cell.get("id") or f"cell {index + 1}"


def cell_seconds(nb: NotebookNode) -> float:
    """Time the code cells spent running in the kernel, from nbclient's timing metadata."""
    total = 0.0
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            total += (datetime.fromisoformat(end.replace("Z", "+00:00"))
                      - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
    return total


# ---- the self-check of one notebook (python -m grader check) -------------------------------------

#: The keys of an exercise in the JSON report of ``python -m grader check --json``.
REPORT_KEYS = ("grade_id", "function", "points", "max_points", "passed", "feedback")


@dataclass
class CheckReport:
    """What ``python -m grader check`` reports on one notebook."""

    notebook: str
    assignment: str
    graded: GradedNotebook

    def as_dict(self) -> dict:
        """The JSON schema of ``--json``: notebook, assignment, seed, score, max_score, exercises."""
        return {"notebook": self.notebook, "assignment": self.assignment, "seed": self.graded.seed,
                "score": self.graded.score, "max_score": self.graded.max_score,
                "exercises": [{k: v for k, v in asdict(r).items() if k in REPORT_KEYS}
                              for r in self.graded.results],
                "signals": list(self.graded.signals)}

    def text(self) -> str:
        """The human-readable report."""
        seed = self.graded.seed
        lines = [f"{self.notebook} — assignment {self.assignment} — seed {seed} "
                 f"(rerun with --seed {seed} to reproduce)", ""]
        for r in self.graded.results:
            lines.append(f"{'✔' if r.passed else '✘'} {r.function or r.grade_id}: "
                         f"{r.points:g}/{r.max_points:g}")
            if not r.passed:
                lines += ["    " + line for line in r.feedback.splitlines()]
        lines += ["", f"Score: {self.graded.score:g} / {self.graded.max_score:g} "
                      "(autograded exercises; written answers are graded by your instructor)"]
        if self.graded.signals:
            lines += ["", "Reported to your instructor:"] + [f"  - {s}" for s in self.graded.signals]
        return "\n".join(lines)


def check_notebook(path: Path | str, *, seed: int | None = None, solutions: Path | str = SOLUTIONS,
                   limits: Limits = DEFAULT_LIMITS, sandbox="auto") -> CheckReport:
    """Grade a learner's notebook file with the hidden tests of its assignment.

    The notebook runs in a fresh folder holding copies of the small files next to it.

    Raises
    ------
    grader.errors.UsageError
        When the file is not a readable notebook of a known assignment.
    """
    learner = read_notebook(path)
    assignment = find_assignment(path, solutions)
    work = make_workdir(path)
    try:
        graded = grade_notebook(learner, read_source(assignment, solutions), workdir=work, seed=seed,
                                limits=limits, sandbox=sandbox)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return CheckReport(str(path), assignment, graded)
