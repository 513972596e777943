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

Both are layered on the course's own configuration (:mod:`grader.pipeline.config`): the course's
preprocessor lists stay, with these steps put in or swapped where they belong.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from pathlib import Path

import nbformat
import nbgrader
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades, NbGraderPreprocessor
from traitlets import Unicode
from traitlets.config import Config
from traitlets.utils.importstring import import_item

from ..errors import ConfigError, MissingPregradedError
from ..runtime.notebook import rebuild_from_source
from ..sources import read_source
from . import config as _config
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


@contextlib.contextmanager
def scoring_caches():
    """Inside: nbgrader's scoring without two costs it repeats per submission (same results).

    nbgrader's ``autograde`` of one submission costs about 0.3 CPU-s in the one process that
    scores a whole class, and two parts of it are the same work again and again:

    - every cell's nbgrader metadata is checked with ``jsonschema.validate``, which first
      checks the *schema* against its meta-schema, on every call (about 15% of the scoring);
      here a validator is built once per schema and the instance checked as ``validate`` does
      (the same :func:`jsonschema.exceptions.best_match` error when it fails);
    - every ``Gradebook`` (about ten per submission) makes a new SQLAlchemy engine, whose cache
      of compiled statements starts empty (about 20%); here one engine per URL and keyword
      arguments is kept, so statements are compiled once. ``Gradebook.close`` still disposes
      it, which only closes its pooled connections.

    Meant for the main process of ``autograde`` (single-threaded scoring); both originals are
    put back on exit.
    """
    import json

    import jsonschema
    import nbgrader.api as nbgrader_api
    import nbgrader.nbgraderformat.common as metadata_format

    validators: dict[str, object] = {}
    engines: dict[tuple, object] = {}
    create_engine, schema_module = nbgrader_api.create_engine, metadata_format.jsonschema

    def validate(instance, schema, *args, **kwargs):
        if args or kwargs:
            return jsonschema.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        if key not in validators:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validators[key] = cls(schema)
        error = jsonschema.exceptions.best_match(validators[key].iter_errors(instance))
        if error is not None:
            raise error

    def shared_engine(url, **kwargs):
        key = (str(url), tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = create_engine(url, **kwargs)
        return engines[key]

    cached_schema_module = type("jsonschema_with_cached_validators", (), {
        "validate": staticmethod(validate), "ValidationError": jsonschema.ValidationError})
    nbgrader_api.create_engine, metadata_format.jsonschema = shared_engine, cached_schema_module
    try:
        yield
    finally:
        nbgrader_api.create_engine, metadata_format.jsonschema = create_engine, schema_module
        for engine in engines.values():
            engine.dispose()


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



def _same_class(item, cls) -> bool:
    """Is a preprocessor entry (a class or its dotted name, as config files write it) ``cls``?"""
    return (import_item(item) if isinstance(item, str) else item) is cls


def _course_list(config: Config, converter, trait: str) -> list:
    """The course's own list of ``converter.trait`` (its configuration's), else nbgrader's default."""
    current = config[converter.__name__].get(trait)
    return list(current if current is not None else converter.class_traits()[trait].default())


def layer_autograde(config: Config, pregraded_dir, *, solutions=_course.SOLUTIONS) -> Config:
    """A copy of ``config`` whose autograde rebuilds each submission from its source and loads the
    pre-graded notebook instead of executing it.

    The course's own ``Autograde.sanitize_preprocessors`` and ``autograde_preprocessors`` (or
    nbgrader's defaults) are kept: :class:`RebuildFromSource` goes first in the sanitizing and
    ``Execute`` is swapped for :class:`LoadPregraded` where it stands, so that late penalties
    (``AssignLatePenalties`` with whatever plugin the course configured) and any preprocessor the
    course added run as they do in stock nbgrader.

    Raises
    ------
    ConfigError
        When the course's autograde pipeline has no ``Execute`` step to replace.
    """
    layered = copy.deepcopy(config)
    sanitize = [p for p in _course_list(layered, Autograde, "sanitize_preprocessors")
                if not _same_class(p, RebuildFromSource)]
    layered.Autograde.sanitize_preprocessors = [RebuildFromSource, *sanitize]
    layered.RebuildFromSource.solutions = str(Path(solutions).resolve())
    steps = _course_list(layered, Autograde, "autograde_preprocessors")
    swapped = [LoadPregraded if _same_class(p, Execute) else p for p in steps]
    if swapped == steps:
        raise ConfigError("the course's Autograde.autograde_preprocessors has no Execute step: "
                          "python -m grader executes submissions in its sandbox in that step's place")
    layered.Autograde.autograde_preprocessors = swapped
    layered.LoadPregraded.directory = str(Path(pregraded_dir).resolve())
    return layered


def layer_feedback(config: Config) -> Config:
    """A copy of ``config`` whose feedback hides the hidden tests and makes learner content inert.

    nbgrader's ``ClearHiddenTests`` runs first, then :class:`grader.pipeline.inert.MakeInert`, then
    the course's own ``GenerateFeedback.preprocessors`` (or nbgrader's default) with ``GetGrades``
    replaced by :class:`GetGradesAwaiting`, so that an ungraded written answer shows as awaiting
    grading; the page is rendered with this package's ``feedback`` template (:data:`TEMPLATES`,
    found before nbgrader's own). nbconvert's own
    HTML sanitizing is on as well, its ``clean_html`` filter being
    :func:`grader.pipeline.inert.clean_html` (nh3).
    """
    layered = copy.deepcopy(config)
    steps = [GetGradesAwaiting if _same_class(p, GetGrades) else p
             for p in _course_list(layered, GenerateFeedback, "preprocessors")
             if not (_same_class(p, ClearHiddenTests) or _same_class(p, MakeInert))]
    layered.GenerateFeedback.preprocessors = [ClearHiddenTests, MakeInert, *steps]
    layered.HTMLExporter.template_name = "feedback"
    layered.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
    layered.HTMLExporter.sanitize_html = True
    layered.HTMLExporter.filters = {"clean_html": clean_html}
    return layered


def autograde_config(course_dir, pregraded_dir, *, db_url=None, solutions=_course.SOLUTIONS,
                     notebooks=_course.NOTEBOOKS, course_id=None, config_file=None) -> Config:
    """The course's nbgrader configuration (:func:`grader.pipeline.config.course_config`: its files,
    read as stock nbgrader reads them) with :func:`layer_autograde` on top."""
    config = _config.course_config(course_dir, config_file=config_file, db_url=db_url, course_id=course_id,
                                   solutions=solutions, notebooks=notebooks)
    return layer_autograde(config, pregraded_dir, solutions=solutions)


def feedback_config(course_dir, *, db_url=None, solutions=_course.SOLUTIONS, notebooks=_course.NOTEBOOKS,
                    course_id=None, config_file=None) -> Config:
    """The course's nbgrader configuration (its files, read as stock nbgrader reads them) with
    :func:`layer_feedback` on top: hidden tests removed, learner content inert."""
    config = _config.course_config(course_dir, config_file=config_file, db_url=db_url, course_id=course_id,
                                   solutions=solutions, notebooks=notebooks)
    return layer_feedback(config)
