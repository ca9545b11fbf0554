"""A throw-away PostgreSQL server on loopback for tests (Debian's ``postgresql`` package).

``initdb`` into a fresh temporary folder, ``pg_ctl start`` on 127.0.0.1 and a free port, password
authentication over TCP (scram-sha-256, as a real deployment would have), one database created;
``stop()`` stops it (``pg_ctl stop -m immediate``, then SIGKILL to the postmaster's process group)
and deletes the folder::

    with PostgresServer() as pg:
        os.environ.update(pg.dagster_env())   # DAGSTER_PG_USERNAME, ... for deploy/dagster.yaml
        with pg.connect() as conn: ...

PostgreSQL refuses to run as root: when the tests run as root, the server runs as the
unprivileged ``postgres`` user (created by the apt package) through ``runuser``, and the data
folder is owned by that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.processes import free_port

__all__ = ["PostgresServer", "postgres_bin_dir"]

APT_HINT = "install Debian's PostgreSQL server: apt-get install postgresql"
RUN_AS = "postgres"  # the system user of Debian's postgresql package


def postgres_bin_dir() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``: from PATH, else the newest
    ``/usr/lib/postgresql/<major>/bin`` (Debian does not put the server binaries on PATH)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def major(path: str) -> tuple[int, ...]:
        version = Path(path).parent.parent.name
        return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)

    if not found:
        raise RuntimeError(f"PostgreSQL's initdb is neither on PATH nor under "
                           f"/usr/lib/postgresql/*/bin: {APT_HINT}")
    return Path(max(found, key=major)).parent


class PostgresServer:
    """One PostgreSQL cluster with one database, for the duration of a test."""

    def __init__(self, *, user: str = "dagster", password: str = "odibi-test-pw",
                 database: str = "dagster", start_timeout: int = 60) -> None:
        self.bin = postgres_bin_dir()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user, self.password, self.database = user, password, database
        self.start_timeout = start_timeout
        self.root: Path | None = None
        self._run_as: str | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "not started"
        return self.root / "data"

    def start(self) -> PostgresServer:
        # Not under pytest's tmp_path: its parents are private to root, and the server may run
        # as another user.
        self.root = Path(tempfile.mkdtemp(prefix="odibi-pg-"))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        assert self.root is not None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(RUN_AS)
            except KeyError:
                raise RuntimeError(f"PostgreSQL will not run as root and there is no "
                                   f"{RUN_AS!r} user to run it as: {APT_HINT}") from None
            if not shutil.which("runuser"):
                raise RuntimeError("runuser (util-linux) is needed to run PostgreSQL as "
                                   f"{RUN_AS!r} when the tests run as root")
            self._run_as = RUN_AS
            os.chown(self.root, account.pw_uid, account.pw_gid)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if self._run_as:
            account = pwd.getpwnam(self._run_as)
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        pwfile.chmod(0o600)

        self._pg("initdb", "-D", str(self.data_dir), "-U", self.user, f"--pwfile={pwfile}",
                 "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                 "--locale=C", "--no-sync", timeout=120)
        options = f"-k {self.root} -h {self.host} -p {self.port} -c fsync=off"
        self._pg("pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file),
                 "-o", options, "-w", "-t", str(self.start_timeout),
                 timeout=self.start_timeout + 30)
        conn = self.connect(database="postgres")
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()

    @property
    def log_file(self) -> Path:
        assert self.root is not None
        return self.root / "server.log"

    def stop(self) -> None:
        """Stop the server (bounded) and delete its folder; safe to call twice."""
        if self.root is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                try:
                    self._pg("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate",
                             "-w", "-t", "20", timeout=40, check=False)
                except subprocess.TimeoutExpired:
                    pass
                self._kill_postmaster()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _kill_postmaster(self) -> None:
        """SIGKILL the postmaster's process group if it is still there (pg_ctl starts it in a
        session of its own, so its pid is its group id)."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def _pg(self, program: str, *args: str, timeout: float,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / program), *args]
        if self._run_as:
            command = ["runuser", "-u", self._run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, stdin=subprocess.DEVNULL, check=False)
        if check and done.returncode != 0:
            log = ""
            if self.root and self.log_file.exists():
                log = self.log_file.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}\n"
                               f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{log}")
        return done

    # ---- clients -----------------------------------------------------------------------
    def connect(self, database: str | None = None) -> Any:
        """A psycopg2 connection over TCP with the password (psycopg2 comes with
        dagster-postgres)."""
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user,
                                password=self.password, dbname=database or self.database,
                                connect_timeout=10)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement in the test database; return its rows."""
        conn = self.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()

    def dagster_env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads."""
        return {"DAGSTER_PG_USERNAME": self.user, "DAGSTER_PG_PASSWORD": self.password,
                "DAGSTER_PG_HOST": self.host, "DAGSTER_PG_DB": self.database,
                "DAGSTER_PG_PORT": str(self.port)}
