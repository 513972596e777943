"""Kernels forked from a pre-imported template: the trusted side of :mod:`grader.kernel.template`.

Starting a grading kernel costs more than most notebooks' cells: a Python process, ipykernel,
NumPy and matplotlib imported, fonts and mathtext loaded, every time. A :class:`KernelTemplate`
pays that once per grading thread: it starts :mod:`grader.kernel.template` in a bubblewrap
sandbox built from the same allow-list as a kernel's (:func:`grader.runtime.sandbox.template_prefix`)
and asks it for a fresh kernel whenever :mod:`grader.runtime.execute` needs one. Each forked
kernel gets new namespaces, a private size-capped ``/tmp``, only its own folder, no capability,
its limits and the no-fork filter before any learner code runs (see the kernel side's
docstring); the time limits, replays, output caps and verdicts are the same code as for a
kernel started from scratch.

:func:`thread_template` gives each thread its own template (a pool worker has one thread, a
Dask worker one per thread), so a template only ever has one kernel alive.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from ..errors import SandboxError
from ..kernel.template import SpawnRequest, request_json
from . import sandbox as _sandbox

#: Seconds the template may take to import everything.
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class KernelFolder:
    """One kernel's folder in the template's root (every attempt of one notebook shares it).

    Attributes
    ----------
    path : pathlib.Path
        ``<root>/k<n>``, shown read-only to the kernel.
    files : pathlib.Path
        The submission's files (copied into the kernel's ``/tmp/work``).
    inputs : pathlib.Path
        The files the kernel reads (the checks' inputs).
    run : pathlib.Path
        Sockets, connection files and logs: the kernel's only writable folder outside ``/tmp``.
    """

    path: Path
    files: Path
    inputs: Path
    run: Path


class ForkedKernel:
    """The ``Popen``-like handle jupyter_client's provisioner keeps for a kernel forked by the template."""

    def __init__(self, template: KernelTemplate, ident: int, pid: int):
        self.template, self.ident, self.pid = template, ident, pid
        self.stdin = self.stdout = self.stderr = None
        self.returncode = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.template.request("poll", id=self.ident).get("status")
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("forked kernel", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            self.template.request("kill", id=self.ident, signal=int(signum))

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGKILL)  # PID 1 of its namespace: only SIGKILL is sure to end it


class KernelTemplate:
    """One sandboxed kernel template, serving fresh kernels to one thread.

    Parameters
    ----------
    bwrap : str
        Path of a working bubblewrap.
    hidden : sequence of path-like
        Folders the kernels must not see besides the defaults (the course folder).
    start_timeout : float
        Seconds the template may take to start.

    Raises
    ------
    grader.errors.SandboxError
        When the template does not start (its log's end is in the message).
    """

    def __init__(self, bwrap: str, *, hidden=(), start_timeout: float = START_TIMEOUT, wait: bool = True):
        self.site = _sandbox.safe_site()
        self.root = Path(tempfile.mkdtemp(prefix="grader-template-")).resolve()
        self.hidden = tuple(Path(h).resolve() for h in hidden)
        self._lock = threading.Lock()
        self._count = itertools.count(1)
        env = _sandbox.kernel_environment(site=self.site, runtime=self.root)
        prefix = _sandbox.template_prefix(bwrap, site=self.site, root=self.root, env=env, hidden=self.hidden)
        self._log = open(self.root / "template.log", "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "grader.kernel.template", str(self.root)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, bufsize=0)
        self._buffer = b""
        self._start_timeout, self.ready = start_timeout, None
        atexit.register(self.close)
        if wait:
            self.wait_ready()

    def wait_ready(self) -> dict:
        """Wait for the template's first line (it has imported everything); return it.

        Raises
        ------
        grader.errors.SandboxError
            When the template does not start (it is then closed).
        """
        if self.ready is None:
            try:
                self.ready = self._read(self._start_timeout)
            except SandboxError:
                self.close()
                raise
            if not self.ready.get("ready"):
                self.close()
                raise SandboxError(f"the kernel template did not start: {self.ready}")
        return self.ready

    def _tail(self) -> str:
        try:
            return (self.root / "template.log").read_text(errors="replace")[-1500:].strip() or "(empty log)"
        except OSError:
            return "(no log)"

    def _read(self, timeout: float) -> dict:
        """The template's next reply line (it writes exactly one per request)."""
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                if ready or time.monotonic() >= deadline:
                    self.process.kill()
                    raise SandboxError(f"the kernel template stopped answering: {self._tail()}")
                continue
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def request(self, op: str, **fields) -> dict:
        """Send one request and return the template's reply (``op``: "poll" or "kill").

        Raises
        ------
        grader.errors.SandboxError
            When the template is gone.
        """
        return self._exchange(json.dumps({"op": op, **fields}))

    def _exchange(self, line: str) -> dict:
        with self._lock:
            self.wait_ready()
            if not self.alive:
                raise SandboxError(f"the kernel template is gone: {self._tail()}")
            try:
                self.process.stdin.write(line.encode() + b"\n")
            except OSError as error:
                raise SandboxError(f"the kernel template is gone ({error}): {self._tail()}") from None
            return self._read(START_TIMEOUT)

    def new_folder(self) -> KernelFolder:
        """A fresh, empty folder for one notebook's kernels."""
        path = self.root / f"k{next(self._count)}"
        folder = KernelFolder(path, path / "files", path / "inputs", path / "run")
        for item in (folder.files, folder.inputs, folder.run):
            item.mkdir(parents=True)
        return folder

    def spawn(self, folder: KernelFolder, *, connection_file: str, log: str, env: dict, memory: int,
              tmp_bytes: int = _sandbox.TMP_BYTES) -> ForkedKernel:
        """Fork a kernel that works on ``folder``.

        Raises
        ------
        grader.errors.SandboxError
            When the template could not fork it (the reason is in the message).
        """
        request = SpawnRequest(folder=str(folder.path), writable=str(folder.run), copy_from=str(folder.files),
                               site=str(self.site), connection_file=connection_file, log=log, env=dict(env),
                               memory=int(memory), tmp_bytes=int(tmp_bytes))
        reply = self._exchange(request_json(request))
        if not reply.get("pid"):
            raise SandboxError(f"the kernel template could not fork a kernel: {reply.get('error')}")
        return ForkedKernel(self, reply["id"], reply["pid"])

    def manager_class(self, folder: KernelFolder, *, env: dict, memory: int) -> type:
        """An AsyncKernelManager whose kernels are forked by this template into ``folder``."""
        template = self

        class TemplateKernelManager(AsyncKernelManager):
            def format_kernel_cmd(self, extra_arguments=None):
                return ["grader-kernel-from-template"]  # never run: the template forks the kernel

            async def _async_launch_kernel(self, kernel_cmd, **kw):
                log = getattr(kw.get("stdout"), "name", None) or str(folder.run / "kernel.log")
                kernel = template.spawn(folder, connection_file=os.path.realpath(self.connection_file),
                                        log=str(log), env=env, memory=memory)
                self.provisioner.process = kernel
                self.provisioner.pid, self.provisioner.pgid = kernel.pid, None
                self._reconcile_connection_info(self.provisioner.connection_info)

        return TemplateKernelManager

    def close(self) -> None:
        """Stop the template (its kernels die with it) and remove its folder."""
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)


_local = threading.local()


def thread_template(hidden=(), *, wait: bool = True) -> KernelTemplate | None:
    """This thread's template, started on first use (again if it died); None without bubblewrap.

    A template that cannot start is not retried in this thread: its kernels then start from
    scratch, as isolated but slower. With ``wait=False`` the template is started (if it is not
    running) but not waited for; the next call waits.
    """
    bwrap = _sandbox.bubblewrap()
    if bwrap is None or getattr(_local, "failed", False):
        return None
    hidden = tuple(Path(h).resolve() for h in hidden)
    template = getattr(_local, "template", None)
    if template is not None and (not template.alive or template.hidden != hidden):
        template.close()
        template = None
    try:
        if template is None:
            template = _local.template = KernelTemplate(bwrap, hidden=hidden, wait=False)
        if wait:
            template.wait_ready()
    except SandboxError as error:
        _local.failed, _local.template = True, None
        print(f"grader: no kernel template, kernels start from scratch: {error}", file=sys.stderr)
        return None
    return template


def prestart_template(hidden=()) -> None:
    """Start this thread's template without waiting for it (a grading pool's initializer).

    The template's imports then overlap the worker's own, instead of following them. Nothing
    here may break the pool: whatever fails, the first task starts the template again and
    reports it.
    """
    try:
        thread_template([h for h in hidden if Path(h).exists()], wait=False)
    except Exception:  # noqa: BLE001 - see above
        pass
