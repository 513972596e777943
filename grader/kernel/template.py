"""The kernel template: a grading kernel imported once, then forked into a fresh kernel per submission.

``python -m grader.kernel.template ROOT`` runs inside a bubblewrap sandbox built by
:func:`grader.runtime.sandbox.template_prefix` (the allow-list of a grading kernel; the only
writable folder is ``ROOT``, where the trusted side makes one folder per kernel). It imports
what every grading kernel imports — ipykernel, IPython, NumPy, matplotlib (its font list,
mathtext and the Agg renderer), the student package and the recorder,
whose snapshot of NumPy and the builtins is taken here, before any learner code — checks that
it runs a single thread, makes itself non-dumpable, then serves one JSON request per line on
stdin (one reply per line on stdout):

- ``{"op": "spawn", ...}`` (the fields of :class:`SpawnRequest`) → ``{"id": N, "pid": P}``;
- ``{"op": "poll", "id": N}`` → ``{"status": null | exit status}``;
- ``{"op": "kill", "id": N}`` → ``{}``.

A spawn forks a *middle* process that enters new user, mount, PID, network, IPC, UTS and
cgroup namespaces and builds the kernel's view (:func:`private_view`): a fresh size-capped
``/tmp`` and ``/dev/shm``, its own folder read-only with its socket folder writable, the safe
site read-only, and nothing of ``ROOT`` else (no other submission). It then forks the kernel,
PID 1 of its PID namespace, which drops every capability, takes its own environment, copies
the submission's files into ``/tmp/work``, sets its limits and installs the no-fork filter
(:func:`grader.kernel.launch.confine`) — all before ipykernel starts and runs any learner
code. When the kernel dies, everything in its namespaces dies with it. One kernel lives at a
time: a spawn first kills and reaps the previous one. The template never runs learner code
and reads nothing a kernel can write.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import signal
import stat
import sys
from dataclasses import asdict, dataclass, field

from grader.kernel import launch as _launch
from grader.kernel import namespaces as _ns

#: What every grading kernel imports before or while it runs a notebook's setup cell, imported
#: once in the template. Not the inline backend (``matplotlib_inline.backend_inline``): it
#: hooks into IPython when it is first imported, which must happen in the kernel.
PREIMPORT = (
    "numpy", "numpy.testing", "matplotlib", "matplotlib.pyplot", "matplotlib.backends.backend_agg",
    "matplotlib.colorbar", "matplotlib.contour", "matplotlib.legend", "matplotlib.mathtext",
    "matplotlib._constrained_layout", "matplotlib._tight_layout", "PIL.PngImagePlugin",
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.comm",
    "ipykernel.debugger", "IPython.core.debugger", "IPython.core.history", "IPython.core.completer",
    "IPython.core.magics", "IPython.core.pylabtools", "IPython.display",
    "tornado.ioloop", "tornado.queues", "tornado.locks", "sqlite3", "pdb", "pydoc", "faulthandler",
    "attention_course.checks", "attention_course.plot", "attention_course.given",
    "grader.kernel.recorder",
)
#: Modules that must not be imported in the template (see :data:`PREIMPORT`).
NOT_PREIMPORTED = ("matplotlib_inline.backend_inline",)


@dataclass(frozen=True)
class SpawnRequest:
    """What the trusted side asks for when it needs a kernel (sent as one JSON line).

    Attributes
    ----------
    folder : str
        This kernel's folder under the template's root, shown read-only to the kernel.
    writable : str
        Its socket folder inside ``folder``, writable (until the trusted side locks it).
    copy_from : str
        The submission's files inside ``folder``, copied into ``/tmp/work``.
    site : str
        The safe site, shown read-only.
    connection_file : str
        The kernel's connection file (in ``writable``).
    log : str
        File that receives the kernel's own stdout and stderr (in ``writable``).
    env : dict of str to str
        The kernel's whole environment.
    memory : int
        Address-space limit, bytes.
    tmp_bytes : int
        Size of the private ``/tmp`` (and ``/dev/shm``), bytes.
    """

    folder: str
    writable: str
    copy_from: str
    site: str
    connection_file: str
    log: str
    env: dict = field(default_factory=dict)
    memory: int = 0
    tmp_bytes: int = 256 * 2**20


def preimport() -> None:
    """Import :data:`PREIMPORT`, so that no forked kernel pays for it.

    (No figure is drawn ahead: a fresh process draws its first figure as fast as its tenth, so
    a warm-up drawing only cost each template about a CPU-second.)
    """
    _launch.kernel_defaults()
    for name in PREIMPORT:
        importlib.import_module(name)
    loaded = [name for name in NOT_PREIMPORTED if name in sys.modules]
    if loaded:
        raise RuntimeError(f"the template must not import {loaded}: it would not hook into the kernel")


def threads() -> int:
    """The number of threads of this process (the operating system's count, not Python's)."""
    return len(os.listdir("/proc/self/task"))


# ---- the forked processes --------------------------------------------------------------------

def _inherited(fd: int) -> bool:
    """Should the middle process close ``fd``? Everything but read-only regular files (fonts)."""
    try:
        mode = os.fstat(fd).st_mode
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        return False
    return not (stat.S_ISREG(mode) and flags & os.O_ACCMODE == os.O_RDONLY)


def close_inherited(keep: set[int]) -> None:
    """Close every descriptor above 2 but ``keep`` and read-only regular files (open font files)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep and _inherited(fd):
            try:
                os.close(fd)
            except OSError:
                continue


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def python_in_tmp() -> list[str]:
    """The folders of this Python installation that lie in ``/tmp``, outermost only."""
    found: list[str] = []
    for folder in sorted({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}):
        if _inside(folder, "/tmp") and not any(_inside(folder, other) for other in found):
            found.append(folder)
    return found


