"""Checks that tell a learner which mistake they made, and the tools that grade a class.

Notebook test cells call :func:`check` with the learner's function passed
explicitly::

    from grader import check
    check("softmax", softmax)                # public: a few fixed cases
    check("softmax", softmax, hidden=True)   # hidden: randomised cases

Only the kernel-side modules (``probe``, ``record``, ``cases``) are imported
here: while a class is graded, the learner's kernel sees nothing else of the
grader (see ``grader.sandbox``), and the verdicts are computed outside it from
the raw outputs the probe records.
"""

from .probe import check

__all__ = ["check"]
