"""`atlas load`: sources -> COPY (FORMAT BINARY) into staging -> one merging transaction.

Guarantees:
- Structural problems (unreadable file, vectors of the wrong width or space, a .npy whose row count
  does not match the source) raise StructuralError and leave the database exactly as it was: checks
  that can run before the transaction do, the rest roll the transaction back.
- Rows that cannot be parsed, and rows superseded by a newer revision of the same paper in the same
  load, are rejected with file, line, field and reason, written to a CSV report, and counted:
  rows in = loaded + updated + unchanged + rejected, always.
- Upsert by arxiv_id, the newer revision wins, whatever the order in which concurrent loads commit:
  the upsert's WHERE refuses to replace a newer revision (such a row counts as unchanged).
  Loading the same papers twice, from any file, changes nothing: vectors equal within VECTOR_TOLERANCE
  count as equal (the projection runs in float64, so the same vector projects the same in any batch).
- Every row rejected, or more rejects than `max_reject_rate` of the rows: the good rows still load,
  and the summary says the load failed (`atlas load` exits with EXIT_TOO_MANY_REJECTS).
- The reject report is written before the commit as `rejects-*.csv.uncommitted` and renamed to
  `rejects-*.csv` once the load has committed; a load that fails removes it (a killed one leaves
  its `.uncommitted` file, named as a load that never committed).
- Into an empty table the secondary indexes (HNSW, GIN, B-trees) are dropped and rebuilt after the
  rows are in, inside the same transaction; then ANALYZE.

Speed: the full-text vector of each paper (paper_search_tsv, sql/paper_search_tsv.sql) is the
costliest part of the merge, so it is computed by one parallel query over the staging rows before
the INSERT. Parallel workers cannot read a session's temporary tables, so the staging table of the
records is an UNLOGGED table created inside the load's transaction (invisible to others, gone with a
rollback, dropped before the commit).
"""

from __future__ import annotations

import csv
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from tqdm import tqdm

from app.core.connections import connect
from app.core.records import PaperRecord, Reject, SourceNotes, StructuralError
from app.core.settings import Settings
from app.core.space import EmbeddingSpace, canonical_model_name, fit_space, read_space, record_space
from etl.sources import read_source
from etl.sources.discover import source_files
from etl.sources.limits import finite_rows, vector_violation

SEED_EMBEDDING_MODEL = "text-embedding-3-large"  # the seed's pickles: 256-d, OpenAI, dimensions=256

STAGING_COLUMNS: list[tuple[str, str]] = [
    ("ordinal", "bigint"), ("source_file", "text"), ("source_line", "integer"),
    ("arxiv_id", "text"), ("revision", "integer"), ("title", "text"), ("abstract", "text"),
    ("main_category", "text"), ("categories", "text[]"), ("published", "timestamptz"),
    ("updated", "timestamptz"), ("authors", "text[]"), ("journal_ref", "text"), ("doi", "text"),
    ("arxiv_comment", "text"), ("arxiv_doi", "text"), ("arxiv_year", "integer"),
    ("arxiv_number", "integer"), ("submitter", "text"), ("report_no", "text"), ("license", "text"),
    ("acm_class", "text"), ("msc_class", "text"), ("dataset", "text"), ("umap_x", "real"),
    ("umap_y", "real"),
]
PAPER_COLUMNS = [
    "arxiv_id", "revision", "title", "abstract", "main_category", "categories", "published", "updated",
    "authors", "journal_ref", "doi", "arxiv_comment", "arxiv_doi", "arxiv_year", "arxiv_number",
    "submitter", "report_no", "license", "acm_class", "msc_class",
]
VECTOR_TOLERANCE = 1e-3  # L2 distance under which a reloaded unit vector counts as the stored one
DEFAULT_MAX_REJECT_RATE = 0.5
_MODEL_IN_FILENAME = re.compile(r"^[^.]+\.(?P<model>.+?)(\.f16|\.f32|\.float16|\.float32)?\.npy$")


