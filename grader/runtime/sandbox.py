"""Keep learner code away from the reference, the trusted grader, the host and everyone else's files.

On Linux with bubblewrap (Debian/Ubuntu package ``bubblewrap``) a grading kernel runs in
private mount, PID, network, IPC and user namespaces built as an **allow-list**: it sees

- the system's programs and libraries (``/usr`` and the few files of ``/etc`` the dynamic
  loader and fonts need), read-only;
- the Python installation and the environment's packages, read-only — with the trusted
  packages (``attention_ref``, ``grader``) hidden wherever they are installed;
- the *safe site*, first on its ``sys.path``: a copy of the student package
  ``attention_course`` and of the kernel side ``grader/kernel`` (:data:`KERNEL_VISIBLE`);
- the submission's files and the checks' inputs, read-only;
- a private ``/tmp`` of :data:`TMP_BYTES` (the kernel's working folder lives there);
- the folder of its IPC sockets, writable only while the kernel starts;

and nothing else: no other host path, no host socket, no network, and an environment of
its own (:func:`kernel_environment`), not the instructor's. The kernel launcher adds the
limits a process can set on itself (memory, file size, no child process: see
:mod:`grader.kernel.launch`).

Elsewhere (macOS, Windows, containers that forbid user namespaces) the kernel runs
unsandboxed with an import blocker and the same limits where the platform has them; that
stops ordinary imports of the reference but not a learner who reads its files by path,
which is why verdicts never trust the kernel and instructors should grade on Linux.
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
#: The trusted packages, hidden from a kernel wherever they are installed.
TRUSTED_PACKAGES = ("attention_ref", "grader")
#: The safe site's ``attention_ref``: found first on a kernel's path, so that importing the reference
#: fails with this message. (Without it, the empty folder left over an installed copy would import
#: as an empty namespace package.)
REFERENCE_STUB = (Path("attention_ref") / "__init__.py",
                  'raise ModuleNotFoundError("attention_ref, the course\'s reference, is not available '
                  'while grading: your notebook must use its own functions", name="attention_ref")\n')
#: Files and folders of /etc a kernel may read: the dynamic loader's cache and the fonts' setup.
ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/fonts")
#: Size of a kernel's private /tmp, bytes (its working folder and anything it writes).
TMP_BYTES = 256 * 2**20


@functools.lru_cache(maxsize=1)
def bubblewrap():
    """Path of a working ``bwrap``, or None when there is none or it cannot create namespaces."""
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        return None
    try:
        probe = subprocess.run([path, "--unshare-all", *_system_binds(), "/usr/bin/true"],
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
    digest.update(str(REFERENCE_STUB).encode())
    return digest.hexdigest()[:16]


def safe_site(cache_dir=None) -> Path:
    """Build (once per content) the directory that a grading kernel imports from.

    Returns
    -------
    pathlib.Path
        A folder holding ``attention_course/``, ``grader/`` with only ``__init__.py`` and
        ``kernel/``, and an ``attention_ref/`` whose import fails (:data:`REFERENCE_STUB`).
    """
    root = Path(cache_dir or os.environ.get("ATTENTION_GRADER_CACHE")
                or Path(tempfile.gettempdir()) / "attention-grader")
    site = root / f"site-{_fingerprint()}"
    if site.is_dir():
        return site
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="site-", dir=root))
    for file, name in _files():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, staging / name)
    stub, text = REFERENCE_STUB
    (staging / stub).parent.mkdir(parents=True, exist_ok=True)
    (staging / stub).write_text(text)
    os.chmod(staging, 0o755)  # mkdtemp makes it private; kernels of any user read it
    try:
        staging.rename(site)
    except OSError:  # another process built it first
        shutil.rmtree(staging, ignore_errors=True)
    return site


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def python_folders() -> list[Path]:
    """The folders of the Python installation a kernel needs: the prefixes, outermost only."""
    found = []
    for folder in sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}):
        if not any(_inside(folder, other) for other in found):
            found.append(folder)
    return found


def trusted_folders(search_path: list[str] | None = None) -> list[Path]:
    """Where the trusted packages are, to hide them: every copy, not only the one imported.

    The copy this process imported (a checkout, say) and any other copy installed on the
    import path (``search_path``, default ``sys.path``): an instructor who runs the grader
    from a checkout may also have the wheel installed in the environment that a kernel sees.
    """
    found = []
    for name in TRUSTED_PACKAGES:
        module = sys.modules.get(name) or __import__(name)
        found += [Path(p).resolve() for p in getattr(module, "__path__", [])]
        for entry in sys.path if search_path is None else search_path:
            folder = Path(entry or ".") / name
            if folder.is_dir():
                found.append(folder.resolve())
    return list(dict.fromkeys(found))


def _system_binds() -> list[str]:
    """/usr and the root-level folders that are links into it (merged-usr) or real folders."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for item in ETC:
        args += ["--ro-bind-try", item, item]
    return args


