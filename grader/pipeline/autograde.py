"""``python -m grader autograde``: grade a whole class with nbgrader, on this machine or on a Dask cluster.

Two stages, overlapped:

1. **Execute and judge, in workers.** Each submission becomes a :class:`GradingTask` that
   carries everything its grading needs: the notebook's bytes, the small files next to it,
   the assignment's source, the hidden-test seed and the limits. An *executor* runs
   :func:`grade_task` on it — N worker processes of this machine (:func:`run_pool`,
   ``--jobs N``) or the workers of a Dask cluster
   (:func:`grader.pipeline.distributed.run_on_cluster`, ``--scheduler``). Either way the
   task runs :func:`grader.runtime.grade.grade_notebook` (locked cells restored from the
   source, a sandboxed kernel forked from the worker's template, per-cell time, memory and
   output limits, verdicts computed outside the kernel) and returns a :class:`TaskResult`:
   the summary and the *pre-graded* notebook.
2. **Score, in one process.** As each result comes back, this process writes the pre-graded
   notebook and runs nbgrader's own ``autograde`` on the submission, its ``Execute`` step
   replaced by :class:`grader.pipeline.nbgrader_bridge.LoadPregraded`, under the course's own
   configuration (:mod:`grader.pipeline.config`). nbgrader sanitizes the submission, scores
   the test cells, applies late penalties (the course's plugin) and writes the gradebook:
   one writer per run, so a sqlite gradebook never sees concurrent writes from one run. A
   result is scored once, whatever an executor delivers twice.

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
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry
from nbgrader.apps import NbGraderAPI

from ..errors import AutogradeError, UsageError
from ..runtime.grade import DEFAULT_LIMITS, Limits, cell_seconds, grade_notebook
from ..runtime.notebook import grade_id, parse_notebook, side_files
from ..runtime.template import prestart_template, thread_template
from ..sources import select, source_path
from . import config as _config
from . import course as _course
from . import grades as _grades
from . import results as _results
from .nbgrader_bridge import layer_autograde, pregraded_path, quiet_nbgrader, scoring_caches
from .release import release
from .workers import worker_context


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


# ---- stage 1: execute and judge (in a worker) --------------------------------------------------

@dataclass(frozen=True)
class GradingTask:
    """Everything a worker needs to grade one submission; no path of this machine is read there.

    Attributes
    ----------
    key : str
        Unique in the run (the executors' task key).
    student, assignment : str
    notebook : str
        The submitted file's path on the instructor's machine (named in messages and the summary).
    content : bytes
        The submitted file.
    files : dict of str to bytes
        The small files next to it (data it opens by relative path), by file name.
    source : str
        The assignment's source notebook (JSON).
    seed : int
        Seed of the hidden cases.
    limits : Limits
    hidden : tuple of str
        Folders its kernel must not see besides the defaults, where they exist on the worker
        (the course folder, the sources, the gradebook's folder).
    sandbox : {"auto", True, False}
        As for :func:`grader.runtime.execute.execute_notebook`.
    template : bool
        Fork the kernels from the worker thread's template (:mod:`grader.runtime.template`)
        rather than start each from scratch.
    """

    key: str
    student: str
    assignment: str
    notebook: str
    content: bytes
    source: str
    seed: int
    limits: Limits = DEFAULT_LIMITS
    files: dict = field(default_factory=dict)
    hidden: tuple = ()
    sandbox: bool | str = "auto"
    template: bool = True


@dataclass
class TaskResult:
    """What a worker sends back for one :class:`GradingTask`.

    Attributes
    ----------
    key : str
        The task's key.
    result : SubmissionResult
    pregraded : str or None
        The executed and judged notebook (JSON) that nbgrader scores; None when it was not graded.
    """

    key: str
    result: _results.SubmissionResult
    pregraded: str | None = None


def make_task(submission: Submission, *, key: str, solutions, seed: int, limits: Limits = DEFAULT_LIMITS,
              hidden=(), sandbox="auto", template: bool = True) -> GradingTask:
    """Read a submission, its side files and its assignment's source into a :class:`GradingTask`."""
    try:
        content = submission.notebook.read_bytes()
    except OSError:
        content = b""  # graded as unreadable
    files = {item.name: item.read_bytes() for item in side_files(submission.notebook)}
    source = source_path(submission.assignment, solutions).read_text(encoding="utf-8")
    return GradingTask(key, submission.student, submission.assignment, str(submission.notebook), content,
                       source, int(seed), limits, files, tuple(str(h) for h in hidden), sandbox, template)


def _plain_name(name: str) -> bool:
    return name == Path(name).name and name not in ("", ".", "..")


def grade_task(task: GradingTask) -> TaskResult:
    """Execute one submission in the sandbox and judge it: what every executor runs, in a worker.

    The notebook runs in a private temporary folder holding the task's side files; nothing
    is written outside it, and it is removed.

    Returns
    -------
    TaskResult
        Its result has ``status`` "graded"; "unreadable" when the file is not a usable notebook;
        "error" when a kernel could not be started even after retries (a fault of the grading
        host, which must not become a 0), with no pre-graded notebook.
    """
    start = time.perf_counter()
    result = _results.SubmissionResult(task.student, task.assignment, task.notebook, task.seed)
    try:
        learner = parse_notebook(task.content, task.notebook)
    except UsageError as error:
        result.status, result.reason = "unreadable", str(error)
        return TaskResult(task.key, result)
    hidden = [Path(h) for h in task.hidden if Path(h).exists()]
    template = thread_template(hidden) if task.template and task.sandbox is not False else None
    work = Path(tempfile.mkdtemp(prefix="grader-work-"))
    try:
        for name, data in task.files.items():
            if _plain_name(name):
                (work / name).write_bytes(data)
        graded = grade_notebook(learner, nbformat.reads(task.source, as_version=4), workdir=work,
                                seed=task.seed, limits=task.limits, sandbox=task.sandbox, hidden=hidden,
                                template=template)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.exercises = graded.results
    result.signals = graded.signals
    result.incidents = [_results.Incident(grade_id(graded.notebook.cells[e.index]) or
                                          graded.notebook.cells[e.index].get("id") or "?", e.kind, e.detail)
                        for e in graded.events]
    result.cell_seconds = cell_seconds(graded.notebook)
    result.seconds = time.perf_counter() - start
    unstarted = [e.detail for e in graded.events if e.kind == "start_failed"]
    if unstarted:  # the grader's fault, not the learner's: not graded rather than scored 0
        result.status = "error"
        result.reason = f"not graded: {unstarted[0]}"
        return TaskResult(task.key, result)
    return TaskResult(task.key, result, nbformat.writes(graded.notebook))


def save_pregraded(out_dir: Path, outcome: TaskResult) -> Path | None:
    """Write the pre-graded notebook of ``outcome`` where nbgrader's LoadPregraded reads it."""
    if outcome.pregraded is None:
        return None
    result = outcome.result
    path = pregraded_path(out_dir, result.assignment, result.student, result.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(outcome.pregraded, encoding="utf-8")
    return path


def grade_submission(submission: Submission, *, solutions, seed: int, limits: Limits, hidden=(),
                     out_dir: Path, sandbox="auto", template: bool = True) -> _results.SubmissionResult:
    """Grade one submission in this process and save its pre-graded notebook under ``out_dir``.

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
    template : bool
        Fork the kernels from this thread's template.

    Returns
    -------
    SubmissionResult
        ``status`` "graded", or "unreadable" when the file is not a usable notebook.
    """
    task = make_task(submission, key=f"{submission.assignment}/{submission.student}", solutions=solutions,
                     seed=seed, limits=limits, hidden=hidden, sandbox=sandbox, template=template)
    outcome = grade_task(task)
    save_pregraded(Path(out_dir), outcome)
    return outcome.result


def failed_result(task: GradingTask, reason: str, kind: str | None = None) -> TaskResult:
    """The result of a task that could not be graded (``kind``: the incident to record, if any)."""
    result = _results.SubmissionResult(task.student, task.assignment, task.notebook, task.seed,
                                       status="error", reason=reason)
    if kind:
        result.incidents = [_results.Incident("(the whole notebook)", kind, reason)]
    return TaskResult(task.key, result)


#: What an executor calls, in this process, for each task it has a result for.
OnResult = Callable[[GradingTask, TaskResult], None]


def run_pool(tasks: Iterable[GradingTask], jobs: int, on_result: OnResult, *,
             template_hidden: Sequence[str] | None = None) -> None:
    """The local executor: ``jobs`` worker processes of this machine run :func:`grade_task`.

    A task whose worker process itself died (not its kernel: that is an incident of the
    notebook) is run again in a fresh pool; dying twice makes it a ``worker_died`` result.
    With ``template_hidden`` (the tasks' ``hidden``), each worker starts its kernel template
    as soon as it starts, while it imports the grader.
    """
    pending = list(tasks)
    for _ in range(2):
        pending = _pool_round(pending, jobs, on_result, template_hidden)
        if not pending:
            return
    for task in pending:
        on_result(task, failed_result(task, "the grading worker process died twice", "worker_died"))


def _pool_round(tasks, jobs, on_result, template_hidden):
    """Run ``tasks`` in one pool, at most ``2 * jobs`` submitted at a time; return those whose worker died."""
    broken, queue = [], list(tasks)
    context = worker_context()  # a fresh server's forks: no inherited sockets, locks or gradebook sessions
    warm = {} if template_hidden is None else {"initializer": prestart_template,
                                               "initargs": (tuple(template_hidden),)}
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, **warm) as pool:
        running = {}
        while queue or running:
            while queue and len(running) < 2 * jobs:
                task = queue.pop(0)
                running[pool.submit(grade_task, task)] = task
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                try:
                    outcome = future.result()
                except concurrent.futures.process.BrokenProcessPool:
                    broken.append(task)
                    continue
                except Exception as error:  # a bug of ours on one submission: record it, go on
                    outcome = failed_result(task, f"{type(error).__name__}: {error}")
                on_result(task, outcome)
            if broken:  # the pool is unusable: everything not done goes to the next round
                broken += [*running.values(), *queue]
                break
    return broken


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
              progress=True, course_id=None, config_file=None, scheduler: str | None = None,
              template: bool = True) -> list[_results.SubmissionResult]:
    """Autograde every collected submission with nbgrader, ``jobs`` at a time or on a Dask cluster.

    Parameters
    ----------
    assignments, students : list of str, optional
        Restrict the batch; default: everything in ``<course_dir>/submitted``.
    course_dir : path-like
        The working course folder.
    jobs : int
        Submissions executed at the same time on this machine (one kernel each).
    seed : int, optional
        Seed of the hidden cases for every submission (to reproduce a run);
        default: a fresh seed per submission, recorded in its result.
    limits : Limits
    db_url, course_id : str, optional
        Gradebook URL and course id; default: the course's configuration's.
    config_file : path-like, optional
        A configuration file read as stock's ``--NbGrader.config_file``.
    sandbox : {"auto", True, False}
        As for :func:`grader.runtime.execute.execute_notebook`; on a cluster "auto" requires
        bubblewrap on every worker.
    progress : bool
        Show a progress bar on stderr.
    scheduler : str, optional
        A Dask scheduler's address (``tcp://HOST:PORT``) or scheduler file: grade on its
        workers (:mod:`grader.pipeline.distributed`) instead of ``jobs`` local processes.
    template : bool
        Fork each kernel from a pre-imported template per worker thread (default) rather than
        start it from scratch; the same isolation, a fraction of the start-up cost.

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
    cluster = None
    if scheduler is not None:
        from . import distributed

        cluster = distributed.connect(scheduler)  # before any work: a bad cluster fails fast
    try:
        if cluster is not None:
            sandbox = distributed.worker_sandbox(cluster, sandbox)
        _course.nbgrader_environment()
        config = _config.course_config(course_dir, config_file=config_file, db_url=db_url,
                                       course_id=course_id, solutions=solutions)
        settings = _config.course_settings(config)
        ensure_assignments(sorted({s.assignment for s in submissions}), course_dir=course_dir,
                           db_url=settings.db_url, course_id=settings.course_id, config_file=config_file,
                           solutions=solutions)
        out_dir = new_run_dir(course_dir)  # this run's own: never a stale or another run's notebook
        try:
            api = NbGraderAPI(config=layer_autograde(config, out_dir, solutions=solutions))
            hidden = _hidden_folders(course_dir, solutions, settings.db_url)
            run = secrets.token_hex(4)  # task keys of this run only, whatever a cluster still remembers
            tasks = (make_task(s, key=f"{run}-{s.assignment}-{s.student}", solutions=solutions,
                               seed=seed if seed is not None else secrets.randbelow(2**31), limits=limits,
                               hidden=hidden, sandbox=sandbox, template=template) for s in submissions)
            bar = Progress(len(submissions)) if progress else None
            done: dict[tuple[str, str], _results.SubmissionResult] = {}

            def on_result(task: GradingTask, outcome: TaskResult) -> None:
                if (task.assignment, task.student) in done:
                    return  # scored already: a result is never scored twice
                save_pregraded(out_dir, outcome)
                done[task.assignment, task.student] = _score_one(api, settings, outcome.result, bar)

            with scoring_caches():  # on_result runs in this thread only
                if cluster is None:
                    prestart = [str(h) for h in hidden] if template and sandbox is not False else None
                    run_pool(tasks, jobs, on_result, template_hidden=prestart)
                else:
                    distributed.run_on_cluster(cluster, tasks, on_result)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
    finally:
        if cluster is not None:
            cluster.close()
    return [done[s.assignment, s.student] for s in submissions]


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
