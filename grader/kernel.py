"""Launch a grading kernel: resource limits first, then the probe, then ipykernel.

``python -m grader.kernel --memory BYTES -f CONNECTION_FILE`` is the command the
grader's kernel manager runs (inside the sandbox when there is one). Importing
:mod:`grader.probe` before any learner code lets it take its snapshot of NumPy
and the builtins, so that a later replacement is reported.
"""

from __future__ import annotations

import argparse
import importlib.abc
import os
import resource
import sys

#: Modules a learner's code must not reach while grading (when no sandbox hides them).
BLOCKED = ("attention_ref", "grader.exercises", "grader.judge", "grader.verify", "grader.execute",
           "grader.selfcheck", "grader.cli", "grader.sandbox")
#: What stays importable: drawing only, no attention computation.
ALLOWED = ("attention_ref.plot", "attention_ref.explorer")


class ImportBlocker(importlib.abc.MetaPathFinder):
    """Refuse to import the reference and the trusted grader while a class is graded."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "attention_ref" or fullname.startswith(ALLOWED):
            return None  # the package itself is needed for attention_ref.plot
        if fullname.startswith(BLOCKED):
            raise ImportError(f"{fullname} is not available while grading")
        return None


def set_limits(memory_bytes, file_bytes=64 * 2**20):
    """Cap the address space (a memory bomb becomes a MemoryError) and the size of written files."""
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", type=int, default=0, help="address-space limit in bytes (0: none)")
    parser.add_argument("--block-imports", action="store_true",
                        help="refuse imports of the reference and the trusted grader")
    parser.add_argument("-f", dest="connection_file", required=True)
    args, kernel_args = parser.parse_known_args(argv)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")  # one core per kernel: graders run several side by side
    set_limits(args.memory)
    if args.block_imports:
        sys.meta_path.insert(0, ImportBlocker())
    from ipykernel import kernelapp

    import grader.probe  # noqa: F401  - snapshot before learner code runs

    kernelapp.launch_new_instance(argv=["-f", args.connection_file, *kernel_args])


if __name__ == "__main__":
    main()
