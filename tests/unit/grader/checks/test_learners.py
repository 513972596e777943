"""Do the checks name each mistake a learner makes, pass every valid answer, and cover every mistake?

The learner-style implementations live in ``tests/support/learners`` (one module per notebook),
written independently of the variants in :mod:`grader.checks.exercises`. Every buggy one must
fail the public check and the hidden check on several seeds with exactly its named mistake, label
and hint; every valid one must pass them all.
"""

from __future__ import annotations

import learners
import pytest
from checking import SEEDS, assert_named, assert_passes

from grader.checks import registry

MODULES = learners.modules()
BUGGY = [(m.NOTEBOOK, name, key, fn) for m in MODULES for name, key, fn in m.BUGGY]
VALID = [(m.NOTEBOOK, name, fn) for m in MODULES for name, fn in m.VALID]
HIDDEN_ONLY = {pair for m in MODULES for pair in m.HIDDEN_ONLY}
#: Hidden seeds by exercise, where a module asks for fewer than the default ones.
SEEDS_OF = {name: seeds for m in MODULES for name, seeds in getattr(m, "SEEDS", {}).items()}


def _label(fn):
    return getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "answer")


@pytest.mark.parametrize(("notebook", "name", "key", "fn"), BUGGY,
                         ids=[f"{name}-{key}-{_label(fn)}" for _, name, key, fn in BUGGY])
def test_a_buggy_answer_gets_its_mistake_named(notebook, name, key, fn):
    """Does each buggy implementation fail with exactly its named mistake and hint?"""
    assert registry.get(name).notebook == notebook
    assert_named(name, fn, key, seeds=SEEDS_OF.get(name, SEEDS), public=(name, key) not in HIDDEN_ONLY)


@pytest.mark.parametrize(("notebook", "name", "fn"), VALID,
                         ids=[f"{name}-{_label(fn)}" for _, name, fn in VALID])
def test_a_valid_alternative_passes(notebook, name, fn):
    """Does a correct answer written another way pass the public and every hidden check?"""
    assert registry.get(name).notebook == notebook
    assert_passes(name, fn, seeds=SEEDS_OF.get(name, SEEDS))


def test_every_notebook_has_learners_and_every_exercise_a_valid_answer():
    """Does each notebook of the registry have a learners module, and each exercise a valid answer?"""
    assert sorted(m.NOTEBOOK for m in MODULES) == sorted(registry.notebooks())
    answered = {name for _, name, _ in VALID}
    given = {name for name, ex in registry.exercises().items() if ex.given_cells}
    assert set(registry.exercises()) - given <= answered, set(registry.exercises()) - given - answered


def test_every_named_mistake_has_a_buggy_implementation():
    """Is each variant of each exercise triggered by some learner's buggy implementation?"""
    tested = {(name, key) for _, name, key, _ in BUGGY}
    missing = [f"{name}:{v.key}" for name, exercise in registry.exercises().items()
               for v in exercise.variants if (name, v.key) not in tested]
    assert not missing, f"named mistakes without a buggy implementation in tests/support/learners: {missing}"
