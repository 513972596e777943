"""``python -m grader feedback``: per-student HTML feedback with nbgrader, hidden tests removed.

nbgrader's ``generate_feedback`` renders each autograded notebook, one student at a
time: the learner's answers, their plots, and in each test cell the grader's verdict (the
named mistake and its hint). Its pipeline gets nbgrader's ``ClearHiddenTests`` in front and
renders learner content inert (:mod:`grader.pipeline.inert`); every file written is then
searched for the hidden tests' source and for active content, and a file that holds any is
deleted and reported, never handed back. A written answer that nobody has graded yet shows as
*awaiting grading* with its points, not as 0 (:class:`~grader.pipeline.nbgrader_bridge.GetGradesAwaiting`).
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.exporters import HTMLExporter
from nbgrader.apps import NbGraderAPI

from ..errors import FeedbackError
from ..sources import read_source
from . import course as _course
from . import inert
from .nbgrader_bridge import NBGRADER_TEMPLATES, feedback_config, quiet_nbgrader

_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def hidden_test_lines(source):
    """The non-blank lines of the hidden-test regions of a source notebook, and the markers.

    Parameters
    ----------
    source : nbformat.NotebookNode

    Returns
    -------
    set of str
        Stripped lines that must never appear in feedback.
    """
    lines = set(_MARKERS)
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if _MARKERS[0] in line:
                inside = True
            elif _MARKERS[1] in line:
                inside = False
            elif inside and line.strip():
                lines.add(line.strip())
    return lines


def visible_text(html_text):
    """What a reader of an HTML file sees: tags removed, entities decoded, spaces collapsed."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html_text, flags=re.S | re.I)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"[ \t]+", " ", text)


def leaks(html_text, forbidden):
    """The forbidden lines that occur in an HTML file (as a reader would see them)."""
    text = visible_text(html_text)
    squeezed = text.replace(" ", "")
    return sorted(line for line in forbidden if line in text or line.replace(" ", "") in squeezed)


#: The stylesheet nbgrader's feedback page inlines.
BOOTSTRAP_CSS = NBGRADER_TEMPLATES.parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"


@functools.cache
def template_scripts() -> frozenset:
    """The scripts the feedback template itself puts on every page (MathJax and its settings)."""
    config = feedback_config(_course.COURSE)  # the feedback pages' template, as nbgrader renders them
    config.HTMLExporter.extra_template_paths = [str(BOOTSTRAP_CSS)]  # as nbgrader's GenerateFeedback sets it
    page, _ = HTMLExporter(config=config).from_notebook_node(
        nbformat.v4.new_notebook(), resources={"nbgrader": {"notebook": "x", "score": 0, "max_score": 0,
                                                            "late_penalty": 0, "awaiting_points": 0}})
    return frozenset(inert.scripts(page))


def _check_page(path, forbidden):
    """Why a feedback page must not be handed out, or None."""
    text = path.read_text(errors="replace")
    found = leaks(text, forbidden)
    if found:
        return f"it showed hidden tests ({found[0]!r})"
    active = inert.problems(text, template_scripts())
    if active:
        return f"it held active content ({active[0]})"
    return None


@dataclass
class FeedbackResult:
    """What ``feedback`` did: the pages written, and each page or student it could not hand out."""

    written: list[Path] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)


def feedback(assignments=None, *, course_dir=_course.COURSE, db_url=None,
             solutions=_course.SOLUTIONS) -> FeedbackResult:
    """Generate the feedback HTML of every autograded submission, one student at a time.

    A failure on one student's notebook, and every page that would show a hidden test or
    hold active content, is reported for that student (the page is deleted); the others are
    generated all the same.

    Parameters
    ----------
    assignments : list of str, optional
        Default: every assignment with autograded submissions.
    course_dir : path-like
    db_url : str, optional

    Returns
    -------
    FeedbackResult
        The files ``<course_dir>/feedback/<student>/<assignment>/<assignment>.html``, and a
        line per page or student withheld.

    Raises
    ------
    FeedbackError
        When there is nothing autograded.
    """
    course_dir = Path(course_dir).resolve()
    graded = sorted({p.parent.name for p in course_dir.glob("autograded/*/*/*.ipynb")})
    names = list(assignments) if assignments else graded
    if not names:
        raise FeedbackError(f"nothing autograded in {course_dir / 'autograded'}; run autograde first")
    _course.nbgrader_environment()
    api = NbGraderAPI(config=feedback_config(course_dir, db_url=db_url, solutions=solutions))
    result = FeedbackResult()
    for name in names:
        forbidden = hidden_test_lines(read_source(name, solutions))
        for student in sorted(p.parent.name for p in course_dir.glob(f"autograded/*/{name}")):
            with quiet_nbgrader():
                outcome = api.generate_feedback(name, student_id=student, force=True)
            if not outcome["success"]:
                error = (outcome.get("error") or outcome.get("log") or "").strip().splitlines()
                result.withheld.append(f"{student} {name}: nbgrader could not generate the feedback "
                                       f"({error[-1] if error else 'no message'})")
                continue
            for path in sorted(course_dir.glob(f"feedback/{student}/{name}/*.html")):
                reason = _check_page(path, forbidden)
                if reason:
                    path.unlink()
                    result.withheld.append(f"{student} {name}: {path.name} withheld: {reason}")
                else:
                    result.written.append(path)
    return result
