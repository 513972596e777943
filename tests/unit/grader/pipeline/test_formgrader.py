"""Does `python -m grader formgrader` prepare a server that grades the right course, and refuse bad input?"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from grader import cli
from grader.errors import FormgraderError
from grader.pipeline import course
from grader.pipeline.formgrader import formgrader_launch, write_config


def test_the_config_folder_points_nbgrader_at_the_course_and_switches_the_formgrader_on(tmp_path):
    """Does the server's config folder name the course folder, sources, release and gradebook, and switch
    nbgrader's formgrader (server and Lab) on whatever the environment says?"""
    folder = write_config(tmp_path / "config", tmp_path / "course", db_url="sqlite:////elsewhere/gb.db")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    assert config.CourseDirectory.root == str((tmp_path / "course").resolve())
    assert config.CourseDirectory.source_directory == str(course.SOLUTIONS.resolve())
    assert config.CourseDirectory.release_directory == str(course.NOTEBOOKS.resolve())
    assert config.CourseDirectory.db_url == "sqlite:////elsewhere/gb.db"
    server = json.loads((folder / "jupyter_server_config.json").read_text())["ServerApp"]
    assert server["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is True
    page = json.loads((folder / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert page["@jupyter/nbgrader:formgrader"] is False and not any(page.values())


def test_a_fresh_course_folder_is_created_and_served_with_its_own_config_first(tmp_path, monkeypatch):
    """Is a course folder that does not exist created, served (outside a checkout: as the root), with the
    server's config folder first on JUPYTER_CONFIG_PATH and the environment's scripts on PATH?"""
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/etc/elsewhere")
    fresh = tmp_path / "new" / "course"
    launch = formgrader_launch(tmp_path / "config", fresh, port=9999, open_browser=False)
    assert fresh.is_dir() and launch.cwd == fresh.resolve() and launch.root_dir == fresh.resolve()
    assert f"--ServerApp.root_dir={fresh.resolve()}" in launch.command
    assert {"--ServerApp.ip=127.0.0.1", "--ServerApp.port=9999", "--ServerApp.default_url=/formgrader",
            "--ServerApp.open_browser=False"} <= set(launch.command)
    config_path = launch.env["JUPYTER_CONFIG_PATH"].split(":")
    assert config_path == [str((tmp_path / "config").resolve()), "/etc/elsewhere"]
    assert launch.env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_the_default_course_folder_is_served_from_the_checkout(tmp_path):
    """Inside a checkout, is the checkout the server's root, so that sources and course are both in it?"""
    if course.CHECKOUT is None:
        pytest.fail("the unit tests run from a checkout of the course")
    launch = formgrader_launch(tmp_path / "config", course.CHECKOUT / "course", open_browser=False)
    assert launch.root_dir == course.CHECKOUT and launch.cwd == (course.CHECKOUT / "course").resolve()


def test_bad_input_is_refused_with_one_line(tmp_path, capsys):
    """Are a course folder that is a file and an impossible port refused by the command with a message?"""
    (tmp_path / "file").write_text("not a folder")
    assert cli.main(["formgrader", "--course-dir", str(tmp_path / "file"), "--no-browser"]) == 2
    assert "grader formgrader: cannot use" in capsys.readouterr().err
    with pytest.raises(FormgraderError, match="--port must be between 1 and 65535"):
        formgrader_launch(tmp_path / "config", tmp_path / "course", port=70000)


def test_release_refuses_to_run_without_a_checkout(monkeypatch, capsys):
    """From an installed wheel (no checkout), does `release` refuse instead of writing into site-packages?"""
    monkeypatch.setattr(course, "CHECKOUT", None)
    assert cli.main(["release", "01_attention_weights"]) == 2
    assert "checkout of the course" in capsys.readouterr().err
