"""Which folders of the Python installation does a forked kernel get back under its fresh /tmp?"""

from __future__ import annotations

import sys

from grader.kernel import template


def test_a_virtualenv_in_tmp_is_bound_back_and_one_elsewhere_is_not(monkeypatch):
    """A venv made in /tmp (a checkout there, a test's venv) must survive the kernel's fresh /tmp;
    its base installation elsewhere is already in the template's view."""
    monkeypatch.setattr(sys, "prefix", "/tmp/course/.venv")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    assert template.python_in_tmp() == ["/tmp/course/.venv"]
    monkeypatch.setattr(sys, "prefix", "/opt/attention-course/instructor")
    assert template.python_in_tmp() == []


def test_only_the_outermost_folder_in_tmp_is_kept(monkeypatch):
    monkeypatch.setattr(sys, "prefix", "/tmp/python/envs/course")
    monkeypatch.setattr(sys, "base_prefix", "/tmp/python")
    assert template.python_in_tmp() == ["/tmp/python"]
    monkeypatch.setattr(sys, "prefix", "/tmpfoo/env")
    monkeypatch.setattr(sys, "base_prefix", "/tmpfoo")
    assert template.python_in_tmp() == []