# A load that writes at least this share of the papers ends with ANALYZE (autovacuum's default threshold).
ANALYZE_SHARE = 0.1

@dataclass
class LoadOptions:
    sources: list[Path]
    fmt: str = "auto"
    embeddings: Path | None = None
    embedding_model: str | None = None
    dataset: str | None = None
    progress: bool = True
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE  # more rejects than this share of the rows: failed
    # Called inside the transaction just before the upsert; lets tests interleave concurrent loads.
    before_merge: Callable[[psycopg.Connection], None] | None = None


@dataclass
class LoadSummary:
    rows_in: int = 0
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    seconds: float = 0.0
    reject_report: Path | None = None
    rejects: list[Reject] = field(default_factory=list)
    indexes_rebuilt: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    index_seconds: dict[str, float] = field(default_factory=dict)  # seconds per rebuilt index
    copy_seconds: float = 0.0  # of `read + copy`, the time spent handing rows to COPY (the rest is parsing)
    notices: list[str] = field(default_factory=list)  # ignored keys, unmapped names, skipped files
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE

    @property
    def failed(self) -> bool:
        """Every row rejected, or more rejects than the allowed rate (`atlas load` exits non-zero)."""
        return self.rows_in > 0 and (
            self.rejected == self.rows_in or self.rejected > self.max_reject_rate * self.rows_in
        )

    def time_phase(self, name: str, since: float) -> float:
        now = time.monotonic()
        self.timings[name] = self.timings.get(name, 0.0) + now - since
        return now

    def describe(self) -> str:
        rate = self.rows_in / self.seconds if self.seconds else 0.0
        text = (
            f"{self.rows_in} rows in: {self.loaded} loaded, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected ({self.seconds:.1f} s, {rate:,.0f} rows/s)"
        )
        if self.rows_in and self.rejected == self.rows_in:
            text += "\nfailed: every row was rejected"
        elif self.failed:
            text += (f"\nfailed: {self.rejected / self.rows_in:.0%} of the rows were rejected, more than "
                     f"--max-reject-rate {self.max_reject_rate:.0%}")
        for notice in self.notices:
            text += f"\n{notice}"
        if self.reject_report is not None:
            text += f"\nrejects: {self.reject_report}"
            for reject in self.rejects[:5]:
                text += f"\n  {reject}"
            if self.rejected > 5:
                text += f"\n  ... and {self.rejected - 5} more in the report"
        return text


def model_from_filename(path: Path) -> str | None:
    """`arxiv-10k.all-MiniLM-L6-v2.f16.npy` -> `sentence-transformers/all-MiniLM-L6-v2`."""
    match = _MODEL_IN_FILENAME.match(path.name)
    return canonical_model_name(match["model"]) if match else None


def embeddings_beside(source: Path) -> Path | None:
    """The .npy next to a source with the same stem (`arxiv-10k.jsonl.gz` -> `arxiv-10k.*.npy`), if any."""
    stem = source.name.split(".")[0]
    matches = sorted(source.parent.glob(f"{stem}.*.npy"))
    if len(matches) > 1:
        found = ", ".join(m.name for m in matches)
        raise StructuralError(f"--embeddings auto: more than one {stem}.*.npy beside {source}: {found}")
    return matches[0] if matches else None


def _open_embeddings(options: LoadOptions, sources: list[Path]) -> tuple[np.ndarray, str, np.ndarray] | None:
    """(vectors, model, mask of the rows holding only finite numbers) of --embeddings, if given."""
    if options.embeddings is None:
        return None
    if len(sources) != 1:
        raise StructuralError("--embeddings needs exactly one source: its rows align with that file's rows")
    path = options.embeddings
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise StructuralError(f"{path}: cannot read as a .npy array: {exc}") from exc
    if vectors.ndim != 2 or vectors.shape[1] < 1:
        raise StructuralError(f"{path}: expected a 2-D array (papers x dimensions), got shape {vectors.shape}")
    if not np.issubdtype(vectors.dtype, np.floating):
        raise StructuralError(f"{path}: expected floating-point vectors, got dtype {vectors.dtype}")
    model = options.embedding_model or model_from_filename(path)
    if model is None:
        raise StructuralError(f"{path}: say which model made these vectors with --embedding-model")
    return vectors, canonical_model_name(model), finite_rows(vectors)


