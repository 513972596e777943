"""The course's two wheels, built from this tree, and fresh virtual environments to install them in.

:func:`build_wheels` builds the student wheel (``student/``) and the instructor's wheel (this
folder) from a copy of their sources, so that the build leaves nothing in the checkout;
:func:`make_venv` creates a virtualenv outside the checkout and installs packages into it with
pip (the user's pip configuration and cache are used); :func:`run` runs a command there with
an environment that holds nothing of the test's own (no PYTHONPATH, a private HOME and Jupyter
folders; no display, so matplotlib draws with Agg, inline in a kernel).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: What each wheel is built from (the rest of the checkout is not needed).
STUDENT_SOURCES = ("student",)
INSTRUCTOR_SOURCES = ("pyproject.toml", "README.md", "attention_ref", "grader", "solutions")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info", "build")


@dataclass(frozen=True)
class Wheels:
    """The two wheels' files."""

    student: Path
    instructor: Path


def _copy(names, target):
    target.mkdir(parents=True)
    for name in names:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=_IGNORE)
        else:
            shutil.copy2(source, target / name)


def build_wheels(work: Path) -> Wheels:
    """Build both wheels in ``work`` (from copies of their sources); return their paths."""
    _copy(STUDENT_SOURCES, work / "src-student")
    _copy(INSTRUCTOR_SOURCES, work / "src-instructor")
    dist = work / "dist"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                           str(dist), str(work / "src-student" / "student"), str(work / "src-instructor")],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"building the wheels failed:\n{done.stdout}\n{done.stderr}")
    (student,) = dist.glob("attention_course-*.whl")
    (instructor,) = dist.glob("attention_course_grader-*.whl")
    return Wheels(student, instructor)


def clean_environment(home: Path, venv: Path | None = None) -> dict[str, str]:
    """An environment with nothing of the test's: the venv's scripts first on PATH, a private home."""
    keep = {key: value for key, value in os.environ.items()
            if key.startswith("PIP_") or key in ("LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")}
    home.mkdir(parents=True, exist_ok=True)
    path = [str(venv / "bin")] if venv is not None else []
    env = {**keep, "PATH": os.pathsep.join([*path, "/usr/local/bin", "/usr/bin", "/bin"]), "HOME": str(home),
           "OPENBLAS_NUM_THREADS": "1", "PYTHONNOUSERSITE": "1",
           "ATTENTION_GRADER_CACHE": str(home / ".cache" / "attention-grader")}
    for variable, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                             ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                             ("MPLCONFIGDIR", "matplotlib")):
        env[variable] = str(home / ".jupyter-test" / folder)
    return env


def make_venv(path: Path, packages: list[str | Path], home: Path) -> Path:
    """Create a virtualenv at ``path`` and pip-install ``packages`` into it; return its Python."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(path)], check=True, capture_output=True, timeout=600)
    python = path / "bin" / "python"
    # pip keeps the user's own configuration and cache (the real HOME): an index, a warm cache.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(path / "bin"), env.get("PATH", "")])
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *map(str, packages)],
                          capture_output=True, text=True, timeout=1800, cwd=home, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"pip install into {path} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return python


def run(python: Path, args: list[str], *, cwd: Path, home: Path, timeout: float = 900,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python args...`` in ``cwd`` with :func:`clean_environment`; stdout and stderr as text."""
    done = subprocess.run([str(python), *args], cwd=cwd, env=clean_environment(home, python.parent.parent),
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{python} {' '.join(args)} exited with {done.returncode}:\n"
                             f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done