def private_view(request: SpawnRequest, root: str) -> None:
    """In the middle process, in its new namespaces: what the kernel sees of the file system.

    Fresh tmpfs on ``/tmp`` and ``/dev/shm`` (size-capped, empty); ``root`` hidden (it lies in
    ``/tmp``, or gets an empty read-only tmpfs of its own); then the kernel's folder bound back
    read-only, its socket folder writable, and the safe site read-only.
    """
    keep = [(os.open(path, os.O_PATH | os.O_DIRECTORY), path, read_only, False)
            for path, read_only in ((request.folder, True), (request.writable, False), (request.site, True))]
    # A Python environment made in /tmp (a virtualenv there) would vanish under the fresh /tmp:
    # bound back read-only with what is mounted inside it (the empty folders over trusted code).
    keep += [(os.open(path, os.O_PATH | os.O_DIRECTORY), path, True, True) for path in python_in_tmp()]
    _ns.make_private("/")
    _ns.mount_tmpfs("/tmp", request.tmp_bytes)
    _ns.mount_tmpfs("/dev/shm", request.tmp_bytes)
    hide_root = not _inside(root, "/tmp")
    if hide_root:
        _ns.mount_tmpfs(root, 2**20)
    for fd, path, read_only, recursive in keep:
        _ns.bind_fd(fd, path, read_only=read_only, recursive=recursive)
        os.close(fd)
    if hide_root:
        _ns.remount_read_only(root)


def run_kernel(request: SpawnRequest) -> None:
    """In the kernel (PID 1 of its namespace): no capability, its environment, files, limits, ipykernel."""
    _ns.set_parent_death_signal(signal.SIGKILL)
    _ns.drop_capabilities()
    os.environ.clear()
    os.environ.update(request.env)
    _launch.kernel_defaults()
    os.chdir("/tmp")
    _launch.enter_workdir(request.copy_from)
    import numpy

    numpy.random.seed()  # noqa: NPY002 - learners use the global state; fresh entropy as in a new kernel
    _launch.confine(request.memory, no_fork=True)  # an OSError stops the kernel: never without the filter
    sys.argv = [sys.argv[0], "-f", request.connection_file]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=["-f", request.connection_file, *_launch.KERNEL_OPTIONS])


