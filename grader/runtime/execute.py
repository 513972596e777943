"""Run a submitted notebook so that a misbehaving answer costs only its own cells.

Cells run one at a time in a kernel started by :mod:`grader.kernel.launch` (inside the
sandbox of :mod:`grader.runtime.sandbox` when there is one), talking over IPC sockets so
that parallel graders never race for TCP ports. When a cell times out (even if it ignores
SIGINT) or kills its kernel (``os._exit``, a segfault, the memory limit), that cell gets an
error output naming the reason, a fresh kernel replays the cells that had succeeded, and
execution goes on with the next cell — within a time budget for the whole notebook,
replays included. Outputs are capped per cell and per notebook whatever their MIME type;
a check record is accepted only in the cells that may hold one (the test cells).
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import sys
import tempfile
import threading
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

#: Room for the check records of one test cell, which are bounded by the cases, not by the learner.
RECORD_LIMIT = 20_000_000
#: Bytes the kernel may leave in its socket folder (a backstop: the folder is locked once it started).
RUNTIME_BYTES = 16 * 2**20
#: The user id that owns a locked socket folder when grading as root.
NOBODY = 65534


@dataclass
class CellEvent:
    """Something went wrong in one cell.

    Attributes
    ----------
    index : int
        Index of the cell in the notebook.
    kind : str
        ``"timeout"``, ``"notebook_timeout"``, ``"kernel_died"``, ``"output_truncated"``,
        ``"forged_record"``, ``"disk_limit"`` or ``"start_failed"``.
    detail : str
        One line for humans.
    """

    index: int
    kind: str
    detail: str


def _message_size(content):
    return len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())


def _note(outs, events, index, kind, text):
    outs.append(nbformat.v4.new_output("stream", name="stderr", text=text + "\n"))
    events.append(CellEvent(index, kind, text))


class _CappedClient(NotebookClient):
    """A NotebookClient that caps outputs per cell and per notebook, and records only where allowed."""

    output_limit = 1_000_000
    notebook_output_limit = 5_000_000

    def __init__(self, *args, events, record_cells, totals, **kwargs):
        super().__init__(*args, **kwargs)
        self._events = events
        self._record_cells = record_cells
        self._sizes = {}
        self._totals = totals  # shared by the kernels of one notebook: {"output": characters so far}

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if _record.MIME in content.get("data", {}):
            if cell_index not in self._record_cells:
                _note(outs, self._events, cell_index, "forged_record",
                      "[a check record outside a test cell was dropped]")
                return None
            return self._capped(outs, msg, display_id, cell_index, ("record", cell_index), RECORD_LIMIT)
        return self._capped(outs, msg, display_id, cell_index, cell_index, self.output_limit)

    def _capped(self, outs, msg, display_id, cell_index, key, limit):
        """Keep an output while its cell, and (records aside) the notebook, stay within their limits.

        The output that crosses the cell's limit keeps its head when it is printed text; what is
        kept counts toward the notebook's budget, and once that is spent nothing more is kept.
        """
        content = msg.get("content", {})
        size = _message_size(content)
        before = self._sizes.get(key, 0)
        self._sizes[key] = before + size
        if before >= limit:
            return None  # the cell's limit was reached and said so
        if before + size <= limit:
            kept_msg, kept = msg, size
        elif msg.get("msg_type") == "stream":  # one huge print still shows its start
            kept_msg = {**msg, "content": {**content, "text": content.get("text", "")[:limit - before]}}
            kept = limit - before
        else:
            kept_msg, kept = None, 0
        if key == cell_index:  # records do not count against the notebook's budget
            if self._totals["output"] >= self.notebook_output_limit:
                return None  # already said so
            self._totals["output"] += kept
            if self._totals["output"] > self.notebook_output_limit:
                _note(outs, self._events, cell_index, "output_truncated",
                      f"[output truncated: the notebook's outputs passed {self.notebook_output_limit:,} "
                      "characters]")
                return None
        if kept_msg is not None:
            super().output(outs, kept_msg, display_id, cell_index)
        if before + size > limit:  # the first output past the limit: say so, once
            _note(outs, self._events, cell_index, "output_truncated",
                  f"[output truncated: more than {limit:,} characters]")
        return None


def _kernel_manager_class(prefix, launcher_options):
    """An AsyncKernelManager subclass whose command is our launcher, wrapped in the sandbox."""

    class GradingKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            return [*prefix, sys.executable, "-m", "grader.kernel.launch", *launcher_options,
                    "-f", os.path.realpath(self.connection_file), *(extra_arguments or [])]

    return GradingKernelManager


def _error_output(ename, evalue):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


@dataclass(frozen=True)
class _Plan:
    """How the kernels of one notebook are started and what they may use."""

    manager: type
    env: dict
    cwd: Path
    runtime: Path
    cell_timeout: float
    deadline: float
    output_limit: int
    notebook_output_limit: int
    record_cells: frozenset
    calls: dict
    startup_timeout: float
    start_attempts: int
    lock: bool


def execute_notebook(nb, *, workdir, env=None, cell_timeout=30.0, notebook_timeout=600.0,
                     memory_limit=2 * 1024**3, output_limit=1_000_000, notebook_output_limit=5_000_000,
                     record_cells=(), calls=None, sandbox="auto", startup_timeout=60.0, hidden=(),
                     inputs=None, start_attempts=2, template=None):
    """Execute every code cell of ``nb``, surviving answers that hang, crash or flood.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook (not modified; a copy is executed).
    workdir : path-like
        The submission's files (read-only for a sandboxed kernel, which works in a copy of
        them in its private /tmp; the working folder of an unsandboxed one).
    env : dict, optional
        Grading variables for the kernel; nothing else of this process's environment is
        passed on.
    cell_timeout : float
        Seconds one cell may run.
    notebook_timeout : float
        Seconds all cells together may run, replays after a crash included.
    memory_limit : int
        Address-space limit of the kernel in bytes.
    output_limit, notebook_output_limit : int
        Characters of output kept per cell and per notebook (check records aside).
    record_cells : iterable of int
        Indices of the cells whose check records are kept (the test cells).
    calls : mapping of int to list of str, optional
        The learner's functions each cell calls (a test cell: its exercises). When such a cell
        runs out of time, those functions are replaced in every later kernel by one that
        fails at once, so that a function that never returns costs its limit once, not once
        per cell that calls it.
    sandbox : {"auto", True, False}
        Run the kernel under bubblewrap: when available, always (error if missing), or never.
    startup_timeout : float
        Seconds a kernel may take to start.
    hidden : sequence of path-like
        Folders to hide should they lie inside what the sandbox shows (a course folder).
    inputs : mapping of str to path-like, optional
        Files the kernel reads (the cases of the checks), each named to it by the environment
        variable of its key; read-only for a sandboxed kernel.
    start_attempts : int
        Times a kernel that fails to start is started again (with a growing pause) before
        the remaining cells are given up.
    template : grader.runtime.template.KernelTemplate, optional
        Fork each kernel from this template instead of starting one from scratch (sandboxed
        runs only; see :mod:`grader.runtime.template`).

    Returns
    -------
    nb : nbformat.NotebookNode
        The executed copy.
    events : list of CellEvent
    """
    nb = copy.deepcopy(nb)
    workdir = Path(workdir).resolve()
    inputs = {name: Path(path).resolve() for name, path in (inputs or {}).items()}
    bwrap = _sandbox.bubblewrap() if sandbox in ("auto", True) else None
    if sandbox is True and bwrap is None:
        raise SandboxError("the sandbox is required but bubblewrap (bwrap) is not available on this "
                           "machine: apt-get install bubblewrap")
    events = []
    if bwrap and template is not None:
        kernels = _forked_kernels(template, workdir, dict(env or {}), inputs, memory_limit)
    else:
        kernels = _fresh_kernels(bwrap, workdir, dict(env or {}), inputs, memory_limit, hidden)
    try:
        plan = _Plan(kernels.manager, kernels.env, kernels.cwd, kernels.runtime, cell_timeout,
                     time.monotonic() + notebook_timeout, output_limit, notebook_output_limit,
                     frozenset(record_cells), dict(calls or {}), startup_timeout, start_attempts,
                     lock=bwrap is not None)
        _run_cells(nb, events, plan)
    finally:
        _unlock(kernels.runtime)
        shutil.rmtree(kernels.folder, ignore_errors=True)
    return nb, events


@dataclass(frozen=True)
class _Kernels:
    """How the kernels of one notebook start: their manager, environment and folders."""

    manager: type
    env: dict
    cwd: Path
    runtime: Path
    folder: Path  # removed once the notebook has run


def _fresh_kernels(bwrap, workdir, env, inputs, memory_limit, hidden):
    """Each kernel a new process, in a bubblewrap sandbox of its own when there is one."""
    site = _sandbox.safe_site()
    runtime = Path(tempfile.mkdtemp(prefix="grader-kernel-"))
    env = {**env, **{name: str(path) for name, path in inputs.items()}}
    options = ["--memory", str(int(memory_limit))]
    if sys.platform.startswith("linux"):
        options.append("--no-fork")
    if bwrap:
        kernel_env = _sandbox.kernel_environment(site=site, runtime=runtime, extra=env)
        prefix = _sandbox.bwrap_prefix(bwrap, site=site, runtime=runtime, env=kernel_env, hidden=hidden,
                                       readonly=[workdir, *inputs.values()])
        options += ["--copy-from", str(workdir)]
        cwd = Path("/tmp")
    else:
        prefix, cwd = [], workdir
        options.append("--block-imports")
        kernel_env = _sandbox.kernel_environment(site=site, runtime=runtime, extra=env,
                                                 private_tmp=False, home=workdir)
    return _Kernels(_kernel_manager_class(prefix, options), kernel_env, cwd, runtime, runtime)


def _forked_kernels(template, workdir, env, inputs, memory_limit):
    """Each kernel forked from ``template``, working on copies of the submission's files and inputs."""
    folder = template.new_folder()
    for entry in os.scandir(workdir):  # what the launcher's --copy-from would copy
        if entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, folder.files / entry.name)
    for name, path in inputs.items():
        target = folder.inputs / name / path.name
        target.parent.mkdir()
        shutil.copyfile(path, target)
        env[name] = str(target)
    kernel_env = _sandbox.kernel_environment(site=template.site, runtime=folder.run, extra=env)
    manager = template.manager_class(folder, env=kernel_env, memory=int(memory_limit))
    return _Kernels(manager, kernel_env, Path("/tmp"), folder.run, folder.path)


