"""Does the conda environment ask for the packages of pyproject.toml; does the wheel hold what it must?"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _normalise(requirement):
    """'NumPy >= 2.0' -> ('numpy', '>=2.0'); extras are dropped ('psycopg[binary]>=3.3' -> 'psycopg')."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*?)\s*", requirement)
    name, spec = match.groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


#: Installed from this repository (pip: -e ./student), not from conda-forge.
LOCAL = {"attention-course"}


def _pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements = project["dependencies"] + [r for extra in extras.values() for r in extra]
    return {name: spec for name, spec in map(_normalise, requirements) if name not in LOCAL}


def _conda_requirements():
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("dependencies:") + 1
    found = {}
    for line in lines[start:]:
        item = re.fullmatch(r"\s+- ([^:#]+)", line)
        if item and not line.strip().startswith("- -e"):
            name, spec = _normalise(item.group(1))
            if name not in ("python", "pip"):
                found[name] = spec
    return found


def test_environment_yml_matches_pyproject():
    """Do environment.yml and pyproject.toml list the same packages with the same floors?"""
    assert _conda_requirements() == _pyproject_requirements()


def test_environment_yml_installs_the_project():
    """Does the conda route install both packages of this repository (pip: -e ./student and -e .)?"""
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s+- -e \./student\s*$", text, re.MULTILINE)
    assert re.search(r"^\s+- -e \.\s*$", text, re.MULTILINE)


def test_the_student_package_asks_only_for_light_dependencies():
    """Does the student wheel depend on NumPy, matplotlib and ipywidgets only (no nbgrader, no JupyterLab)?"""
    project = tomllib.loads((ROOT / "student" / "pyproject.toml").read_text())["project"]
    assert {_normalise(r)[0] for r in project["dependencies"]} == {"numpy", "matplotlib", "ipywidgets"}


def test_ci_runs_the_readme_test_command():
    """Does .ci/run call exactly the test command the README shows?"""
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^\s*(make test)\s*$", readme, re.MULTILINE).group(1)
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines


def test_the_instructor_wheel_lists_every_package_of_the_tree():
    """Is every folder of attention_ref and grader with an __init__.py among the wheel's packages (listed
    by hand, since the assignments are mapped in), and nothing else but the mapped assignments?"""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for name in ("attention_ref", "grader")
               for p in (ROOT / name).rglob("__init__.py")}
    assert set(setuptools["packages"]) == on_disk | {"grader.assignments"}


def test_the_instructor_wheel_ships_the_sources_and_the_feedback_template():
    """Does the wheel map solutions/ to grader/assignments with every source notebook, and ship the
    feedback page's template?"""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"grader.assignments": "solutions"}
    data = setuptools["package-data"]
    assert data["grader.assignments"] == ["*/*.ipynb"] and list((ROOT / "solutions").glob("*/*.ipynb"))
    templates = list((ROOT / "grader" / "pipeline").glob(data["grader.pipeline"][0]))
    assert {p.name for p in templates} == {"conf.json", "index.html.j2"}
