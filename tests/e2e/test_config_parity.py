"""Is nbgrader's own configuration that of `python -m grader`, exactly as stock nbgrader reads it?

Oracles are stock nbgrader itself: its command classes initialised in a subprocess for what the
configuration files say, and its ``nbgrader autograde`` for the late penalty. The same late
submission is graded both ways in one course folder, its due date set either by ``release --due``
or by nbgrader's own ``nbgrader db assignment add --duedate``, its penalty configured in the
course folder's ``nbgrader_config.py`` (nbgrader's ``zero`` method, or a plugin class of the course).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from submissions import ASSIGNMENT, AUTOGRADED_POINTS, answered, solution_bodies, write

from grader.errors import ConfigError
from grader.pipeline import config, course
from grader.pipeline.release import release

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

DUE = "2026-03-01 12:00:00 UTC"
#: One hour after DUE, as the LMS gives it.
HANDED_IN = "2026-03-01T13:00:00Z"

#: Prints, as JSON, what a stock nbgrader command's configuration ends up with.
STOCK_DRIVER = textwrap.dedent('''
    import json, sys
    from nbgrader.apps import NbGraderApp
    app = NbGraderApp.instance()
    app.initialize(sys.argv[1:])
    c = app.subapp.config
    print(json.dumps({"course_id": app.subapp.coursedir.course_id,
                      "db_url": c.CourseDirectory.get("db_url"),
                      "penalty": c.LateSubmissionPlugin.get("penalty_method"),
                      "timeout": c.Execute.get("timeout")}))
''')


@pytest.fixture
def jupyter_isolated(tmp_path, monkeypatch):
    """Jupyter's configuration folders of this test only (none of the machine's files)."""
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-dir"))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(tmp_path / "jupyter-path"))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def _write_config(folder, **settings):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["c = get_config()"] + [f"c.{key.replace('__', '.')} = {value!r}"
                                    for key, value in settings.items()]
    (folder / "nbgrader_config.py").write_text("\n".join(lines) + "\n")
    return folder / "nbgrader_config.py"


def _values(cfg):
    return {"course_id": cfg.CourseDirectory.get("course_id", ""),
            "db_url": cfg.CourseDirectory.get("db_url"),
            "penalty": cfg.LateSubmissionPlugin.get("penalty_method"), "timeout": cfg.Execute.get("timeout")}


def _stock_values(cwd, *args):
    result = subprocess.run([sys.executable, "-c", STOCK_DRIVER, "autograde", "ps1", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_files_and_their_priorities_are_stock_nbgraders(jupyter_isolated):
    """With a file in every place stock nbgrader looks, do we read the same values, with and without
    --course-dir and an explicit configuration file?"""
    base = jupyter_isolated
    _write_config(base / "jupyter-dir", CourseDirectory__course_id="from-jupyter-dir", Execute__timeout=11,
                  LateSubmissionPlugin__penalty_method="zero")
    _write_config(base / "jupyter-path", Execute__timeout=22)
    cwd = base / "cwd"
    _write_config(cwd, CourseDirectory__course_id="from-cwd")
    root = base / "root"
    _write_config(root, CourseDirectory__db_url="sqlite:////nowhere/from-root.db")
    explicit = _write_config(base / "explicit", Execute__timeout=33, CourseDirectory__course_id="explicit")

    plain = config.load_stock_config(None, cwd=cwd)
    assert _values(plain) == _stock_values(cwd)
    assert _values(plain) == {"course_id": "from-cwd", "db_url": None, "penalty": "zero", "timeout": 22}
    with_root = config.load_stock_config(root, cwd=cwd)
    assert _values(with_root) == _stock_values(cwd, f"--course-dir={root}")
    # An explicit file replaces the Jupyter path's files; the cwd's file still wins over it (stock).
    explicit_file = config.load_stock_config(root, explicit, cwd=cwd)
    assert _values(explicit_file) == _stock_values(cwd, f"--course-dir={root}",
                                                   f"--NbGrader.config_file={explicit}")
    assert _values(explicit_file)["timeout"] == 33 and _values(explicit_file)["penalty"] is None


def test_the_course_id_is_never_empty_and_the_command_line_wins(jupyter_isolated):
    """Course id: --course-id, else the files, else default_course; does the gradebook follow the course?"""
    bare = jupyter_isolated / "bare"
    bare.mkdir()
    assert config.course_settings(config.course_config(bare, cwd=bare)) == config.CourseSettings(
        bare, "default_course", f"sqlite:///{bare / 'gradebook.db'}")
    _write_config(bare, CourseDirectory__course_id="from-file")
    assert config.course_settings(config.course_config(bare, cwd=bare)).course_id == "from-file"
    assert config.course_settings(config.course_config(bare, cwd=bare, course_id="cli")).course_id == "cli"
    # The repository's own nbgrader_config.py (read from its folder) sets the course id, not the gradebook.
    settings = config.course_settings(config.course_config(bare / "elsewhere", cwd=course.PROJECT_ROOT))
    assert (settings.course_id, settings.db_url) == (course.COURSE_ID,
                                                     f"sqlite:///{bare / 'elsewhere' / 'gradebook.db'}")


def test_a_broken_configuration_file_is_an_error_naming_it(jupyter_isolated):
    """Is a file that fails to run an error naming it, where stock nbgrader would grade without it?"""
    folder = jupyter_isolated / "broken"
    folder.mkdir()
    (folder / "nbgrader_config.py").write_text("c = get_config()\n"
                                               "c.LateSubmissionPlugin.penalty_method = zero\n")
    with pytest.raises(ConfigError, match=r"broken/nbgrader_config.py failed: NameError"):
        config.course_config(folder, cwd=folder)
    with pytest.raises(ConfigError, match="no such file"):
        config.course_config(jupyter_isolated, config_file=jupyter_isolated / "missing.py",
                             cwd=jupyter_isolated)


# ---- the same late submission, graded by stock nbgrader and by python -m grader ------------------------

HALF_OFF = '''from nbgrader.plugins import BasePlugin


class HalfOff(BasePlugin):
    """Half the score off for any lateness (a course's own late-penalty plugin)."""

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return score / 2 if total_seconds_late > 0 else 0.0
'''

PENALTIES = {
    "zero": ('c.LateSubmissionPlugin.penalty_method = "zero"\n', AUTOGRADED_POINTS),
    "plugin": ('import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\n'
               'c.AssignLatePenalties.plugin_class = "halfoff.HalfOff"\n', AUTOGRADED_POINTS / 2),
}


def _run(*command, cwd):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _graded(course_dir, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        sub = gb.find_submission(ASSIGNMENT, student)
        return {"raw": sub.score, "penalty": sub.late_submission_penalty, "late": sub.total_seconds_late}


@pytest.mark.parametrize(("due_by", "penalty"), [("release", "zero"), ("nbgrader-db", "plugin")])
def test_a_late_submission_gets_the_same_penalty_from_stock_nbgrader_and_from_grader(
        jupyter_isolated, due_by, penalty):
    """One hour late, the course's penalty in its nbgrader_config.py, the due date set by `release --due` or
    by `nbgrader db assignment add --duedate`: do stock `nbgrader autograde` and `python -m grader autograde`
    give the same raw score, the same penalty and the same lateness?"""
    root = jupyter_isolated / "course"
    root.mkdir()
    setting, expected_penalty = PENALTIES[penalty]
    (root / "halfoff.py").write_text(HALF_OFF)
    (root / "nbgrader_config.py").write_text('c = get_config()\n'
                                             f'c.CourseDirectory.course_id = "parity"\n{setting}')
    if due_by == "nbgrader-db":
        _run(sys.executable, "-m", "nbgrader", "db", "assignment", "add", ASSIGNMENT, f"--duedate={DUE}",
             cwd=root)
    release([ASSIGNMENT], notebooks=jupyter_isolated / "release", course_dir=root,
            due=DUE if due_by == "release" else None)
    download = jupyter_isolated / "download"
    for student in ("stock", "grader"):
        write(download / f"{student}_{ASSIGNMENT}.ipynb", answered(solution_bodies()))
    times = jupyter_isolated / "times.csv"
    times.write_text(f"student,submitted_at\nstock,{HANDED_IN}\ngrader,{HANDED_IN}\n")
    _run(sys.executable, "-m", "grader", "collect", str(download), "--course-dir", str(root),
         "--submissions", str(times), cwd=course.PROJECT_ROOT)

    _run(sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student=stock", cwd=root)
    _run(sys.executable, "-m", "grader", "autograde", ASSIGNMENT, "--student", "grader",
         "--course-dir", str(root), "--seed", "3", cwd=course.PROJECT_ROOT)

    stock, ours = _graded(root, "stock"), _graded(root, "grader")
    assert stock == {"raw": AUTOGRADED_POINTS, "penalty": expected_penalty, "late": 3600.0}
    assert ours == stock