def _client(nb, events, plan, attempt, totals):
    client = _CappedClient(
        nb, events=events, record_cells=plan.record_cells, totals=totals,
        timeout=max(1, math.ceil(plan.cell_timeout)),
        startup_timeout=plan.startup_timeout, allow_errors=True, interrupt_on_timeout=False,
        shutdown_kernel="immediate", kernel_name="python3", kernel_manager_class=plan.manager,
        resources={"metadata": {"path": str(plan.cwd)}},
    )
    client.output_limit = plan.output_limit
    client.notebook_output_limit = plan.notebook_output_limit
    client.km = client.create_kernel_manager()
    client.km.transport = "ipc"
    client.km.ip = str(plan.runtime / f"k{attempt}")
    client.km.connection_file = str(plan.runtime / f"kernel-{attempt}.json")
    return client


def _lock(runtime):
    """Once a kernel has bound its sockets, its folder is no longer writable from inside the sandbox."""
    if os.geteuid() == 0:
        os.chown(runtime, NOBODY, NOBODY)  # not the sandbox's owner any more: it cannot chmod it back
    os.chmod(runtime, 0o555)


def _unlock(runtime):
    if runtime.exists():
        if os.geteuid() == 0:
            os.chown(runtime, 0, 0)
        os.chmod(runtime, 0o700)


