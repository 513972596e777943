"""Do the students' Jupyter settings hide the instructor's tools in their server only?

``make lab`` and the hub's student role put deploy/hub/jupyter/attention/student in front of
the environment's settings (``JUPYTER_CONFIG_PATH``) instead of switching nbgrader's
formgrader off environment-wide, so an instructor's server in the same environment keeps it.
Two real JupyterLab servers, one with those settings and one without.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request

from browser_lab import ROOT, start_lab, stop_lab

STUDENT_CONFIG = ROOT / "deploy" / "hub" / "jupyter" / "attention" / "student"
INSTRUCTOR_TOOLS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                    "@jupyter/nbgrader:course-list"}
STUDENT_TOOLS = {"@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"}


def _get(server, path):
    headers = {"Authorization": f"token {server.token}"}
    request = urllib.request.Request(f"{server.url}/{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def _disabled_extensions(server):
    status, page = _get(server, "lab")
    assert status == 200
    data = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    return set(json.loads(data.group(1))["disabledExtensions"])


def _what_it_offers(root, home, monkeypatch, config_path):
    if config_path:
        monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(config_path))
    else:
        monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    server = start_lab(root, home, secrets.token_hex(16))
    try:
        return {"disabled": _disabled_extensions(server),
                "formgrader": _get(server, "formgrader/api/assignments")[0],
                "assignment list": _get(server, "assignments?course_id=")[0]}
    finally:
        stop_lab(server)


def test_the_students_settings_hide_the_instructors_tools_in_their_server_only(tmp_path, monkeypatch):
    """With the students' settings in front, is the formgrader gone from that server only — and does a
    server of the same environment without them still offer it?"""
    root = tmp_path / "root"
    root.mkdir()
    student = _what_it_offers(root, tmp_path / "student", monkeypatch, STUDENT_CONFIG)
    assert INSTRUCTOR_TOOLS <= student["disabled"] and not STUDENT_TOOLS & student["disabled"], student
    assert student["formgrader"] == 404 and student["assignment list"] == 200, student

    instructor = _what_it_offers(root, tmp_path / "instructor", monkeypatch, None)  # the same environment
    assert not (INSTRUCTOR_TOOLS | STUDENT_TOOLS) & instructor["disabled"], instructor
    assert instructor["formgrader"] == 200, instructor


def test_make_lab_uses_the_students_settings_and_leaves_the_environment_alone():
    """Does `make lab` put the students' settings in front for its server and switch nothing off in the
    environment (no `jupyter ... disable`)?"""
    makefile = (ROOT / "Makefile").read_text()
    lab = re.search(r"^lab:.*?(?=^\S)", makefile, re.S | re.M).group(0)
    assert "JUPYTER_CONFIG_PATH=" in lab and "$(STUDENT_CONFIG)" in lab
    assert "disable" not in lab
    assert "STUDENT_CONFIG := $(CURDIR)/deploy/hub/jupyter/attention/student" in makefile
