"""grader.pipeline.workers: the grading pool's workers come from a server that imported the grader once."""

from __future__ import annotations

import concurrent.futures
import os
import sys

from grader.pipeline.workers import WORKER_MODULES, worker_context


def _what_a_worker_has():
    return os.getpid(), os.getppid(), [name for name in WORKER_MODULES if name in sys.modules]


def test_workers_are_forked_from_a_server_that_imported_the_grading_code():
    context = worker_context()
    assert context.get_start_method() == "forkserver"  # Linux
    with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        answers = [pool.submit(_what_a_worker_has).result() for _ in range(4)]
    pids = {pid for pid, _, _ in answers}
    parents = {parent for _, parent, _ in answers}
    assert os.getpid() not in pids
    assert parents != {os.getpid()}  # not forks of this process: of the server
    assert all(imported == list(WORKER_MODULES) for _, _, imported in answers)
