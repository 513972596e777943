"""A real, throw-away PostgreSQL server for a test: its own cluster, started and always removed.

``postgres_server(tmp_path)`` runs ``initdb`` into a fresh temporary folder, starts
``postgres`` on 127.0.0.1 (a free port) and on a unix socket in that folder, creates one
database and yields a :class:`PostgresServer` whose ``url`` is a SQLAlchemy URL for
psycopg 3 (``postgresql+psycopg://...``). On the way out, whatever happened in the
``with`` body, the cluster is stopped (``pg_ctl stop -m immediate``, then SIGKILL for
any process of the cluster still alive), the folder is removed, and the server's log is
kept as ``tmp_path/postgres.log``.

- **Binaries.** ``initdb``, ``pg_ctl`` and ``postgres`` are taken from the first folder on
  PATH holding all three, else from the newest ``/usr/lib/postgresql/<version>/bin``
  (Debian and Ubuntu do not put them on PATH).
- **Root.** PostgreSQL refuses to run as root. When the test runs as root (containers, CI)
  the cluster runs as the ``postgres`` account that Debian's package creates, or as
  ``nobody`` when there is none: the folder is given to that user and every PostgreSQL
  program is started with ``subprocess``'s ``user``/``group``/``extra_groups`` (no
  supplementary groups). No system account is created.
- **Access.** The server listens on 127.0.0.1 only. TCP connections need the password
  (``scram-sha-256``; a fresh random one per server); the unix socket trusts, but lives in
  a folder only the cluster's user (and root) can open.

In a test (:func:`require_postgres` turns a missing PostgreSQL into a failure that names the fix)::

    @pytest.fixture
    def postgres(tmp_path):
        with postgres_server(tmp_path, binaries=require_postgres()) as server:
            yield server
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The programs a cluster needs, looked up together in one folder.
PROGRAMS = ("initdb", "pg_ctl", "postgres")
#: Where Debian and Ubuntu install each major version's programs.
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
#: Accounts a root process hands the cluster to, in order of preference.
UNPRIVILEGED_USERS = ("postgres", "nobody")
#: Seconds allowed for the server to accept connections, and for it to stop.
START_SECONDS = 60.0
STOP_SECONDS = 30.0
#: Start attempts: the free port we picked may be taken by someone else before postgres binds it.
START_ATTEMPTS = 4
#: A unix socket path must fit in sockaddr_un.sun_path (108 bytes on Linux, NUL included).
SOCKET_PATH_MAX = 107
#: Settings of a small, fast, disposable server (no durability: the cluster is thrown away).
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_connections": "40",
    "dynamic_shared_memory_type": "mmap",
    "logging_collector": "off",
}
#: pg_hba.conf: trust on the private socket, the password over TCP from loopback, nothing else.
PG_HBA = ("local all all trust\n"
          "host  all all 127.0.0.1/32 scram-sha-256\n")
#: Set to 1 to skip the tests that need PostgreSQL on a machine without it (refused when CI is set).
SKIP_VARIABLE = "ATTENTION_SKIP_POSTGRES"
INSTALL_HINT = ("install PostgreSQL's server (Debian/Ubuntu: apt-get install postgresql; "
                "it is not on PATH there, it is found in /usr/lib/postgresql/*/bin)")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server programs, or no psycopg, on this machine; the message says what to install."""


class PostgresStartError(RuntimeError):
    """The cluster could not be created or started; the message carries the log's tail."""


@dataclass(frozen=True)
class Binaries:
    """The folder of one PostgreSQL installation's programs."""

    bindir: Path

    def __getitem__(self, program):
        return str(self.bindir / program)


@dataclass(frozen=True)
class RunAs:
    """Who the cluster's processes run as; ``uid is None`` means the test's own user."""

    name: str
    uid: int | None = None
    gid: int | None = None

    def popen_kwargs(self):
        """``subprocess`` arguments that drop to this user in the child (nothing when not root)."""
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


@dataclass(frozen=True)
class ProcessId:
    """A process, identified by pid and start time so that a reused pid is never mistaken for it."""

    pid: int
    start_ticks: int


@dataclass
class PostgresServer:
    """A running throw-away server (yielded by :func:`postgres_server`).

    Attributes
    ----------
    url : str
        SQLAlchemy URL over TCP: ``postgresql+psycopg://user:password@127.0.0.1:port/database``.
    host, port, socket_dir, user, password, database :
        The pieces of the URL; ``socket_dir`` is the unix socket's folder (libpq ``host=``).
    datadir : pathlib.Path
        The cluster's data folder (removed on exit).
    run_as : RunAs
        The operating-system user the server runs as.
    pid : int
        The postmaster's pid.
    processes : list of ProcessId
        After exit: every process the cluster had when it was stopped (see :func:`surviving`).
    """

    url: str
    host: str
    port: int
    socket_dir: Path
    user: str
    password: str
    database: str
    datadir: Path
    run_as: RunAs
    pid: int
    processes: list[ProcessId] = field(default_factory=list)

    def url_for(self, database):
        """The SQLAlchemy URL of another database of this server."""
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def create_database(self, name):
        """Create another (empty) database on this server; return its SQLAlchemy URL.

        One server per module or session, one database per test, saves the cluster start.
        """
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"database name {name!r}: use lower-case letters, digits and _ (at most 63)")
        with self.connect("postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def connect(self, database=None, **kwargs):
        """A psycopg connection over the unix socket (trusted), to ``database`` or the server's own."""
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=self.user,
                               dbname=database or self.database, **kwargs)


