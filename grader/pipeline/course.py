"""Where the course lives, as nbgrader sees it.

The repository is the nbgrader course: ``solutions/`` is the source directory and
``notebooks/`` the release directory. Everything a class produces (submitted,
autograded and feedback folders, the sqlite gradebook) lives in a working course
folder outside the tracked tree, ``course/`` by default.

The repository's ``nbgrader_config.py`` takes its settings from :func:`repository_config`;
``python -m grader`` reads that file (and the course folder's) as stock nbgrader does
(:mod:`grader.pipeline.config`). :func:`nbgrader_config` builds a configuration without
reading any file, for tests and benchmarks that need one course folder's settings spelled out.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config

from ..sources import PROJECT_ROOT, SOLUTIONS, assignments, source_path

#: The student versions generated from the sources (nbgrader's release_directory).
NOTEBOOKS = PROJECT_ROOT / "notebooks"
#: The default working course folder (git-ignored).
COURSE = PROJECT_ROOT / "course"
#: The course id of this repository's nbgrader_config.py (nbgrader's gradebook keys assignments by it).
COURSE_ID = "attention"

__all__ = ["COURSE", "COURSE_ID", "NOTEBOOKS", "PROJECT_ROOT", "SOLUTIONS", "assignments", "gradebook_url",
           "nbgrader_config", "nbgrader_environment", "repository_config", "source_path"]


def gradebook_url(course_dir=COURSE, db_url=None):
    """The gradebook's SQLAlchemy URL: ``db_url`` when given, else sqlite in ``course_dir``."""
    return db_url or f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


def nbgrader_config(course_dir=COURSE, *, solutions=SOLUTIONS, notebooks=NOTEBOOKS, db_url=None):
    """The nbgrader configuration of the course.

    Parameters
    ----------
    course_dir : path-like
        The working course folder: submitted/, autograded/, feedback/ and the gradebook.
    solutions, notebooks : path-like
        The source and release directories (absolute paths, so that they may lie
        outside ``course_dir``).
    db_url : str, optional
        Any SQLAlchemy URL for the gradebook; default ``sqlite:///<course_dir>/gradebook.db``.

    Returns
    -------
    traitlets.config.Config
    """
    course_dir = Path(course_dir).resolve()
    config = Config()
    config.CourseDirectory.root = str(course_dir)
    # nbgrader joins these to the root with os.path.join, so absolute paths are kept as they are.
    config.CourseDirectory.source_directory = str(Path(solutions).resolve())
    config.CourseDirectory.release_directory = str(Path(notebooks).resolve())
    config.CourseDirectory.db_url = gradebook_url(course_dir, db_url)
    return config


def repository_config():
    """The settings of this repository's ``nbgrader_config.py``: what stock ``nbgrader`` (and the
    Lab's Validate button) run from the repository's folder use.

    The course folder, the source and release folders and the course id; no gradebook URL, so
    that nbgrader's default follows the course folder (``--course-dir X`` means ``X/gradebook.db``).

    Returns
    -------
    traitlets.config.Config
    """
    config = Config()
    config.CourseDirectory.root = str(COURSE)
    config.CourseDirectory.source_directory = str(SOLUTIONS)
    config.CourseDirectory.release_directory = str(NOTEBOOKS)
    config.CourseDirectory.course_id = COURSE_ID
    return config


def nbgrader_environment():
    """Put this Python's scripts folder on PATH: nbgrader's gradebook runs the ``alembic`` command,
    which is not on PATH when the virtualenv is used without being activated (``make test``)."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
