"""Private embedded PostgreSQL servers for tests that stop, restart, log or replicate a whole server.

The session's shared server (conftest.py) must keep running for every other test, so these tests get
their own: a small server on a free port, migrated, holding a slice of the real 10k sample.
"""

from __future__ import annotations

import dataclasses
import gzip
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from app.core.embedded_server import EmbeddedPostgres
from app.core.migrate import upgrade_database
from app.core.settings import Settings, get_settings

SMALL_SHARED_BUFFERS = "128MB"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sample_slice(path: Path, rows: int, start: int = 0) -> Path:
    """Lines start..start+rows of the real 10k sample, as a plain JSON lines file at `path`."""
    source = get_settings().shared_data_dir / "arxiv-10k.jsonl.gz"
    with gzip.open(source, "rt", encoding="utf-8") as lines, path.open("w", encoding="utf-8") as out:
        for index, line in enumerate(lines):
            if index >= start + rows:
                break
            if index >= start:
                out.write(line)
    return path


@contextmanager
def private_server(rows: int = 300) -> Iterator[tuple[EmbeddedPostgres, Settings]]:
    """A running embedded server with a migrated database holding `rows` papers (no embeddings).

    Outside pytest's tmp_path: as root the server runs as another user (see conftest.server_folder).
    """
    from etl.load import LoadOptions, load_sources

    folder = Path(tempfile.mkdtemp(prefix="atlas-test-private-"))
    server = EmbeddedPostgres(Settings(data_dir=folder / "server", db_port=free_port(),
                                       pg_shared_buffers=SMALL_SHARED_BUFFERS))
    try:
        server.start()
        settings = dataclasses.replace(
            get_settings(), database_url=server.url(), data_dir=folder / "client", reject_dir=folder / "rejects",
            warm_models=False,  # as in conftest: apps made by tests load their models on first use
        )
        upgrade_database(settings)
        if rows:
            load_sources(settings, LoadOptions(sources=[sample_slice(folder / "slice.jsonl", rows)], progress=False))
        yield server, settings
    finally:
        discard(server)
        remove_later(folder)


@contextmanager
def streaming_replica(primary: EmbeddedPostgres) -> Iterator[EmbeddedPostgres]:
    """A hot standby of `primary` on another loopback port: pg_basebackup -R from the embedded binaries."""
    folder = Path(tempfile.mkdtemp(prefix="atlas-test-replica-"))
    replica = EmbeddedPostgres(Settings(data_dir=folder, db_port=free_port(), pg_shared_buffers=SMALL_SHARED_BUFFERS))
    try:
        replica.pgdata.mkdir(mode=0o700, parents=True)
        replica._prepare_system_user()
        replica._chown_to_server_user(replica.pgdata)
        shutil.copy(primary.password_file, replica.password_file)
        source = f"host=127.0.0.1 port={primary.port} user=atlas password={primary.password()}"
        result = replica._run("pg_basebackup", "-D", str(replica.pgdata), "-d", source, "-R",
                              "--wal-method=stream", "--checkpoint=fast")
        if result.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed: {result.stderr}")
        replica.start()
        yield replica
    finally:
        discard(replica)
        remove_later(folder)


def wait_for_replay(primary_url: str, replica_url: str, timeout: float = 30) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    with psycopg.connect(primary_url, autocommit=True) as primary:
        target = primary.execute("select pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    with psycopg.connect(replica_url, autocommit=True) as replica:
        while True:
            query = "select pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn()) > 0"
            if not replica.execute(query, (target,)).fetchone()[0]:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica did not replay up to {target} within {timeout} s")
            time.sleep(0.05)


def discard(server: EmbeddedPostgres) -> None:
    """Stop a throwaway server at once (no shutdown checkpoint: its data is deleted next)."""
    if server.status().running:
        server._run("pg_ctl", "-D", str(server.pgdata), "-w", "-m", "immediate", "stop")


def remove_later(folder: Path) -> None:
    """Delete a server's folder in the background: a data directory's thousand small files take seconds."""
    subprocess.Popen(["rm", "-rf", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
