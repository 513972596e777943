"""``python -m grader autograde``: grade a whole class with nbgrader, N submissions at a time.

Two stages, overlapped:

1. **Execute and judge, in parallel.** N worker processes each take one submission and run
   :func:`grader.runtime.grade.grade_notebook` on it (locked cells restored from the source,
   a fresh sandboxed kernel, per-cell time, memory and output limits, verdicts computed
   outside the kernel). The result is a *pre-graded* notebook.
2. **Score, in one process.** As each submission comes back, nbgrader's own ``autograde``
   runs on it in this process, its ``Execute`` step replaced by
   :class:`grader.pipeline.nbgrader_bridge.LoadPregraded`, under the course's own
   configuration (:mod:`grader.pipeline.config`). nbgrader sanitizes the submission, scores
   the test cells, applies late penalties (the course's plugin) and writes the gradebook:
   one writer per run, so a sqlite gradebook never sees concurrent writes from one run.

Per submission, a :class:`~grader.pipeline.results.SubmissionResult` (exercises, named
mistakes, tamper signals, incidents, the hidden-test seed, the score nbgrader gave) is kept
for ``report``.

Each run keeps its pre-graded notebooks in a folder of its own
(``<course>/grader/pregraded/run-*``, removed at the end), so two runs on different students
of one course do not disturb each other. On a PostgreSQL gradebook both land; a sqlite
gradebook is one file that two processes would write at once (nbgrader sets no lock timeout
for it), so concurrent runs on sqlite are not supported: run them one after the other.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry
from nbgrader.apps import NbGraderAPI

from ..errors import AutogradeError, UsageError
from ..runtime.grade import DEFAULT_LIMITS, Limits, cell_seconds, grade_notebook
from ..runtime.notebook import grade_id, make_workdir, read_notebook
from ..sources import read_source, select
from . import config as _config
from . import course as _course
from . import grades as _grades
from . import results as _results
from .nbgrader_bridge import layer_autograde, pregraded_path, quiet_nbgrader
from .release import release


@dataclass(frozen=True)
class Submission:
    """One student's notebook of one assignment in the course's ``submitted/`` tree."""

    student: str
    assignment: str
    notebook: Path


def pregraded_dir(course_dir: Path | str) -> Path:
    """Folder of the runs' folders of executed and judged notebooks that nbgrader scores."""
    return Path(course_dir) / _results.GRADER_DIR / "pregraded"


def new_run_dir(course_dir: Path | str) -> Path:
    """A fresh folder of this run's pre-graded notebooks, unique even when runs start together."""
    root = pregraded_dir(course_dir)
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=root))


def find_submissions(course_dir, assignments=None, students=None,
                     solutions=_course.SOLUTIONS) -> list[Submission]:
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
    wanted = select(assignments, solutions, AutogradeError)
    found = []
    for assignment in wanted:
        for notebook in sorted(Path(course_dir, "submitted").glob(f"*/{assignment}/{assignment}.ipynb")):
            student = notebook.parent.parent.name
            if students is None or student in students:
                found.append(Submission(student, assignment, notebook))
    return found


# ---- stage 1: execute and judge (worker processes) ---------------------------------------------

