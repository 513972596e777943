"""``python -m grader feedback``: per-student HTML feedback with nbgrader, hidden tests removed.

nbgrader's ``generate_feedback`` renders each autograded notebook: the learner's
answers, their plots, and in each test cell the grader's verdict (the named
mistake and its hint). Its pipeline gets nbgrader's ``ClearHiddenTests`` in
front, and every file written is then searched for the hidden tests' source;
a file that contains any of it is deleted and reported, never handed back.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from nbgrader.apps import NbGraderAPI

from ..errors import FeedbackError
from ..sources import read_source
from . import course as _course
from .nbgrader_bridge import feedback_config, quiet_nbgrader

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


def feedback(assignments=None, *, course_dir=_course.COURSE, db_url=None, solutions=_course.SOLUTIONS):
    """Generate the feedback HTML of every autograded submission.

    Parameters
    ----------
    assignments : list of str, optional
        Default: every assignment with autograded submissions.
    course_dir : path-like
    db_url : str, optional

    Returns
    -------
    list of pathlib.Path
        The feedback files, ``<course_dir>/feedback/<student>/<assignment>/<assignment>.html``.

    Raises
    ------
    FeedbackError
        When nbgrader fails or a file showed hidden tests (that file is deleted first).
    """
    course_dir = Path(course_dir).resolve()
    graded = sorted({p.parent.name for p in course_dir.glob("autograded/*/*/*.ipynb")})
    names = list(assignments) if assignments else graded
    if not names:
        raise FeedbackError(f"nothing autograded in {course_dir / 'autograded'}; run autograde first")
    _course.nbgrader_environment()
    api = NbGraderAPI(config=feedback_config(course_dir, db_url=db_url, solutions=solutions))
    written, leaked = [], []
    for name in names:
        with quiet_nbgrader():
            result = api.generate_feedback(name, force=True)
        if not result["success"]:
            raise FeedbackError(f"nbgrader could not generate feedback for {name}:\n"
                                f"{(result.get('error') or result.get('log') or '')[-2000:]}")
        source = read_source(name, solutions)
        forbidden = hidden_test_lines(source)
        for path in sorted(course_dir.glob(f"feedback/*/{name}/*.html")):
            found = leaks(path.read_text(errors="replace"), forbidden)
            if found:
                path.unlink()
                leaked.append(f"{path}: {found[0]!r}")
            else:
                written.append(path)
    if leaked:
        raise FeedbackError("feedback withheld, it showed hidden tests:\n" + "\n".join(leaked))
    return written
