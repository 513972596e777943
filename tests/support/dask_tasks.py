"""Stand-in grading tasks for tests of the Dask executor (imported by the cluster's workers).

A test's workers find this module on their ``PYTHONPATH`` (:data:`WORKER_ENV`), since a task
function travels by reference.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from grader.pipeline.autograde import GradingTask, TaskResult
from grader.pipeline.results import SubmissionResult

#: Environment of the test cluster's processes: they import this module.
WORKER_ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent),
                                                           os.environ.get("PYTHONPATH", "")]))}


def kill_worker_or_echo(task: GradingTask) -> TaskResult:
    """SIGKILL the worker process for a student called ``poison…``; otherwise a graded result at once.

    The result's ``reason`` holds the PID of the worker that produced it.
    """
    if task.student.startswith("poison"):
        os.kill(os.getpid(), signal.SIGKILL)
    result = SubmissionResult(task.student, task.assignment, task.notebook, task.seed,
                              reason=str(os.getpid()))
    return TaskResult(task.key, result)
