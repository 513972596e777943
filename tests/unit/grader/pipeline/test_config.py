"""Does a gradebook that cannot be opened give one line naming it (password hidden), not a traceback?"""

from __future__ import annotations

import socket

from grader.cli import main
from grader.pipeline import config


def closed_port() -> int:
    """A loopback port nothing listens on (just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_gradebook_url_is_shown_without_its_password():
    """Is the password of a PostgreSQL URL hidden wherever the grader prints it?"""
    assert config.shown_url("postgresql://grader:hunter2@db.example.org/attention") == \
        "postgresql://grader:***@db.example.org/attention"
    assert config.shown_url("sqlite:////tmp/course/gradebook.db") == "sqlite:////tmp/course/gradebook.db"


def test_an_unreachable_postgresql_gradebook_is_one_line_and_exit_status_2(tmp_path, capsys):
    """Does `export` against a PostgreSQL server that is not there exit 2 with the URL (no password) and
    the driver's reason?"""
    url = f"postgresql://grader:hunter2@127.0.0.1:{closed_port()}/attention"
    assert main(["export", "--course-dir", str(tmp_path), "--db-url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("grader export: cannot open the gradebook postgresql://grader:***@127.0.0.1:")
    assert "hunter2" not in err and len(err.strip().splitlines()) == 1