def load_sources(settings: Settings, options: LoadOptions) -> LoadSummary:
    started = time.monotonic()
    started_at = datetime.now(UTC)
    # ---- checks before any write ----------------------------------------------------------
    notes = SourceNotes()
    files = source_files(options.sources, options.fmt, notes)
    sources = [path for path, _ in files]
    npy = _open_embeddings(options, sources)

    summary = LoadSummary(max_reject_rate=options.max_reject_rate)
    report: Path | None = None
    with connect(settings) as conn:
        if conn.execute("select to_regclass('papers')").fetchone()[0] is None:
            raise StructuralError("the database has no schema yet: run `atlas db upgrade`")
        space = read_space(conn)
        new_space: EmbeddingSpace | None = None
        if npy is not None:
            vectors, model, finite = npy
            if space is not None:
                space.require_model(model, vectors.shape[1])
            else:
                new_space = space = fit_space(model, vectors if finite.all() else vectors[finite])

        phase = summary.time_phase("checks", started)
        try:
            with conn.transaction():
                _create_staging(conn)
                bad_vectors = None if npy is None or npy[2].all() else (options.embeddings, npy[0], npy[2])
                record_vectors = _copy_records(conn, files, options, summary, notes, keep_vectors=npy is None,
                                               bad_vectors=bad_vectors)
                phase = summary.time_phase("read + copy", phase)
                record_model = options.embedding_model or SEED_EMBEDDING_MODEL
                if npy is not None and npy[0].shape[0] != summary.rows_in:
                    raise StructuralError(
                        f"{options.embeddings}: {npy[0].shape[0]} vectors for {summary.rows_in} rows of "
                        f"{sources[0]}: the .npy must align row by row with the source"
                    )
                if npy is not None:
                    assert space is not None  # fitted above from these vectors when the database had none
                    ordinals = np.flatnonzero(npy[2]).astype(np.int64)
                    _copy_embeddings(conn, ordinals, space.project(npy[0][ordinals] if not npy[2].all() else npy[0]))
                elif record_vectors:
                    ordinals = np.fromiter((o for o, _ in record_vectors), dtype=np.int64, count=len(record_vectors))
                    native = np.stack([v for _, v in record_vectors])
                    if options.embedding_model is None and native.shape[1] != 256:
                        raise StructuralError(
                            f"{sources[0]}: its vectors have {native.shape[1]} dimensions, so they are not "
                            f"the seed's 256-d {SEED_EMBEDDING_MODEL}: say which model made them with "
                            "--embedding-model"
                        )
                    if space is not None:
                        space.require_model(record_model, native.shape[1])
                    else:
                        new_space = space = fit_space(record_model, native)
                    _copy_embeddings(conn, ordinals, space.project(native))
                if new_space is not None:
                    record_space(conn, new_space)
                phase = summary.time_phase("embeddings", phase)

                summary.rejects.extend(_superseded_duplicates(conn))
                summary.rejected = len(summary.rejects)
                empty = conn.execute("select not exists (select 1 from papers)").fetchone()[0]
                papers_before = 0 if empty else conn.execute(
                    "select greatest(reltuples, 0)::bigint from pg_class where oid = 'papers'::regclass").fetchone()[0]
                dropped = _drop_secondary_indexes(conn) if empty else []
                summary.unchanged = _drop_unchanged(conn)
                phase = summary.time_phase("merge", phase)
                _compute_search_tsv(conn)
                phase = summary.time_phase("full-text vectors", phase)
                if options.before_merge is not None:
                    options.before_merge(conn)
                _count_words(conn)
                summary.loaded, summary.updated, guarded = _merge(conn)
                summary.unchanged += guarded
                accounted = summary.loaded + summary.updated + summary.unchanged + summary.rejected
                if accounted != summary.rows_in:  # the load_runs check would refuse it too; say why here
                    raise RuntimeError(f"row accounting is off: {accounted} accounted for {summary.rows_in} rows in")
                _merge_seed_coordinates(conn)
                _drop_staging(conn)
                phase = summary.time_phase("merge", phase)
                if dropped:
                    summary.index_seconds = _recreate_indexes(conn, dropped, options.progress)
                    summary.indexes_rebuilt = True
                    phase = summary.time_phase("indexes", phase)
                report = _write_reject_report(settings, summary.rejects, started_at, ".csv.uncommitted")
                summary.reject_report = report.with_suffix("") if report else None  # its name once committed
                conn.execute(
                    "insert into load_runs (started_at, sources, rows_in, loaded, updated, unchanged, rejected, "
                    "reject_report) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        started_at, [str(s) for s in sources], summary.rows_in, summary.loaded,
                        summary.updated, summary.unchanged, summary.rejected,
                        str(summary.reject_report) if summary.reject_report else None,
                    ),
                )
        except BaseException:
            if report is not None:
                report.unlink(missing_ok=True)  # the load did not happen: no report of it
            raise
        if report is not None and summary.reject_report is not None:
            Path(report).replace(summary.reject_report)
        summary.notices = notes.lines()
        phase = summary.time_phase("commit", phase)
        written = summary.loaded + summary.updated
        # Fresh statistics when the load changed a good share of the table (the search functions plan
        # with them). A smaller load leaves it to autovacuum, whose analyze threshold is the same share:
        # at 1.2M papers an ANALYZE after a day's papers was a large part of `atlas update`'s minute.
        if written and written >= ANALYZE_SHARE * max(papers_before, 1):
            conn.execute("analyze papers")
            conn.commit()
            summary.time_phase("analyze", phase)
    summary.seconds = time.monotonic() - started
    return summary


