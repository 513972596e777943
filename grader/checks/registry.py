"""The one registry of the course's notebooks and exercises (trusted side).

Each module of :mod:`grader.checks.exercises` holds one notebook's exercises: ``NOTEBOOK``
(``NN_topic``, the folder name in ``solutions/``) and ``EXERCISES``. They are found by
walking the package, so adding a notebook's checks means adding one module there.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from . import exercises as _exercises_package
from .cases import Case, generate
from .exercise import Exercise


@functools.cache
def notebooks() -> dict[str, tuple[Exercise, ...]]:
    """The exercises of every notebook, keyed by ``NN_topic`` and sorted by it."""
    found = {}
    for module_info in pkgutil.iter_modules(_exercises_package.__path__):
        module = importlib.import_module(f"{_exercises_package.__name__}.{module_info.name}")
        found[module.NOTEBOOK] = tuple(module.EXERCISES)
    return dict(sorted(found.items()))


@functools.cache
def exercises() -> dict[str, Exercise]:
    """Every exercise of the course, keyed by its function name."""
    table = {}
    for notebook_exercises in notebooks().values():
        for exercise in notebook_exercises:
            if exercise.name in table:
                raise ValueError(f"two notebooks define an exercise called {exercise.name!r}")
            table[exercise.name] = exercise
    return table


def get(name: str) -> Exercise:
    """The exercise called ``name``; ValueError naming the known ones otherwise."""
    table = exercises()
    if name not in table:
        raise ValueError(f"no exercise is called {name!r}; known: {', '.join(sorted(table))}")
    return table[name]


def cases(name: str, hidden: bool, seed: int | None = None) -> list[Case]:
    """The cases of one check of exercise ``name`` (``seed`` only matters for hidden ones)."""
    return generate(name, get(name).cases, hidden, seed)


def given_sources(notebook: str) -> dict[str, str]:
    """Source of the locked code cells of a notebook's source, by grade id (its given code)."""
    # Imported here: they import nbgrader, which the checks run in a kernel never need (stock
    # nbgrader autograde runs hidden checks in the learner's kernel through grader.checks.local).
    from ..runtime.notebook import locked_code
    from ..sources import read_source

    return locked_code(read_source(notebook))
