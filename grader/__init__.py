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

import sys as _sys


def _skip_the_slow_iri_checker() -> None:
    """Keep jsonschema from loading ``rfc3987_syntax`` in processes that import the grader first.

    Every process that reads a notebook imports ``nbformat``, which imports ``jsonschema``,
    which imports ``rfc3987_syntax`` when it is installed (``jsonschema[format-nongpl]``, pulled
    in by Jupyter) only to check the ``iri`` string formats; it builds its Earley parsers at
    import, about 2 CPU-s per process (jsonschema issue #1428) — paid by the CLI and by every
    grading worker. No schema read here uses those formats (nbformat's and nbgrader's have no
    ``format`` keyword), and an unknown format is accepted as it is when the package is absent.
    A process that imported ``jsonschema`` before the grader (a Jupyter server) is left alone.
    """
    if "jsonschema" not in _sys.modules:
        _sys.modules.setdefault("rfc3987_syntax", None)  # None: `import rfc3987_syntax` raises ImportError


_skip_the_slow_iri_checker()
