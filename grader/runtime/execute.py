"""Run a submitted notebook so that a misbehaving answer costs only its own cells.

Cells run one at a time in a kernel started by :mod:`grader.kernel.launch` (inside the
sandbox of :mod:`grader.runtime.sandbox` when there is one), talking over IPC sockets so
that parallel graders never race for TCP ports. When a cell times out (even if
it ignores SIGINT) or kills its kernel (``os._exit``, a segfault, the memory
limit), that cell gets an error output naming the reason, a fresh kernel
replays the cells that had succeeded, and execution goes on with the next cell.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from attention_course import record as _record

from ..errors import SandboxError
from . import sandbox as _sandbox

#: Extra room for check records, which are bounded by the number of cases, not by the learner.
RECORD_LIMIT = 20_000_000


@dataclass
class CellEvent:
    """Something went wrong in one cell.

    Attributes
    ----------
    index : int
        Index of the cell in the notebook.
    kind : str
        ``"timeout"``, ``"kernel_died"``, ``"output_truncated"`` or ``"start_failed"``.
    detail : str
        One line for humans.
    """

    index: int
    kind: str
    detail: str


def _message_size(content):
    return len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())


class _CappedClient(NotebookClient):
    """A NotebookClient that stops keeping a cell's outputs once they pass a size limit."""

    output_limit = 1_000_000

    def __init__(self, *args, events, **kwargs):
        super().__init__(*args, **kwargs)
        self._events = events
        self._sizes = {}

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        is_record = _record.MIME in content.get("data", {})
        key = (cell_index, is_record)
        before = self._sizes.get(key, 0)
        self._sizes[key] = before + _message_size(content)
        limit = RECORD_LIMIT if is_record else self.output_limit
        if self._sizes[key] <= limit:
            return super().output(outs, msg, display_id, cell_index)
        if before < limit and msg.get("msg_type") == "stream":
            # The chunk that crosses the limit keeps its head: one huge print still shows its start.
            head = {**msg, "content": {**content, "text": content.get("text", "")[:limit - before]}}
            super().output(outs, head, display_id, cell_index)
        if before <= limit:  # the first output past the limit: say so, once
            note = f"[output truncated: more than {limit:,} characters]\n"
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
            self._events.append(CellEvent(cell_index, "output_truncated", note.strip()))
        return None


def _kernel_manager_class(prefix, memory_limit, block_imports):
    """An AsyncKernelManager subclass whose command is our launcher, wrapped in the sandbox."""

    class GradingKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            command = [*prefix, sys.executable, "-m", "grader.kernel.launch", "--memory", str(memory_limit)]
            if block_imports:
                command.append("--block-imports")
            return [*command, "-f", os.path.realpath(self.connection_file), *(extra_arguments or [])]

    return GradingKernelManager


def _error_output(ename, evalue):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def execute_notebook(nb, *, workdir, env=None, cell_timeout=30.0, memory_limit=2 * 1024**3,
                     output_limit=1_000_000, sandbox="auto", startup_timeout=60.0, hidden=(),
                     readonly=(), start_attempts=2):
    """Execute every code cell of ``nb``, surviving answers that hang or crash.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook (not modified; a copy is executed).
    workdir : path-like
        Folder the kernel runs in (the only one it may write when sandboxed).
    env : dict, optional
        Extra environment variables for the kernel (e.g. grading mode and seed).
    cell_timeout : float
        Seconds one cell may run.
    memory_limit : int
        Address-space limit of the kernel in bytes.
    output_limit : int
        Characters of output kept per cell.
    sandbox : {"auto", True, False}
        Run the kernel under bubblewrap: when available, always (error if
        missing), or never.
    startup_timeout : float
        Seconds a kernel may take to start.
    hidden : sequence of path-like
        Folders hidden from the sandboxed kernel besides the project, ``$HOME``
        and the temporary folder (e.g. a course folder holding the gradebook
        and the other submissions).
    readonly : sequence of path-like
        Files the sandboxed kernel may read at their own path (the cases of the checks).
    start_attempts : int
        Times a kernel that fails to start is started again (with a growing pause) before
        the remaining cells are given up.

    Returns
    -------
    nb : nbformat.NotebookNode
        The executed copy.
    events : list of CellEvent
    """
    nb = copy.deepcopy(nb)
    workdir = Path(workdir).resolve()
    bwrap = _sandbox.bubblewrap() if sandbox in ("auto", True) else None
    if sandbox is True and bwrap is None:
        raise SandboxError("the sandbox is required but bubblewrap (bwrap) is not available on this "
                           "machine: apt-get install bubblewrap")
    site = _sandbox.safe_site()
    events = []
    runtime = Path(tempfile.mkdtemp(prefix="grader-kernel-"))
    try:
        prefix = (_sandbox.bwrap_prefix(bwrap, site=site, writable=[workdir, runtime],
                                        hidden=[*_sandbox.DEFAULT_HIDDEN, *map(Path, hidden)],
                                        readonly=[Path(r).resolve() for r in readonly])
                  if bwrap else [])
        manager = _kernel_manager_class(prefix, memory_limit, block_imports=bwrap is None)
        kernel_env = {**os.environ, **(env or {}), "PYTHONPATH": str(site),
                      "IPYTHONDIR": str(runtime / "ipython"), "MPLCONFIGDIR": str(runtime / "mpl")}
        _run_cells(nb, events, manager, kernel_env, workdir, runtime, cell_timeout, output_limit,
                   startup_timeout, start_attempts)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    return nb, events


