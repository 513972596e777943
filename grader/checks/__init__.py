"""The trusted checks: case generators, references and known mistakes, and the judge.

Nothing in this package is visible to a learner's kernel while a class is graded: the kernel
records what the learner's functions return, and :mod:`grader.checks.judge` decides here.
"""
