"""Keep learner code away from the reference, the trusted grader and everyone else's files.

On Linux with bubblewrap (Debian/Ubuntu package ``bubblewrap``) the kernel runs
in a private mount, PID and network namespace: the project folder, ``$HOME``
and ``/tmp`` are hidden, the Python environment is read-only, and only the
submission's own working folder is writable. Its ``sys.path`` starts with a
*safe site*: a copy of the kernel side (:mod:`grader.kernel`, copied whole) and
of the student package ``attention_course`` — no reference computation, no
case generator, no verdict code.

Elsewhere (macOS, Windows, containers that forbid user namespaces) the kernel
runs unsandboxed with an import blocker; that stops ordinary imports of the
reference but not a learner who reads its files by path, which is why
verdicts never trust the kernel and instructors should grade on Linux.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import attention_course

from .. import kernel as _kernel_side

GRADER_DIR = Path(_kernel_side.__file__).resolve().parent.parent
PROJECT_ROOT = GRADER_DIR.parent
#: What a grading kernel imports, as (folder to copy, its name in the safe site).
KERNEL_VISIBLE = (
    (Path(attention_course.__file__).resolve().parent, Path("attention_course")),
    (Path(_kernel_side.__file__).resolve().parent, Path("grader") / "kernel"),
)

#: Folders a grading kernel never sees: the project (reference, solutions), the home folder and /tmp.
DEFAULT_HIDDEN = (PROJECT_ROOT, Path.home(), Path(tempfile.gettempdir()))


@functools.lru_cache(maxsize=1)
def bubblewrap():
    """Path of a working ``bwrap``, or None when there is none or it cannot create namespaces."""
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        return None
    try:
        probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-all", "true"],
                               capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if probe.returncode == 0 else None


def _files():
    """(file, its path in the safe site) of every kernel-visible source file, sorted."""
    for folder, name in KERNEL_VISIBLE:
        for file in sorted(folder.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                yield file, name / file.relative_to(folder)
    yield GRADER_DIR / "__init__.py", Path("grader") / "__init__.py"


def _fingerprint():
    digest = hashlib.sha256()
    for file, name in _files():
        digest.update(str(name).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def safe_site(cache_dir=None):
    """Build (once per content) the directory that a grading kernel imports from.

    Returns
    -------
    pathlib.Path
        A folder holding ``attention_course/`` and ``grader/`` with only ``__init__.py`` and
        ``kernel/``.
    """
    root = Path(cache_dir or os.environ.get("ATTENTION_GRADER_CACHE")
                or Path(tempfile.gettempdir()) / "attention-grader")
    site = root / f"site-{_fingerprint()}"
    if site.is_dir():
        return site
    staging = Path(tempfile.mkdtemp(prefix="site-", dir=_ensure(root)))
    for file, name in _files():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, staging / name)
    try:
        staging.rename(site)
    except OSError:  # another process built it first
        shutil.rmtree(staging, ignore_errors=True)
    return site


def _ensure(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def _inside(path, folder):
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
        return True
    except ValueError:
        return False


def bwrap_prefix(bwrap, *, site, writable, hidden=None, readonly=()):
    """The bubblewrap arguments that wrap a kernel command.

    Parameters
    ----------
    bwrap : str
        Path of the bwrap executable.
    site : pathlib.Path
        The safe site (bound read-only).
    writable : list of pathlib.Path
        Folders the kernel may write (the submission's working folder, the
        folder of the IPC sockets).
    hidden : list of pathlib.Path, optional
        Folders replaced by empty ones; default: the project root, $HOME and /tmp.
    readonly : list of pathlib.Path
        Files or folders bound read-only at their own path, on top of hidden folders.
    """
    hidden = list(hidden) if hidden is not None else list(DEFAULT_HIDDEN)
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    hidden = list(dict.fromkeys(Path(h).resolve() for h in hidden if Path(h).exists()))
    for folder in hidden:
        if not any(other != folder and _inside(folder, other) for other in hidden):  # outermost only
            args += ["--tmpfs", str(folder)]
    prefix = Path(sys.prefix).resolve()
    if any(_inside(prefix, h) for h in hidden):
        args += ["--ro-bind", str(prefix), str(prefix)]  # the venv may live inside the project
    base = Path(sys.base_prefix).resolve()
    if base != prefix and any(_inside(base, h) for h in hidden):
        args += ["--ro-bind", str(base), str(base)]
    args += ["--ro-bind", str(site), str(site)]
    for path in readonly:
        args += ["--ro-bind", str(path), str(path)]
    for folder in writable:
        args += ["--bind", str(folder), str(folder)]
    # The parent PID that ipykernel watches is not visible in the new PID namespace;
    # --die-with-parent does that job instead.
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--unsetenv", "JPY_PARENT_PID",
             "--setenv", "HOME", str(writable[0]), "--chdir", str(writable[0])]
    return args
