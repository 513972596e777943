"""nbgrader stays the engine; these preprocessors make it safe for a whole class.

- :class:`RebuildFromSource` opens nbgrader's sanitizing: the submission is rebuilt on the
  source's skeleton (:func:`grader.runtime.notebook.rebuild_from_source`), so grade cells,
  their ids, points, types and order are the source's, and a forged, duplicated or retyped
  graded cell never reaches nbgrader's scoring. nbgrader's own sanitizing follows.
- :class:`LoadPregraded` takes the place of nbgrader's ``Execute``: the submission was
  already executed, in a sandbox and in parallel, by :mod:`grader.pipeline.autograde`
  (from the same rebuild), and its test cells judged by :mod:`grader.runtime.verify`; this
  preprocessor copies those outputs into nbgrader's sanitized notebook, cell by cell, after
  checking that the two notebooks have the same cells. nbgrader's SaveAutoGrades then scores
  the sanitized notebook and writes the gradebook, from one process only.
- nbgrader's ``ClearHiddenTests`` is put in front of ``generate_feedback``, so that the
  feedback HTML never shows the hidden tests' source, and :class:`GetGradesAwaiting` takes
  the place of its ``GetGrades``, so that a written answer nobody has graded yet shows as
  *awaiting grading*, not as 0 points (the page's template: ``nbconvert-templates/feedback``).
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import nbformat
import nbgrader
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades, NbGraderPreprocessor
from traitlets import Unicode

from ..errors import MissingPregradedError
from ..runtime.notebook import rebuild_from_source
from ..sources import read_source
from . import course as _course
from .inert import MakeInert, clean_html

#: nbgrader's own templates (its feedback page, which ours extends).
NBGRADER_TEMPLATES = (Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader"
                      / "templates")
#: This package's nbconvert templates (the folder's name is no Python name, so that setuptools does not
#: take it for a package): ``feedback``, nbgrader's feedback page with "awaiting grading". nbgrader's API
#: always renders feedback with the template named ``feedback``; this folder, searched first, supplies it.
TEMPLATES = Path(__file__).resolve().parent / "nbconvert-templates"


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


class RebuildFromSource(NbGraderPreprocessor):
    """Rebuild the submission on its source's skeleton before nbgrader sanitizes it."""

    solutions = Unicode("", help="Folder of the source notebooks").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        source = read_source(info["notebook"], self.solutions)
        return rebuild_from_source(nb, source).notebook, resources


class LoadPregraded(NbGraderPreprocessor):
    """Copy the pre-graded outputs into nbgrader's sanitized notebook (which stays the one scored)."""

    directory = Unicode("", help="Folder of the pre-graded notebooks").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        path = pregraded_path(self.directory, info["assignment"], info["student"], info["notebook"])
        if not path.is_file():
            raise MissingPregradedError(f"no pre-graded notebook at {path}; run `python -m grader "
                                        "autograde`, not `nbgrader autograde`, with this configuration")
        graded = nbformat.read(path, as_version=4)
        ours = [(c.get("id"), c.cell_type) for c in graded.cells]
        theirs = [(c.get("id"), c.cell_type) for c in nb.cells]
        if ours != theirs:
            raise MissingPregradedError(f"the pre-graded notebook at {path} does not have the cells of "
                                        "the submission nbgrader sanitized; grade it again")
        for cell, done in zip(nb.cells, graded.cells, strict=True):
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = done.outputs, done.get("execution_count")
        return nb, resources


class GetGradesAwaiting(GetGrades):
    """nbgrader's ``GetGrades``, which also marks the graded cells that still await a grader.

    A cell awaits grading when nbgrader's gradebook says it needs a manual grade: a written
    answer that the learner changed and nobody has scored yet (nbgrader scores an untouched
    one 0 itself). Such a cell gets ``metadata.nbgrader.awaiting = True``, and
    ``resources["nbgrader"]["awaiting_points"]`` is the sum of their points; the feedback
    template shows "awaiting grading" for them instead of their provisional score of 0.
    """

    def preprocess(self, nb, resources):
        resources["nbgrader"]["awaiting_points"] = 0.0
        return super().preprocess(nb, resources)

    def _get_score(self, cell, resources):
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        cell.metadata.nbgrader["awaiting"] = bool(grade.needs_manual_grade)
        if grade.needs_manual_grade:
            resources["nbgrader"]["awaiting_points"] += float(grade.max_score or 0)


def _swap(preprocessors, old, new):
    return [new if p is old else p for p in preprocessors]


def autograde_config(course_dir, pregraded_dir, *, db_url=None, solutions=_course.SOLUTIONS,
                     notebooks=_course.NOTEBOOKS):
    """The course's nbgrader configuration with :class:`RebuildFromSource` first in its sanitizing
    and its ``Execute`` step replaced by :class:`LoadPregraded`."""
    config = _course.nbgrader_config(course_dir, solutions=solutions, notebooks=notebooks, db_url=db_url)
    sanitize = Autograde.class_traits()["sanitize_preprocessors"].default()
    config.Autograde.sanitize_preprocessors = [RebuildFromSource, *sanitize]
    config.RebuildFromSource.solutions = str(Path(solutions).resolve())
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = _swap(list(default), Execute, LoadPregraded)
    config.LoadPregraded.directory = str(Path(pregraded_dir).resolve())
    return config


def feedback_config(course_dir, *, db_url=None, solutions=_course.SOLUTIONS, notebooks=_course.NOTEBOOKS):
    """The course's nbgrader configuration for feedback: hidden tests removed, learner content inert,
    ungraded written answers shown as awaiting grading.

    nbgrader's ``ClearHiddenTests`` runs first, then :class:`grader.pipeline.inert.MakeInert`,
    then nbgrader's own preprocessors with ``GetGrades`` replaced by :class:`GetGradesAwaiting`;
    the page is rendered with this package's ``feedback`` template (:data:`TEMPLATES`, found before
    nbgrader's own). nbconvert's own HTML sanitizing is on
    as well, its ``clean_html`` filter being :func:`grader.pipeline.inert.clean_html` (nh3).
    """
    config = _course.nbgrader_config(course_dir, solutions=solutions, notebooks=notebooks, db_url=db_url)
    default = GenerateFeedback.class_traits()["preprocessors"].default()
    config.GenerateFeedback.preprocessors = [ClearHiddenTests, MakeInert,
                                             *_swap(list(default), GetGrades, GetGradesAwaiting)]
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
    config.HTMLExporter.sanitize_html = True
    config.HTMLExporter.filters = {"clean_html": clean_html}
    return config
