"""``python -m grader release``: generate the student notebooks from the solutions with nbgrader.

nbgrader's ``generate_assignment`` strips the solutions (leaving ``raise
NotImplementedError()`` stubs), the hidden tests and the outputs, locks the
instruction and test cells and records the assignment in the gradebook.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from nbgrader.apps import NbGraderAPI

from ..errors import ReleaseError
from ..sources import select
from . import course as _course


def release(names=None, *, solutions=_course.SOLUTIONS, notebooks=_course.NOTEBOOKS,
            course_dir=_course.COURSE, db_url=None):
    """Generate the student version of each assignment into ``notebooks``.

    Parameters
    ----------
    names : list of str, optional
        Assignments to release; default: every assignment in ``solutions``.
    solutions, notebooks : path-like
        Source and release directories.
    course_dir : path-like
        Working course folder (holds the gradebook).
    db_url : str, optional
        Gradebook URL; default: sqlite in ``course_dir``.

    Returns
    -------
    list of pathlib.Path
        The generated notebooks.

    Raises
    ------
    ReleaseError
        When an assignment is unknown or nbgrader fails (with nbgrader's log).
    """
    names = select(names, solutions, ReleaseError)
    Path(course_dir).mkdir(parents=True, exist_ok=True)
    _course.nbgrader_environment()
    config = _course.nbgrader_config(course_dir, solutions=solutions, notebooks=notebooks, db_url=db_url)
    api = NbGraderAPI(config=config)
    written = []
    for name in names:
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise ReleaseError(f"nbgrader could not generate {name}:\n{result.get('log', '')}"
                               f"\n{result.get('error', '')}".rstrip())
        written.append(Path(notebooks) / name / f"{name}.ipynb")
    return written


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
