"""Where the assignments' source notebooks are, and how to read them.

The sources (``solutions/NN_topic/NN_topic.ipynb``: solutions, hidden tests, given code) are
nbgrader's source directory in a checkout of the course. Every module that needs an
assignment's source asks here, so the layout is written once.
"""

from __future__ import annotations

import functools
from pathlib import Path

import nbformat
from nbformat import NotebookNode

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The instructor's source notebooks (nbgrader's source_directory).
SOLUTIONS = PROJECT_ROOT / "solutions"


def assignments(solutions: Path | str = SOLUTIONS) -> list[str]:
    """Names of the assignments: the folders ``NN_topic`` of ``solutions`` holding ``NN_topic.ipynb``."""
    return sorted(p.name for p in Path(solutions).glob("*") if (p / f"{p.name}.ipynb").is_file())


def select(names, solutions: Path | str = SOLUTIONS, error: type[Exception] = ValueError) -> list[str]:
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