def run_middle(request: SpawnRequest, root: str, report: int) -> None:
    """The middle process: new namespaces and the kernel's view, then the kernel; never returns.

    Writes the kernel's PID (as the template sees it) or ``error ...`` as one line on ``report``,
    waits for the kernel and exits with its status.
    """
    code = 1
    try:
        os.setsid()
        _ns.set_parent_death_signal(signal.SIGKILL)
        log = os.open(request.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        close_inherited(keep={report})
        uid, gid = os.getuid(), os.getgid()
        _ns.unshare()
        # A non-dumpable process's /proc/self files belong to root, which the new user namespace
        # does not map: as a non-root instructor, writing the id maps would be refused. Dumpable for
        # the three writes only; no learner code has run in this process yet.
        _ns.set_dumpable(True)
        _ns.map_ids(uid, gid)
        _ns.set_dumpable(False)
        private_view(request, root)
        kernel = os.fork()
        if kernel == 0:
            try:
                os.close(report)
                run_kernel(request)
            finally:
                os._exit(1)
        os.write(report, f"{kernel}\n".encode())
        os.close(report)
        _, status = os.waitpid(kernel, 0)
        code = os.waitstatus_to_exitcode(status)
        code = code if code >= 0 else 128 - code
    except BaseException as error:  # noqa: BLE001 - reported; never back into the template's loop
        try:
            os.write(report, f"error {type(error).__name__}: {error}\n".encode())
            os.write(2, f"grader template: {error!r}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code & 0xFF)


class Children:
    """The template's forked kernels: spawn one at a time, poll and kill them by id."""

    def __init__(self, root: str):
        self.root = root
        self.live: dict[int, tuple[int, int]] = {}  # id -> (middle pid, kernel pid)
        self.status: dict[int, int] = {}
        self.count = 0

    def spawn(self, request: SpawnRequest) -> dict:
        """Fork a kernel for ``request`` (after killing and reaping any earlier one)."""
        for ident in list(self.live):
            self.kill(ident)
            self.wait(ident)
        read, write = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(read)
            run_middle(request, self.root, write)
        os.close(write)
        with os.fdopen(read) as report:
            line = report.readline().strip()
        self.count += 1
        if not line.isdigit():
            self.wait_pid(middle)
            self.status[self.count] = 1
            return {"id": self.count, "pid": None, "error": line or "the middle process died"}
        self.live[self.count] = (middle, int(line))
        return {"id": self.count, "pid": int(line)}

    def wait_pid(self, pid: int, block: bool = True) -> int | None:
        try:
            done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return 1
        return os.waitstatus_to_exitcode(status) if done else None

    def wait(self, ident: int) -> int:
        if ident in self.live:
            self.status[ident] = self.wait_pid(self.live.pop(ident)[0])
        return self.status.get(ident, 1)

    def poll(self, ident: int) -> int | None:
        if ident in self.live:
            status = self.wait_pid(self.live[ident][0], block=False)
            if status is None:
                return None
            self.status[ident] = status
            del self.live[ident]
        return self.status.get(ident, 1)

    def kill(self, ident: int, signum: int = signal.SIGKILL) -> None:
        for pid in self.live.get(ident, ()):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                continue


def handle(children: Children, request: dict) -> dict:
    """One request of the trusted side, one reply."""
    op = request.pop("op", None)
    if op == "spawn":
        return children.spawn(SpawnRequest(**request))
    if op == "poll":
        return {"status": children.poll(int(request["id"]))}
    if op == "kill":
        children.kill(int(request["id"]), int(request.get("signal", signal.SIGKILL)))
        return {}
    return {"error": f"unknown request {op!r}"}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    root = os.path.realpath(argv[0])
    preimport()
    if threads() != 1:
        raise RuntimeError(f"the template runs {threads()} threads; forking it would not be safe")
    _ns.set_dumpable(False)
    children = Children(root)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "modules": len(sys.modules)}) + "\n")
    out.flush()
    for line in sys.stdin:
        reply = handle(children, json.loads(line))
        out.write(json.dumps(reply) + "\n")
        out.flush()


def request_json(request: SpawnRequest) -> str:
    """The JSON line of a spawn request (what the trusted side writes)."""
    return json.dumps({"op": "spawn", **asdict(request)})


if __name__ == "__main__":
    main()
