"""``python -m grader autograde``: grade a whole class with nbgrader, N submissions at a time.

Two stages, overlapped:

1. **Execute and judge, in parallel.** N worker processes each take one
   submission: the locked cells are restored from ``solutions/`` (as nbgrader's
   OverwriteCells does), the notebook runs in a fresh sandboxed kernel in
   record mode (:mod:`grader.execute`: per-cell time limit, memory limit, output
   limit, IPC sockets so kernels never race for ports, a kernel that fails to
   start is retried), and the trusted verdicts are written into its test cells
   (:mod:`grader.verify`). The result is a *pre-graded* notebook.
2. **Score, in one process.** As each submission comes back, nbgrader's own
   ``autograde`` runs on it in this process, its ``Execute`` step replaced by
   :class:`grader.nbgrader_bridge.LoadPregraded`. nbgrader sanitizes the
   submission, scores the test cells, applies late penalties and writes the
   gradebook: one writer, so the gradebook never sees concurrent writes.

Per submission, a JSON summary (exercises, named mistakes, tamper signals,
incidents such as timeouts, the hidden-test seed) is kept in
``<course>/grader/results/<assignment>/<student>.json`` for ``report``.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import secrets
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import nbformat

from . import course as _course

#: Folder of the course folder where the grader keeps its own files.
GRADER_DIR = "grader"


class AutogradeError(Exception):
    """The batch cannot start (no submissions, unknown assignment); one line for the instructor."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use while it is graded.

    Attributes
    ----------
    cell_timeout : float
        Seconds one cell may run; a cell that runs longer is stopped (even if
        it ignores SIGINT) and costs only the exercises that need it.
    memory : int
        Address-space limit of a kernel, bytes.
    output : int
        Characters of output kept per cell.
    retries : int
        Extra attempts for a submission whose kernel failed to start.
    """

    cell_timeout: float = 30.0
    memory: int = 2 * 1024**3
    output: int = 1_000_000
    retries: int = 2


@dataclass(frozen=True)
class Submission:
    """One student's notebook of one assignment in the course's ``submitted/`` tree."""

    student: str
    assignment: str
    notebook: Path


def results_dir(course_dir):
    """Folder of the per-submission JSON summaries."""
    return Path(course_dir) / GRADER_DIR / "results"


def pregraded_dir(course_dir):
    """Folder of the executed and judged notebooks that nbgrader scores."""
    return Path(course_dir) / GRADER_DIR / "pregraded"


def find_submissions(course_dir, assignments=None, students=None, solutions=_course.SOLUTIONS):
    """The submissions in ``<course_dir>/submitted/<student>/<assignment>/<assignment>.ipynb``.

    Parameters
    ----------
    course_dir : path-like
    assignments, students : list of str, optional
        Restrict to these; default: every assignment of ``solutions`` and every student.

    Returns
    -------
    list of Submission
        Sorted by assignment, then student.

    Raises
    ------
    AutogradeError
        When an assignment is unknown.
    """
    known = _course.assignments(solutions)
    wanted = list(assignments) if assignments else known
    unknown = [a for a in wanted if a not in known]
    if unknown:
        raise AutogradeError(f"unknown assignment(s) {', '.join(unknown)}; "
                             f"the course has: {', '.join(known) or '(none)'}")
    found = []
    for assignment in wanted:
        for notebook in sorted(Path(course_dir, "submitted").glob(f"*/{assignment}/{assignment}.ipynb")):
            student = notebook.parent.parent.name
            if students is None or student in students:
                found.append(Submission(student, assignment, notebook))
    return found


# ---- stage 1: execute and judge (worker processes) ---------------------------------------------

def cell_seconds(nb):
    """Time the code cells spent running in the kernel, from nbclient's timing metadata."""
    total = 0.0
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            total += (datetime.fromisoformat(end.replace("Z", "+00:00"))
                      - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
    return total


def _cell_name(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") or cell.get("id") or "?"


def grade_submission(submission, *, source, seed, limits, hidden=(), out_dir, sandbox="auto"):
    """Execute one submission in the sandbox, judge it and save the pre-graded notebook.

    Parameters
    ----------
    submission : Submission
    source : path-like
        The assignment's source notebook (locked cells and hidden tests).
    seed : int
        Seed of the hidden cases.
    limits : Limits
    hidden : sequence of path-like
        Folders the kernel must not see besides the defaults (the course folder).
    out_dir : path-like
        Root of the pre-graded notebooks.

    Returns
    -------
    dict
        The submission's summary: ``status`` ("graded" or "unreadable"), the
        exercises, incidents, attempts and timings.
    """
    from .execute import execute_notebook
    from .nbgrader_bridge import pregraded_path
    from .selfcheck import UsageError, load_notebook, make_workdir, merge_with_source
    from .verify import verify_notebook

    start = time.perf_counter()
    summary = {"student": submission.student, "assignment": submission.assignment,
               "notebook": str(submission.notebook), "seed": seed}
    try:
        learner = load_notebook(submission.notebook)
    except UsageError as error:
        return {**summary, "status": "unreadable", "reason": str(error), "exercises": [],
                "incidents": [], "attempts": 0, "seconds": time.perf_counter() - start}
    merged = merge_with_source(learner, nbformat.read(source, as_version=4))
    env = {"ATTENTION_GRADER_MODE": "record", "ATTENTION_GRADER_SEED": str(seed)}
    for attempt in range(1, limits.retries + 2):
        work = make_workdir(submission.notebook)
        try:
            executed, events = execute_notebook(
                merged, workdir=work, env=env, cell_timeout=limits.cell_timeout,
                memory_limit=limits.memory, output_limit=limits.output, sandbox=sandbox, hidden=hidden)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if not any(e.kind == "start_failed" for e in events):
            break
        time.sleep(attempt)  # a kernel that could not start: back off, then try again
    graded, results = verify_notebook(executed, seed)
    path = pregraded_path(out_dir, submission.assignment, submission.student, submission.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(graded, path)
    incidents = [{"cell": _cell_name(executed.cells[e.index]), "kind": e.kind, "detail": e.detail}
                 for e in events]
    return {**summary, "status": "graded", "exercises": [asdict(r) for r in results],
            "incidents": incidents, "attempts": attempt, "cell_seconds": cell_seconds(executed),
            "seconds": time.perf_counter() - start}


def _grade_task(task):
    """Entry point of a worker process (top level, so that it can be pickled)."""
    return grade_submission(**task)


# ---- stage 2: score with nbgrader (this process) -----------------------------------------------

def _hidden_folders(course_dir, solutions, db_url):
    folders = [Path(course_dir), Path(solutions)]
    if db_url and db_url.startswith("sqlite:///"):
        folders.append(Path(db_url[len("sqlite:///"):]).parent)  # a gradebook kept elsewhere
    return [f.resolve() for f in folders if f.exists()]


def ensure_assignments(names, *, course_dir, db_url=None, solutions=_course.SOLUTIONS):
    """Record the assignments in the gradebook when they are not there yet.

    nbgrader's autograde needs the assignment (and its hidden tests) in the
    gradebook, which ``release`` puts there. A course folder that never saw a
    release gets one here, generated into a temporary folder so that the
    committed ``notebooks/`` is not touched.
    """
    import tempfile

    from nbgrader.api import Gradebook, MissingEntry

    from .release import release

    url = _course.gradebook_url(course_dir, db_url)
    with Gradebook(url) as gb:
        missing = []
        for name in names:
            try:
                gb.find_assignment(name)
            except MissingEntry:
                missing.append(name)
    if missing:
        with tempfile.TemporaryDirectory(prefix="grader-release-") as folder:
            release(missing, solutions=solutions, notebooks=Path(folder) / "release",
                    course_dir=course_dir, db_url=db_url)
    return missing


def _score(db_url, assignment, student):
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        submission = gb.find_submission(assignment, student)
        return float(submission.score), float(submission.max_score)


def _write_summary(course_dir, summary):
    path = results_dir(course_dir) / summary["assignment"] / f"{summary['student']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1, default=str))
    return path


def load_summaries(course_dir, assignment=None):
    """The JSON summaries written by :func:`autograde`, sorted by assignment and student."""
    pattern = f"{assignment or '*'}/*.json"
    return [json.loads(p.read_text()) for p in sorted(results_dir(course_dir).glob(pattern))]


class Progress:
    """A one-line progress bar on a terminal, one line per submission otherwise."""

    def __init__(self, total, stream=None, width=30):
        self.total, self.done, self.width = total, 0, width
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, text):
        """Count one more submission and show ``text`` for it."""
        self.done += 1
        filled = round(self.width * self.done / max(self.total, 1))
        bar = "█" * filled + "·" * (self.width - filled)
        if self.tty:
            end = "\n" if self.done == self.total else ""
            self.stream.write(f"\r[{bar}] {self.done}/{self.total}  {text[:60]:<60}{end}")
        else:
            self.stream.write(f"[{self.done}/{self.total}] {text}\n")
        self.stream.flush()


def _describe(summary):
    if summary["status"] != "graded":
        return f"{summary['student']} {summary['assignment']}: NOT GRADED ({summary.get('reason', '')})"
    text = f"{summary['student']} {summary['assignment']}: {summary['score']:g}/{summary['max_score']:g}"
    if summary["incidents"]:
        text += f" ({len(summary['incidents'])} incident(s))"
    return text


def autograde(assignments=None, *, course_dir=_course.COURSE, jobs=2, students=None, seed=None,
              limits=Limits(), db_url=None, solutions=_course.SOLUTIONS, sandbox="auto", progress=True):
    """Autograde every collected submission with nbgrader, ``jobs`` at a time.

    Parameters
    ----------
    assignments, students : list of str, optional
        Restrict the batch; default: everything in ``<course_dir>/submitted``.
    course_dir : path-like
        The working course folder.
    jobs : int
        Submissions executed at the same time (one kernel each).
    seed : int, optional
        Seed of the hidden cases for every submission (to reproduce a run);
        default: a fresh seed per submission, recorded in its summary.
    limits : Limits
    db_url : str, optional
        Gradebook URL; default: sqlite in ``course_dir``.
    sandbox : {"auto", True, False}
        As for :func:`grader.execute.execute_notebook`.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    list of dict
        One summary per submission, in the order of :func:`find_submissions`.
    """
    from nbgrader.apps import NbGraderAPI

    from .nbgrader_bridge import autograde_config

    if jobs < 1:
        raise AutogradeError(f"--jobs must be at least 1, got {jobs}")
    course_dir = Path(course_dir).resolve()
    submissions = find_submissions(course_dir, assignments, students, solutions)
    if not submissions:
        raise AutogradeError(f"no submissions in {course_dir / 'submitted'}; "
                             "run `python -m grader collect DIR` first")
    _course.nbgrader_environment()
    url = _course.gradebook_url(course_dir, db_url)
    ensure_assignments(sorted({s.assignment for s in submissions}), course_dir=course_dir,
                       db_url=url, solutions=solutions)
    out_dir = pregraded_dir(course_dir)
    shutil.rmtree(out_dir, ignore_errors=True)  # never score a stale notebook of an earlier run
    api = NbGraderAPI(config=autograde_config(course_dir, out_dir, db_url=url, solutions=solutions))
    hidden = _hidden_folders(course_dir, solutions, url)
    tasks = {s: {"submission": s, "source": Path(solutions) / s.assignment / f"{s.assignment}.ipynb",
                 "seed": seed if seed is not None else secrets.randbelow(2**31), "limits": limits,
                 "hidden": hidden, "out_dir": out_dir, "sandbox": sandbox} for s in submissions}
    bar = Progress(len(submissions)) if progress else None
    summaries = {}
    pending = list(submissions)
    for _ in range(2):  # a second round only for submissions whose worker process itself died
        pending = _run_pool(pending, tasks, jobs, lambda s, summary: summaries.__setitem__(
            s, _finish(api, url, course_dir, summary, bar)))
        if not pending:
            break
    for s in pending:
        summary = {"student": s.student, "assignment": s.assignment, "notebook": str(s.notebook),
                   "seed": tasks[s]["seed"], "status": "error", "exercises": [], "incidents": [],
                   "reason": "the grading worker process died twice"}
        summaries[s] = _finish(api, url, course_dir, summary, bar)
    return [summaries[s] for s in submissions]


def _run_pool(pending, tasks, jobs, done):
    """Run the tasks of ``pending`` in a pool; return the submissions whose worker died."""
    broken = []
    context = multiprocessing.get_context("spawn")  # no inherited sockets, locks or gradebook sessions
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(_grade_task, tasks[s]): s for s in pending}
        for future in concurrent.futures.as_completed(futures):
            s = futures[future]
            try:
                summary = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                broken.append(s)
                continue
            except Exception as error:  # a bug of ours on one submission: record it, go on
                summary = {"student": s.student, "assignment": s.assignment, "notebook": str(s.notebook),
                           "seed": tasks[s]["seed"], "status": "error", "exercises": [],
                           "incidents": [], "reason": f"{type(error).__name__}: {error}"}
            done(s, summary)
    return broken


def _finish(api, url, course_dir, summary, bar):
    """Stage 2 for one submission: nbgrader scores it; the summary is saved."""
    from .nbgrader_bridge import quiet_nbgrader

    if summary["status"] == "graded":
        with quiet_nbgrader():
            result = api.autograde(summary["assignment"], summary["student"], force=True, create=True)
        if result["success"]:
            summary["score"], summary["max_score"] = _score(url, summary["assignment"], summary["student"])
        else:
            summary["status"] = "error"
            summary["reason"] = "nbgrader autograde failed: " + (result.get("error") or "")[-500:]
    _write_summary(course_dir, summary)
    if bar is not None:
        bar.update(_describe(summary))
    return summary


def format_table(summaries):
    """The class table: one line per submission with its score and what went wrong."""
    lines = [f"{'student':<16} {'assignment':<24} {'score':>9}  notes"]
    for s in summaries:
        if s["status"] != "graded":
            lines.append(f"{s['student']:<16} {s['assignment']:<24} {'—':>9}  NOT GRADED: {s.get('reason')}")
            continue
        notes = [f"{e['function']}: {e['misconception']}" for e in s["exercises"]
                 if not e["passed"] and e.get("misconception") not in (None, "not_implemented")]
        notes += sorted({f"{i['kind']} in {i['cell']}" for i in s["incidents"]})
        if any(e["signals"] for e in s["exercises"]):
            notes.append("TAMPER SIGNALS")
        score = f"{s['score']:g}/{s['max_score']:g}"
        lines.append(f"{s['student']:<16} {s['assignment']:<24} {score:>9}  {'; '.join(notes)}")
    return "\n".join(lines)


def main(args):
    """Run ``autograde`` for parsed CLI arguments; return the exit status."""
    limits = Limits(cell_timeout=args.timeout, memory=int(args.memory * 2**20), output=args.output_limit,
                    retries=args.retries)
    try:
        summaries = autograde(args.assignments, course_dir=args.course_dir, jobs=args.jobs,
                              students=args.student, seed=args.seed, limits=limits, db_url=args.db_url)
    except AutogradeError as error:
        print(f"grader autograde: {error}", file=sys.stderr)
        return 2
    print(format_table(summaries))
    failed = [s for s in summaries if s["status"] != "graded"]
    if failed:
        print(f"{len(failed)} submission(s) could not be graded; see above.", file=sys.stderr)
    return 1 if failed else 0
