"""What an exercise must compute, how its cases are made and the known-wrong variants (trusted side).

One module per notebook in :mod:`grader.checks.exercises` defines ``EXERCISES``, a list of
:class:`Exercise`; :mod:`grader.checks.registry` finds them. Exercises import the reference
implementation, so nothing here is ever importable from a learner's kernel while a class is
graded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from attention_course.verdict import CheckSpec, MemoryLimit, Mistake

from .cases import Case


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

    @property
    def mistake(self) -> Mistake:
        """The mistake as the learner reads it."""
        return Mistake(self.key, self.label, self.hint)


@dataclass(frozen=True)
class Exercise:
    """One exercise: its cases, the reference that says what it must return, the mistakes to name.

    Attributes
    ----------
    name : str
        The fixed function name.
    notebook : str
        ``NN_topic`` of the notebook it belongs to.
    reference : callable
        Computes the expected value of a case: ``reference(*case.args, **case.kwargs)``.
    cases : callable
        ``cases(rng, hidden) -> list[Case]``: the public cases (``hidden=False``, fixed) or
        a random draw of hidden ones.
    variants : tuple of Variant
        Tried in order on a mismatch; the first whose output matches names the mistake.
        With ``compare``, the variant that ``compare`` names instead.
    tolerance : float
        Multiplies the default per-dtype tolerances (e.g. 10 for long chains of products).
    returns : tuple of str, optional
        Names of the items of a returned tuple, for messages (``("output", "lse")``).
    compare : callable, optional
        ``compare(case, got, given) -> None | str | (key, str)`` replaces the value comparison
        for exercises whose output is not one fixed array (e.g. trained parameters); ``given``
        is the namespace of the notebook's given code (see ``given_cells``). Returns None when
        the output is right, else the message, or ``(key, message)`` naming one of ``variants``.
    given_cells : tuple of str
        Grade ids of the locked cells of given code that this exercise's function runs (the
        training loop of notebook 05): grading runs them from the source before the check, so
        a learner's redefinition of a given name changes nothing.
    hints : mapping of str to str
        Exercise-specific words: ``mutation_hint``; for a check of given code that runs the
        learner's functions, ``not_implemented`` (replaces the stub message) and ``error_hint``
        (added to the message of an error).
    peak_memory : callable, optional
        ``peak_memory(case) -> MemoryLimit``: the contract on the peak memory of a call, for the
        cases marked ``measure`` (e.g. blockwise attention never builds the n_q × n_k scores).
    """

    name: str
    notebook: str
    reference: Callable
    cases: Callable[..., list[Case]]
    variants: tuple = ()
    tolerance: float = 1.0
    returns: tuple | None = None
    compare: Callable | None = None
    given_cells: tuple = ()
    hints: Mapping = field(default_factory=dict)
    peak_memory: Callable[[Case], MemoryLimit] | None = None

    @property
    def spec(self) -> CheckSpec:
        """What the messages of this exercise's check need (shared with the public check)."""
        try:
            parameters = tuple(inspect.signature(self.reference).parameters)
        except (TypeError, ValueError):
            parameters = ()
        return CheckSpec(self.name, parameters, self.returns, tuple(v.mistake for v in self.variants),
                         self.tolerance, dict(self.hints), self.peak_memory is not None)

    def memory_limit(self, case: Case) -> MemoryLimit | None:
        """The bound on the peak memory of ``case``'s call, when the case is marked ``measure``."""
        return self.peak_memory(case) if case.measure and self.peak_memory is not None else None