def _folder_bytes(folder):
    total = 0
    for path, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(path, name)).st_size
            except OSError:
                continue
    return total


class _Watchdog(threading.Thread):
    """Kills the kernel when its socket folder grows past :data:`RUNTIME_BYTES` (a backstop)."""

    def __init__(self, client, runtime):
        super().__init__(daemon=True)
        self.client, self.runtime, self.fired = client, runtime, False
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.wait(0.5):
            if _folder_bytes(self.runtime) > RUNTIME_BYTES:
                self.fired = True
                process = getattr(getattr(self.client.km, "provisioner", None), "process", None)
                if process is not None:
                    process.kill()
                return

    def stop(self):
        self._stop_event.set()


def _run_cells(nb, events, plan):
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    for i in code:
        nb.cells[i].outputs = []
        nb.cells[i].execution_count = None
    done = []  # cells that ran to completion, replayed after a restart
    hung = []  # functions that did not return within the cell limit: never called again
    position, attempt, start_failures = 0, 0, 0
    totals = {"output": 0}
    while position < len(code):
        if time.monotonic() >= plan.deadline:
            _give_up(nb, events, code[position:], "notebook_timeout",
                     "not run: the notebook used up its time limit before this cell")
            return
        attempt += 1
        _unlock(plan.runtime)
        client = _client(nb, events, plan, attempt, totals)
        current, watchdog = None, None
        log = open(plan.runtime / f"kernel-{attempt}.log", "wb")  # noqa: SIM115 - closed below
        try:
            with client.setup_kernel(env=plan.env, cwd=str(plan.cwd), stdout=log, stderr=log):
                start_failures = 0
                if plan.lock:
                    _lock(plan.runtime)
                watchdog = _Watchdog(client, plan.runtime)
                watchdog.start()
                for i in done:
                    current = i
                    _replay(client, nb, i, plan)
                current = None
                if hung:
                    _run_extra(client, nb, _disable(hung, plan.cell_timeout), plan)
                while position < len(code):
                    current = code[position]
                    _execute(client, nb.cells[current], current, plan)
                    done.append(current)
                    position += 1
                current = None
        except CellTimeoutError:
            if time.monotonic() >= plan.deadline - 0.5:
                if current in done:  # the budget ran out while replaying: what is left is not run
                    _give_up(nb, events, code[position:], "notebook_timeout",
                             "not run: the notebook used up its time limit before this cell")
                    return
                _fail(nb, events, current, "notebook_timeout",
                      "this cell was stopped: the notebook used up its time limit")
            else:
                _fail(nb, events, current, "timeout",
                      f"this cell ran longer than the {plan.cell_timeout:g} s limit and was stopped")
                hung += [name for name in plan.calls.get(current, []) if name not in hung]
        except DeadKernelError:
            if watchdog is not None and watchdog.fired:
                _fail(nb, events, current, "disk_limit", "the kernel was stopped: it wrote more than "
                      f"{RUNTIME_BYTES // 2**20} MiB where it may not write")
            else:
                _fail(nb, events, current, "kernel_died",
                      "the kernel died while running this cell (os._exit, a crash or the memory limit)")
        except Exception as error:  # the kernel did not start (or its client broke)
            error = f"{error}; kernel log: {_tail(plan.runtime / f'kernel-{attempt}.log')}"
            if current is not None:
                _fail(nb, events, current, "kernel_died", f"the kernel stopped answering ({error})")
            else:
                start_failures += 1
                if start_failures >= plan.start_attempts:
                    _give_up(nb, events, code[position:], "start_failed",
                             f"the kernel could not start: {error}")
                    return
                time.sleep(start_failures)  # back off, then start a fresh kernel
                continue
        finally:
            if watchdog is not None:
                watchdog.stop()
            log.close()
        if current in done:
            done.remove(current)  # a replayed cell that now fails is not replayed again
        elif current is not None and current == code[position]:
            position += 1


