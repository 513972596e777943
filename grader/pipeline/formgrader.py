"""``python -m grader formgrader``: nbgrader's formgrader on the course folder, for manual grading.

The written answers of a notebook are graded by hand in nbgrader's formgrader (Manual
Grading), after ``python -m grader autograde`` has scored the rest. This command starts a
Jupyter server with the formgrader switched on for that server only and pointed at the
course: its own Jupyter config folder (a temporary one, put first on ``JUPYTER_CONFIG_PATH``)
holds the course's nbgrader settings and switches the formgrader's server and Lab extensions
on, whatever the environment's own settings say, so nothing of the environment is changed.

Two things the formgrader needs that a fresh course folder lacks: the folder itself (the
sqlite gradebook cannot be created in a folder that does not exist: HTTP 500 "unable to open
database file") and nbgrader's ``alembic`` command on PATH (the environment's scripts folder,
missing when a virtualenv is used without being activated).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import FormgraderError
from . import config as _config
from . import course as _course

#: nbgrader's Jupyter server extensions an instructor's formgrader server runs.
SERVER_EXTENSIONS = tuple(f"nbgrader.server_extensions.{name}" for name in (
    "formgrader", "assignment_list", "validate_assignment", "course_list"))
#: nbgrader's JupyterLab extensions, switched on in that server.
LAB_EXTENSIONS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                  "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:assignment-list",
                  "@jupyter/nbgrader:validate-assignment")


@dataclass(frozen=True)
class FormgraderLaunch:
    """How to start the formgrader's server: command, environment, working and root folders."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    root_dir: Path


def server_root(course_dir: Path) -> Path:
    """The folder the server serves: the checkout when the course folder lies inside it, else the
    course folder (the formgrader refuses a course folder outside the server's root)."""
    checkout = _course.CHECKOUT
    if checkout is not None and (course_dir == checkout or checkout in course_dir.parents):
        return checkout
    return course_dir


def write_config(config_dir: Path | str, course_dir: Path | str, *, db_url: str | None = None,
                 course_id: str | None = None, config_file: Path | str | None = None,
                 solutions: Path | str = _course.SOLUTIONS,
                 notebooks: Path | str = _course.NOTEBOOKS) -> Path:
    """Write the formgrader server's Jupyter config folder; return it.

    Parameters
    ----------
    config_dir : path-like
        The folder to write (created if needed).
    course_dir : path-like
        The working course folder (submissions, gradebook).
    db_url : str, optional
        The gradebook's SQLAlchemy URL (default: the course configuration's, else sqlite in the
        course folder).
    course_id, config_file : optional
        ``--course-id`` and ``--config``, as for every other command (:mod:`grader.pipeline.config`).
    solutions, notebooks : path-like
        nbgrader's source and release folders.

    Returns
    -------
    pathlib.Path
        ``config_dir``, holding ``nbgrader_config.py``, ``jupyter_server_config.json`` and
        ``labconfig/page_config.json``.
    """
    config_dir = Path(config_dir)
    (config_dir / "labconfig").mkdir(parents=True, exist_ok=True)
    config = _config.course_config(course_dir, config_file=config_file, db_url=db_url, course_id=course_id,
                                   solutions=solutions, notebooks=notebooks)
    resolved = _config.course_settings(config)
    settings = {"root": str(resolved.root), "course_id": resolved.course_id, "db_url": resolved.db_url,
                "source_directory": str(Path(solutions).resolve()),
                "release_directory": str(Path(notebooks).resolve())}
    lines = ['"""Written by `python -m grader formgrader` for its server: the course it grades."""', "",
             "c = get_config()  # noqa: F821"]
    lines += [f"c.CourseDirectory.{key} = {value!r}" for key, value in sorted(settings.items())]
    (config_dir / "nbgrader_config.py").write_text("\n".join(lines) + "\n")
    server = {"ServerApp": {"jpserver_extensions": dict.fromkeys(SERVER_EXTENSIONS, True)}}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(server, indent=2))
    page = {"disabledExtensions": dict.fromkeys(LAB_EXTENSIONS, False)}
    (config_dir / "labconfig" / "page_config.json").write_text(json.dumps(page, indent=2))
    return config_dir


