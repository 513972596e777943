"""Where the assignments' source notebooks are, and how to read them.

The sources (``solutions/NN_topic/NN_topic.ipynb``: solutions, hidden tests, given code) are
nbgrader's source directory in a checkout of the course. The instructor's wheel ships the
same files as ``grader/assignments/`` (``pyproject.toml`` maps ``solutions/`` there), so that
``python -m grader check`` works where the wheel is installed and there is no checkout. Every
module that needs an assignment's source asks here, so the layout is written once.
"""

from __future__ import annotations

import functools
from pathlib import Path

import nbformat
from nbformat import NotebookNode

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The sources as the wheel installs them, next to this module.
PACKAGED_SOLUTIONS = Path(__file__).resolve().parent / "assignments"


def find_checkout(root: Path = PROJECT_ROOT) -> Path | None:
    """The checkout of the course this package runs from, or None when it is an installed wheel.

    A checkout is the folder holding this package *and* the course's ``nbgrader_config.py``
    and ``solutions/`` (site-packages, where the wheel lands, has neither).
    """
    return root if (root / "nbgrader_config.py").is_file() and (root / "solutions").is_dir() else None


#: The checkout of the course (the repository's folder), or None where the wheel is installed.
CHECKOUT = find_checkout()
#: The instructor's source notebooks (nbgrader's source_directory): the checkout's ``solutions/``,
#: or the copy packaged with the wheel.
SOLUTIONS = CHECKOUT / "solutions" if CHECKOUT is not None else PACKAGED_SOLUTIONS
#: The student package's source in the checkout (``student/attention_course``, where a release
#: writes the public checks' data), or None without a checkout.
STUDENT_PACKAGE_SOURCE = CHECKOUT / "student" / "attention_course" if CHECKOUT is not None else None


def assignments(solutions: Path | str = SOLUTIONS) -> list[str]:
    """Names of the assignments: the folders ``NN_topic`` of ``solutions`` holding ``NN_topic.ipynb``."""
    return sorted(p.name for p in Path(solutions).glob("*") if (p / f"{p.name}.ipynb").is_file())


def select(names: list[str] | None, solutions: Path | str = SOLUTIONS,
           error: type[Exception] = ValueError) -> list[str]:
    """The assignments named (each once, in order), or all of them when none are.

    Raises
    ------
    error
        Naming every unknown assignment and the ones the course has.
    """
    known = assignments(solutions)
    wanted = list(dict.fromkeys(names)) if names else known
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise error(f"unknown assignment(s) {', '.join(unknown)}; "
                    f"the course has: {', '.join(known) or '(none)'}")
    return wanted


def source_path(assignment: str, solutions: Path | str = SOLUTIONS) -> Path:
    """Path of an assignment's source notebook (whether or not it exists)."""
    return Path(solutions) / assignment / f"{assignment}.ipynb"


def read_source(assignment: str, solutions: Path | str = SOLUTIONS) -> NotebookNode:
    """An assignment's source notebook (a fresh copy each call: callers may change it)."""
    return nbformat.reads(_source_text(str(Path(solutions).resolve()), assignment), as_version=4)


@functools.lru_cache(maxsize=32)
def _source_text(solutions: str, assignment: str) -> str:
    return source_path(assignment, solutions).read_text(encoding="utf-8")
