"""Run one notebook and judge it: notebook helpers, the sandbox, execution, verification.

:func:`grader.runtime.grade.grade_notebook` is the one path from a learner's notebook to its
verdicts; ``python -m grader check`` and ``python -m grader autograde`` both use it.
"""
