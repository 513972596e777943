"""Launch a grading kernel: working folder and limits first, then the recorder, then ipykernel.

``python -m grader.kernel.launch --memory BYTES [--no-fork] [--copy-from DIR] -f CONNECTION_FILE``
is the command the grader's kernel manager runs (inside the sandbox when there is one). In
order, before any learner code runs:

1. the submission's files are copied from ``DIR`` (read-only in the sandbox) into a working
   folder in the kernel's private /tmp, which becomes the current folder;
2. limits: address space (a memory bomb becomes a MemoryError), size of a written file, and
   no child process at all (:mod:`grader.kernel.nofork`; threads are allowed);
3. :mod:`grader.kernel.recorder` is imported, taking its snapshot of NumPy and the builtins
   so that a later replacement is reported;
4. ipykernel starts.
"""

from __future__ import annotations

import argparse
import importlib.abc
import os
import resource
import shutil
import sys

from grader.kernel.nofork import forbid_new_processes

#: The packages of the trusted side; only ``grader.kernel`` (this folder) is allowed in a kernel.
TRUSTED = ("attention_ref", "grader")
#: The part of the grader a kernel may import: this package, the folder the sandbox ships.
KERNEL_SIDE = __package__ or "grader.kernel"


def blocked(fullname: str) -> bool:
    """Is ``fullname`` a trusted module that a grading kernel must not import?

    Everything under ``attention_ref`` and under ``grader`` except ``grader`` itself (an empty
    package) and the kernel side.
    """
    if fullname in ("grader", KERNEL_SIDE) or fullname.startswith(KERNEL_SIDE + "."):
        return False
    return any(fullname == top or fullname.startswith(top + ".") for top in TRUSTED)


class ImportBlocker(importlib.abc.MetaPathFinder):
    """Refuse to import the reference and the trusted grader (used where there is no sandbox)."""

    def find_spec(self, fullname, path=None, target=None):
        if blocked(fullname):
            raise ImportError(f"{fullname} is not available while grading")
        return None


def set_limits(memory_bytes: int, file_bytes: int = 64 * 2**20) -> None:
    """Cap the address space (a memory bomb becomes a MemoryError) and the size of written files."""
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))


def enter_workdir(source: str, target: str = "/tmp/work") -> None:
    """Copy the regular files of ``source`` into a fresh ``target`` folder and work there."""
    os.makedirs(target, exist_ok=True)
    for entry in os.scandir(source):
        if entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, os.path.join(target, entry.name))
    os.chdir(target)


#: ipykernel options of every grading kernel: no IPython history database (a SQLite write per cell
#: for a history nobody reads; ``In`` and ``Out`` are kept in memory as usual).
KERNEL_OPTIONS = ("--HistoryManager.enabled=False",)


def kernel_defaults(environ=os.environ) -> None:
    """The environment a grading kernel's libraries read when they load (before NumPy and matplotlib)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        environ.setdefault(name, "1")  # one core per kernel: graders run several side by side
    # Figures go into the notebook, as in JupyterLab, whatever imports matplotlib first.
    environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")


def confine(memory_bytes: int, *, no_fork: bool) -> None:
    """The limits a kernel sets on itself before any learner code: memory, file size, no child process.

    Raises
    ------
    OSError
        When the no-fork filter cannot be installed; grading never goes on without it.
    """
    set_limits(memory_bytes)
    if no_fork:
        forbid_new_processes()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", type=int, default=0, help="address-space limit in bytes (0: none)")
    parser.add_argument("--block-imports", action="store_true",
                        help="refuse imports of the reference and the trusted grader")
    parser.add_argument("--no-fork", action="store_true", help="forbid child processes (Linux)")
    parser.add_argument("--copy-from", metavar="DIR", help="the submission's files, copied to /tmp/work")
    parser.add_argument("-f", dest="connection_file", required=True)
    args, kernel_args = parser.parse_known_args(argv)
    if args.copy_from:
        enter_workdir(args.copy_from)
    kernel_defaults()
    confine(args.memory, no_fork=args.no_fork)
    if args.block_imports:
        sys.meta_path.insert(0, ImportBlocker())
    from ipykernel import kernelapp

    import grader.kernel.recorder  # noqa: F401  - snapshot before learner code runs

    kernelapp.launch_new_instance(argv=["-f", args.connection_file, *KERNEL_OPTIONS, *kernel_args])


if __name__ == "__main__":
    main()