# ---- staging ------------------------------------------------------------------------------
def _create_staging(conn: psycopg.Connection) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in STAGING_COLUMNS)
    conn.execute(f"create unlogged table {_staging(conn)} ({columns})")
    conn.execute(
        "create temp table staging_embeddings (ordinal bigint primary key, embedding halfvec(256)) on commit drop"
    )


def _staging(conn: psycopg.Connection, part: str = "papers") -> str:
    """Name of this load's staging table: one per backend, so that loads in parallel do not collide."""
    # In atlas_staging, on no role's search_path: atlas_etl may create nothing in public.
    return f"atlas_staging.load_staging_{part}_{int(conn.info.backend_pid)}"


def _drop_staging(conn: psycopg.Connection) -> None:
    conn.execute(f"drop table if exists {_staging(conn)}, {_staging(conn, 'tsv')}, {_staging(conn, 'words')}")


def _copy_records(
    conn: psycopg.Connection, files: list[tuple[Path, str]], options: LoadOptions, summary: LoadSummary,
    notes: SourceNotes, keep_vectors: bool, bad_vectors: tuple[Path | None, np.ndarray, np.ndarray] | None = None,
) -> list[tuple[int, np.ndarray]]:
    """COPY every parsed record into staging; collect rejects and the vectors records carry.

    The ordinal counts every source row, rejected ones included, so that row i of a .npy is the
    vector of ordinal i. `bad_vectors` (npy path, vectors, finite-row mask): a row whose .npy vector
    holds NaN or infinity is rejected.
    """
    names = ", ".join(name for name, _ in STAGING_COLUMNS)
    ordinal = 0
    vectors: list[tuple[int, np.ndarray]] = []
    with conn.cursor().copy(f"copy {_staging(conn)} ({names}) from stdin (format binary)") as copy:
        copy.set_types([kind for _, kind in STAGING_COLUMNS])
        for source, fmt in files:
            dataset = options.dataset or source.name.split(".")[0]
            items = read_source(source, fmt, notes)
            bar = tqdm(items, desc=f"reading {source.name}", unit=" rows", disable=not options.progress or None)
            for item in bar:
                if isinstance(item, Reject):
                    summary.rejects.append(item)
                elif bad_vectors is not None and ordinal < len(bad_vectors[2]) and not bad_vectors[2][ordinal]:
                    npy_path, npy_vectors, _ = bad_vectors
                    violation = vector_violation(np.asarray(npy_vectors[ordinal]))
                    value = f"row {ordinal} of {npy_path}: {violation[0] if violation else '?'}"
                    summary.rejects.append(Reject(item.source_file, item.source_line, "embedding", value,
                                                  "the vector holds NaN or infinity"))
                else:
                    handed = time.perf_counter()
                    copy.write_row(_staging_row(ordinal, item, dataset))
                    summary.copy_seconds += time.perf_counter() - handed
                    if keep_vectors and item.embedding is not None:
                        vectors.append((ordinal, item.embedding))
                ordinal += 1
            summary.rows_in = ordinal
    return vectors


