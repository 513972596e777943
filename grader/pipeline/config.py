"""The course's nbgrader configuration, read as stock nbgrader reads it, with only our part on top.

``python -m grader`` drives nbgrader through ``NbGraderAPI(config=...)``, which reads no file
itself. So that a course's ``nbgrader_config.py`` (course id, gradebook URL, late-penalty
plugin, extra preprocessors, ...) counts exactly as it does for stock ``nbgrader``, the files
are read here with nbgrader's own loader, in nbgrader 0.9's order, lowest priority first:

1. the Jupyter configuration path (``jupyter --paths``): ``/etc/jupyter``,
   ``/usr/local/etc/jupyter``, ``{sys.prefix}/etc/jupyter``, ``~/.jupyter``,
   ``$JUPYTER_CONFIG_PATH`` — each one's ``nbgrader_config.py`` (and ``.json``); *or*, instead
   of those nbgrader_config files, the one file given with ``--config FILE`` (stock's
   ``--NbGrader.config_file=FILE``);
2. ``nbgrader_config.py`` in the current folder (stock reads it even after ``--config``, so it
   overrides that file);
3. ``nbgrader_config.py`` in the course folder (``--course-dir``);
4. what ``python -m grader`` must decide, with the priority of stock's command line: the
   course folder, the source and release folders of this repository, and ``--db-url`` and
   ``--course-id`` when they are given.

Two deliberate differences with stock nbgrader: a configuration file that fails to run is an
error (stock logs it and grades without that file's settings — its late penalty, say), and
the course id is never empty (stock's default ``""`` breaks PostgreSQL's foreign key from
assignment to course): without one in the files or on the command line it is
``default_course``, the id nbgrader's own preprocessors open the gradebook with.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Application, Config

from ..errors import ConfigError, GraderError
from ..sources import SOLUTIONS
from . import course as _course

#: The course id when neither the files nor the command line give one: the default of
#: nbgrader's ``Gradebook(db_url)``, so that the gradebook keeps one course row, not two.
DEFAULT_COURSE_ID = "default_course"
#: The name stock nbgrader looks for (``.py`` and ``.json``).
CONFIG_NAME = "nbgrader_config"


@dataclass(frozen=True)
class CourseSettings:
    """Where a course keeps its gradebook, as nbgrader resolves it from a configuration.

    Attributes
    ----------
    root : pathlib.Path
        The course folder (``CourseDirectory.root``).
    course_id : str
        Never empty.
    db_url : str
        The gradebook's SQLAlchemy URL: the configured one, else nbgrader's default
        ``sqlite:///<root>/gradebook.db``.
    """

    root: Path
    course_id: str
    db_url: str


@contextlib.contextmanager
def _on_syspath(folder: Path):
    """Stock nbgrader puts the cwd first on ``sys.path`` before it reads configuration files, so that
    a file may import modules beside it; here only while the files are read. What a file itself
    puts on ``sys.path`` (to find its late-penalty plugin, say) stays, as in stock nbgrader."""
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _failing_file(error: BaseException) -> str:
    """The configuration file a traceback went through last, or "a configuration file"."""
    skip = (f"{os.sep}traitlets{os.sep}", f"{os.sep}nbgrader{os.sep}", __file__)
    names = [f.filename for f in traceback.extract_tb(error.__traceback__)
             if not any(part in f.filename for part in skip)]
    return names[-1] if names else "a configuration file"


@contextlib.contextmanager
def _config_errors():
    """Turn an exception raised by a configuration file into a :class:`ConfigError` naming it."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as error:  # whatever the file's own code raised
        raise ConfigError(f"{_failing_file(error)} failed: {type(error).__name__}: {error}; "
                          "fix the file (stock nbgrader would ignore it and grade without its "
                          "settings)") from error


