"""``python -m grader release``: generate the student notebooks from the solutions with nbgrader.

nbgrader's ``generate_assignment`` strips the solutions (leaving ``raise
NotImplementedError()`` stubs), the hidden tests and the outputs, locks the
instruction and test cells and records the assignment in the gradebook, under the
course's configuration (:mod:`grader.pipeline.config`).

The due date lives in the gradebook, as in stock nbgrader: ``--due`` sets it exactly as
``nbgrader db assignment add NAME --duedate=...`` does (nbgrader's own ``parse_utc``: a time
zone as a third word or an ISO offset, none meaning UTC); a release without ``--due`` keeps
the due date the gradebook has.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from nbgrader.apps import NbGraderAPI

from ..errors import ReleaseError
from ..sources import select
from . import config as _config
from . import course as _course


def parse_due(text: str) -> dt.datetime:
    """A due date as nbgrader stores it (naive, UTC), read the way ``nbgrader db assignment add
    --duedate`` reads it.

    Parameters
    ----------
    text : str
        ``"2026-03-01 12:00:00 UTC"``, ``"2026-03-01 13:00 Europe/Paris"``,
        ``"2026-03-01T12:00:00+01:00"``; without a zone, UTC (nbgrader's rule).

    Raises
    ------
    ReleaseError
        When the text is not a date, or has a third word nbgrader would misread: a zone it does
        not know (read as UTC) or an offset such as ``+0200`` (read as 200 seconds).
    """
    import dateutil.tz
    from nbgrader.utils import parse_utc

    parts = text.split(" ")
    if len(parts) == 3:
        zone = parts[2]
        if zone.lstrip("+-").isdigit():  # nbgrader's parse_utc takes "+0200" for 200 seconds
            raise ReleaseError(f"--due {text!r}: nbgrader reads an offset written as a third word as "
                               f"seconds; write {parts[0]}T{parts[1]}{zone[:3]}:{zone[3:]} or a zone name")
        if dateutil.tz.gettz(zone) is None:
            raise ReleaseError(f"--due {text!r}: unknown time zone {zone!r} (nbgrader would read the "
                               "time as UTC); use a zone name such as Europe/Paris or UTC")
    try:
        return parse_utc(text)
    except (ValueError, OverflowError) as error:
        raise ReleaseError(f"--due {text!r} is not a date ({error}); "
                           'e.g. "2026-03-01 12:00:00 UTC"') from None


def release(names=None, *, solutions=_course.SOLUTIONS, notebooks=_course.NOTEBOOKS,
            course_dir=_course.COURSE, db_url=None, course_id=None, config_file=None, due=None):
    """Generate the student version of each assignment into ``notebooks``.

    Parameters
    ----------
    names : list of str, optional
        Assignments to release; default: every assignment in ``solutions``.
    solutions, notebooks : path-like
        Source and release directories.
    course_dir : path-like
        Working course folder (holds the gradebook).
    db_url, course_id : str, optional
        Gradebook URL and course id; default: the course's configuration's (else sqlite in
        ``course_dir`` and ``default_course``).
    config_file : path-like, optional
        A configuration file read as stock's ``--NbGrader.config_file``.
    due : str, optional
        Due date of every assignment released (:func:`parse_due`); default: keep the gradebook's.

    Returns
    -------
    list of pathlib.Path
        The generated notebooks.

    Raises
    ------
    ReleaseError
        When an assignment is unknown, the due date unreadable or nbgrader fails (with its log).
    ConfigError
        When the course's configuration cannot be read.
    """
    names = select(names, solutions, ReleaseError)
    duedate = parse_due(due) if due is not None else None
    Path(course_dir).mkdir(parents=True, exist_ok=True)
    _course.nbgrader_environment()
    config = _config.course_config(course_dir, config_file=config_file, db_url=db_url, course_id=course_id,
                                   solutions=solutions, notebooks=notebooks)
    api = NbGraderAPI(config=config)
    written = []
    for name in names:
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise ReleaseError(f"nbgrader could not generate {name}:\n{result.get('log', '')}"
                               f"\n{result.get('error', '')}".rstrip())
        written.append(Path(notebooks) / name / f"{name}.ipynb")
    if duedate is not None:
        set_due_dates(names, duedate, _config.course_settings(config))
    return written


def set_due_dates(names, duedate: dt.datetime, settings: _config.CourseSettings) -> None:
    """Record ``duedate`` (naive UTC) for each assignment, as ``nbgrader db assignment add --duedate``."""

    with _config.open_gradebook(settings, ReleaseError) as gb:
        for name in names:
            gb.update_or_create_assignment(name, duedate=duedate)


def release_to_temp(names=None, *, solutions=_course.SOLUTIONS):
    """Generate into a fresh temporary folder (own gradebook); return the folder.

    What the notebook sync test compares with ``notebooks/``. The caller removes it.
    """
    folder = Path(tempfile.mkdtemp(prefix="grader-release-"))
    try:
        release(names, solutions=solutions, notebooks=folder / "notebooks", course_dir=folder / "course")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder / "notebooks"