def _staging_row(ordinal: int, r: PaperRecord, dataset: str) -> tuple:
    has_xy = r.umap_x is not None and r.umap_y is not None
    return (
        ordinal, r.source_file, r.source_line, r.arxiv_id, r.revision, r.title, r.abstract,
        r.main_category, r.categories, r.published, r.updated, r.authors, r.journal_ref, r.doi,
        r.arxiv_comment, r.arxiv_doi, r.arxiv_year, r.arxiv_number, r.submitter, r.report_no, r.license,
        r.acm_class, r.msc_class, dataset if has_xy else None,
        r.umap_x if has_xy else None, r.umap_y if has_xy else None,
    )


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)


def halfvec_copy_payload(ordinals: np.ndarray, vectors: np.ndarray) -> bytes:
    """Binary COPY stream of (bigint, halfvec) rows, built with numpy instead of row by row."""
    n, dims = vectors.shape
    row = np.dtype([
        ("fields", ">i2"), ("len_ordinal", ">i4"), ("ordinal", ">i8"), ("len_vector", ">i4"),
        ("dim", ">u2"), ("unused", ">u2"), ("values", ">f2", (dims,)),
    ])
    rows = np.zeros(n, dtype=row)
    rows["fields"] = 2
    rows["len_ordinal"] = 8
    rows["ordinal"] = ordinals
    rows["len_vector"] = 4 + 2 * dims
    rows["dim"] = dims
    rows["values"] = vectors
    return _COPY_HEADER + rows.tobytes() + struct.pack(">h", -1)


def _copy_embeddings(conn: psycopg.Connection, ordinals: np.ndarray, vectors: np.ndarray) -> None:
    chunk = 100_000
    with conn.cursor().copy("copy staging_embeddings (ordinal, embedding) from stdin (format binary)") as copy:
        for start in range(0, len(ordinals), chunk):
            payload = halfvec_copy_payload(ordinals[start:start + chunk], vectors[start:start + chunk])
            # Each chunk is a complete stream: strip the header after the first, the trailer before the last.
            if start > 0:
                payload = payload[len(_COPY_HEADER):]
            if start + chunk < len(ordinals):
                payload = payload[:-2]
            copy.write(payload)


# ---- merge --------------------------------------------------------------------------------
def _superseded_duplicates(conn: psycopg.Connection) -> list[Reject]:
    staging = _staging(conn)
    rows = conn.execute(
        f"""
        with ranked as (
            select s.*, row_number() over (partition by arxiv_id
                                           order by revision desc nulls last, ordinal desc) as pick,
                   first_value(source_file || ':' || source_line) over (partition by arxiv_id
                                           order by revision desc nulls last, ordinal desc) as winner
              from {staging} s
        )
        delete from {staging} s using ranked r
         where s.ordinal = r.ordinal and r.pick > 1
        returning s.source_file, s.source_line, s.arxiv_id, s.revision, r.winner
        """  # noqa: S608 - identifiers from this module's constants; values are bound parameters
    ).fetchall()
    return [
        Reject(file, line, "arxiv_id", arxiv_id,
               f"the same paper appears again at {winner}, which wins (newer revision or later row; "
               f"this one has revision {revision})")
        for file, line, arxiv_id, revision, winner in rows
    ]


