"""The instructor side of the attention course: trusted checks, the grading runtime, the class pipeline.

- :mod:`grader.kernel` — the only part a learner's kernel sees while it is graded (shipped
  whole into the sandbox): the kernel launcher and the recorder of check outcomes.
- :mod:`grader.checks` — trusted: case generators, references and known mistakes, the judge.
- :mod:`grader.runtime` — trusted: run one notebook in the sandbox and judge it
  (:func:`grader.runtime.grade.grade_notebook`).
- :mod:`grader.pipeline` — the class pipeline around nbgrader.
- :mod:`grader.cli` — ``python -m grader``.

Learners import nothing from here: notebooks import ``attention_course`` (the student package).
"""
