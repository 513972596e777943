"""nbgrader stays the engine; these two preprocessors make it safe for a whole class.

- :class:`LoadPregraded` takes the place of nbgrader's ``Execute`` in its
  autograde pipeline. The submission was already executed, in a sandbox and in
  parallel, by :mod:`grader.pipeline.autograde`, and its test cells rewritten with the
  trusted verdicts by :mod:`grader.runtime.verify`; this preprocessor loads that
  notebook, so nbgrader's own SaveAutoGrades scores it and writes the gradebook
  from one process only.
- nbgrader's ``ClearHiddenTests`` is put in front of ``generate_feedback``, so
  that the feedback HTML never shows the hidden tests' source.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import nbformat
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor
from traitlets import Unicode

from ..errors import MissingPregradedError
from . import course as _course


@contextlib.contextmanager
def quiet_nbgrader():
    """Silence the SQLAlchemy warnings nbgrader's gradebook emits on every autograde.

    ("Object of type <SubmittedNotebook> not in session ..."): they come from
    nbgrader's own session handling, appear with plain ``nbgrader autograde`` too,
    and say nothing about the grades.
    """
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SAWarning)
        yield


def pregraded_path(directory, assignment, student, notebook):
    """Where :mod:`grader.pipeline.autograde` leaves the executed and judged notebook of one submission."""
    return Path(directory) / assignment / student / f"{notebook}.ipynb"


class LoadPregraded(NbGraderPreprocessor):
    """Replace the cells of the sanitized submission by its pre-graded version."""

    directory = Unicode("", help="Folder of the pre-graded notebooks").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        path = pregraded_path(self.directory, info["assignment"], info["student"], info["notebook"])
        if not path.is_file():
            raise MissingPregradedError(f"no pre-graded notebook at {path}; run `python -m grader "
                                        "autograde`, not `nbgrader autograde`, with this configuration")
        graded = nbformat.read(path, as_version=4)
        nb.cells = graded.cells
        return nb, resources


def _swap(preprocessors, old, new):
    return [new if p is old else p for p in preprocessors]


def autograde_config(course_dir, pregraded_dir, *, db_url=None, solutions=_course.SOLUTIONS,
                     notebooks=_course.NOTEBOOKS):
    """The course's nbgrader configuration, its ``Execute`` step replaced by :class:`LoadPregraded`."""
    config = _course.nbgrader_config(course_dir, solutions=solutions, notebooks=notebooks, db_url=db_url)
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = _swap(list(default), Execute, LoadPregraded)
    config.LoadPregraded.directory = str(Path(pregraded_dir).resolve())
    return config


def feedback_config(course_dir, *, db_url=None, solutions=_course.SOLUTIONS, notebooks=_course.NOTEBOOKS):
    """The course's nbgrader configuration with hidden tests removed from the feedback."""
    config = _course.nbgrader_config(course_dir, solutions=solutions, notebooks=notebooks, db_url=db_url)
    default = GenerateFeedback.class_traits()["preprocessors"].default()
    config.GenerateFeedback.preprocessors = [ClearHiddenTests, *default]
    return config
