"""Tests of etl/maps/topics.py (nested clusters, c-TF-IDF labels, storage) and etl/maps/llm_labels.py."""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from openai_compatible_server import OpenAICompatibleServer

from app.core.connections import connect, url_with_database
from app.core.settings import Settings
from etl.maps.llm_labels import (
    LlmLabelError,
    build_messages,
    clean_label,
    label_topics_with_llm,
    prompt_key,
    topic_prompts,
)
from etl.maps.topics import (
    Topic,
    TopicLevels,
    build_map_topics,
    cluster_topics,
    label_from_terms,
    read_map_points,
    term_matrix,
    title_terms,
    topic_counts,
    ward_merges,
    write_topics,
)

KEY = "test-key-topics"
CHAT = "/v1/chat/completions"

# --- synthetic maps ------------------------------------------------------------------------------------------

SUBJECTS = {
    "black holes": ["accretion", "event horizon", "Hawking radiation", "spin", "mergers", "quasars"],
    "graph colouring": ["chromatic number", "planar graphs", "list colouring", "edge colouring", "hypergraphs"],
    "protein folding": ["molecular dynamics", "misfolding", "energy landscape", "chaperones", "amyloid"],
    "topological insulators": ["edge states", "band structure", "spin-orbit coupling", "Majorana modes", "films"],
}
FILLER = ["A new approach to", "On", "Towards", "Results on", "A study of", "Notes on", "Improved bounds for"]