# ---- finding the programs and the user ----------------------------------------------------------

def _version_key(bindir):
    number = re.search(r"/(\d+)(?:\.(\d+))?/bin$", str(bindir))
    return tuple(int(n) for n in number.groups() if n) if number else ()


def find_binaries(path=None, debian_glob=DEBIAN_BINDIRS):
    """The first folder of ``path`` (default $PATH) holding initdb, pg_ctl and postgres, else Debian's.

    Parameters
    ----------
    path : str, optional
        A PATH-like string; default ``os.environ["PATH"]``.
    debian_glob : str
        Pattern of the per-version folders searched when PATH has none (newest first).

    Returns
    -------
    Binaries

    Raises
    ------
    PostgresUnavailable
        When no folder holds all three programs.
    """
    path = os.environ.get("PATH", "") if path is None else path
    candidates = [Path(p) for p in path.split(os.pathsep) if p]
    candidates += sorted((Path(p) for p in glob.glob(debian_glob)), key=_version_key, reverse=True)
    for folder in candidates:
        if all(os.access(folder / program, os.X_OK) for program in PROGRAMS):
            return Binaries(folder)
    raise PostgresUnavailable(f"no folder on PATH or in {debian_glob} holds {', '.join(PROGRAMS)}: "
                              + INSTALL_HINT)


def choose_user(euid=None, candidates=UNPRIVILEGED_USERS):
    """The user the cluster runs as: the test's own, or when that is root the first existing candidate.

    Returns
    -------
    RunAs

    Raises
    ------
    PostgresUnavailable
        When running as root and none of ``candidates`` exists.
    """
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        return RunAs(pwd.getpwuid(euid).pw_name)
    for name in candidates:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return RunAs(name, entry.pw_uid, entry.pw_gid)
    raise PostgresUnavailable(f"running as root, and none of the accounts {', '.join(candidates)} "
                              "exists to run PostgreSQL as (it refuses root)")


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on at this moment (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def require_postgres():
    """The PostgreSQL programs for a test, or a pytest failure naming the fix (a skip when asked for).

    Without PostgreSQL's server or psycopg the test fails, saying what to install; with
    ``ATTENTION_SKIP_POSTGRES=1`` it is skipped instead, except in CI (``CI`` set), where
    ``.ci/run`` installs PostgreSQL and a skip would hide a broken set-up.

    Returns
    -------
    Binaries
    """
    import pytest

    if os.environ.get(SKIP_VARIABLE) == "1":
        if os.environ.get("CI"):
            pytest.fail(f"{SKIP_VARIABLE}=1 is refused in CI: the PostgreSQL tests run there", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped on purpose ({SKIP_VARIABLE}=1)")
    try:
        import psycopg  # noqa: F401
        return find_binaries()
    except ImportError:
        pytest.fail("the PostgreSQL tests need psycopg 3: pip install -e '.[test,postgres]' "
                    f"(or set {SKIP_VARIABLE}=1 to skip them)", pytrace=False)
    except PostgresUnavailable as error:
        pytest.fail(f"{error} (or set {SKIP_VARIABLE}=1 to skip these tests)", pytrace=False)


# ---- processes ----------------------------------------------------------------------------------

def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, ..., starttime at index 19]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rindex(")") + 2:].split()


def process_id(pid):
    """The :class:`ProcessId` of a live process, or None when there is none (or it is a zombie)."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] == "Z":
        return None
    return ProcessId(pid, int(fields[19]))


def process_tree(root_pid):
    """``root_pid`` and all its live descendants, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        ident = process_id(pid)
        if ident is not None:
            found.append(ident)
            todo.extend(children.get(pid, []))
    return found


def surviving(processes):
    """Those of ``processes`` still alive (same pid and the same start time)."""
    return [p for p in processes if process_id(p.pid) == p]


def _kill(processes):
    for process in surviving(processes):
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)


# ---- the cluster --------------------------------------------------------------------------------

def _run(command, run_as, cwd, env, what):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                            **run_as.popen_kwargs())
    if result.returncode != 0:
        raise PostgresStartError(f"{what} failed ({result.returncode}): {' '.join(command)}\n"
                                 f"{result.stdout}{result.stderr}".rstrip())
    return result