def _drop_unchanged(conn: psycopg.Connection) -> int:
    """Remove from staging the rows that would change nothing; returns how many.

    Done before the upsert (and before computing the full-text vectors), which would otherwise do
    their work for rows that change nothing and make a reload as slow as a load.
    A row is unchanged when its paper holds a newer revision, or when every column is equal and the
    vector, if the row brings one, is within VECTOR_TOLERANCE of the stored one.
    """
    same = " and ".join(f"p.{c} is not distinct from s.{c}" for c in PAPER_COLUMNS if c != "arxiv_id")
    return conn.execute(
        f"""
        delete from {_staging(conn)} s
         using papers p
         where p.arxiv_id = s.arxiv_id
           and (coalesce(s.revision, 0) < coalesce(p.revision, 0)
                or ({same}
                    and not exists (select 1 from staging_embeddings e
                                     where e.ordinal = s.ordinal
                                       and (p.embedding is null or e.embedding <-> p.embedding > %s))))
        """, (VECTOR_TOLERANCE,)  # noqa: S608 - identifiers from this module's constants; values are bound parameters
    ).rowcount


def _create_table_in_parallel(conn: psycopg.Connection, name: str, query: str) -> None:
    """CREATE UNLOGGED TABLE name AS query, planned so that it runs in parallel when it can (a CREATE
    TABLE AS may; an INSERT ... SELECT may not): the planner's parallel costs are waived for it."""
    conn.execute("set local parallel_setup_cost = 0")
    conn.execute("set local parallel_tuple_cost = 0.001")
    conn.execute(f"create unlogged table {name} as {query}")
    conn.execute("reset parallel_setup_cost")
    conn.execute("reset parallel_tuple_cost")


def _compute_search_tsv(conn: psycopg.Connection) -> None:
    """paper_search_tsv of every staging row, in one parallel query."""
    _create_table_in_parallel(
        conn, _staging(conn, "tsv"),
        f"select ordinal, paper_search_tsv(title, authors, abstract) as search_tsv from {_staging(conn)}",  # noqa: S608 - identifiers from this module's constants; values are bound parameters
    )


def _count_words(conn: psycopg.Connection) -> None:
    """paper_word_counts follows the merge about to run: each lexeme of every staged row's full-text
    vector counts in, each lexeme of the stored row it replaces counts out (staging holds only rows
    that change something, _drop_unchanged). The differences are summed in one parallel query
    (CREATE TABLE AS), then applied per word; a word no paper holds any more leaves the table."""
    words = _staging(conn, "words")
    _create_table_in_parallel(
        conn, words,
        f"""
        select w.word, sum(w.change)::integer as change
          from (select l.word, 1 as change
                  from {_staging(conn, 'tsv')} t, unnest(tsvector_to_array(t.search_tsv)) as l(word)
                union all
                select l.word, -1
                  from {_staging(conn)} s
                  join papers p on p.arxiv_id = s.arxiv_id, unnest(tsvector_to_array(p.search_tsv)) as l(word)) w
         group by w.word
        """,  # noqa: S608 - identifiers from this module's constants; values are bound parameters
    )
    conn.execute(
        f"""
        insert into paper_word_counts as c (word, papers)
        select word, change from {words} where change <> 0
        on conflict (word) do update set papers = c.papers + excluded.papers
        """  # noqa: S608 - identifiers from this module's constants; values are bound parameters
    )
    conn.execute("delete from paper_word_counts where papers <= 0")