def blobs(n_per_blob: int, seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Points in one Gaussian blob per subject, with titles about that subject (and shared filler words)."""
    rng = np.random.default_rng(seed)
    centres = np.array([(0.0, 0.0), (40.0, 0.0), (0.0, 40.0), (40.0, 40.0)])
    coords, titles, blob = [], [], []
    for b, (subject, extras) in enumerate(SUBJECTS.items()):
        coords.append(centres[b] + rng.normal(scale=3.0, size=(n_per_blob, 2)))
        for i in range(n_per_blob):
            extra = extras[int(rng.integers(len(extras)))]
            titles.append(f"{FILLER[i % len(FILLER)]} {subject} and {extra} ({2000 + i % 20})")
        blob += [b] * n_per_blob
    return np.concatenate(coords), titles, np.array(blob)


def by_level(result: TopicLevels, level: int) -> list[Topic]:
    return sorted((t for t in result.topics if t.level == level), key=lambda t: t.topic)


@pytest.fixture(scope="module")
def four_blobs() -> tuple[np.ndarray, list[str], np.ndarray, TopicLevels]:
    coords, titles, blob = blobs(600)
    return coords, titles, blob, cluster_topics(coords, titles, seed=7)


# --- how many topics -----------------------------------------------------------------------------------------


def test_topic_counts_rule() -> None:
    assert topic_counts(0) == []
    assert topic_counts(1) == topic_counts(30) == topic_counts(49) == [1]
    assert topic_counts(50) == [2]
    assert topic_counts(100) == [4]
    assert topic_counts(200) == [4, 8]
    assert topic_counts(1_000) == [4, 16, 40]
    assert topic_counts(10_000) == [13, 52, 208]
    assert topic_counts(1_200_000) == [24, 96, 384]
    for n in [*range(1, 400), 5_000, 37_000, 99_999, 2_000_000]:
        counts = topic_counts(n)
        assert 1 <= len(counts) <= 3 and counts == sorted(set(counts)), n
        assert counts[-1] <= max(1, n // 25), n


# --- clustering ------------------------------------------------------------------------------------------


def test_levels_nest_sizes_sum_and_ids_follow_size(four_blobs) -> None:
    coords, _, _, result = four_blobs
    n = coords.shape[0]
    assert result.assignments.shape == (n, 3) and result.assignments.dtype == np.int32
    assert [len(by_level(result, lv)) for lv in range(3)] == topic_counts(n) == [6, 24, 96]
    for level in range(3):
        topics = by_level(result, level)
        labels = result.assignments[:, level]
        assert sum(t.size for t in topics) == n
        assert [t.size for t in topics] == np.bincount(labels).tolist()
        assert [t.size for t in topics] == sorted((t.size for t in topics), reverse=True)
        for t in topics:
            members = coords[labels == t.topic]
            assert np.allclose((t.x, t.y), members.mean(axis=0))
            distance = np.hypot(*(members - (t.x, t.y)).T)
            assert t.radius == pytest.approx(np.quantile(distance, 0.9), rel=1e-9)
            assert t.label_source == "terms"
            if level == 0:
                assert t.parent is None
            else:  # every member of a topic is in its parent: the levels nest
                assert set(result.assignments[labels == t.topic, level - 1].tolist()) == {t.parent}


def test_same_seed_same_topics(four_blobs) -> None:
    coords, titles, _, result = four_blobs
    again = cluster_topics(coords, titles, seed=7)
    assert np.array_equal(again.assignments, result.assignments)
    assert again.topics == result.topics


def test_small_maps() -> None:
    empty = cluster_topics(np.zeros((0, 2)), [])
    assert empty.topics == [] and empty.assignments.shape == (0, 0)
    for n in (1, 2, 30):
        coords = np.arange(2 * n, dtype=float).reshape(n, 2)
        titles = [f"Spectral gaps of Laplacians number {i}" for i in range(n)]
        result = cluster_topics(coords, titles)
        assert result.assignments.tolist() == [[0]] * n
        [topic] = result.topics
        assert (topic.level, topic.topic, topic.parent, topic.size) == (0, 0, None, n)
        assert (topic.x, topic.y) == pytest.approx(tuple(coords.mean(axis=0)))
        assert "spectral gaps" in topic.label


def test_fewer_distinct_points_than_topics() -> None:
    coords = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 1.0]]), 100, axis=0)  # 300 points, 3 places
    titles = ["Sparse matrices"] * 100 + ["Dense matrices"] * 100 + ["Random matrices"] * 100
    result = cluster_topics(coords, titles)
    assert topic_counts(300) == [4, 12]
    assert result.assignments.shape == (300, 1)  # only three topics can exist: one level
    assert sorted(t.size for t in result.topics) == [100, 100, 100]
    assert {t.label.split(",")[0] for t in result.topics} == {"sparse matrices", "dense matrices", "random matrices"}


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        cluster_topics(np.zeros((3, 3)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="titles"):
        cluster_topics(np.zeros((3, 2)), ["a"])
    with pytest.raises(ValueError, match="finite"):
        cluster_topics(np.array([[0.0, np.nan]]), ["a"])


def test_ward_merges_weigh_clusters_by_size() -> None:
    centroids = np.array([[0.0, 0.0], [1.0, 0.0], [2.2, 0.0]])
    # Equal sizes: the two nearest centroids merge first.
    [groups] = ward_merges(centroids, np.array([1.0, 1.0, 1.0]), [2])
    assert groups[0] == groups[1] != groups[2]
    # Two big clusters: merging them would cost far more than adding the small one to its neighbour.
    [groups] = ward_merges(centroids, np.array([100.0, 100.0, 1.0]), [2])
    assert groups[1] == groups[2] != groups[0]
    one, three = ward_merges(centroids, np.ones(3), [1, 3])
    assert one.tolist() == [0, 0, 0] and sorted(three.tolist()) == [0, 1, 2]


# --- labels ----------------------------------------------------------------------------------------------


def test_labels_name_the_distinctive_subject(four_blobs) -> None:
    _, titles, blob, result = four_blobs
    subjects = list(SUBJECTS)
    vocabulary = [{term for i in np.flatnonzero(blob == b) for term in title_terms(titles[i])} for b in range(4)]
    for level in range(3):
        for t in by_level(result, level):
            members = blob[result.assignments[:, level] == t.topic]
            main = Counter(members.tolist()).most_common(1)[0][0]
            assert 1 <= len(t.terms) <= 10
            if level == 0:  # coarse topics are told apart by their subject
                assert subjects[main] in t.label, (t.label, t.terms)
            # Finer topics split a subject: their labels name what is distinctive among them, from the same titles.
            assert set(t.label.split(", ")) <= vocabulary[main], (level, t.label)
            for filler in ("new", "approach", "towards", "results", "study", "notes", "improved", "2003"):
                assert filler not in t.terms


def test_title_terms() -> None:
    assert title_terms("A New Approach to Hopcroft's Minimization Algorithm") == [
        "hopcroft", "minimization", "algorithm", "hopcroft minimization", "minimization algorithm",
    ]
    # LaTeX accents become letters; inline math and other commands leave no fragments; numbers go.
    assert title_terms(r"The Schr\"odinger equation on $\mathbb{R}^3$ in 2019") == [
        "schrödinger", "equation", "schrödinger equation",
    ]
    assert title_terms(r"Poincar\'e duality for \emph{many-body} systems") == [
        "poincaré", "duality", "many-body", "systems", "poincaré duality", "many-body systems",
    ]
    # Bigrams are neighbours in the title, never across a dropped word; "-based" compounds are filler.
    assert title_terms("Graph-based detection of black holes using 3D data") == [
        "detection", "black", "holes", "3d", "data", "black holes", "3d data",
    ]
    assert title_terms("Schrödinger") == title_terms("Schro\u0308dinger") == ["schrödinger"]
    assert title_terms(r'Schr{\"o}dinger') == title_terms(r"Schr\"odinger") == ["schrödinger"]
    assert title_terms(r"Erd\H{o}s and the \vec{v} \cite{x} $q$-analogue") == ["erdős", "analogue"]


def test_term_matrix_counts_the_title_terms() -> None:
    _, titles, _ = blobs(40, seed=3)
    titles = titles[::7] + [r"Kähler metrics and K\"ahler-Ricci flow", "\x00 a title with a NUL \x00", ""]
    matrix, terms = term_matrix(titles, chunk=9)
    assert matrix.shape == (len(titles), len(terms))
    for i, title in enumerate(titles):
        row = matrix.getrow(i)
        assert Counter({terms[j]: int(v) for j, v in zip(row.indices, row.data, strict=True)}) == Counter(
            title_terms(title)
        )


def test_label_from_terms() -> None:
    assert label_from_terms(["black holes", "black", "hole", "accretion", "disks"]) == "black holes, accretion, disks"
    assert label_from_terms(["graph", "graph colouring", "colouring", "chromatic"]) == "graph colouring, chromatic"
    assert label_from_terms(["qubit", "qubits", "codes", "code", "decoders"]) == "qubit, codes, decoders"
    assert label_from_terms([], topic=3) == "topic 3"


# --- the database ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mapped(
    pg_admin_url: str, template_database: str, base_settings: Settings, shared_data: Path, tmp_path_factory
) -> Iterator[tuple[Settings, int, float]]:
    """A database of its own with the papers of the real 10k sample, a map of them (2-D PCA of their embeddings)
    and its topics, committed; (settings, map id, seconds build_map_topics took). Tests that write roll back."""
    name = f"atlas_topics_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}" template "{template_database}"')
    folder = tmp_path_factory.mktemp("topics")
    settings = dataclasses.replace(
        base_settings, database_url=url_with_database(pg_admin_url, name), data_dir=folder,
        reject_dir=folder / "rejects",
    )
    try:
        with gzip.open(shared_data / "arxiv-10k.jsonl.gz", "rt", encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
        vectors = np.load(shared_data / "arxiv-10k.all-MiniLM-L6-v2.f16.npy").astype(np.float64)  # rows = records
        centred = vectors - vectors.mean(axis=0)
        xy = centred @ np.linalg.eigh(centred.T @ centred)[1][:, -2:] * 10  # the two principal components
        with connect(settings) as conn:
            # Only what topics read: the titles (`atlas load` is tested elsewhere) and the places of the papers.
            with conn.cursor().copy("copy papers (arxiv_id, title, abstract, main_category) from stdin") as copy:
                for r in records:
                    copy.write_row((r["arxiv_id"], r["title"], "", r["primary_category"]))
            row_of = {r["arxiv_id"]: i for i, r in enumerate(records)}
            map_id = conn.execute(
                "insert into maps (name, title, paper_count) values ('topics-test', 'Topics test', %s) returning id",
                (len(records),),
            ).fetchone()[0]
            places = conn.execute("select id, arxiv_id from papers").fetchall()
            with conn.cursor().copy("copy map_points (map_id, paper_id, x, y) from stdin") as copy:
                for pid, arxiv_id in places:
                    x, y = xy[row_of[arxiv_id]]
                    copy.write_row((map_id, pid, float(x), float(y)))
            started = time.perf_counter()
            build_map_topics(conn, map_id, seed=settings.map_seed)
            seconds = time.perf_counter() - started
            conn.commit()
        yield settings, map_id, seconds
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def conn(mapped) -> Iterator[psycopg.Connection]:
    """A connection to the mapped database whose writes are rolled back."""
    connection = connect(mapped[0])
    try:
        yield connection
    finally:
        connection.rollback()
        connection.close()


def _topic_rows(conn: psycopg.Connection, map_id: int) -> list[tuple]:
    return conn.execute(
        "select level, topic, parent, label, label_source, terms, x, y, size, radius from map_topics "
        "where map_id = %s order by level, topic",
        (map_id,),
    ).fetchall()


def test_build_map_topics_stores_nested_labelled_topics(mapped, conn) -> None:
    _, map_id, seconds = mapped
    assert seconds < 30
    papers = conn.execute("select count(*) from map_points where map_id = %s", (map_id,)).fetchone()[0]
    assert papers == 9_993
    rows = _topic_rows(conn, map_id)
    levels = topic_counts(papers)
    assert [sum(1 for r in rows if r[0] == lv) for lv in range(len(levels))] == levels
    by_key = {(r[0], r[1]): r for r in rows}
    for level, count in enumerate(levels):
        assert sum(r[8] for r in rows if r[0] == level) == papers
        assert sorted(r[1] for r in rows if r[0] == level) == list(range(count))
    for level, _, parent, label, source, terms, *_ in rows:
        assert (parent is None) == (level == 0)
        if parent is not None:
            assert (level - 1, parent) in by_key
        assert source == "terms" and label and terms and len(terms) <= 10

    # Every point has one topic per level, and its topics are the topic and its parents.
    assert conn.execute(
        "select count(*) from map_points where map_id = %s and cardinality(topics) <> %s", (map_id, len(levels))
    ).fetchone()[0] == 0
    for topics, in conn.execute("select topics from map_points where map_id = %s", (map_id,)):
        for level in range(1, len(levels)):
            assert by_key[(level, topics[level])][2] == topics[level - 1]
    counted = Counter(
        (level, topics[level])
        for topics, in conn.execute("select topics from map_points where map_id = %s", (map_id,))
        for level in range(len(levels))
    )
    assert counted == {(r[0], r[1]): r[8] for r in rows}
    assert conn.execute("select topics_built_at is not null from maps where id = %s", (map_id,)).fetchone()[0]

    # Labels are made of real title words: each term is a term of a title in the topic.
    level = len(levels) - 1
    members: dict[int, set[str]] = {}
    for title, topics in conn.execute(
        "select p.title, mp.topics from map_points mp join papers p on p.id = mp.paper_id where mp.map_id = %s",
        (map_id,),
    ):
        members.setdefault(topics[level], set()).update(title_terms(title))
    for row in rows:
        if row[0] == level:
            assert set(row[5]) <= members[row[1]], row
            assert set(row[3].split(", ")) <= members[row[1]], row


def test_rebuild_replaces_the_topics(mapped, conn) -> None:
    _, map_id, _ = mapped
    before = _topic_rows(conn, map_id)
    conn.execute("update maps set topics_built_at = null where id = %s", (map_id,))
    result = build_map_topics(conn, map_id, seed=mapped[0].map_seed)
    assert _topic_rows(conn, map_id) == before  # same points, same seed: the same topics, no duplicates
    assert len(result.topics) == len(before)
    assert conn.execute("select topics_built_at is not null from maps where id = %s", (map_id,)).fetchone()[0]
    with pytest.raises(ValueError, match="no map"):
        build_map_topics(conn, map_id + 1000)


def test_write_topics_of_some_points_clears_the_others(mapped, conn) -> None:
    _, map_id, _ = mapped
    ids, coords, titles = read_map_points(conn, map_id)
    half = len(ids) // 2
    result = cluster_topics(coords[:half], titles[:half], seed=1)
    write_topics(conn, map_id, ids[:half], result)
    stored = dict(conn.execute("select paper_id, topics from map_points where map_id = %s", (map_id,)).fetchall())
    assert [stored[pid] for pid in ids[:half].tolist()] == result.assignments.tolist()
    assert all(stored[pid] == [] for pid in ids[half:].tolist())
    assert len(_topic_rows(conn, map_id)) == len(result.topics)
    assert conn.execute(
        "select sum(size) from map_topics where map_id = %s and level = 0", (map_id,)
    ).fetchone()[0] == half
    with pytest.raises(ValueError, match="paper ids"):
        write_topics(conn, map_id, ids[:3], result)


# --- LLM labels ------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[OpenAICompatibleServer]:
    with OpenAICompatibleServer(api_key=KEY) as srv:
        yield srv


def _llm_settings(settings: Settings, server: OpenAICompatibleServer, **overrides) -> Settings:
    values = {"llm_model": "test-chat", "openai_base_url": server.base_url, "openai_api_key": KEY, **overrides}
    return dataclasses.replace(settings, **values)


def test_llm_labels_are_written_and_cached(mapped, conn, server) -> None:
    settings, map_id, _ = mapped
    before = _topic_rows(conn, map_id)
    asked_for = 40  # the loopback server answers in ~45 ms (Nagle): keep the requests few
    prompts = topic_prompts(conn, map_id, "test-chat", max_topics=asked_for)
    assert [(p.level, p.topic) for p in prompts] == [r[:2] for r in before[:asked_for]]
    distinct = len({p.key for p in prompts})
    summary = label_topics_with_llm(conn, _llm_settings(settings, server), map_id, max_topics=asked_for)
    bodies = server.bodies(CHAT)
    assert summary.cached == 0 and summary.asked == len(bodies) == distinct >= asked_for - 2
    assert all(b["model"] == "test-chat" and b["temperature"] == 0 and b["max_tokens"] == 20 for b in bodies)
    prompt = bodies[0]["messages"][-1]["content"]
    assert before[0][5][0] in prompt and prompt.count("\n- ") == 8  # terms and eight titles

    after = _topic_rows(conn, map_id)
    for old, new in zip(before[:asked_for], after[:asked_for], strict=True):
        assert new[4] == "llm:test-chat"
        assert new[3].startswith("Echo: ") and new[3] != old[3]
        assert len(new[3]) <= 60 and len(new[3].split()) <= 6 and not new[3].endswith(".")
        assert new[:3] == old[:3] and new[5:] == old[5:]  # only the label changed
    assert after[asked_for:] == before[asked_for:]
    cache = conn.execute("select model, label from topic_label_cache").fetchall()
    assert len(cache) == distinct and {m for m, _ in cache} == {"test-chat"}
    assert {label for _, label in cache} == {r[3] for r in after[:asked_for]}

    # Again: every answer comes from the cache, no request is made.
    again = label_topics_with_llm(conn, _llm_settings(settings, server), map_id, max_topics=asked_for)
    assert (again.asked, again.cached) == (0, asked_for)  # cached counts topics
    assert len(server.bodies(CHAT)) == len(bodies)
    assert _topic_rows(conn, map_id) == after

    # Another model is another prompt: asked again (here only for the first three topics).
    third = label_topics_with_llm(conn, _llm_settings(settings, server, llm_model="other-chat"), map_id, max_topics=3)
    assert (third.asked, third.cached) == (3, 0)
    assert [r[4] for r in _topic_rows(conn, map_id)][:4] == ["llm:other-chat"] * 3 + ["llm:test-chat"]


def test_llm_labels_need_a_model(mapped, conn) -> None:
    settings, map_id, _ = mapped
    with pytest.raises(LlmLabelError, match="ATLAS_LLM_MODEL"):
        label_topics_with_llm(conn, dataclasses.replace(settings, llm_model=None), map_id)


def test_llm_failure_leaves_the_labels(mapped, conn, server) -> None:
    settings, map_id, _ = mapped
    before = _topic_rows(conn, map_id)
    server.fail_next(10, 500)
    with pytest.raises(LlmLabelError) as failed:
        label_topics_with_llm(conn, _llm_settings(settings, server), map_id, max_topics=5)
    message = str(failed.value)
    assert "test-chat" in message and server.base_url in message and "500" in message
    assert _topic_rows(conn, map_id) == before
    assert conn.execute("select count(*) from topic_label_cache").fetchone()[0] == 0

    server.reset()
    secret = "sk-wrong-secret-0123456789"
    with pytest.raises(LlmLabelError) as rejected:
        label_topics_with_llm(conn, _llm_settings(settings, server, openai_api_key=secret), map_id, max_topics=1)
    assert "401" in str(rejected.value) and secret not in str(rejected.value)
    assert _topic_rows(conn, map_id) == before


def test_llm_labels_of_a_map_without_topics(mapped, conn, server) -> None:
    settings, _, _ = mapped
    empty = conn.execute("insert into maps (name, title) values ('empty', 'Empty') returning id").fetchone()[0]
    with pytest.raises(LlmLabelError, match="no topics"):
        label_topics_with_llm(conn, _llm_settings(settings, server), empty)
    assert server.bodies(CHAT) == []


def test_clean_label_and_prompt_key() -> None:
    assert clean_label('"Black Hole Accretion."\nMore text') == "Black Hole Accretion"
    assert clean_label("\n  Topic name: Graph colouring  ") == "Graph colouring"
    assert clean_label("one two three four five six seven eight") == "one two three four five six"
    assert len(clean_label("Supercalifragilistic " * 3 + "x" * 70)) <= 60
    assert clean_label("") == clean_label(None) == clean_label(' "" ') == ""
    messages = build_messages(["black holes"], ["Title one", "  Title\n two "])
    assert messages[-1]["content"].splitlines()[-3:] == ["- Title one", "- Title two", "Topic name:"]
    assert prompt_key("m", messages) == prompt_key("m", build_messages(["black holes"], ["Title one", "Title two"]))
    assert prompt_key("m", messages) != prompt_key("n", messages)
