"""Does the throw-away PostgreSQL server work, and what does stock nbgrader need to keep a gradebook in it?

Stock nbgrader only (its Gradebook API and its ``nbgrader db`` command), no code of this
project: the findings are nbgrader's. The one that matters is the course id. Every
assignment row references the ``course`` table; nbgrader's converters open the gradebook
with ``CourseDirectory.course_id``, which is ``""`` unless configured, and for ``""`` no
course row is created. PostgreSQL enforces the foreign key, so the first assignment fails
with ``Key (course_id)=() is not present in table "course"``; sqlite does not enforce
foreign keys (nbgrader never switches them on), which is why the sqlite gradebook hid it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy
from postgres import postgres_server, require_postgres, surviving

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

COURSE_ID = "attention"
DUE = "2026-03-01 12:00:00 UTC"
#: An hour after DUE.
SUBMITTED_LATE = "2026-03-01 13:00:00 UTC"
LATE_SECONDS = 3600.0


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """One server for the module; each test that needs a clean gradebook takes a database of its own."""
    with postgres_server(tmp_path_factory.mktemp("postgres"), binaries=require_postgres()) as server:
        yield server


@pytest.fixture
def gradebook_url(postgres, request):
    """The URL of a fresh, empty database on the module's server, named after the test."""
    return postgres.create_database(re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:63])


@pytest.fixture(autouse=True)
def alembic_on_path(monkeypatch):
    """nbgrader's Gradebook runs the ``alembic`` command; put this Python's scripts on PATH."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def _uid(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def _nbgrader(*args, cwd, jupyter_config):
    """Stock ``nbgrader`` in a course folder, with an empty Jupyter configuration of its own."""
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(jupyter_config), "JUPYTER_CONFIG_PATH": ""}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_server_runs_unprivileged_and_answers_only_on_loopback_with_its_password(postgres):
    """Is the postmaster a non-root process listening on 127.0.0.1, refusing a wrong password?"""
    import psycopg

    assert _uid(postgres.pid) != 0
    assert postgres.url.startswith("postgresql+psycopg://")
    engine = sqlalchemy.create_engine(postgres.url)
    try:
        with engine.connect() as connection:
            listen = connection.execute(sqlalchemy.text("SHOW listen_addresses")).scalar()
            database = connection.execute(sqlalchemy.text("SELECT current_database()")).scalar()
    finally:
        engine.dispose()
    assert (listen, database) == ("127.0.0.1", postgres.database)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host="127.0.0.1", port=postgres.port, user=postgres.user,
                        dbname=postgres.database, password="not-" + postgres.password)


def test_an_empty_course_id_fails_on_postgres_and_passes_unnoticed_on_sqlite(gradebook_url, tmp_path):
    """nbgrader with course_id '' (its CourseDirectory default): a foreign-key error on PostgreSQL only."""
    from nbgrader.api import Gradebook, InvalidEntry

    with Gradebook(gradebook_url, course_id="") as gb:
        with pytest.raises(InvalidEntry, match=r"ForeignKeyViolation") as failure:
            gb.add_assignment("ps1", duedate=DUE)
    assert 'Key (course_id)=() is not present in table "course"' in str(failure.value)

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", course_id="") as gb:
        assignment = gb.add_assignment("ps1", duedate=DUE)
        assert assignment.course_id == ""  # a dangling reference sqlite does not check


def test_stock_nbgrader_keeps_a_course_with_due_date_and_late_submission_on_postgres(gradebook_url, tmp_path):
    """With a course id, do nbgrader's CLI and Gradebook keep an assignment, a student, a late submission?"""
    from nbgrader.api import Course, Gradebook

    course_dir, jupyter_config = tmp_path / "course", tmp_path / "jupyter-config"
    course_dir.mkdir()
    jupyter_config.mkdir()
    common = ["--db", gradebook_url, f"--CourseDirectory.course_id={COURSE_ID}"]
    _nbgrader("db", "assignment", "add", "ps1", f"--duedate={DUE}", *common,
              cwd=course_dir, jupyter_config=jupyter_config)
    _nbgrader("db", "student", "add", "alice", "--first-name=Alice", *common,
              cwd=course_dir, jupyter_config=jupyter_config)

    with Gradebook(gradebook_url, course_id=COURSE_ID) as gb:
        gb.add_submission("ps1", "alice", timestamp=SUBMITTED_LATE)
    with Gradebook(gradebook_url, course_id=COURSE_ID) as gb:
        submission = gb.find_submission("ps1", "alice")
        assert submission.assignment.course_id == COURSE_ID
        assert str(submission.assignment.duedate) == "2026-03-01 12:00:00"  # stored in UTC, naive
        assert submission.student.first_name == "Alice"
        assert submission.total_seconds_late == LATE_SECONDS
        assert COURSE_ID in {course.id for course in gb.db.query(Course)}


def test_the_cluster_is_stopped_and_removed_even_when_the_test_fails(tmp_path):
    """After an exception in the block: no process of the cluster left, no folder, the log kept."""
    binaries = require_postgres()
    with pytest.raises(RuntimeError, match="the test failed"):
        with postgres_server(tmp_path, binaries=binaries) as server:
            assert server.datadir.is_dir()
            raise RuntimeError("the test failed")
    assert len(server.processes) > 1  # the postmaster and its background workers were seen
    assert surviving(server.processes) == []
    assert not server.datadir.parent.exists()
    assert "received immediate shutdown request" in (tmp_path / "postgres.log").read_text()
