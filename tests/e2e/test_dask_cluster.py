"""Does the loopback Dask harness (tests/support/dask_cluster.py) start real processes, survive a SIGKILLed
worker and stop everything?"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import distributed
import pytest
from dask_cluster import ClusterError, _alive, _tree, dask_cluster


def _parent(pid):
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def _port_open(address):
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, int(port))) == 0


def test_cluster_runs_tasks_on_its_own_worker_processes_and_leaves_nothing_behind():
    with dask_cluster(workers=2) as cluster:
        assert cluster.address.startswith("tcp://127.0.0.1:")
        pids = cluster.worker_pids()
        assert len(pids) == 2
        # each worker is the child of one of the nannies the harness started, and not this process
        assert sorted(_parent(pid) for pid in pids.values()) == sorted(cluster.nanny_pids)
        assert os.getpid() not in pids.values()
        everything = _tree([cluster.scheduler_pid, *cluster.nanny_pids])
        with distributed.Client(scheduler_file=str(cluster.scheduler_file), set_as_default=False) as client:
            where = {a: client.submit(os.getpid, key=f"pid-{a}", workers=[a], pure=False) for a in pids}
            assert {a: f.result() for a, f in where.items()} == pids  # tasks run in those processes
            futures = [client.submit(pow, i, 2, key=f"square-{i}", pure=False) for i in range(6)]
            assert client.gather(futures) == [i * i for i in range(6)]
        address = cluster.address
    assert _alive(everything) == []
    assert not _port_open(address)


def test_a_worker_killed_with_sigkill_is_replaced_by_its_nanny():
    with dask_cluster(workers=2) as cluster:
        before = cluster.worker_pids()
        victim_address, victim = next(iter(before.items()))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        after = cluster.worker_pids()
        while (victim in after.values() or len(after) != 2) and time.monotonic() < deadline:
            time.sleep(0.2)
            after = cluster.worker_pids()
        assert len(after) == 2
        assert victim not in after.values()
        assert victim_address not in after  # a new worker, on a new port
        survivor = [pid for pid in before.values() if pid != victim]
        assert set(survivor) <= set(after.values())
        everything = _tree([cluster.scheduler_pid, *cluster.nanny_pids])
    assert _alive(everything) == []


def test_a_cluster_that_cannot_start_says_why():
    with pytest.raises(ClusterError, match="'--nthreads': 'zero' is not a valid integer"):
        with dask_cluster(workers=1, worker_args=("--nthreads", "zero"), timeout=30):
            pass  # pragma: no cover - never reached
    with pytest.raises(ValueError, match="at least one worker"):
        with dask_cluster(workers=0):
            pass  # pragma: no cover
