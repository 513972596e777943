"""Grading on a Dask cluster: ``python -m grader autograde --scheduler tcp://HOST:PORT`` (or its file).

The executor of :mod:`grader.pipeline.autograde` for a class that one machine cannot grade in
time. Each submission's :class:`~grader.pipeline.autograde.GradingTask` is sent to a worker of
a ``dask.distributed`` cluster, which runs the same :func:`~grader.pipeline.autograde.grade_task`
as a local worker process (sandboxed kernels forked from the worker thread's template) and
sends back the summary and the pre-graded notebook. Nothing is shared: a worker needs the
instructor package and bubblewrap, never the course folder. This process stays the only
writer of the gradebook and scores each result as it arrives.

Worker loss. A task running on a worker that dies (a machine lost, the worker SIGKILLed) is
run again elsewhere by the scheduler, and each task's result is scored once, whatever arrives
twice. The scheduler gives a task up (``KilledWorker``) after it was running on
``distributed.scheduler.allowed-failures + 1`` workers that died. Because the scheduler blames
*every* task it had sent to a dying worker, including one merely queued there, such a task is
not judged yet: it is tried again alone on the cluster, one at a time, where the blame is
exact, and only a second ``KilledWorker`` makes it a ``worker_died`` incident — at most
``2 * (allowed-failures + 1)`` tries in all. To keep the blame exact in the first place, at
most as many tasks are in flight as the cluster has worker threads.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AutogradeError
from .autograde import GradingTask, OnResult, TaskResult, failed_result, grade_task

#: Seconds to reach the scheduler, and for a first worker to be there.
CONNECT_TIMEOUT = 30.0
WORKER_TIMEOUT = 120.0


@dataclass(frozen=True)
class WorkerReport:
    """What a worker says about itself before the class is sent (:func:`worker_report`).

    Attributes
    ----------
    python : str
        Its Python version.
    grader : str
        Where it imports the instructor package from.
    bubblewrap : bool
        Whether it has a working bubblewrap (the sandbox).
    """

    python: str
    grader: str
    bubblewrap: bool


@dataclass
class ClusterRun:
    """What :func:`run_on_cluster` did.

    Attributes
    ----------
    allowed_failures : int
        The scheduler's ``distributed.scheduler.allowed-failures``.
    scored : list of str
        Keys of the tasks whose result was handed on, in order.
    duplicates : int
        Results that arrived for a key already handed on (ignored).
    alone : list of str
        Keys of the tasks tried again alone after a ``KilledWorker``.
    """

    allowed_failures: int
    scored: list[str] = field(default_factory=list)
    duplicates: int = 0
    alone: list[str] = field(default_factory=list)


def _distributed():
    try:
        import distributed
    except ImportError:
        raise AutogradeError("grading on a Dask cluster needs dask.distributed: "
                             "pip install 'attention-course-grader[dask]'") from None
    return distributed


def scheduler_arguments(scheduler: str) -> dict:
    """``Client`` arguments for a scheduler's address or the path of its scheduler file.

    Raises
    ------
    AutogradeError
        For something that is neither an address (``tcp://HOST:PORT``, ``tls://…``) nor an
        existing file.
    """
    if "://" in scheduler:
        return {"address": scheduler}
    if Path(scheduler).is_file():
        return {"scheduler_file": str(Path(scheduler).resolve())}
    raise AutogradeError(f"--scheduler {scheduler}: neither a scheduler address (tcp://HOST:PORT) "
                         "nor a scheduler file")


def connect(scheduler: str, timeout: float = CONNECT_TIMEOUT):
    """A ``distributed.Client`` of the scheduler at ``scheduler`` (address or scheduler file).

    Raises
    ------
    AutogradeError
        When dask.distributed is missing or the scheduler cannot be reached.
    """
    distributed = _distributed()
    arguments = scheduler_arguments(scheduler)
    try:
        return distributed.Client(**arguments, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise AutogradeError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None


def worker_report() -> WorkerReport:
    """Run on each worker (``client.run``): does it have the grader and a working sandbox?"""
    import grader
    from grader.runtime.sandbox import bubblewrap

    return WorkerReport(sys.version.split()[0], os.path.dirname(grader.__file__), bubblewrap() is not None)


def worker_sandbox(client, sandbox, timeout: float = WORKER_TIMEOUT):
    """Check the cluster's workers and return the ``sandbox`` setting their tasks carry.

    On a cluster the sandbox is never optional by default: "auto" becomes True, so a worker
    without bubblewrap fails its tasks instead of grading without a sandbox.

    Raises
    ------
    AutogradeError
        When no worker joins within ``timeout`` seconds, a worker cannot import the grader, or
        (unless ``sandbox`` is False) a worker has no working bubblewrap.
    """
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise AutogradeError(f"no Dask worker joined the scheduler within {timeout:g} s; start workers "
                             "with `dask worker SCHEDULER` (see the README)") from None
    reports = client.run(worker_report, on_error="return")
    broken = {address: report for address, report in reports.items() if not isinstance(report, WorkerReport)}
    if broken:
        address, error = next(iter(broken.items()))
        raise AutogradeError(f"Dask worker {address} cannot run the grader "
                             f"({type(error).__name__}: {error}); "
                             "install the instructor package on every worker")
    if sandbox is False:
        return False
    unsandboxed = sorted(address for address, report in reports.items() if not report.bubblewrap)
    if unsandboxed:
        raise AutogradeError(f"Dask worker(s) {', '.join(unsandboxed)} have no working bubblewrap: "
                             "apt-get install bubblewrap there (learner code is never run unsandboxed "
                             "on a cluster)")
    return True


def _allowed_failures(dask_scheduler=None) -> int:
    return int(dask_scheduler.allowed_failures)


def run_on_cluster(client, tasks: Iterable[GradingTask], on_result: OnResult, *,
                   function: Callable[[GradingTask], TaskResult] = grade_task) -> ClusterRun:
    """Run ``function`` on every task on the cluster of ``client``; hand each result to ``on_result`` once.

    Parameters
    ----------
    client : distributed.Client
    tasks : iterable of GradingTask
        Read as room frees up; their keys must be unique.
    on_result : callable
        ``on_result(task, result)``, called in this process once per task: its result, or
        a ``worker_died`` (given up) or ``error`` (the task raised) result.
    function : callable
        What the workers run (a test's stand-in; it must be importable on the workers).

    Returns
    -------
    ClusterRun
    """
    run = ClusterRun(int(client.run_on_scheduler(_allowed_failures)))
    suspects = _round(client, iter(tasks), function, on_result, run, window=None, final=False)
    if suspects:  # alone on the cluster, one at a time: the blame is exact
        run.alone = [task.key for task in suspects]
        _round(client, iter(suspects), function, on_result, run, window=1, final=True)
    return run


def _given_up(task: GradingTask, tries: int) -> TaskResult:
    return failed_result(task, f"grading this submission took its Dask worker down {tries} times, the "
                               "last ones while it ran alone on the cluster; not tried again", "worker_died")


def _value(status: str, delivered):
    """What a finished future gave: its result, or the exception it ended with.

    ``as_completed(with_results=True, raise_errors=False)`` delivers an errored future as the
    tuple ``(type, exception, traceback)``.
    """
    if status == "error" and isinstance(delivered, tuple) and len(delivered) == 3 \
            and isinstance(delivered[1], BaseException):
        return delivered[1]
    return delivered


def _round(client, tasks: Iterator[GradingTask], function, on_result, run, *, window, final):
    """Submit ``tasks`` with at most ``window`` (default: the cluster's threads) in flight.

    Returns the tasks that ended in ``KilledWorker`` (when not ``final``).
    """
    distributed = _distributed()
    from distributed.scheduler import KilledWorker

    completed = distributed.as_completed([], loop=client.loop, with_results=True, raise_errors=False)
    in_flight, suspects, seen = {}, [], set(run.scored)
    suffix = "-alone" if final else ""

    def top_up():
        room = window or max(1, sum(client.nthreads().values()))
        while len(in_flight) < room:
            task = next(tasks, None)
            if task is None:
                return
            if task.key in in_flight:
                raise AutogradeError(f"two tasks have the key {task.key}")
            future = client.submit(function, task, key=f"grade-{task.key}{suffix}", pure=False)
            in_flight[task.key] = (task, future)
            completed.add(future)

    top_up()
    for future, delivered in completed:
        value = _value(future.status, delivered)
        task, _ = in_flight.pop(next(k for k, (_, f) in in_flight.items() if f is future))
        top_up()  # before scoring: no worker waits while this process talks to nbgrader
        future.release()  # forgotten by the scheduler: nothing to recompute if a worker dies later
        if isinstance(value, KilledWorker) and not final:
            suspects.append(task)
            continue
        if isinstance(value, KilledWorker):
            outcome = _given_up(task, 2 * (run.allowed_failures + 1))
        elif isinstance(value, BaseException):
            outcome = failed_result(task, f"grading failed on the cluster: {type(value).__name__}: {value}")
        elif not isinstance(value, TaskResult) or value.key != task.key:
            outcome = failed_result(task, f"the cluster returned {type(value).__name__} for task {task.key}")
        else:
            outcome = value
        if task.key in seen:
            run.duplicates += 1
            continue
        seen.add(task.key)
        run.scored.append(task.key)
        on_result(task, outcome)
    return suspects


def local_dask_command() -> str:
    """The ``dask`` command next to this Python (for starting local workers), or the one on PATH.

    Raises
    ------
    AutogradeError
        When there is none.
    """
    found = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if found is None:
        raise AutogradeError("the `dask` command is missing: pip install 'attention-course-grader[dask]'")
    return found
