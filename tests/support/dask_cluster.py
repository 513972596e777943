"""A real Dask cluster on loopback for tests: one ``dask scheduler`` and N ``dask worker`` processes.

::

    with dask_cluster(workers=2) as cluster:
        with distributed.Client(cluster.address) as client:   # or scheduler_file=cluster.scheduler_file
            ...
            os.kill(cluster.worker_pids()[0], signal.SIGKILL)  # lose a worker mid-run

Every process is a subprocess of its own (``start_new_session``), started from the
command-line entry points a deployment uses, bound to 127.0.0.1 with the dashboards off,
and told where the scheduler is through a scheduler file in a temporary folder. The
context manager returns once every worker has registered with the scheduler and stops
everything on exit: workers first, then the scheduler, SIGTERM then SIGKILL, and it
checks that no process of the cluster (nor any process they started) survives.

Nanny or not
------------
Workers run **under a nanny** (``--nanny``, the ``dask worker`` default): the worker
proper is a child process of the nanny, which restarts it when it dies. That is the
behaviour the grader needs from a deployment and what the tests exercise:

- a worker SIGKILLed mid-task is *lost* by the scheduler (its connection closes), the
  tasks it was running are marked suspicious and rescheduled on another worker, and the
  nanny brings a fresh worker back, so the cluster keeps its size;
- a submission that kills its worker every time is retried on the restarted workers
  until ``distributed.scheduler.allowed-failures`` is exceeded and then fails with
  ``KilledWorker`` (a bounded number of tries). With ``--no-nanny`` every kill removes a
  worker for good: with two workers a poison task with ``allowed-failures=2`` kills both
  before its third try and then waits forever for a worker.

:meth:`DaskCluster.worker_pids` therefore returns the PIDs of the *worker* processes (the
nanny's children, as the scheduler knows them, which change after a restart), the ones a
test SIGKILLs; :attr:`DaskCluster.nanny_pids` are the ``dask worker`` processes
themselves. (A nanny that is SIGKILLed takes its worker with it: the worker watches a pipe
from its nanny and exits when it closes.)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Seconds for the scheduler and the workers to come up, and for a stop to take effect.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
#: A worker that cannot reach its scheduler for this long exits by itself (a safety net when a
#: test process dies before it could stop the cluster).
DEATH_TIMEOUT = "60s"


class ClusterError(RuntimeError):
    """The cluster did not start, or did not stop completely."""


@dataclass
class DaskCluster:
    """A running loopback cluster (see :func:`dask_cluster`).

    Attributes
    ----------
    address : str
        The scheduler's address, ``tcp://127.0.0.1:PORT``.
    scheduler_file : pathlib.Path
        The JSON file the scheduler wrote; ``Client(scheduler_file=...)`` reads it.
    scheduler_pid : int
    nanny_pids : list of int
        The ``dask worker`` processes (each the nanny of one worker).
    folder : pathlib.Path
        Temporary folder of the scheduler file, the logs and the workers' local directories.
    """

    address: str
    scheduler_file: Path
    scheduler_pid: int
    nanny_pids: list[int]
    folder: Path
    _processes: list[subprocess.Popen] = field(default_factory=list, repr=False)

    def worker_pids(self, timeout: float = START_TIMEOUT) -> dict[str, int]:
        """The worker processes the scheduler knows now, ``{worker address: pid}``.

        Waits until as many workers as nannies answer (a worker just killed is being
        restarted by its nanny). ``wait_for_workers`` alone is not enough: right after a
        SIGKILL the scheduler may still count the dead worker, which ``client.run`` then
        drops from its answer.
        """
        from distributed import Client

        deadline = time.monotonic() + timeout
        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            while True:
                client.wait_for_workers(len(self.nanny_pids), timeout=max(deadline - time.monotonic(), 1))
                pids = dict(sorted(client.run(os.getpid, on_error="ignore").items()))
                if len(pids) == len(self.nanny_pids) or time.monotonic() > deadline:
                    return pids
                time.sleep(0.2)

    def logs(self) -> str:
        """The scheduler's and the workers' logs, for a failing test's message."""
        return _tails(self.folder)


