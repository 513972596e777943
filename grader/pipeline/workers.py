"""How ``autograde --jobs N`` starts its worker processes: forked from a server that imported the grader once.

A grading worker needs the grading code imported (nbformat, nbgrader, nbclient, NumPy, the
checks: about 2 CPU-s), and so does the main process. Spawning each worker from scratch
pays that once per worker, after the main process has paid it. Instead the workers come from
multiprocessing's *forkserver*: a fresh process (not a fork of the main one: no inherited
sockets, locks or gradebook sessions) that imports :data:`WORKER_MODULES` once and forks a
worker whenever the pool needs one. ``python -m grader autograde`` starts it first thing
(:func:`start_worker_server`), so that its imports run on one core while the main process
imports on the other.

The server keeps the environment and ``sys.path`` of the moment it started; it lives as long
as the process that started it. Where there is no forkserver (Windows), workers are spawned.
This module imports nothing heavy: ``grader/__main__.py`` uses it before anything else.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context

#: What a grading worker runs (:func:`grader.pipeline.autograde.grade_task`) and so imports.
WORKER_MODULES = ("grader.pipeline.autograde",)


def worker_context() -> multiprocessing.context.BaseContext:
    """The start method of the grading pool: a forkserver preloading :data:`WORKER_MODULES`, else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_MODULES))
    return context


def start_worker_server() -> None:
    """Start the forkserver now (it imports the grading code in the background); no-op without one."""
    context = worker_context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
