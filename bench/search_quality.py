"""Search quality of every mode, through the real HTTP API, beside exact-search ceilings.

    .venv/bin/python bench/search_quality.py [--write] [--tune-rerank] [--wait-quiet]

Needs the 100k sample loaded (`atlas load arxiv-100k.jsonl.gz --embeddings auto`) in the database
of the current settings. Queries: bench/data/search_questions.jsonl (natural, hard, keyword
questions about papers of the 10k sample, split tune/test) plus 200 titles of the 100k sample
(`titles`: the first 200 papers by md5 of their arxiv id, split by the same sha256 rule).

* API: `atlas serve` is started on a free loopback port; every mode (title, keyword, semantic, hybrid) x
  rerank off/on answers each query with `GET /api/search?top_n=10`, one request at a time.
  Answers are kept under $ATLAS_DATA_DIR/bench/search_quality/ (one JSON line per request), so
  an interrupted run resumes where it stopped; `--fresh` forgets them.
* Ceilings: exact MiniLM cosine over the same stored halfvec(256) vectors (numpy, every paper),
  and the same exact top candidates reranked by the cross-encoder with the settings' defaults.
* Metrics: MRR@10, nDCG@10 (one relevant paper), hit@1, hit@10 of the paper each query was
  written for, per kind and split; p50/p95 of the client's wall time per request.
* Latency is only written when the 1-minute load average is <= 1.0 before the run and, once the run's
  own work has decayed (bench.report.settle, at most 4 minutes), after it, and every answer was taken
  in this run; otherwise the latencies are printed as ratios to semantic search
  without rerank and the tables say "loaded". `--wait-quiet` waits for a quiet machine first.
* `--tune-skip`: on the tune split only, per mode, the margin by which the search's first hit must
  lead for the cross-encoder to be skipped (section "search-rerank-skip").
* `--tune-anchors`: semantic search (search_papers_semantic) against exact search for each HNSW effort x
  rare-word anchors, by the SQL function (section "search-anchors").
* `--tune-rerank`: on the tune split only, the reranker's candidates x tokens per pair x fusion
  with the vector rank, from exact candidates (quality; latency as ratios of pairs x tokens).

Writes section "search-quality" (and "search-rerank-tuning") of docs/benchmarks.md with --write.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import psycopg  # noqa: E402

from app.core.connections import connect  # noqa: E402
from app.core.settings import Settings, get_settings  # noqa: E402

QUESTIONS = Path(__file__).resolve().parent / "data" / "search_questions.jsonl"
MODES = ("title", "keyword", "semantic", "hybrid")
KINDS = ("natural", "hard", "keyword", "titles")
QUIET_LOAD = 1.0
TITLE_QUERIES = 200


@dataclass(frozen=True)
class Query:
    id: str
    kind: str
    split: str
    arxiv_id: str  # as stored in the database (repaired)
    text: str


def split_of(arxiv_id: str) -> str:
    """The relevance set's rule: tune when the sha256 of the (raw) arxiv id is even."""
    return "tune" if int(hashlib.sha256(arxiv_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def id_candidates(raw: str) -> list[str]:
    """The forms a question's arxiv id may have in the database (the loader repairs mangled ids)."""
    forms = [raw]
    if "/" not in raw and "." in raw:
        yymm, number = raw.split(".", 1)
        yymm = yymm.zfill(4)
        width = 4 if int(yymm) <= 1412 else 5
        forms += [f"{yymm}.{number.ljust(width, '0')}", f"{yymm}.{number}0"]
    return list(dict.fromkeys(forms))


def stored_ids(conn: psycopg.Connection, raw_ids: Iterable[str]) -> dict[str, str]:
    """raw id -> the id the database stores it under (the first form that exists)."""
    raw_ids = list(raw_ids)
    forms = {raw: id_candidates(raw) for raw in raw_ids}
    every = sorted({f for fs in forms.values() for f in fs})
    present = {r[0] for r in conn.execute("select arxiv_id from papers where arxiv_id = any(%s)", (every,))}
    found = {}
    for raw, fs in forms.items():
        hit = next((f for f in fs if f in present), None)
        if hit is None:
            raise SystemExit(f"{QUESTIONS.name}: paper {raw!r} is not in the database (tried {fs})")
        found[raw] = hit
    return found


def read_questions(conn: psycopg.Connection, path: Path = QUESTIONS) -> list[Query]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    ids = stored_ids(conn, {r["arxiv_id"] for r in rows})
    return [Query(f"q{r['id']}", r["kind"], r["split"], ids[r["arxiv_id"]], r["query"]) for r in rows]


def title_queries(conn: psycopg.Connection, count: int = TITLE_QUERIES) -> list[Query]:
    rows = conn.execute(
        "select arxiv_id, title from papers where embedding is not null order by md5(arxiv_id) limit %s", (count,)
    ).fetchall()
    return [Query(f"t{i}", "titles", split_of(a), a, " ".join(t.split())) for i, (a, t) in enumerate(rows)]


def all_queries(conn: psycopg.Connection) -> list[Query]:
    return read_questions(conn) + title_queries(conn)


# ---- metrics ---------------------------------------------------------------------------------------
def rank_of(arxiv_id: str, found: Sequence[str]) -> int | None:
    """1-based rank of the relevant paper among the found ids, None when absent."""
    try:
        return list(found).index(arxiv_id) + 1
    except ValueError:
        return None


def quality(ranks: Sequence[int | None], cutoff: int = 10) -> dict[str, float]:
    n = max(len(ranks), 1)
    kept = [r if r is not None and r <= cutoff else None for r in ranks]
    return {
        "mrr": sum(1 / r for r in kept if r) / n,
        "ndcg": sum(1 / math.log2(r + 1) for r in kept if r) / n,
        "hit1": sum(1 for r in kept if r == 1) / n,
        "hit10": sum(1 for r in kept if r) / n,
    }


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# ---- vectors -----------------------------------------------------------------------------------
def state_dir(settings: Settings) -> Path:
    folder = settings.data_dir / "bench" / "search_quality"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def query_vectors(settings: Settings, texts: Sequence[str], cache: Path | None = None) -> np.ndarray:
    """The texts embedded as the API embeds a query (model and projection of the database's space)."""
    from app.core.embedders import make_embedder
    from app.core.space import read_space

    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"queries-{key}.npy" if cache else None
    if path is not None and path.exists():
        return np.load(path)
    with connect(settings) as conn:
        space = read_space(conn)
    if space is None:
        raise SystemExit("this database has no embedding space: load papers with embeddings first")
    vectors = np.asarray(space.project(make_embedder(settings).embed(list(texts))), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    if path is not None:
        np.save(path, vectors)
    return vectors


def stored_vectors(conn: psycopg.Connection) -> tuple[list[str], np.ndarray]:
    """Every paper's stored halfvec(256) as float32 rows (unit length), with its arxiv id."""
    ids: list[str] = []
    chunks: list[np.ndarray] = []
    with conn.cursor(binary=True) as cur:
        cur.execute("select arxiv_id, embedding::real[] from papers where embedding is not null order by id")
        while batch := cur.fetchmany(20000):
            ids += [r[0] for r in batch]
            chunks.append(np.asarray([r[1] for r in batch], dtype=np.float32))
    matrix = np.concatenate(chunks)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return ids, matrix


def exact_top(matrix: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the k most cosine-similar papers per query, best first."""
    out = np.empty((len(vectors), k), dtype=np.int64)
    for start in range(0, len(vectors), 64):
        sims = vectors[start : start + 64] @ matrix.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        out[start : start + 64] = np.take_along_axis(part, order, axis=1)
    return out


def paper_texts(conn: psycopg.Connection, arxiv_ids: Iterable[str]) -> dict[str, dict]:
    rows = conn.execute("select arxiv_id, title, abstract from papers where arxiv_id = any(%s)",
                        (sorted(set(arxiv_ids)),)).fetchall()
    return {a: {"arxiv_id": a, "title": t, "abstract": ab} for a, t, ab in rows}


# ---- the HTTP API -----------------------------------------------------------------------------------
class Server:
    """`atlas serve` of this checkout on a free loopback port (bench.api_server.start_server: ready once
    /api/health says the models are warm), for the length of a `with`; `env` overrides settings."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env
        self.process: subprocess.Popen | None = None
        self.base = ""

    def __enter__(self) -> Server:
        from bench.api_server import start_server

        self.process, self.base = start_server(env=self.env)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def search(self, text: str, mode: str, rerank: bool) -> tuple[list[str], float]:
        params = {"q": text, "mode": mode, "rerank": str(rerank).lower(), "top_n": 10}
        started = time.perf_counter()
        response = httpx.get(f"{self.base}/api/search", params=params, timeout=120)
        response.raise_for_status()
        took = (time.perf_counter() - started) * 1000
        body = response.json()
        hits = body.get("hits", body.get("results", []))
        return [h["arxiv_id"] for h in hits], took


def api_runs(server: Server, queries: Sequence[Query], store: Path, configs: Sequence[tuple[str, bool]]) -> None:
    """Ask the API every (mode, rerank) for every query not answered in `store` yet (resumable)."""
    done = {(r["qid"], r["mode"], r["rerank"]) for r in read_lines(store)}
    # Warm both models first: the first semantic and reranked requests load them.
    server.search("graph neural networks", "semantic", True)
    with store.open("a") as out:
        for mode, rerank in configs:
            todo = [q for q in queries if (q.id, mode, rerank) not in done]
            for q in todo:
                found, took = server.search(q.text, mode, rerank)
                out.write(json.dumps({"qid": q.id, "mode": mode, "rerank": rerank, "found": found,
                                      "ms": round(took, 2), "load": os.getloadavg()[0],
                                      "at": time.time()}) + "\n")
                out.flush()
            if todo:
                print(f"  {mode} rerank={rerank}: {len(todo)} queries", flush=True)


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_quiet(limit: float = QUIET_LOAD, patience_s: float = 3600) -> bool:
    """Whether the load average fell to `limit` within `patience_s` (bench.report.settle waits)."""
    from bench.report import settle

    if os.getloadavg()[0] > limit:
        print(f"load average {os.getloadavg()[0]:.2f} > {limit}: waiting up to {patience_s:.0f} s", flush=True)
    return settle(limit, patience_s)[0] <= limit


# ---- the cross-encoder ceilings and tuning ----------------------------------------------------------
def cross_encoder_scores(queries: Sequence[Query], candidates: dict[str, list[str]], texts: dict[str, dict],
                         max_length: int, store: Path) -> dict[tuple[str, str], float]:
    """(query id, arxiv id) -> cross-encoder score at max_length, cached in `store` (resumable)."""
    from app.core.reranker import CHARS_PER_TOKEN, make_reranker, paper_text

    scores = {(r["qid"], r["arxiv_id"]): r["score"] for r in read_lines(store) if r["max_length"] == max_length}
    reranker = None
    with store.open("a") as out:
        for q in queries:
            todo = [a for a in candidates[q.id] if (q.id, a) not in scores]
            if not todo:
                continue
            reranker = reranker or make_reranker(None, max_length)
            values = reranker.score(q.text, [paper_text(texts[a])[: max_length * CHARS_PER_TOKEN] for a in todo])
            for a, s in zip(todo, values, strict=True):
                scores[(q.id, a)] = float(s)
                out.write(json.dumps({"qid": q.id, "arxiv_id": a, "max_length": max_length, "score": float(s)}) + "\n")
            out.flush()
    return scores


def reranked(query: Query, candidates: list[str], scores: dict[tuple[str, str], float], count: int,
             fusion: float) -> list[str]:
    """The first `count` candidates reordered by the cross-encoder (fused with their vector rank when
    fusion > 0: score = 1/(60 + ce rank) + fusion/(60 + vector rank)), the rest behind them."""
    from app.core.reranker import fuse_ranks

    head = candidates[:count]
    order = fuse_ranks([scores[(query.id, a)] for a in head], fusion)
    return [head[i] for i in order] + candidates[count:]


RERANK_FUSIONS = (0.0, 0.5, 1.0, 2.0)


def mode_candidates(conn: psycopg.Connection, queries: Sequence[Query], vectors: np.ndarray,
                    indexes: Sequence[int], count: int) -> dict[str, dict[str, list[str]]]:
    """mode -> query id -> the best `count` papers of the mode's SQL function (the search the API
    reranks), for the queries at `indexes`."""
    scored = scored_mode_candidates(conn, queries, vectors, indexes, count)
    return {mode: {qid: [a for a, _ in hits] for qid, hits in per.items()} for mode, per in scored.items()}


def scored_mode_candidates(conn: psycopg.Connection, queries: Sequence[Query], vectors: np.ndarray,
                           indexes: Sequence[int], count: int) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """mode -> query id -> (arxiv id, the score the API sees) of the best `count` papers of the mode's
    SQL function: similarity (semantic), rank (keyword), score (hybrid)."""
    from pgvector import HalfVector

    calls = {
        "semantic": lambda q, v: ("select arxiv_id, similarity from search_papers_semantic(%s, %s, %s)",
                                  (q.text, v, count)),
        "keyword": lambda q, v: ("select arxiv_id, rank from search_papers_by_text(%s, %s)", (q.text, count)),
        "hybrid": lambda q, v: ("select arxiv_id, score from search_papers_hybrid(%s, %s, %s)", (q.text, v, count)),
    }
    out: dict[str, dict[str, list[tuple[str, float]]]] = {mode: {} for mode in calls}
    for i in indexes:
        q, v = queries[i], HalfVector(vectors[i])
        for mode, call in calls.items():
            statement, params = call(q, v)
            out[mode][q.id] = [(r[0], float(r[1])) for r in conn.execute(statement, params)]
    return out


SKIP_MARGINS = {"semantic": (0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2),
                "hybrid": (0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3),
                "keyword": (1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0)}


def tune_skip(conn: psycopg.Connection, queries: list[Query], vectors: np.ndarray, store: Path,
              count: int, length: int, fusion: float) -> tuple[str, dict[str, float]]:
    """When may the cross-encoder be skipped? On the tune split, per mode: the search order is kept
    when its first hit's score leads the second's by at least a margin, the reranked order otherwise.
    For each margin: the share of queries skipped and MRR@10 per set; chosen = the margin that skips
    most while no set falls below reranking every query (none: always rerank)."""
    tune = [i for i, q in enumerate(queries) if q.split == "tune"]
    tq = [queries[i] for i in tune]
    scored = scored_mode_candidates(conn, queries, vectors, tune, 50)
    union = {q.id: sorted({a for per in scored.values() for a, _ in per[q.id][:count]}) for q in tq}
    texts = paper_texts(conn, {a for ids in union.values() for a in ids})
    scores = cross_encoder_scores(tq, union, texts, length, store)
    rows, chosen = [], {}
    for mode, per in scored.items():
        plain = {q.id: rank_of(q.arxiv_id, [a for a, _ in per[q.id]]) for q in tq}
        full = {q.id: rank_of(q.arxiv_id, reranked(q, [a for a, _ in per[q.id]], scores, count, fusion)) for q in tq}
        lead = {q.id: (per[q.id][0][1] - per[q.id][1][1]) if len(per[q.id]) > 1 else math.inf for q in tq}

        def mrr(pick: dict[str, int | None], kind: str) -> float:
            return quality([pick[q.id] for q in tq if q.kind == kind])["mrr"]

        bars = {kind: mrr(full, kind) for kind in KINDS}
        rows.append([mode, "never (search order)", "100%"] + [f"{mrr(plain, k):.3f}" for k in KINDS])
        rows.append([mode, "always (rerank every query)", "0%"] + [f"{bars[k]:.3f}" for k in KINDS])
        best: tuple[float, float] | None = None
        for margin in SKIP_MARGINS[mode]:
            pick = {qid: plain[qid] if lead[qid] >= margin else full[qid] for qid in plain}
            share = sum(lead[qid] >= margin for qid in plain) / len(plain)
            values = {k: mrr(pick, k) for k in KINDS}
            safe = all(values[k] >= bars[k] - 1e-9 for k in KINDS)
            if safe and (best is None or share > best[1]):
                best = (margin, share)
            rows.append([mode, f"lead >= {margin:g}", f"{share:.0%}"]
                        + [f"{values[k]:.3f}" + ("" if values[k] >= bars[k] - 1e-9 else " (lower)") for k in KINDS])
        chosen[mode] = best[0] if best else math.inf
    from bench.report import table

    counts_text = ", ".join(f"{k} {sum(1 for q in tq if q.kind == k)}" for k in KINDS)
    note = "; ".join(f"{m} {'never skip' if v == math.inf else f'lead >= {v:g}'}" for m, v in chosen.items())
    return ("Tune split only (" + counts_text + " queries); candidates: each mode's SQL function, as the API "
            f"reranks them ({count} candidates x {length} tokens, fusion w {fusion:g}). Lead = the first hit's "
            "search score minus the second's (similarity for semantic, the keyword rank for keyword, the hybrid "
            "score for hybrid). A query whose lead reaches the margin keeps the search order and costs no "
            "cross-encoder run; '(lower)' marks a set below reranking every query. Chosen (skips most, no set "
            f"lower): {note}.\n\n"
            + table(["mode", "skip when", "skipped"] + [f"MRR@10 {k}" for k in KINDS], rows)), chosen


def tune_rerank(conn: psycopg.Connection, queries: list[Query], vectors: np.ndarray, store: Path,
                lengths: Sequence[int], counts: Sequence[int], sample: int = 0) -> str:
    """Quality of candidates x tokens x fusion on the tune split, over the candidates of each mode's
    SQL function (what the API reranks); with `sample`, the first `sample` tune queries of each kind
    only (the cross-encoder is slow on 2 cores)."""
    tune = [i for i, q in enumerate(queries) if q.split == "tune"]
    if sample:
        tune = [i for kind in KINDS for i in [i for i in tune if queries[i].kind == kind][:sample]]
    tq = [queries[i] for i in tune]
    candidates = mode_candidates(conn, queries, vectors, tune, max(counts))
    texts = paper_texts(conn, {a for per_mode in candidates.values() for c in per_mode.values() for a in c})
    union = {q.id: sorted({a for per_mode in candidates.values() for a in per_mode[q.id]}) for q in tq}
    rows = []
    for mode, found in candidates.items():
        rows.append([mode, "no rerank", "", ""] + [
            f"{quality([rank_of(q.arxiv_id, found[q.id]) for q in tq if q.kind == kind])['mrr']:.3f}"
            for kind in KINDS] + ["0"])
        for length in lengths:
            scores = cross_encoder_scores(tq, union, texts, length, store)
            for count in counts:
                for fusion in RERANK_FUSIONS:
                    row: list[object] = [mode, count, length, fusion]
                    for kind in KINDS:
                        ranks = [rank_of(q.arxiv_id, reranked(q, found[q.id], scores, count, fusion))
                                 for q in tq if q.kind == kind]
                        row.append(f"{quality(ranks)['mrr']:.3f}")
                    row.append(f"{count * length / (20 * 128):.2f}")
                    rows.append(row)
    from bench.report import table

    counts_text = ", ".join(f"{k} {sum(1 for q in tq if q.kind == k)}" for k in KINDS)
    return ("Tune split only (" + counts_text + " queries); candidates = the best hits of each mode's SQL "
            "function (search_papers_semantic, search_papers_by_text, search_papers_hybrid with their "
            "defaults), as the API reranks them; text = `title. abstract` cut to tokens x 8 characters, then "
            "to the token limit. Fusion w: order by 1/(60 + cross-encoder rank) + w/(60 + search rank). "
            "Cost = pairs x tokens relative to 20 x 128 (the model's time grows about linearly with both).\n\n"
            + table(["mode", "candidates", "tokens/pair", "fusion w"] + [f"MRR@10 {k}" for k in KINDS] + ["cost"],
                    rows))


CANDIDATE_ROWS = (5000, 10000, 20000, 50000)


def tune_candidate_rows(conn: psycopg.Connection, queries: list[Query], vectors: np.ndarray) -> str:
    """Keyword and hybrid MRR@10 per set and split for each atlas.keyword_candidate_rows (how many papers
    the rarest query words may bring as keyword candidates): the cost of a keyword search at 1.2M papers
    grows with it; chosen = the smallest whose tune split equals the largest on every set."""
    everyone = range(len(queries))
    rows, tune_rows = [], {}
    for budget in CANDIDATE_ROWS:
        conn.execute(f"set atlas.keyword_candidate_rows = {budget}")
        found = mode_candidates(conn, queries, vectors, everyone, 10)
        for mode in ("keyword", "hybrid"):
            for split in ("tune", "test"):
                values = [quality([rank_of(q.arxiv_id, found[mode][q.id]) for q in queries
                                   if q.kind == kind and q.split == split])["mrr"] for kind in KINDS]
                rows.append([budget, mode, split] + [f"{v:.3f}" for v in values])
                if split == "tune":
                    tune_rows[(budget, mode)] = values
    conn.execute("reset atlas.keyword_candidate_rows")
    largest = CANDIDATE_ROWS[-1]
    chosen = next(b for b in CANDIDATE_ROWS if all(tune_rows[(b, m)] == tune_rows[(largest, m)]
                                                   for m in ("keyword", "hybrid")))
    from bench.report import table

    return ("The papers the rarest words of a plain-word query may bring as keyword candidates "
            "(atlas.keyword_candidate_rows; search_papers_by_text, and so hybrid search). Chosen (the smallest "
            f"whose tune split equals {largest:,} on every set of both modes): {chosen:,}.\n\n"
            + table(["candidate rows", "mode", "split"] + [f"MRR@10 {k}" for k in KINDS], rows))


HYBRID_WEIGHTS = (0.25, 0.5, 0.75, 1.0)
HYBRID_CANDIDATES = (20, 60)


def tune_hybrid(conn: psycopg.Connection, queries: list[Query], ids: list[str], matrix: np.ndarray,
                vectors: np.ndarray) -> str:
    """Keyword, semantic and hybrid per set and split, by the SQL functions themselves (no HTTP, no
    rerank): search_papers_hybrid's keyword_weight x candidates on the tune split, then each mode with
    the functions' defaults on both splits."""
    from pgvector import HalfVector

    from bench.report import table

    lists: dict[str, dict[str, list[str]]] = {}
    for i, q in enumerate(queries):
        v = HalfVector(vectors[i])
        kw = [r[0] for r in conn.execute("select arxiv_id from search_papers_by_text(%s, 10)", (q.text,))]
        sem = [r[0] for r in conn.execute("select arxiv_id from search_papers_semantic(%s, %s, 10)", (q.text, v))]
        hyb = [r[0] for r in conn.execute("select arxiv_id from search_papers_hybrid(%s, %s, 10)", (q.text, v))]
        lists[q.id] = {"keyword": kw, "semantic": sem, "hybrid (SQL default)": hyb}
        if q.split == "tune":
            for weight in HYBRID_WEIGHTS:
                for candidates in HYBRID_CANDIDATES:
                    lists[q.id][f"w{weight} c{candidates}"] = [r[0] for r in conn.execute(
                        "select arxiv_id from search_papers_hybrid(%s, %s, 10, candidates => %s, "
                        "keyword_weight => %s)", (q.text, v, candidates, weight))]
    top = exact_top(matrix, vectors, 10)
    for i, q in enumerate(queries):
        lists[q.id]["exact MiniLM"] = [ids[j] for j in top[i]]

    def metric(kind: str, split: str, mode: str, name: str = "mrr") -> float:
        return quality([rank_of(q.arxiv_id, lists[q.id][mode][:10]) for q in queries
                        if q.kind == kind and q.split == split])[name]

    grid = [[weight, candidates] + [f"{metric(kind, 'tune', f'w{weight} c{candidates}'):.3f}" for kind in KINDS]
            for weight in HYBRID_WEIGHTS for candidates in HYBRID_CANDIDATES]
    modes = ["exact MiniLM", "semantic", "keyword", "hybrid (SQL default)"]
    per_mode = [[mode, split] + [f"{metric(kind, split, mode):.3f}" for kind in KINDS]
                for mode in modes for split in ("tune", "test")]
    hit10 = [[mode, split] + [f"{metric(kind, split, mode, 'hit10'):.3f}" for kind in KINDS]
             for mode in ("keyword", "hybrid (SQL default)") for split in ("tune", "test")]
    return (
        "By the SQL functions on the 100k sample (no HTTP, no rerank). search_papers_hybrid scores the "
        "union of the best `candidates` papers of the vector and of the full-text search by cosine "
        "similarity + keyword_weight x the share of the query's rarity-weighted words the paper holds. "
        "Grid on the tune split, MRR@10:\n\n"
        + table(["keyword_weight", "candidates"] + [f"MRR@10 {k}" for k in KINDS], grid)
        + "\n\nEach mode with the defaults of the SQL functions, MRR@10 per set and split:\n\n"
        + table(["mode", "split"] + [f"MRR@10 {k}" for k in KINDS], per_mode)
        + "\n\nhit@10:\n\n" + table(["mode", "split"] + [f"hit@10 {k}" for k in KINDS], hit10)
    )


ANCHOR_EFFORTS = (64, 100, 200)
ANCHOR_SETTINGS = ((0, 0), (100, 3), (200, 1), (200, 3), (500, 3))  # (papers a word, words); (0, 0): none
ANCHOR_RECALL = 0.99  # recall@10 against exact search that a chosen effort keeps on the tune split


def tune_anchors(conn: psycopg.Connection, queries: list[Query], ids: list[str], matrix: np.ndarray,
                 vectors: np.ndarray) -> str:
    """search_papers_semantic against exact search over the same vectors, for each HNSW effort
    (atlas.search_ef_search) x anchors (atlas.semantic_anchor_papers, atlas.semantic_anchor_words), by the
    SQL function itself (no HTTP). Chosen on the tune split: the settings whose MRR@10 equals exact
    search on every set with recall@10 at least ANCHOR_RECALL, then the smallest effort and the fewest
    anchor rows (papers x words: the most rows an anchor adds). p50 = the SQL call in ms,
    one at a time (ratios to the first row when the machine is not quiet)."""
    from pgvector import HalfVector

    from bench.report import is_quiet, load_average_text, settle, table

    top = exact_top(matrix, vectors, 10)
    exact = {q.id: [ids[j] for j in top[i]] for i, q in enumerate(queries)}
    load_before = os.getloadavg()
    results: dict[tuple[int, int, int], tuple[dict[str, list[str]], list[float]]] = {}
    for ef in ANCHOR_EFFORTS:
        for papers, words in ANCHOR_SETTINGS:
            conn.execute(f"set atlas.search_ef_search = {ef}")
            conn.execute(f"set atlas.semantic_anchor_papers = {papers}")
            conn.execute(f"set atlas.semantic_anchor_words = {words}")
            found, times = {}, []
            for i, q in enumerate(queries):
                started = time.perf_counter()
                found[q.id] = [r[0] for r in conn.execute(
                    "select arxiv_id from search_papers_semantic(%s, %s, 10)", (q.text, HalfVector(vectors[i])))]
                times.append((time.perf_counter() - started) * 1000)
            results[(ef, papers, words)] = (found, times)
    for name in ("search_ef_search", "semantic_anchor_papers", "semantic_anchor_words"):
        conn.execute(f"reset atlas.{name}")
    load_after = settle()  # the run's own load decays; another job's keeps it up
    quiet = is_quiet(load_before, load_after)

    def mrr(found: dict[str, list[str]], kind: str, split: str) -> float:
        return quality([rank_of(q.arxiv_id, found[q.id]) for q in queries
                        if q.kind == kind and q.split == split])["mrr"]

    def recall(found: dict[str, list[str]], split: str) -> float:
        qs = [q for q in queries if q.split == split]
        return sum(len(set(found[q.id]) & set(exact[q.id])) for q in qs) / (10 * len(qs))

    reference = percentile(next(iter(results.values()))[1], 50)
    rows, equal_on_tune = [], []
    for (ef, papers, words), (found, times) in results.items():
        for split in ("tune", "test"):
            cells = []
            for kind in KINDS:
                got, best = mrr(found, kind, split), mrr(exact, kind, split)
                cells.append(f"{got:.3f}" if abs(got - best) < 5e-4 else f"{got:.3f} (exact {best:.3f})")
            p50 = percentile(times, 50)
            rows.append([ef, f"{papers} x {words}" if papers else "none", split, f"{recall(found, split):.4f}",
                         *cells, f"{p50:.2f}" if quiet else f"x{p50 / reference:.2f}"])
        if recall(found, "tune") >= ANCHOR_RECALL and all(
            abs(mrr(found, kind, "tune") - mrr(exact, kind, "tune")) < 5e-4 for kind in KINDS
        ):
            equal_on_tune.append((ef, papers * words, papers, words))
    chosen = min(equal_on_tune) if equal_on_tune else None
    return (
        "search_papers_semantic (the API's semantic mode) by the SQL function on the 100k sample: the hits of "
        "search_papers_by_vector at hnsw ef_search = atlas.search_ef_search, plus the papers of the query's "
        "rarest words (anchors: at most `words` words, each held by at most `papers` papers), ordered by "
        "cosine similarity. Against exact search over the same stored vectors (numpy): recall@10 of the "
        "exact top 10, and MRR@10 per set (with exact's figure where they differ). p50: the SQL call, "
        + ("ms, one at a time" if quiet else "as a ratio to the first row (the machine was not quiet)")
        + f". Load average before {load_average_text(load_before)}, after {load_average_text(load_after)}.\n\n"
        + table(["ef_search", "anchors (papers x words)", "split", "recall@10 vs exact"]
                + [f"MRR@10 {k}" for k in KINDS] + ["p50"], rows)
        + f"\n\nChosen on the tune split (MRR@10 equal to exact search on every set and recall@10 at least "
        f"{ANCHOR_RECALL}; then the smallest effort, then the fewest anchor rows, papers x words): "
        + (f"ef_search {chosen[0]}, anchors {chosen[2]} x {chosen[3]}." if chosen and chosen[2]
           else f"ef_search {chosen[0]}, no anchors." if chosen else "none equals exact search.")
    )



# ---- the report -------------------------------------------------------------------------------------
def summarise(queries: list[Query], answers: dict[tuple[str, str, bool], dict], configs, ceilings) -> tuple:
    """Rows per (kind, split, config): quality and latency."""
    rows = []
    for kind in KINDS:
        for split in ("tune", "test"):
            qs = [q for q in queries if q.kind == kind and q.split == split]
            if not qs:
                continue
            for name, ranks_of in ceilings:
                m = quality([ranks_of(q) for q in qs])
                rows.append((kind, split, name, m, None))
            for mode, rerank in configs:
                got = [answers.get((q.id, mode, rerank)) for q in qs]
                if any(g is None for g in got):
                    continue
                m = quality([rank_of(q.arxiv_id, g["found"]) for q, g in zip(qs, got, strict=True)])
                ms = [g["ms"] for g in got]
                rows.append((kind, split, f"{mode}{' + rerank' if rerank else ''}", m, ms))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write the sections of docs/benchmarks.md")
    parser.add_argument("--fresh", action="store_true", help="forget the answers kept from earlier runs")
    parser.add_argument("--tune-rerank", action="store_true", help="also the reranker tuning table (tune split)")
    parser.add_argument("--tune-lengths", default="256", help="tokens per pair to tune over")
    parser.add_argument("--tune-counts", default="10,20", help="candidate counts to tune over")
    parser.add_argument("--tune-sample", type=int, default=0, help="tune queries per kind (0: all)")
    parser.add_argument("--tune-hybrid", action="store_true",
                        help="only the keyword/semantic/hybrid table of the SQL functions (section search-hybrid)")
    parser.add_argument("--tune-only", action="store_true", help="stop after the tuning table")
    parser.add_argument("--tune-candidate-rows", action="store_true",
                        help="only the table of atlas.keyword_candidate_rows (section search-keyword-candidates)")
    parser.add_argument("--tune-skip", action="store_true",
                        help="only the table of when to skip the cross-encoder (section search-rerank-skip)")
    parser.add_argument("--tune-anchors", action="store_true",
                        help="only the table of semantic search's effort and anchors (section search-anchors)")
    parser.add_argument("--wait-quiet", action="store_true", help="wait for load average <= 1.0 before the API run")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes to ask the API")
    parser.add_argument("--latency-only", type=int, default=0, metavar="N",
                        help="only time the first N queries of each set per mode x rerank (quiet machine), "
                             "section search-latency; quality stays in search-quality")
    args = parser.parse_args()

    from bench.report import load_average_text, settle, table, write_section

    settings = get_settings()
    state = state_dir(settings)
    store = state / "api.jsonl"
    if args.fresh:
        store.unlink(missing_ok=True)  # the cross-encoder's scores are deterministic: kept
    with connect(settings) as conn:
        queries = all_queries(conn)
        ids, matrix = stored_vectors(conn)
        vectors = query_vectors(settings, [q.text for q in queries], state)
        print(f"{len(queries)} queries, {len(ids)} papers with vectors", flush=True)
        table_only = quality_table(args, settings, conn, queries, ids, matrix, vectors)
        if table_only is not None:
            name, body = table_only
            print(body)
            if args.write:
                write_section(name, body, latencies=False)  # quality (and shares) only
            return
        tuning = (tune_rerank(conn, queries, vectors, state / "cross_encoder.jsonl",
                              [int(x) for x in args.tune_lengths.split(",")],
                              [int(x) for x in args.tune_counts.split(",")], args.tune_sample)
                  if args.tune_rerank or args.tune_only else None)
        if tuning:
            print(tuning, flush=True)
            if args.tune_only:
                if args.write:
                    write_section("search-rerank-tuning", tuning, latencies=False)  # quality and cost ratios
                return
        # Ceilings: exact search, and exact candidates reranked with the defaults of the settings.
        from app.core.reranker import DEFAULT_FUSION
        top = exact_top(matrix, vectors, max(settings.rerank_candidates, 10))
        exact = {q.id: [ids[j] for j in top[i]] for i, q in enumerate(queries)}
        texts = paper_texts(conn, {a for c in exact.values() for a in c[: settings.rerank_candidates]})
    scores = cross_encoder_scores(queries, {q.id: exact[q.id][: settings.rerank_candidates] for q in queries},
                                  texts, settings.rerank_max_length, state / "cross_encoder.jsonl")
    ceilings = [
        ("exact MiniLM (ceiling)", lambda q: rank_of(q.arxiv_id, exact[q.id])),
        ("exact + cross-encoder (ceiling)",
         lambda q: rank_of(q.arxiv_id, reranked(q, exact[q.id], scores, settings.rerank_candidates, DEFAULT_FUSION))),
    ]

    configs = [(m, r) for m in args.modes.split(",") for r in (False, True)]
    if args.latency_only:
        latency_section(args, settings, queries, configs)
        return
    if args.wait_quiet and not wait_quiet():
        print("the machine did not become quiet within an hour; latencies will be ratios", flush=True)
    load_before = os.getloadavg()
    run_started = time.time()
    with Server() as server:
        api_runs(server, queries, store, configs)
    load_after = settle()  # the run's own work decays; another job's keeps the load up
    answers = {(r["qid"], r["mode"], r["rerank"]): r for r in read_lines(store)}
    # Latency is trusted only when the machine was quiet before this run and after it, and every
    # answer was taken in this run (an interrupted run that resumed mixes times of other moments).
    quiet = (load_before[0] <= QUIET_LOAD and load_after[0] <= QUIET_LOAD
             and all(a.get("at", 0) >= run_started for a in answers.values()))
    rows = summarise(queries, answers, configs, ceilings)
    reference = [ms for kind, _, name, _, ms in rows if name == "semantic" and ms for ms in ms]
    ref50 = percentile(reference, 50) if reference else float("nan")
    out = []
    for kind, split, name, m, ms in rows:
        if ms is None:
            p50 = p95 = "-"
        elif quiet:
            p50, p95 = f"{percentile(ms, 50):.0f} ms", f"{percentile(ms, 95):.0f} ms"
        else:
            p50, p95 = f"x{percentile(ms, 50) / ref50:.2f}", f"x{percentile(ms, 95) / ref50:.2f}"
        out.append([kind, split, name, f"{m['mrr']:.3f}", f"{m['ndcg']:.3f}", f"{m['hit1']:.3f}",
                    f"{m['hit10']:.3f}", p50, p95])
    header = ["set", "split", "mode", "MRR@10", "nDCG@10", "hit@1", "hit@10", "p50", "p95"]
    counts = ", ".join(f"{k} {sum(1 for q in queries if q.kind == k)}" for k in KINDS)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, cwd=Path(__file__).resolve().parent.parent).stdout.strip()
    latency_note = (
        "Latency: client wall time per request, one at a time, in ms." if quiet else
        f"Latency NOT measured: the load average was above {QUIET_LOAD} (other jobs on the shared cores), so "
        "p50/p95 are ratios to the p50 of semantic search without rerank in this run; rerun on a quiet "
        "machine (`--wait-quiet`) for milliseconds."
    )
    body = (
        f"Queries: {counts} (bench/data/search_questions.jsonl; titles = 200 titles of the 100k sample). "
        f"Database: the 100k sample, `atlas serve` on this checkout, `GET /api/search?top_n=10` with the "
        f"defaults (top_k 50; rerank: {settings.rerank_candidates} candidates x {settings.rerank_max_length} "
        f"tokens, fusion w {DEFAULT_FUSION}). Load average before {load_average_text(load_before)}, after "
        f"{load_average_text(load_after)}. Working tree {'dirty' if dirty else 'clean'}. {latency_note}\n\n"
        + table(header, out)
    )
    print(body)
    if args.write:
        if tuning:
            write_section("search-rerank-tuning", tuning, latencies=False)  # quality and cost ratios
        write_section("search-quality", body, latencies=quiet, load_before=load_before)


def quality_table(args: argparse.Namespace, settings: Settings, conn: psycopg.Connection, queries: list[Query],
                  ids: list[str], matrix: np.ndarray, vectors: np.ndarray) -> tuple[str, str] | None:
    """(section, body) of the tuning table the options ask for alone, or None."""
    if args.tune_candidate_rows:
        return "search-keyword-candidates", tune_candidate_rows(conn, queries, vectors)
    if args.tune_skip:
        from app.core.reranker import DEFAULT_FUSION

        body, _ = tune_skip(conn, queries, vectors, state_dir(settings) / "cross_encoder.jsonl",
                            settings.rerank_candidates, settings.rerank_max_length, DEFAULT_FUSION)
        return "search-rerank-skip", body
    if args.tune_hybrid:
        return "search-hybrid", tune_hybrid(conn, queries, ids, matrix, vectors)
    if args.tune_anchors:
        return "search-anchors", tune_anchors(conn, queries, ids, matrix, vectors)
    return None


def latency_section(args: argparse.Namespace, settings: Settings, queries: list[Query],
                    configs: list[tuple[str, bool]]) -> None:
    """Section "search-latency": the first `--latency-only` queries of each set, every mode x rerank,
    one request at a time through the API; written only from a quiet machine (load <= 1.0 before,
    and after once the run's own load has decayed)."""
    from bench.report import load_average_text, settle, table, write_when_quiet

    sample = [q for kind in KINDS for q in [q for q in queries if q.kind == kind][: args.latency_only]]
    if args.wait_quiet and not wait_quiet():
        raise SystemExit("the machine did not become quiet within an hour: no latency written")
    load_before = os.getloadavg()
    times: dict[tuple[str, bool], list[float]] = {c: [] for c in configs}
    # No query cache: the rerank=true request of a query follows its rerank=false one, and would take the
    # query vector (and a reranked order) from the API's LRU cache; each request here pays its own way.
    with Server(env={"ATLAS_QUERY_CACHE_SIZE": "0"}) as server:
        server.search("graph neural networks", "semantic", True)  # connections, first calls
        for mode, rerank in configs:
            for q in sample:
                times[(mode, rerank)].append(server.search(q.text, mode, rerank)[1])
    load_after = settle()
    rows = [[mode, "yes" if rerank else "no", len(ms), f"{percentile(ms, 50):.0f}", f"{percentile(ms, 95):.0f}"]
            for (mode, rerank), ms in times.items()]
    body = (f"`GET /api/search?top_n=10` on the 100k sample, one request at a time, the first {args.latency_only} "
            f"queries of each set ({', '.join(KINDS)}) per mode; defaults of this checkout (rerank: "
            f"{settings.rerank_candidates} candidates x {settings.rerank_max_length} tokens). Load average before "
            f"{load_average_text(load_before)}, after {load_average_text(load_after)} (after: once the run's own "
            "load had decayed). The API's query cache is off (ATLAS_QUERY_CACHE_SIZE=0): every request embeds its "
            "query, and a reranked one runs the cross-encoder unless its first hit is decisive (section "
            "search-rerank-skip). Client wall time per request, ms.\n\n"
            + table(["mode", "rerank", "requests", "p50 ms", "p95 ms"], rows))
    print(body)
    if args.write:
        write_when_quiet("search-latency", body, load_before=load_before)


if __name__ == "__main__":
    main()


__all__ = ["Query", "asdict", "quality", "rank_of", "read_questions", "exact_top", "stored_vectors"]
