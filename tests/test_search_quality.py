"""Search quality on the 10k sample with the relevance set of bench/data/search_questions.jsonl.

Fails when reranking (the service's defaults: candidates, tokens, fusion) lowers MRR@10 of natural
questions in semantic or hybrid mode, when the SQL semantic search falls more than 0.01 MRR@10 below
exact search over the same stored vectors, or when hybrid search falls below the better of keyword
and semantic search on a query set. The 100k figures are bench/search_quality.py's (docs/benchmarks.md).
"""

from __future__ import annotations

import dataclasses

import pytest

from app.core.connections import connect
from app.core.settings import Settings
from app.services.paper_search import Mode, SearchQuery, run_once, search_papers
from bench.search_quality import (
    exact_top,
    quality,
    query_vectors,
    rank_of,
    read_questions,
    stored_vectors,
)

#: Natural questions reranked by the test: the cross-encoder reads 10 pairs of 256 tokens a query,
#: about half a second a query on 2 cores, so the test keeps to a sample (the first of each split).
RERANKED_QUESTIONS = 16


@pytest.fixture(scope="module")
def questions(loaded_10k: Settings):
    with connect(loaded_10k) as conn:
        return read_questions(conn)


def test_semantic_search_is_within_001_of_exact_search(loaded_10k: Settings, questions) -> None:
    from pgvector import HalfVector

    vectors = query_vectors(loaded_10k, [q.text for q in questions])
    with connect(loaded_10k) as conn:
        ids, matrix = stored_vectors(conn)
        top = exact_top(matrix, vectors, 10)
        exact = [rank_of(q.arxiv_id, [ids[j] for j in top[i]]) for i, q in enumerate(questions)]
        found = [
            rank_of(q.arxiv_id, [r[0] for r in conn.execute(
                "select arxiv_id from search_papers_semantic(%s, %s, 10)", (q.text, HalfVector(vectors[i])))])
            for i, q in enumerate(questions)
        ]
    exact_mrr, semantic_mrr = quality(exact)["mrr"], quality(found)["mrr"]
    assert semantic_mrr >= exact_mrr - 0.01, (semantic_mrr, exact_mrr)


def test_hybrid_is_at_least_the_better_of_keyword_and_semantic(loaded_10k: Settings, questions) -> None:
    from pgvector import HalfVector

    vectors = query_vectors(loaded_10k, [q.text for q in questions])
    calls = {
        "keyword": lambda q, v: ("select arxiv_id from search_papers_by_text(%s, 10)", (q.text,)),
        "semantic": lambda q, v: ("select arxiv_id from search_papers_semantic(%s, %s, 10)", (q.text, v)),
        "hybrid": lambda q, v: ("select arxiv_id from search_papers_hybrid(%s, %s, 10)", (q.text, v)),
    }
    ranks: dict[tuple[str, str], list[int | None]] = {}
    with connect(loaded_10k) as conn:
        for i, q in enumerate(questions):
            for mode, call in calls.items():
                statement, params = call(q, HalfVector(vectors[i]))
                found = [r[0] for r in conn.execute(statement, params)]
                ranks.setdefault((q.kind, mode), []).append(rank_of(q.arxiv_id, found))
    for kind in ("natural", "hard", "keyword"):
        mrr = {mode: quality(ranks[(kind, mode)])["mrr"] for mode in calls}
        # One query of the 70 hard or keyword ones is worth 0.014 at most: a tie with the better part
        # may differ by less than that.
        assert mrr["hybrid"] >= max(mrr["keyword"], mrr["semantic"]) - 0.01, (kind, mrr)


@pytest.mark.parametrize("mode", [Mode.semantic, Mode.hybrid])
def test_reranking_does_not_lower_mrr_of_natural_questions(loaded_10k: Settings, questions, mode: Mode) -> None:
    natural = [q for q in questions if q.kind == "natural"]
    picked = ([q for q in natural if q.split == "tune"][: RERANKED_QUESTIONS // 2]
              + [q for q in natural if q.split == "test"][: RERANKED_QUESTIONS // 2])

    async def both(pool, models):
        ranks = {False: [], True: []}
        for q in picked:
            for rerank in (False, True):
                result = await search_papers(pool, models, SearchQuery(
                    text=q.text, mode=mode, rerank=rerank, top_n=10))
                ranks[rerank].append(rank_of(q.arxiv_id, [h["arxiv_id"] for h in result.hits]))
        return ranks

    settings = dataclasses.replace(loaded_10k)
    ranks = run_once(settings, both)
    plain, reranked = quality(ranks[False])["mrr"], quality(ranks[True])["mrr"]
    assert reranked >= plain, (reranked, plain)


def test_semantic_search_is_the_most_similar_of_the_vector_hits_and_the_anchor_papers(
        loaded_10k: Settings, questions) -> None:
    """search_papers_semantic (the API's semantic mode) = the 10 papers most similar to the query vector
    among search_papers_by_vector's hits and the papers holding the query's anchor words, similarity
    computed here; at a low HNSW effort (ef_search 10) the anchors bring back papers the graph missed, and
    the hits never hold fewer of exact search's top 10 than the vector hits alone."""
    from pgvector import HalfVector

    vectors = query_vectors(loaded_10k, [q.text for q in questions])
    changed, overlaps = 0, []
    with connect(loaded_10k) as conn:
        ids, matrix = stored_vectors(conn)
        top = exact_top(matrix, vectors, 10)
        conn.execute("set atlas.search_ef_search = 10")
        for i, q in enumerate(questions):
            v = HalfVector(vectors[i])
            hits = [r[0] for r in conn.execute("select arxiv_id from search_papers_by_vector(%s, 10)", (v,))]
            words = conn.execute("select semantic_anchor_words(%s)", (q.text,)).fetchone()[0]
            pool = set(hits)
            for word in words:
                pool |= {r[0] for r in conn.execute(
                    "select arxiv_id from papers where search_tsv @@ quote_literal(%s)::tsquery "
                    "and embedding is not null", (word,))}
            similarity = dict(conn.execute(
                "select arxiv_id, 1 - (embedding <=> %s) from papers where arxiv_id = any(%s)", (v, sorted(pool))))
            expected = sorted(pool, key=lambda a: -similarity[a])[:10]
            got = [r[0] for r in conn.execute(
                "select arxiv_id from search_papers_semantic(%s, %s, 10)", (q.text, v))]
            assert got == expected, q.id
            changed += got != hits
            exact = {ids[j] for j in top[i]}
            overlaps.append((len(exact & set(got)), len(exact & set(hits))))
    assert changed > 0, "at ef_search 10 the anchors changed no query's hits"
    assert all(anchored >= plain for anchored, plain in overlaps)
    assert sum(a for a, _ in overlaps) > sum(p for _, p in overlaps)