def _allow_list(site: Path, hidden=()) -> tuple[list[str], list[str]]:
    """The read-only part of a kernel's view: system, Python (trusted packages hidden), safe site.

    Returns
    -------
    args : list of str
        bwrap arguments.
    covers : list of str
        The folders covered by an empty tmpfs (the trusted packages and ``hidden``).
    """
    args = ["--proc", "/proc", "--dev", "/dev", *_system_binds()]
    bound = python_folders()
    for folder in bound:
        args += ["--ro-bind", str(folder), str(folder)]
    covers = []
    for folder in [*trusted_folders(), *map(Path, hidden)]:
        folder = Path(folder).resolve()
        if any(_inside(folder, b) for b in bound):
            args += ["--tmpfs", str(folder)]  # an empty folder over the trusted code
            covers.append(str(folder))
    return args, covers


def _isolation() -> list[str]:
    return ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]


def _environment_args(env: dict) -> list[str]:
    args = []
    for name, value in sorted(env.items()):
        args += ["--setenv", name, str(value)]
    return args


def bwrap_prefix(bwrap: str, *, site: Path, runtime: Path, env: dict, readonly=(), hidden=(),
                 tmp_bytes: int = TMP_BYTES) -> list[str]:
    """The bubblewrap arguments that wrap a kernel command (see the module docstring).

    Parameters
    ----------
    bwrap : str
        Path of the bwrap executable.
    site : pathlib.Path
        The safe site (bound read-only).
    runtime : pathlib.Path
        The folder of the kernel's IPC sockets and connection file (bound writable).
    env : dict
        The kernel's whole environment (:func:`kernel_environment`); the caller's is cleared.
    readonly : sequence of pathlib.Path
        Files or folders the kernel reads at their own path (the submission's files, the
        checks' inputs).
    hidden : sequence of pathlib.Path
        Further folders to hide should they lie inside a bound folder (a course folder
        inside the environment's prefix, say).
    tmp_bytes : int
        Size of the private /tmp.
    """
    allow, _ = _allow_list(site, hidden)
    # The private /tmp first: what is bound next may lie in the host's /tmp (a virtualenv made there).
    args = [bwrap, *_isolation(), "--size", str(int(tmp_bytes)), "--tmpfs", "/tmp", *allow]
    args += ["--ro-bind", str(site), str(site)]
    for path in readonly:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(runtime), str(runtime), "--chdir", "/tmp"]
    return args + _environment_args(env)


#: The user id of the template's sandbox when grading as root: a user namespace may map its
#: owner's id into a nested one (each forked kernel's) only when that id is not 0.
TEMPLATE_UID = 1000


def template_prefix(bwrap: str, *, site: Path, root: Path, env: dict, hidden=()) -> list[str]:
    """The bubblewrap arguments of a kernel template (:mod:`grader.kernel.template`).

    The same allow-list as :func:`bwrap_prefix`, with three differences: the only writable
    folder is ``root`` (one folder per kernel, each shown to its own kernel only); the sandbox's
    root, the empty folders over the trusted code and ``/dev`` are read-only, since every forked
    kernel shares them; and when grading as root the sandbox's user is :data:`TEMPLATE_UID`, so that each
    forked kernel can get a user namespace of its own. Each forked kernel gets its own private
    ``/tmp`` and ``/dev/shm`` from the template.

    Parameters
    ----------
    bwrap : str
        Path of the bwrap executable.
    site : pathlib.Path
        The safe site (bound read-only).
    root : pathlib.Path
        The template's folder (bound writable).
    env : dict
        The template's whole environment (:func:`kernel_environment`).
    hidden : sequence of pathlib.Path
        As for :func:`bwrap_prefix`.
    """
    allow, covers = _allow_list(site, hidden)
    args = [bwrap, *_isolation()]
    if os.geteuid() == 0:
        args += ["--unshare-user", "--uid", str(TEMPLATE_UID), "--gid", str(TEMPLATE_UID)]
    # /tmp first, as in bwrap_prefix: the Python environment may lie in the host's /tmp.
    args += ["--size", str(16 * 2**20), "--tmpfs", "/tmp", *allow, "--ro-bind", str(site), str(site),
             "--bind", str(root), str(root)]
    for folder in [*covers, "/dev", "/"]:  # / is bwrap's own tmpfs, holding the mount points
        args += ["--remount-ro", folder]
    args += ["--chdir", "/tmp"]
    return args + _environment_args(env)


def kernel_environment(*, site: Path, runtime: Path, extra: dict | None = None, private_tmp: bool = True,
                       home: Path | None = None) -> dict:
    """The whole environment of a grading kernel: nothing of the instructor's is passed on.

    Parameters
    ----------
    site : pathlib.Path
        The safe site (``PYTHONPATH``).
    runtime : pathlib.Path
        The kernel's runtime folder.
    extra : dict, optional
        Grading variables (the checks' input file).
    private_tmp : bool
        True in the sandbox, whose /tmp is the kernel's own; otherwise IPython's and
        matplotlib's settings go below ``runtime`` and ``home`` is the home folder.
    home : pathlib.Path, optional
        The home folder outside the sandbox.
    """
    scratch = Path("/tmp") if private_tmp else runtime
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp" if private_tmp else str(home or runtime),
        "USER": "learner",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(site),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": str(scratch / ".ipython"),
        "MPLCONFIGDIR": str(scratch / ".matplotlib"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        **(extra or {}),
    }
