"""Learner-style implementations of every exercise, one module per notebook.

Each module has ``BUGGY`` (exercise, mistake key, implementation), ``VALID`` (exercise,
implementation) and ``HIDDEN_ONLY`` (mistakes the public cases cannot show). They are written
the way learners write code, independently of the variants in :mod:`grader.checks.exercises`.
"""

import importlib
import pkgutil


def modules():
    """The learner modules, one per notebook, sorted by name."""
    return [importlib.import_module(f"{__name__}.{m.name}") for m in sorted(pkgutil.iter_modules(__path__),
                                                                              key=lambda m: m.name)]
