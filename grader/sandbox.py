"""Keep learner code away from the reference, the trusted grader and everyone else's files.

On Linux with bubblewrap (Debian/Ubuntu package ``bubblewrap``) the kernel runs
in a private mount, PID and network namespace: the project folder, ``$HOME``
and ``/tmp`` are hidden, the Python environment is read-only, and only the
submission's own working folder is writable. Its ``sys.path`` starts with a
*safe site*: copies of the kernel-side grader modules and of
``attention_ref.plot`` — no reference computation, no verdict code.

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

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
#: Kernel-side grader files copied into the safe site (paths relative to the grader package).
KERNEL_SIDE = ("__init__.py", "probe.py", "record.py", "kernel.py", "cases")
#: Drawing modules of attention_ref copied into its grading stub.
DRAWING = ("plot.py", "explorer.py")

#: Folders a grading kernel never sees: the project (reference, solutions), the home folder and /tmp.
DEFAULT_HIDDEN = (PROJECT_ROOT, Path.home(), Path(tempfile.gettempdir()))

_STUB_INIT = '''"""Grading stub of attention_ref: only the plotting helpers exist while a class is graded."""

__grading_stub__ = True
'''


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


def _fingerprint():
    digest = hashlib.sha256()
    for name in KERNEL_SIDE + tuple(f"../attention_ref/{d}" for d in DRAWING):
        base = PACKAGE_DIR / name
        for file in sorted(base.rglob("*.py")) if base.is_dir() else [base]:
            if file.exists():
                digest.update(str(file.relative_to(PROJECT_ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def safe_site(cache_dir=None):
    """Build (once per content) the directory that a grading kernel imports from.

    Returns
    -------
    pathlib.Path
        A folder holding ``grader/`` (kernel-side modules only) and an
        ``attention_ref/`` stub with the drawing modules.
    """
    root = Path(cache_dir or os.environ.get("ATTENTION_GRADER_CACHE")
                or Path(tempfile.gettempdir()) / "attention-grader")
    site = root / f"site-{_fingerprint()}"
    if site.is_dir():
        return site
    staging = Path(tempfile.mkdtemp(prefix="site-", dir=_ensure(root)))
    (staging / "grader").mkdir()
    for name in KERNEL_SIDE:
        source = PACKAGE_DIR / name
        target = staging / "grader" / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    stub = staging / "attention_ref"
    stub.mkdir()
    (stub / "__init__.py").write_text(_STUB_INIT)
    for name in DRAWING:
        if (PROJECT_ROOT / "attention_ref" / name).exists():
            shutil.copy2(PROJECT_ROOT / "attention_ref" / name, stub / name)
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


def bwrap_prefix(bwrap, *, site, writable, hidden=None):
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
    for folder in writable:
        args += ["--bind", str(folder), str(folder)]
    # The parent PID that ipykernel watches is not visible in the new PID namespace;
    # --die-with-parent does that job instead.
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--unsetenv", "JPY_PARENT_PID",
             "--setenv", "HOME", str(writable[0]), "--chdir", str(writable[0])]
    return args
