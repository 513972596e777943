"""What each exercise must compute, and the known-wrong variants learners write (trusted side).

One module per notebook defines ``EXERCISES``: a list of :class:`Exercise`.
This package imports the reference implementation; it is never importable
from a learner's kernel while a class is graded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    """A known-wrong implementation, named so that the learner can recognise the mistake.

    Attributes
    ----------
    key : str
        Stable identifier, e.g. ``"no_max_subtraction"`` (used by the class report).
    label : str
        The mistake in plain words: "the scores are not divided by √d_k".
    hint : str
        How to find it without giving the code away.
    fn : callable
        Same signature as the exercise's function; returns what that mistake returns.
    """

    key: str
    label: str
    hint: str
    fn: Callable


@dataclass(frozen=True)
class Exercise:
    """One exercise: the reference function and the mistakes to recognise.

    Attributes
    ----------
    name : str
        The fixed function name.
    notebook : str
        ``NN_topic`` of the notebook it belongs to.
    reference : callable
        Computes the expected value of a case: ``reference(*case.args, **case.kwargs)``.
    variants : tuple of Variant
        Tried in order on a mismatch; the first whose output matches names the mistake.
        With ``compare``, the variant that ``compare`` names instead.
    tolerance : float
        Multiplies the default per-dtype tolerances (e.g. 100 for gradients).
    compare : callable, optional
        ``compare(case, got) -> str | tuple | None`` replaces the value comparison for
        exercises whose output is not one fixed array (e.g. trained parameters);
        returns None when the output is right, else the message, or ``(key, message)``
        where ``key`` names one of ``variants`` (its label and hint are added).
    extra : dict
        Exercise-specific words: ``mutation_hint``; for a check of given code that runs the
        learner's functions, ``not_implemented`` (replaces the stub message) and ``error_hint``
        (added to the message of an error).
    """

    name: str
    notebook: str
    reference: Callable
    variants: tuple = ()
    tolerance: float = 1.0
    compare: Callable | None = None
    extra: dict = field(default_factory=dict)


def _registry():
    from . import (
        additive_attention,
        attention_weights,
        backprop_through_attention,
        memory_efficient_attention,
        multi_head_attention,
        scaled_dot_product,
    )

    table = {}
    for module in (attention_weights, scaled_dot_product, additive_attention,
                   multi_head_attention, backprop_through_attention, memory_efficient_attention):
        for exercise in module.EXERCISES:
            table[exercise.name] = exercise
    return table


def get(name):
    """The :class:`Exercise` called ``name``; ValueError naming the known ones otherwise."""
    table = _registry()
    if name not in table:
        raise ValueError(f"no exercise is called {name!r}; known: {', '.join(sorted(table))}")
    return table[name]


def all_exercises():
    """Every exercise, keyed by name."""
    return dict(_registry())