def _merge(conn: psycopg.Connection) -> tuple[int, int, int]:
    """Upsert what is left in staging (with its full-text vectors); returns (inserted, updated, guarded).

    The revision guard (the WHERE of the update) keeps a newer revision that another load committed
    after this one looked: such a row is neither inserted nor updated ("guarded", counted unchanged).
    """
    staged = conn.execute(f"select count(*) from {_staging(conn)}").fetchone()[0]  # noqa: S608 - identifiers from this module's constants; values are bound parameters
    columns = ", ".join(PAPER_COLUMNS)
    source_columns = ", ".join(f"s.{c}" for c in PAPER_COLUMNS)
    updates = ",\n    ".join(f"{c} = excluded.{c}" for c in PAPER_COLUMNS if c != "arxiv_id")
    counts = conn.execute(
        f"""
        with upsert as (
            insert into papers as p ({columns}, embedding, search_tsv)
            select {source_columns}, e.embedding, t.search_tsv
              from {_staging(conn)} s
              join {_staging(conn, 'tsv')} t on t.ordinal = s.ordinal
              left join staging_embeddings e on e.ordinal = s.ordinal
            on conflict (arxiv_id) do update set
                {updates},
                search_tsv = excluded.search_tsv,
                -- a new text without a new vector makes the old vector stale: `atlas embed` redoes it
                embedding = case
                    when excluded.embedding is not null then excluded.embedding
                    when (p.title, p.abstract) is distinct from (excluded.title, excluded.abstract) then null
                    else p.embedding end,
                changed_at = now()
             where coalesce(excluded.revision, 0) >= coalesce(p.revision, 0)
            returning (xmax = 0) as inserted
        )
        select count(*) filter (where inserted), count(*) filter (where not inserted) from upsert
        """  # noqa: S608 - identifiers from this module's constants; values are bound parameters
    ).fetchone()
    inserted, updated = counts if counts is not None else (0, 0)
    return inserted, updated, staged - inserted - updated


def _merge_seed_coordinates(conn: psycopg.Connection) -> None:
    conn.execute(
        f"""
        insert into seed_map_coordinates (dataset, paper_id, x, y)
        select s.dataset, p.id, s.umap_x, s.umap_y
          from {_staging(conn)} s join papers p using (arxiv_id)
         where s.dataset is not null
        on conflict (dataset, paper_id) do update set x = excluded.x, y = excluded.y
         where (seed_map_coordinates.x, seed_map_coordinates.y) is distinct from (excluded.x, excluded.y)
        """  # noqa: S608 - identifiers from this module's constants; values are bound parameters
    )


def _drop_secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Drop the non-unique indexes of papers, returning their exact definitions to rebuild."""
    indexes = conn.execute(
        """
        select c.relname, pg_get_indexdef(i.indexrelid)
          from pg_index i join pg_class c on c.oid = i.indexrelid
         where i.indrelid = 'public.papers'::regclass and not i.indisunique and not i.indisprimary
        """
    ).fetchall()
    for name, _ in indexes:
        conn.execute(sql.SQL("drop index {}").format(sql.Identifier("public", name)))
    return indexes


def _recreate_indexes(conn: psycopg.Connection, indexes: list[tuple[str, str]], progress: bool) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for name, _definition in tqdm(indexes, desc="building indexes", disable=not progress or None):
        started = time.monotonic()
        # The owner builds it (atlas_etl has no CREATE on public), from paper_index_definitions.
        conn.execute("call public.create_paper_index(%s)", (name,))
        seconds[name] = time.monotonic() - started
    return seconds


def _write_reject_report(settings: Settings, rejects: list[Reject], started_at: datetime, suffix: str) -> Path | None:
    if not rejects:
        return None
    folder = settings.rejects_folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rejects-{started_at.strftime('%Y%m%dT%H%M%S%f')}{suffix}"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "field", "value", "reason"])
        for r in rejects:
            writer.writerow([r.source_file, r.source_line, r.field, r.value, r.reason])
    return path