def grade_submission(submission: Submission, *, solutions, seed: int, limits: Limits, hidden=(),
                     out_dir: Path, sandbox="auto") -> _results.SubmissionResult:
    """Execute one submission in the sandbox, judge it and save the pre-graded notebook.

    Parameters
    ----------
    submission : Submission
    solutions : path-like
        The course's source notebooks.
    seed : int
        Seed of the hidden cases.
    limits : Limits
    hidden : sequence of path-like
        Folders the kernel must not see besides the defaults (the course folder).
    out_dir : path-like
        Root of the pre-graded notebooks.

    Returns
    -------
    SubmissionResult
        ``status`` "graded", or "unreadable" when the file is not a usable notebook.
    """
    start = time.perf_counter()
    result = _results.SubmissionResult(submission.student, submission.assignment,
                                       str(submission.notebook), seed)
    try:
        learner = read_notebook(submission.notebook)
    except UsageError as error:
        result.status, result.reason = "unreadable", str(error)
        return result
    work = make_workdir(submission.notebook)
    try:
        graded = grade_notebook(learner, read_source(submission.assignment, solutions), workdir=work,
                                seed=seed, limits=limits, sandbox=sandbox, hidden=hidden)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = pregraded_path(out_dir, submission.assignment, submission.student, submission.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(graded.notebook, path)
    result.exercises = graded.results
    result.signals = graded.signals
    result.incidents = [_results.Incident(grade_id(graded.notebook.cells[e.index]) or
                                          graded.notebook.cells[e.index].get("id") or "?", e.kind, e.detail)
                        for e in graded.events]
    result.cell_seconds = cell_seconds(graded.notebook)
    result.seconds = time.perf_counter() - start
    return result


def _grade_task(task):
    """Entry point of a worker process (top level, so that it can be pickled)."""
    return grade_submission(**task)


# ---- stage 2: score with nbgrader (this process) -----------------------------------------------

def _hidden_folders(course_dir, solutions, db_url):
    folders = [Path(course_dir), Path(solutions)]
    database = _config.sqlite_path(db_url) if db_url else None
    if database is not None:
        folders.append(database.parent)  # a gradebook kept elsewhere
    return [f.resolve() for f in folders if f.exists()]


def ensure_assignments(names, *, course_dir, db_url=None, solutions=_course.SOLUTIONS, course_id=None,
                       config_file=None) -> list[str]:
    """Record the assignments in the gradebook when they are not there yet.

    nbgrader's autograde needs the assignment (and its hidden tests) in the gradebook,
    which ``release`` puts there. A course folder that never saw a release gets one here,
    generated into a temporary folder so that the committed ``notebooks/`` is not touched.
    Opening the gradebook here also creates its tables before anything runs in parallel
    (two first opens of a fresh PostgreSQL database at once can collide).
    """
    settings = _config.course_settings(_config.course_config(
        course_dir, config_file=config_file, db_url=db_url, course_id=course_id, solutions=solutions))
    with _config.open_gradebook(settings, AutogradeError) as gb:
        missing = []
        for name in names:
            try:
                gb.find_assignment(name)
            except MissingEntry:
                missing.append(name)
    if missing:
        with tempfile.TemporaryDirectory(prefix="grader-release-") as folder:
            release(missing, solutions=solutions, notebooks=Path(folder) / "release",
                    course_dir=course_dir, db_url=db_url, course_id=course_id, config_file=config_file)
    return missing


def _forget(settings, result):
    """Remove every trace of a submission nbgrader failed on: no partial grade stays behind."""
    with _config.open_gradebook(settings, AutogradeError) as gb:
        try:
            gb.remove_submission(result.assignment, result.student)
        except MissingEntry:
            pass
    shutil.rmtree(settings.root / "autograded" / result.student / result.assignment, ignore_errors=True)


def _record_score(settings, result):
    """Copy nbgrader's verdict on one submission into its result: final score, penalty, pending answers."""
    with _config.open_gradebook(settings, AutogradeError) as gb:
        grade = _grades.read_grade(gb, result.assignment, result.student)
    result.score, result.max_score = grade.points_so_far, grade.max_score
    result.raw_score, result.late_penalty = grade.raw_score, grade.penalty
    result.pending = list(grade.pending)


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


def describe(result: _results.SubmissionResult) -> str:
    """One line on one submission: its score, or why it was not graded."""
    if not result.graded:
        return f"{result.student} {result.assignment}: NOT GRADED ({result.reason})"
    text = f"{result.student} {result.assignment}: {score_cell(result)}"
    if result.incidents:
        text += f" ({len(result.incidents)} incident(s))"
    return text


def autograde(assignments=None, *, course_dir=_course.COURSE, jobs=2, students=None, seed=None,
              limits=DEFAULT_LIMITS, db_url=None, solutions=_course.SOLUTIONS, sandbox="auto",
              progress=True, course_id=None, config_file=None) -> list[_results.SubmissionResult]:
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
        default: a fresh seed per submission, recorded in its result.
    limits : Limits
    db_url, course_id : str, optional
        Gradebook URL and course id; default: the course's configuration's.
    config_file : path-like, optional
        A configuration file read as stock's ``--NbGrader.config_file``.
    sandbox : {"auto", True, False}
        As for :func:`grader.runtime.execute.execute_notebook`.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    list of SubmissionResult
        One per submission, in the order of :func:`find_submissions`.
    """
    if jobs < 1:
        raise AutogradeError(f"--jobs must be at least 1, got {jobs}")
    course_dir = Path(course_dir).resolve()
    submissions = find_submissions(course_dir, assignments, students, solutions)
    if not submissions:
        raise AutogradeError(f"no submissions in {course_dir / 'submitted'}; "
                             "run `python -m grader collect DIR` first")
    _course.nbgrader_environment()
    config = _config.course_config(course_dir, config_file=config_file, db_url=db_url, course_id=course_id,
                                   solutions=solutions)
    settings = _config.course_settings(config)
    ensure_assignments(sorted({s.assignment for s in submissions}), course_dir=course_dir,
                       db_url=settings.db_url, course_id=settings.course_id, config_file=config_file,
                       solutions=solutions)
    out_dir = new_run_dir(course_dir)  # this run's own: never a stale or another run's notebook
    try:
        api = NbGraderAPI(config=layer_autograde(config, out_dir, solutions=solutions))
        hidden = _hidden_folders(course_dir, solutions, settings.db_url)
        tasks = {s: {"submission": s, "solutions": Path(solutions),
                     "seed": seed if seed is not None else secrets.randbelow(2**31), "limits": limits,
                     "hidden": hidden, "out_dir": out_dir, "sandbox": sandbox} for s in submissions}
        bar = Progress(len(submissions)) if progress else None
        done = {}

        def finish(submission, result):
            done[submission] = _score_one(api, settings, result, bar)

        pending = list(submissions)
        for _ in range(2):  # a second round only for submissions whose worker process itself died
            pending = _run_pool(pending, tasks, jobs, finish)
            if not pending:
                break
        for s in pending:
            finish(s, _failed(s, tasks[s]["seed"], "the grading worker process died twice"))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return [done[s] for s in submissions]


def _failed(submission, seed, reason):
    return _results.SubmissionResult(submission.student, submission.assignment, str(submission.notebook),
                                     seed, status="error", reason=reason)


def _run_pool(pending, tasks, jobs, done):
    """Run the tasks of ``pending`` in a pool; return the submissions whose worker died."""
    broken = []
    context = multiprocessing.get_context("spawn")  # no inherited sockets, locks or gradebook sessions
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(_grade_task, tasks[s]): s for s in pending}
        for future in concurrent.futures.as_completed(futures):
            s = futures[future]
            try:
                result = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                broken.append(s)
                continue
            except Exception as error:  # a bug of ours on one submission: record it, go on
                result = _failed(s, tasks[s]["seed"], f"{type(error).__name__}: {error}")
            done(s, result)
    return broken


def _score_one(api, settings, result, bar):
    """Stage 2 for one submission: nbgrader scores it; the result is saved."""
    if result.graded:
        with quiet_nbgrader():
            outcome = api.autograde(result.assignment, result.student, force=True, create=True)
        if outcome["success"]:
            _record_score(settings, result)
        else:
            result.status = "error"
            result.reason = "nbgrader autograde failed: " + (outcome.get("error") or "")[-500:]
            _forget(settings, result)
    _results.save(settings.root, result)
    if bar is not None:
        bar.update(describe(result))
    return result


def score_cell(result: _results.SubmissionResult) -> str:
    """A graded submission's score as the class table shows it: ``7/11``, ``7/11 (late -2)``, or
    ``awaiting grading`` while a written answer waits for the instructor (it is not a 0)."""
    if result.pending:
        return _grades.AWAITING
    text = f"{result.score:g}/{result.max_score:g}"
    return text + (f" (late -{result.late_penalty:g})" if result.late_penalty else "")


def format_table(results: list[_results.SubmissionResult]) -> str:
    """The class table: one line per submission with its score and what went wrong."""
    lines = [f"{'student':<16} {'assignment':<24} {'score':>16}  notes"]
    for r in results:
        if not r.graded:
            lines.append(f"{r.student:<16} {r.assignment:<24} {'—':>16}  NOT GRADED: {r.reason}")
            continue
        notes = []
        if r.pending:
            notes.append(f"{r.score:g}/{r.max_score:g} so far; {', '.join(r.pending)} awaiting grading")
        notes += [f"{e.function}: {e.misconception}" for e in r.exercises
                  if not e.passed and e.misconception not in (None, "not_implemented")]
        notes += sorted({f"{i.kind} in {i.cell}" for i in r.incidents})
        if r.tamper_signals:
            notes.append("TAMPER SIGNALS")
        lines.append(f"{r.student:<16} {r.assignment:<24} {score_cell(r):>16}  {'; '.join(notes)}")
    return "\n".join(lines)