def formgrader_launch(config_dir: Path | str, course_dir: Path | str = _course.COURSE, *,
                      db_url: str | None = None, course_id: str | None = None,
                      config_file: Path | str | None = None, ip: str = "127.0.0.1", port: int | None = None,
                      open_browser: bool = True, solutions: Path | str = _course.SOLUTIONS,
                      notebooks: Path | str = _course.NOTEBOOKS) -> FormgraderLaunch:
    """Prepare the formgrader's server on a course folder: its config folder, command and environment.

    The course folder is created when it does not exist yet.

    Parameters
    ----------
    config_dir : path-like
        An empty folder for the server's Jupyter configuration (:func:`write_config`).
    course_dir : path-like
        The working course folder.
    db_url, course_id, config_file : optional
        The course options, as :func:`write_config`.
    ip : str
        The address the server listens on (loopback by default).
    port : int, optional
        Its port (default: Jupyter's, 8888 or the next free one).
    open_browser : bool
        Whether Jupyter opens the formgrader in a browser.

    Returns
    -------
    FormgraderLaunch

    Raises
    ------
    FormgraderError
        When the course folder cannot be created or JupyterLab is not installed.
    """
    try:
        course_dir = _course.ensure_course_dir(course_dir)
    except OSError as error:
        raise FormgraderError(f"cannot use {course_dir} as the course folder: {error}") from None
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        raise FormgraderError(f"the formgrader needs JupyterLab in {sys.prefix}: "
                              "pip install attention-course-grader (or -e . in a checkout)") from None
    if port is not None and not 0 < port < 65536:
        raise FormgraderError(f"--port must be between 1 and 65535, not {port}")
    write_config(config_dir, course_dir, db_url=db_url, course_id=course_id, config_file=config_file,
                 solutions=solutions, notebooks=notebooks)
    root = server_root(course_dir)
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}",
               f"--ServerApp.ip={ip}", "--ServerApp.default_url=/formgrader",
               f"--ServerApp.open_browser={open_browser}"]
    if port is not None:
        command += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")  # containers
    env = dict(os.environ)
    config_path = [str(Path(config_dir).resolve())] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(
        os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(config_path)
    scripts = str(Path(sys.executable).parent)  # nbgrader's gradebook runs `alembic` from here
    env["PATH"] = os.pathsep.join([scripts, *[p for p in env.get("PATH", "").split(os.pathsep) if p]])
    # The server starts in the course folder: nbgrader also reads an nbgrader_config.py from the
    # working folder, and the one of a checkout names the default course folder, not this one.
    return FormgraderLaunch(command, env, course_dir, root)


def run_formgrader(course_dir: Path | str = _course.COURSE, *, db_url: str | None = None,
                   course_id: str | None = None, config_file: Path | str | None = None,
                   ip: str = "127.0.0.1", port: int | None = None, open_browser: bool = True) -> int:
    """Run the formgrader's server on a course folder until it stops (Ctrl-C); return its exit status.

    Parameters are those of :func:`formgrader_launch`. SIGTERM and SIGHUP are passed on to the
    server, so that it shuts down cleanly when this process is asked to stop.

    Raises
    ------
    FormgraderError
        As :func:`formgrader_launch`, or when the server cannot be started.
    """
    with tempfile.TemporaryDirectory(prefix="attention-formgrader-") as config_dir:
        launch = formgrader_launch(config_dir, course_dir, db_url=db_url, course_id=course_id,
                                   config_file=config_file, ip=ip, port=port, open_browser=open_browser)
        settings = _config.course_settings(_config.course_config(
            launch.cwd, config_file=config_file, db_url=db_url, course_id=course_id))
        print(f"formgrader on {launch.cwd} (gradebook {_config.shown_url(settings.db_url)}); "
              "Ctrl-C stops it", flush=True)
        try:
            process = subprocess.Popen(launch.command, cwd=launch.cwd, env=launch.env)
        except OSError as error:
            raise FormgraderError(f"could not start Jupyter: {error}") from None

        def forward(signum, _frame):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

        passed_on = [sig for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig is not None]
        previous = {sig: signal.signal(sig, forward) for sig in passed_on}
        try:
            while True:
                try:
                    return process.wait()
                except KeyboardInterrupt:  # the server got the Ctrl-C too, and asks or stops itself
                    continue
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
