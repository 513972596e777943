"""Is every copy of the trusted packages hidden from a grading kernel, not only the one imported?

An instructor who grades from a checkout may also have the wheels installed in the environment
that the kernel sees read-only (the JupyterHub recipe's instructors' environment): the grader
then imports the checkout's ``attention_ref``, and the installed copy must be hidden as well.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

import attention_ref  # the copy this process grades with (the checkout's), imported before the other
from grader.runtime.execute import execute_notebook
from grader.runtime.sandbox import bubblewrap, python_folders, trusted_folders


@pytest.fixture
def installed_copy(monkeypatch):
    """A second ``attention_ref`` on sys.path, inside the Python environment (which kernels see)."""
    if bubblewrap() is None:
        pytest.fail("bubblewrap is required on Linux: apt-get install bubblewrap")
    if not os.access(sys.prefix, os.W_OK):
        pytest.fail(f"this test writes a folder into the environment {sys.prefix}, which is read-only")
    site = Path(tempfile.mkdtemp(prefix="copy-site-", dir=sys.prefix))
    (site / "attention_ref").mkdir()
    (site / "attention_ref" / "__init__.py").write_text("SECRET = 'the reference'\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])  # after the imported copy, as site-packages is
    try:
        yield site
    finally:
        shutil.rmtree(site, ignore_errors=True)


def test_the_search_covers_copies_on_the_import_path(tmp_path):
    """Does trusted_folders name an attention_ref or grader folder found on the path, and the one imported?"""
    (tmp_path / "attention_ref").mkdir()
    (tmp_path / "grader").mkdir()
    found = trusted_folders([str(tmp_path)])
    assert tmp_path / "attention_ref" in found and tmp_path / "grader" in found
    assert Path(__import__("grader").__file__).resolve().parent in found


def test_an_installed_copy_of_the_reference_is_hidden_from_a_grading_kernel(tmp_path, installed_copy):
    """With a second attention_ref inside the environment, can a kernel read it by path?"""
    assert any(installed_copy.is_relative_to(folder) for folder in python_folders())  # it is bound
    assert Path(attention_ref.__file__).parent.parent != installed_copy  # and not the one imported
    target = installed_copy / "attention_ref" / "__init__.py"
    code = f"import os\nprint('copy', 'VISIBLE' if os.path.exists({str(target)!r}) else 'hidden')"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    work = tmp_path / "work"
    work.mkdir()
    executed, _ = execute_notebook(nb, workdir=work)
    printed = "".join(o.get("text", "") for o in executed.cells[0].outputs)
    assert printed.strip() == "copy hidden", printed