def _log_tail(path, lines=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _base_folder():
    """A fresh folder short enough for a unix socket path, in the system's temporary folder."""
    base = Path(tempfile.mkdtemp(prefix="pgtest-"))
    if len(str(base / "sock" / ".s.PGSQL.65535")) > SOCKET_PATH_MAX:
        shutil.rmtree(base)
        base = Path(tempfile.mkdtemp(prefix="pgtest-", dir="/tmp"))
    return base


def _give(path, run_as):
    if run_as.uid is not None:
        os.chown(path, run_as.uid, run_as.gid)


def _wait_ready(process, datadir, deadline):
    """Wait for postmaster.pid's status line to say ``ready``; False when the postmaster exited."""
    pidfile = datadir / "postmaster.pid"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(FileNotFoundError):
            lines = pidfile.read_text().splitlines()
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return True
        time.sleep(0.05)
    raise PostgresStartError(f"postgres did not accept connections within {START_SECONDS:g} s")


def _start(binaries, run_as, datadir, socket_dir, log_path, env):
    """Start the postmaster on a free port; return (Popen, port). Retries when the port was taken."""
    for _ in range(START_ATTEMPTS):
        port = free_port()
        settings = {**SERVER_SETTINGS, "port": str(port), "unix_socket_directories": str(socket_dir)}
        command = [binaries["postgres"], "-D", str(datadir)]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, cwd=datadir.parent, env=env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                       **run_as.popen_kwargs())
        try:
            if _wait_ready(process, datadir, time.monotonic() + START_SECONDS):
                return process, port
        except BaseException:
            _kill(process_tree(process.pid))  # never leave a half-started server behind
            process.wait(timeout=STOP_SECONDS)
            raise
        if "could not bind" not in _log_tail(log_path, 10):
            break
    raise PostgresStartError(f"postgres did not start; its log ends:\n{_log_tail(log_path)}")


def _stop(binaries, run_as, process, datadir, env):
    """Stop the cluster for good; return every process it had (for :func:`surviving`)."""
    processes = process_tree(process.pid)
    subprocess.run([binaries["pg_ctl"], "stop", "-D", str(datadir), "-m", "immediate", "-w",
                    "-t", str(int(STOP_SECONDS))], cwd=datadir.parent, env=env, capture_output=True,
                   timeout=STOP_SECONDS + 10, **run_as.popen_kwargs())
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)
    deadline = time.monotonic() + STOP_SECONDS
    while surviving(processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    _kill(processes)
    return processes


@contextlib.contextmanager
def postgres_server(tmp_path=None, *, database="gradebook", user="grader", binaries=None, run_as=None):
    """A throw-away PostgreSQL server with one database; stopped and removed on exit.

    Parameters
    ----------
    tmp_path : path-like, optional
        Where the server's log is kept afterwards (``postgres.log``); the cluster itself lives
        in a fresh folder of the system's temporary folder, which the cluster's user can reach.
    database, user : str
        Database created, and the superuser role owning it.
    binaries : Binaries, optional
        Default :func:`find_binaries`.
    run_as : RunAs, optional
        Default :func:`choose_user`.

    Yields
    ------
    PostgresServer

    Raises
    ------
    PostgresUnavailable
        Without PostgreSQL's server programs or psycopg.
    PostgresStartError
        When initdb or postgres fails (with the log's tail).
    """
    try:
        import psycopg  # noqa: F401 - fail before creating anything
    except ImportError as error:
        raise PostgresUnavailable("psycopg 3 is missing: pip install -e '.[postgres]'") from error
    binaries = binaries or find_binaries()
    run_as = run_as or choose_user()
    password = secrets.token_hex(16)
    base = _base_folder()
    datadir, socket_dir, log_path = base / "data", base / "sock", base / "postgres.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(base),
           "TZ": "UTC"}
    process = None
    server = None
    try:
        socket_dir.mkdir(mode=0o700)
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n")
        for path in (base, socket_dir, pwfile):
            _give(path, run_as)
        _run([binaries["initdb"], "-D", str(datadir), "-U", user, f"--pwfile={pwfile}",
              "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
              "--no-sync"], run_as, base, env, "initdb")
        pwfile.unlink()
        (datadir / "pg_hba.conf").write_text(PG_HBA)  # rewrites in place: owner and mode are kept
        process, port = _start(binaries, run_as, datadir, socket_dir, log_path, env)
        server = PostgresServer(
            url=f"postgresql+psycopg://{user}:{password}@127.0.0.1:{port}/{database}",
            host="127.0.0.1", port=port, socket_dir=socket_dir, user=user, password=password,
            database=database, datadir=datadir, run_as=run_as, pid=process.pid)
        server.create_database(database)
        yield server
    finally:
        if process is not None:
            processes = _stop(binaries, run_as, process, datadir, env)
            if server is not None:
                server.processes = processes
        if tmp_path is not None and log_path.exists():
            shutil.copyfile(log_path, Path(tmp_path) / "postgres.log")
        shutil.rmtree(base, ignore_errors=True)