def _client(nb, events, manager, workdir, runtime, cell_timeout, output_limit, startup_timeout, attempt):
    client = _CappedClient(
        nb, events=events, timeout=cell_timeout, startup_timeout=startup_timeout, allow_errors=True,
        interrupt_on_timeout=False, shutdown_kernel="immediate", kernel_name="python3",
        kernel_manager_class=manager, resources={"metadata": {"path": str(workdir)}},
    )
    client.output_limit = output_limit
    client.km = client.create_kernel_manager()
    client.km.transport = "ipc"
    client.km.ip = str(runtime / f"k{attempt}")
    client.km.connection_file = str(runtime / f"kernel-{attempt}.json")
    return client


def _run_cells(nb, events, manager, env, workdir, runtime, cell_timeout, output_limit, startup_timeout,
               start_attempts):
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    for i in code:
        nb.cells[i].outputs = []
        nb.cells[i].execution_count = None
    done = []  # cells that ran to completion, replayed after a restart
    position = 0
    attempt = 0
    start_failures = 0
    while position < len(code):
        attempt += 1
        client = _client(nb, events, manager, workdir, runtime, cell_timeout, output_limit,
                         startup_timeout, attempt)
        current = None
        log = open(runtime / f"kernel-{attempt}.log", "wb")  # noqa: SIM115 - closed below
        try:
            with client.setup_kernel(env=env, cwd=str(workdir), stdout=log, stderr=log):
                start_failures = 0
                for i in done:
                    current = i
                    client.execute_cell(copy.deepcopy(nb.cells[i]), i)  # outputs discarded
                current = None
                while position < len(code):
                    current = code[position]
                    client.execute_cell(nb.cells[current], current)
                    done.append(current)
                    position += 1
                current = None
        except CellTimeoutError:
            _fail(nb, events, current, "timeout",
                  f"this cell ran longer than the {cell_timeout:g} s limit and was stopped")
        except DeadKernelError:
            _fail(nb, events, current, "kernel_died",
                  "the kernel died while running this cell (os._exit, a crash or the memory limit)")
        except Exception as error:  # the kernel did not start (or its client broke)
            error = f"{error}; kernel log: {_tail(runtime / f'kernel-{attempt}.log')}"
            if current is not None:
                _fail(nb, events, current, "kernel_died", f"the kernel stopped answering ({error})")
            else:
                start_failures += 1
                if start_failures >= start_attempts:
                    for i in code[position:]:
                        _fail(nb, events, i, "start_failed", f"the kernel could not start: {error}")
                    return
                time.sleep(start_failures)  # back off, then start a fresh kernel
                continue
        finally:
            log.close()
        if current in done:
            done.remove(current)  # a replayed cell that now fails is not replayed again
        elif current is not None and current == code[position]:
            position += 1


def _tail(path, chars=300):
    try:
        return path.read_text(errors="replace")[-chars:].strip() or "(empty)"
    except OSError:
        return "(none)"


def _fail(nb, events, index, kind, detail):
    if index is None:
        return
    nb.cells[index].outputs.append(_error_output("GradingError", detail))
    events.append(CellEvent(index, kind, detail))
