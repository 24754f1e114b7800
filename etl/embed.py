"""`atlas embed`: compute the embeddings that papers lack, with the configured provider.

Resumable by construction: papers are taken in id order in batches and each batch commits, so a
run that is stopped loses at most one batch and the next run starts where it ended.
A database without an embedding space records one from the provider's model; when that model is
wider than 256 dimensions, the PCA is fitted on a first sample of the papers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import psycopg
from pgvector import HalfVector
from tqdm import tqdm

from app.core.connections import connect
from app.core.embedders import Embedder, make_embedder, paper_text
from app.core.settings import Settings
from app.core.space import EmbeddingSpace, fit_space, read_space, record_space

PCA_FIT_SAMPLE = 10_000  # papers embedded before the projection is fitted, for a new space


@dataclass
class EmbedReport:
    embedded: int
    remaining: int
    seconds: float
    model: str

    def __str__(self) -> str:
        rate = self.embedded / self.seconds if self.seconds else 0.0
        return (
            f"embedded {self.embedded} papers with {self.model} in {self.seconds:.1f} s "
            f"({rate:.1f} papers/s); {self.remaining} still without an embedding"
        )


def _missing(conn: psycopg.Connection, after_id: int, limit: int) -> list[tuple[int, str, str]]:
    return conn.execute(
        "select id, title, abstract from papers where embedding is null and id > %s order by id limit %s",
        (after_id, limit),
    ).fetchall()


def _store(conn: psycopg.Connection, ids: list[int], vectors: np.ndarray) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "update papers set embedding = %s, changed_at = now() where id = %s",
            [(HalfVector(v), i) for i, v in zip(ids, vectors, strict=True)],
        )


def embed_missing(
    settings: Settings, *, limit: int | None = None, embedder: Embedder | None = None, progress: bool = True
) -> EmbedReport:
    embedder = embedder or make_embedder(settings)
    batch_size = max(1, settings.embed_batch_size)
    started = time.monotonic()
    done = 0
    with connect(settings) as conn:
        total = conn.execute("select count(*) from papers where embedding is null").fetchone()[0]
        wanted = total if limit is None else min(limit, total)
        bar = tqdm(total=wanted, desc="embedding", unit=" papers", disable=not progress or None)
        space = read_space(conn)
        last_id = 0
        if space is None:
            done, last_id, space = _start_space(conn, embedder, min(wanted, PCA_FIT_SAMPLE))
            bar.update(done)
        else:
            space.require_model_name(embedder.model_name)  # before the width, which may load the model
            space.require_model(embedder.model_name, embedder.dimensions)
        while done < wanted:
            rows = _missing(conn, last_id, min(batch_size, wanted - done))
            if not rows:
                break
            native = embedder.embed([paper_text(title, abstract) for _, title, abstract in rows])
            _store(conn, [r[0] for r in rows], space.project(native))
            conn.commit()
            last_id = rows[-1][0]
            done += len(rows)
            bar.update(len(rows))
        bar.close()
        remaining = conn.execute("select count(*) from papers where embedding is null").fetchone()[0]
    return EmbedReport(done, remaining, time.monotonic() - started, embedder.model_name)


def _start_space(conn: psycopg.Connection, embedder: Embedder, sample: int) -> tuple[int, int, EmbeddingSpace]:
    """Embed a first sample, fit and record the space from it, and store the sample's vectors."""
    rows = _missing(conn, 0, max(sample, 1))
    if not rows:
        raise ValueError("no papers to embed: load papers first")
    native = embedder.embed([paper_text(title, abstract) for _, title, abstract in rows])
    space = fit_space(embedder.model_name, native)
    record_space(conn, space)
    _store(conn, [r[0] for r in rows], space.project(native))
    conn.commit()
    return len(rows), rows[-1][0], space