def load_stock_config(course_root: Path | str | None = None, config_file: Path | str | None = None, *,
                      cwd: Path | str | None = None) -> Config:
    """The configuration stock ``nbgrader <command> [--course-dir ROOT] [--NbGrader.config_file=FILE]``
    reads from files when run in ``cwd``.

    Parameters
    ----------
    course_root : path-like, optional
        As ``--course-dir``; default: ``CourseDirectory.root`` from the files, else ``cwd``.
    config_file : path-like, optional
        Replaces the nbgrader_config files of the Jupyter configuration path (its
        ``jupyter_config.py`` files are still read); the cwd's and the course folder's
        files are read after it and override it, as in stock nbgrader.
    cwd : path-like, optional
        Default: the current folder.

    Returns
    -------
    traitlets.config.Config
        A copy; outdated option names (``NbGrader.course_id``, ...) migrated by nbgrader.

    Raises
    ------
    ConfigError
        When ``config_file`` does not exist or a file fails to run.
    """
    from nbgrader.apps.baseapp import NbGrader

    cwd = Path(cwd or os.getcwd()).resolve()
    app = NbGrader()  # the base class of every nbgrader command (a fresh one, not the singleton)
    app.raise_config_file_errors = True
    app.load_cwd_config = False  # the cwd's file is read below, from ``cwd``
    if config_file is not None:
        config_file = (cwd / config_file).resolve()
        if not config_file.is_file():
            raise ConfigError(f"--config {config_file}: no such file")
        app.config_file = str(config_file)
    level = app.log.level
    with _on_syspath(cwd), _config_errors():
        # Its "No nbgrader_config.py file found" warning is wrong whenever config_file is set.
        app.log.setLevel(logging.ERROR)
        try:
            app.load_config_file(suppress_errors=False)
        finally:
            app.log.setLevel(level)
        Application.load_config_file(app, CONFIG_NAME, path=str(cwd))
        if course_root is not None:
            root = (cwd / course_root).resolve()
        else:
            root = (cwd / str(app.config.CourseDirectory.get("root") or cwd)).resolve()
        Application.load_config_file(app, CONFIG_NAME, path=str(root))
    return copy.deepcopy(app.config)


def grader_overrides(*, solutions: Path | str = SOLUTIONS, notebooks: Path | str = _course.NOTEBOOKS,
                     db_url: str | None = None, course_id: str | None = None) -> Config:
    """What ``python -m grader`` puts on top of the files, with the priority of stock's command line.

    The source and release folders are always this repository's; the gradebook URL and the
    course id only when given (``--db-url``, ``--course-id``), so that the files decide otherwise.
    """
    overrides = Config()
    # nbgrader joins these to the root with os.path.join, so absolute paths are kept as they are.
    overrides.CourseDirectory.source_directory = str(Path(solutions).resolve())
    overrides.CourseDirectory.release_directory = str(Path(notebooks).resolve())
    if db_url:
        overrides.CourseDirectory.db_url = db_url
    if course_id:
        overrides.CourseDirectory.course_id = course_id
    return overrides


def load_course_config(course_root: Path | str, config_file: Path | str | None = None,
                       overrides: Config | None = None, *, cwd: Path | str | None = None) -> Config:
    """The course's configuration as stock nbgrader reads it, with ``overrides`` on top.

    Parameters
    ----------
    course_root : path-like
        The course folder; always ``CourseDirectory.root``.
    config_file : path-like, optional
        ``--config FILE``, read as stock's ``--NbGrader.config_file``.
    overrides : traitlets.config.Config, optional
        Command-line priority settings (:func:`grader_overrides`).
    cwd : path-like, optional
        Default: the current folder.

    Returns
    -------
    traitlets.config.Config
        ``CourseDirectory.course_id`` is never empty (overrides, else the files, else
        :data:`DEFAULT_COURSE_ID`); ``db_url`` is set only when someone set it, so that
        nbgrader's default follows the course folder (read it with :func:`course_settings`).

    Raises
    ------
    ConfigError
        As :func:`load_stock_config`.
    """
    cwd = Path(cwd or os.getcwd()).resolve()
    root = (cwd / course_root).resolve()
    config = load_stock_config(root, config_file, cwd=cwd)
    config.merge(copy.deepcopy(overrides) if overrides is not None else Config())
    config.CourseDirectory.root = str(root)
    if not str(config.CourseDirectory.get("course_id", "") or "").strip():
        config.CourseDirectory.course_id = DEFAULT_COURSE_ID
    return config