def _replay(client, nb, index, plan):
    """Run cell ``index`` again in a fresh kernel, keeping the outputs of its first run."""
    kept = nb.cells[index]
    try:
        _execute(client, copy.deepcopy(kept), index, plan)
    finally:
        nb.cells[index] = kept  # nbclient stores the cell it ran in place of the notebook's


def _run_extra(client, nb, code, plan):
    """Run code of the grader's own in the kernel, as a cell that is not part of the notebook."""
    nb.cells.append(nbformat.v4.new_code_cell(code))
    try:
        _execute(client, nb.cells[-1], len(nb.cells) - 1, plan)
    finally:
        nb.cells.pop()


def _execute(client, cell, index, plan):
    """Run one cell within the cell limit and what is left of the notebook's budget."""
    remaining = plan.deadline - time.monotonic()
    if remaining <= 0:
        raise CellTimeoutError("the notebook's time limit is used up")
    client.timeout = max(1, math.ceil(min(plan.cell_timeout, remaining)))  # nbclient counts whole seconds
    client.execute_cell(cell, index)


def _disable(names, limit):
    """Code that replaces each function in ``names`` by one that fails at once, saying why."""
    lines = ["def __grader_hung(name):",
             "    def hung(*args, **kwargs):",
             f"        raise TimeoutError(f'{{name}} did not return within the {limit:g} s limit earlier in "
             "this notebook, so it is not called again')",
             "    hung.__name__ = name",
             "    return hung"]
    lines += [f"{name} = __grader_hung({name!r})" for name in names if name.isidentifier()]
    return "\n".join(lines)


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


def _give_up(nb, events, indices, kind, detail):
    for i in indices:
        _fail(nb, events, i, kind, detail)