def _start_time(pid: int) -> int | None:
    """The kernel's start time of process ``pid`` (None when it is gone or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _tree(roots: list[int]) -> dict[int, int]:
    """Every live process in the trees rooted at ``roots``: ``{pid: start time}``."""
    children, found, stack = _children(), {}, list(roots)
    while stack:
        pid = stack.pop()
        start = _start_time(pid)
        if start is not None and pid not in found:
            found[pid] = start
            stack += children.get(pid, [])
    return found


def _alive(processes: dict[int, int]) -> list[int]:
    """The processes of ``processes`` still running (same PID *and* start time: no reuse)."""
    return [pid for pid, start in processes.items() if _start_time(pid) == start]


def _wait_gone(processes: dict[int, int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while _alive(processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(processes)


def _popen(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(log, "wb") as handle:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)


def _environment(config: dict[str, object] | None, env: dict[str, str] | None) -> dict[str, str]:
    """The processes' environment: ours, ``env``, and Dask settings as ``DASK_...`` variables."""
    result = {**os.environ, **(env or {})}
    for key, value in (config or {}).items():  # "distributed.scheduler.allowed-failures" -> DASK_...
        name = "DASK_" + "__".join(part.upper().replace("-", "_") for part in key.split("."))
        result[name] = value if isinstance(value, str) else json.dumps(value)
    return result


def _wait_for(condition, timeout: float, what: str, processes: list[subprocess.Popen], folder: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        dead = [p for p in processes if p.poll() is not None]
        if dead:
            raise ClusterError(f"{what}: process {dead[0].args[:3]} exited with {dead[0].returncode}\n"
                               + _tails(folder))
        time.sleep(0.1)
    raise ClusterError(f"{what}: not done after {timeout:g} s\n" + _tails(folder))


def _tails(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                     for p in sorted(folder.glob("*.log")))


def _stop(processes: list[subprocess.Popen], timeout: float) -> None:
    """Stop ``processes`` and everything they started; raise ClusterError if anything survives."""
    everything = _tree([p.pid for p in processes if p.poll() is None])
    for p in processes:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
    survivors = _wait_gone(everything, timeout)
    if survivors:
        everything.update(_tree(survivors))  # what they started meanwhile
        for pid in _alive(everything):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        survivors = _wait_gone(everything, timeout)
    for p in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=1)  # reap our own children
    if survivors:
        raise ClusterError(f"processes of the Dask cluster survived SIGKILL: {survivors}")


@contextlib.contextmanager
def dask_cluster(workers: int = 2, *, config: dict[str, object] | None = None,
                 env: dict[str, str] | None = None, worker_args: tuple[str, ...] = (),
                 timeout: float = START_TIMEOUT) -> Iterator[DaskCluster]:
    """Start a scheduler and ``workers`` nanny-managed workers on 127.0.0.1; stop them all at the end.

    Parameters
    ----------
    workers : int
        Number of ``dask worker`` processes, each one worker of one thread.
    config : dict, optional
        Dask settings for every process, e.g. ``{"distributed.scheduler.allowed-failures": 2}``.
    env : dict, optional
        Extra environment variables (e.g. ``PYTHONPATH`` so that workers import a test's module).
    worker_args : tuple of str
        Extra ``dask worker`` options.
    timeout : float
        Seconds for the cluster to come up.

    Yields
    ------
    DaskCluster

    Raises
    ------
    ClusterError
        When the cluster does not come up in time, or a process of it survives the stop.
    """
    if workers < 1:
        raise ValueError(f"a cluster needs at least one worker, got workers={workers}")
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        raise ClusterError("the `dask` command is missing: pip install -e '.[dask]'")
    folder = Path(tempfile.mkdtemp(prefix="dask-cluster-"))
    scheduler_file = folder / "scheduler.json"
    environment = _environment(config, env)
    processes: list[subprocess.Popen] = []
    try:
        processes.append(_popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                 "--no-jupyter", "--scheduler-file", str(scheduler_file)],
                                folder / "scheduler.log", environment))
        address = _wait_for(lambda: scheduler_file.exists() and _read_address(scheduler_file), timeout,
                            "scheduler start", processes, folder)
        for i in range(workers):
            local = folder / f"worker-{i}"
            local.mkdir()
            processes.append(_popen(
                [dask, "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
                 "--nthreads", "1", "--nworkers", "1", "--nanny", "--no-dashboard", "--name", f"worker-{i}",
                 "--local-directory", str(local), "--death-timeout", DEATH_TIMEOUT, *worker_args],
                folder / f"worker-{i}.log", environment))
        cluster = DaskCluster(address, scheduler_file, processes[0].pid, [p.pid for p in processes[1:]],
                              folder, processes)
        _wait_for(lambda: _registered(address) >= workers, timeout, f"{workers} workers registering",
                  processes, folder)
        yield cluster
    finally:
        try:
            _stop(processes[1:], STOP_TIMEOUT)  # workers first: a scheduler stopping first makes them retry
        finally:
            _stop(processes[:1], STOP_TIMEOUT)
            shutil.rmtree(folder, ignore_errors=True)


def _read_address(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("address")
    except (OSError, ValueError):
        return None  # being written


def _registered(address: str) -> int:
    from distributed import Client

    try:
        with Client(address, timeout=5, set_as_default=False) as client:
            return len(client.scheduler_info(n_workers=-1)["workers"])
    except OSError:
        return 0