def course_config(course_dir: Path | str = _course.COURSE, *, config_file: Path | str | None = None,
                  db_url: str | None = None, course_id: str | None = None,
                  solutions: Path | str = SOLUTIONS, notebooks: Path | str = _course.NOTEBOOKS,
                  cwd: Path | str | None = None) -> Config:
    """:func:`load_course_config` with ``python -m grader``'s overrides: what every command starts from.

    Parameters
    ----------
    course_dir : path-like
    config_file : path-like, optional
    db_url, course_id : str, optional
        ``--db-url`` and ``--course-id``; default: the configuration's.
    solutions, notebooks : path-like
        The source and release folders.
    cwd : path-like, optional

    Returns
    -------
    traitlets.config.Config
    """
    overrides = grader_overrides(solutions=solutions, notebooks=notebooks, db_url=db_url,
                                 course_id=course_id)
    return load_course_config(course_dir, config_file, overrides, cwd=cwd)


def course_settings(config: Config) -> CourseSettings:
    """The course folder, course id and gradebook URL that nbgrader resolves from ``config``.

    Every ``Gradebook(...)`` the grader opens takes its URL and course id from here, so that it
    is the gradebook nbgrader writes.
    """
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    check_driver(coursedir.db_url)
    return CourseSettings(Path(coursedir.root), coursedir.course_id or DEFAULT_COURSE_ID, coursedir.db_url)


def existing_gradebook(course_dir: Path | str = _course.COURSE, *, db_url: str | None = None,
                       course_id: str | None = None, config_file: Path | str | None = None,
                       solutions: Path | str = SOLUTIONS,
                       error: type[GraderError] = GraderError) -> CourseSettings:
    """The course's gradebook settings, for a command that reads a gradebook ``release`` and
    ``autograde`` made (opening a missing sqlite file would create an empty one).

    Raises
    ------
    error
        When the course's gradebook is a sqlite file that does not exist.
    """
    config = course_config(course_dir, config_file=config_file, db_url=db_url, course_id=course_id,
                           solutions=solutions)
    settings = course_settings(config)
    database = sqlite_path(settings.db_url)
    if database is not None and not database.is_file():
        raise error(f"no gradebook at {database}; run release and autograde first")
    return settings


def shown_url(db_url: str) -> str:
    """A gradebook URL fit for a message: its password hidden."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except ArgumentError:
        return db_url


def check_driver(db_url: str) -> None:
    """Refuse a PostgreSQL URL when psycopg 3 (the ``postgres`` extra) is not installed.

    Raises
    ------
    ConfigError
        Naming the extra to install.
    """
    if db_url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres"):
        try:
            import psycopg  # noqa: F401 - SQLAlchemy's default driver for postgresql://
        except ImportError:
            raise ConfigError(f"the gradebook {shown_url(db_url)} is PostgreSQL, which needs psycopg 3: "
                              "pip install -e '.[postgres]'") from None


@contextlib.contextmanager
def open_gradebook(settings: CourseSettings, error: type[GraderError] = GraderError):
    """nbgrader's ``Gradebook`` of the course (its URL and course id), a database that cannot be
    reached or a URL that cannot be used being ``error`` with the URL (password hidden).

    Yields
    ------
    nbgrader.api.Gradebook
    """
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import ArgumentError, OperationalError

    check_driver(settings.db_url)
    try:
        gradebook = Gradebook(settings.db_url, settings.course_id)
    except (OperationalError, ArgumentError) as failure:
        reason = str(getattr(failure, "orig", None) or failure).strip().splitlines()[0]
        raise error(f"cannot open the gradebook {shown_url(settings.db_url)}: {reason}") from None
    with gradebook:
        yield gradebook


def sqlite_path(db_url: str) -> Path | None:
    """The file of a ``sqlite:///`` gradebook URL, or None for any other database."""
    prefix = "sqlite:///"
    return Path(db_url[len(prefix):]) if db_url.startswith(prefix) else None
