"""Topics of a map: nested clusters of its 2-D points at a few levels, each labelled by its distinctive title terms.

How (docs in the functions below):

* `topic_counts` decides how many topics each level has, coarse to fine.
* `cluster_topics` runs k-means on the map coordinates for the finest level, then merges the fine clusters
  with size-weighted Ward linkage into the coarser levels, so the levels nest: every topic has exactly one
  parent one level up. Ids are 0..k-1 per level, biggest first.
* Labels: class-based TF-IDF (BERTopic's c-TF-IDF) of the titles, with each topic of a level as one class
  (`topic_terms`).
* `write_topics` / `build_map_topics` store the result in map_topics and map_points.topics.
"""

from __future__ import annotations

import io
import logging
import math
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import count

import numpy as np
import pandas as pd
import psycopg
from scipy import sparse
from scipy.spatial import cKDTree
from sklearn.cluster import kmeans_plusplus
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

log = logging.getLogger(__name__)

LEVEL_FACTORS = (1, 4, 16)
"""Topics per level relative to the coarsest level (three levels: each about four times finer)."""
MIN_COARSE, MAX_COARSE = 4, 24
"""Bounds of the number of coarsest topics."""
MIN_TOPIC_SIZE = 25
"""No level has more than n // MIN_TOPIC_SIZE topics."""
FIT_SAMPLE, INIT_SAMPLE, MAX_ITERATIONS = 100_000, 20_000, 100
"""k-means of the finest level: points its iterations see, points k-means++ sees, most Lloyd iterations."""
RADIUS_QUANTILE = 0.9
"""A topic's radius: this quantile of its members' distances to its centre."""
TOP_TERMS = 10
LABEL_TERMS = 3
MAX_VOCABULARY = 250_000

FILLER_WORDS = frozenset(
    """
    using use uses used based via new novel approach approaches towards toward study studies paper results result
    method methods application applications role case cases note notes remarks remark revisited investigation
    investigations improved improving improve efficient state-of-the-art ii iii iv
    """.split()  # noqa: SIM905 - a word list is easier to read and edit as text
)
"""Words of academic titles that name no topic. Left in on purpose: model(s), analysis, theory, problem, effect,
data, learning, general, which are part of many real topic names (standard model, functional analysis)."""
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | FILLER_WORDS

_MATH = re.compile(r"\$[^$\x00]*\$")  # inline math: its pieces (\mathbb, ^2, _n) make no label words
# LaTeX accents: Poincar\'e, Schr\"{o}dinger, \c{c}, \v s (a letter accent needs a brace or space: not \vec)
_ACCENT = re.compile(r"""\\(?:([`'^"~=.])\s*|([uvHc])(?:\s+|(?=\{)))\{?\s*(\\?[a-zA-Z])\}?""")
_COMMAND = re.compile(r"\\[a-zA-Z]+\*?|\\[^\x00]")  # other LaTeX commands: drop the name, keep any {argument}
_POSSESSIVE = re.compile(r"['\u2019]s\b")  # Hopcroft's algorithm -> hopcroft algorithm
_TOKEN = re.compile(r"(?u)\w+(?:-\w+)*")
_SEPARATOR = "\x00"  # between titles in one string; no word contains it
_TOKEN_OR_SEPARATOR = re.compile(r"(?u)\w+(?:-\w+)*|\x00")
_COMBINING = {
    "`": "\u0300", "'": "\u0301", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304", ".": "\u0307",
    "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327",
}
_DOTLESS = {"\\i": "i", "\\j": "j"}


@dataclass
class Topic:
    """One cluster of a map at one level (0 = coarsest)."""

    level: int
    topic: int
    parent: int | None
    label: str
    terms: list[str]
    x: float
    y: float
    size: int
    radius: float
    label_source: str = "terms"


@dataclass
class TopicLevels:
    """All topics of a map, coarse to fine, and the topic of every point at every level."""

    topics: list[Topic]
    assignments: np.ndarray
    """int32 array (n_points, n_levels): assignments[i, level] is the topic of point i at that level."""

    @property
    def n_levels(self) -> int:
        return int(self.assignments.shape[1])


# --- how many topics -------------------------------------------------------------------------------------------


def topic_counts(n_points: int) -> list[int]:
    """Topics per level, coarse to fine, for a map of `n_points` points.

    The coarsest level has round(sqrt(n) / 8) topics, clamped to [4, 24] (4 at 1k points, 13 at 10k, 24 from
    35k on); the next levels have 4 and 16 times as many. No level has more than n // 25 topics (at least 1), so
    a topic averages 25 points or more, and a level that would not be finer than the one above is dropped:
    a map of fewer than 50 points has one level with one topic, an empty map none.
    """
    if n_points <= 0:
        return []
    cap = max(1, n_points // MIN_TOPIC_SIZE)
    coarse = min(max(math.floor(math.sqrt(n_points) / 8 + 0.5), MIN_COARSE), MAX_COARSE)
    counts: list[int] = []
    for factor in LEVEL_FACTORS:
        k = min(coarse * factor, cap)
        if not counts or k > counts[-1]:
            counts.append(k)
    return counts


# --- clustering --------------------------------------------------------------------------------------------


def cluster_topics(coords: np.ndarray, titles: Sequence[str], seed: int = 42) -> TopicLevels:
    """Nested topics of the points `coords` (n x 2 map coordinates), labelled from `titles` (one per point).

    The finest level is a seeded k-means of the coordinates (`kmeans_labels`). The coarser levels cut one
    size-weighted Ward dendrogram of the fine clusters (`ward_merges`), so they nest. Ids at each level are
    0..k-1 by descending size. Centre: the mean of the members; radius: the 90th percentile of their distances
    to it. The same input and seed give the same topics.
    """
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    n = coords.shape[0]
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must have shape (n, 2), got {coords.shape}")
    if len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} points")
    if n and not np.all(np.isfinite(coords)):
        raise ValueError("coords must be finite")
    counts = topic_counts(n)
    if not counts:
        return TopicLevels(topics=[], assignments=np.zeros((0, 0), dtype=np.int32))
    started = time.perf_counter()

    fine = kmeans_labels(coords, counts[-1], seed)
    m = int(fine.max()) + 1
    capped = [min(k, m) for k in counts]  # k-means may find fewer clusters than asked (few distinct points)
    counts = [k for i, k in enumerate(capped) if i == 0 or k > capped[i - 1]]

    sizes = np.bincount(fine, minlength=m).astype(np.float64)
    centroids = _group_means(coords, fine, m)
    cuts = ward_merges(centroids, sizes, counts[:-1])  # fine cluster -> coarse cluster, per coarser level
    raw_levels = [cut[fine] for cut in cuts] + [fine]

    assignments = np.empty((n, len(counts)), dtype=np.int32)
    for level, raw in enumerate(raw_levels):
        assignments[:, level] = _number_by_size(raw)
    clustered = time.perf_counter()

    terms = topic_terms(titles, assignments)
    topics: list[Topic] = []
    for level in range(len(counts)):
        labels = assignments[:, level]
        k = int(labels.max()) + 1
        centres = _group_means(coords, labels, k)
        radii = _group_radii(coords, labels, centres)
        size = np.bincount(labels, minlength=k)
        parents = _parents(assignments[:, level - 1], labels, k) if level else [None] * k
        for topic in range(k):
            top = terms[level][topic]
            topics.append(Topic(
                level=level, topic=topic, parent=parents[topic], label=label_from_terms(top, topic), terms=top,
                x=float(centres[topic, 0]), y=float(centres[topic, 1]), size=int(size[topic]),
                radius=float(radii[topic]),
            ))
    log.info(
        "topics of %d points: levels %s, clustering %.1fs, labels %.1fs",
        n, counts, clustered - started, time.perf_counter() - clustered,
    )
    return TopicLevels(topics=topics, assignments=assignments)


def kmeans_labels(coords: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Labels 0..m-1 (m <= k; clusters left empty are dropped) of a seeded k-means of 2-D points.

    k-means++ (sklearn's `kmeans_plusplus`) picks the first centres from a seeded sample of at most 20k points,
    Lloyd iterations run on a seeded sample of at most 100k points (sklearn's tolerance: 1e-4 of the mean
    variance), and every point goes to its nearest centre. The nearest centres come from a KD-tree, which in
    2-D is about ten times faster than sklearn's KMeans or MiniBatchKMeans (which took 25 to 40 s for 1.2M
    points and 384 clusters on two cores).
    """
    n = coords.shape[0]
    rng = np.random.default_rng(seed)
    fit = coords if n <= FIT_SAMPLE else coords[np.sort(rng.choice(n, FIT_SAMPLE, replace=False))]
    init = fit if len(fit) <= INIT_SAMPLE else fit[np.sort(rng.choice(len(fit), INIT_SAMPLE, replace=False))]
    k = min(k, len(np.unique(init, axis=0)))
    if k <= 1:
        return np.zeros(n, dtype=np.int64)
    centres, _ = kmeans_plusplus(init, k, random_state=seed)
    tolerance = 1e-4 * float(np.mean(np.var(fit, axis=0)))
    for _ in range(MAX_ITERATIONS):
        _, nearest = cKDTree(centres).query(fit)
        size = np.bincount(nearest, minlength=k)
        moved = _group_means(fit, nearest, k)
        moved[size == 0] = centres[size == 0]  # an empty cluster keeps its centre
        shift = float(np.sum((moved - centres) ** 2))
        centres = moved
        if shift <= tolerance:
            break
    _, labels = cKDTree(centres).query(coords, workers=-1)
    _, compact = np.unique(labels, return_inverse=True)
    return compact.astype(np.int64)


def ward_merges(centroids: np.ndarray, weights: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    """Cut a size-weighted Ward dendrogram of clusters into each of `counts` groups (ascending counts).

    Clusters start as the rows of `centroids` (their weights: member counts). Each step merges the two groups
    whose union grows the within-group sum of squares the least, wA wB / (wA + wB) |cA - cB|^2: the same merges
    Ward linkage of the original points would make if it could only join whole clusters. Returns, per count,
    the group (0..count-1, in no particular order) of each cluster. Deterministic (ties: lowest indices).
    """
    m = centroids.shape[0]
    wanted = sorted(set(counts))
    if any(c < 1 or c > m for c in wanted):
        raise ValueError(f"group counts {list(counts)} must lie in [1, {m}]")
    centre = centroids.astype(np.float64).copy()
    weight = weights.astype(np.float64).copy()
    member_of = np.arange(m)  # cluster -> representative group index
    alive = np.ones(m, dtype=bool)
    cost = _ward_costs(centre, weight, np.arange(m))
    np.fill_diagonal(cost, np.inf)
    cuts: dict[int, np.ndarray] = {}
    groups = m
    while wanted and groups >= wanted[0]:
        if groups in wanted:
            _, cuts[groups] = np.unique(member_of, return_inverse=True)
            wanted.remove(groups)
            if not wanted:
                break
        a, b = np.unravel_index(int(np.argmin(cost)), cost.shape)
        a, b = min(a, b), max(a, b)
        total = weight[a] + weight[b]
        centre[a] = (weight[a] * centre[a] + weight[b] * centre[b]) / total
        weight[a] = total
        alive[b] = False
        member_of[member_of == b] = a
        cost[b, :] = np.inf
        cost[:, b] = np.inf
        row = _ward_costs(centre, weight, np.array([a]))[0]
        row[~alive] = np.inf
        row[a] = np.inf
        cost[a, :] = row
        cost[:, a] = row
        groups -= 1
    return [cuts[c] for c in counts]


def _ward_costs(centre: np.ndarray, weight: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Ward merge costs between the clusters `rows` and every cluster."""
    diff = centre[rows, None, :] - centre[None, :, :]
    sq = np.einsum("ijk,ijk->ij", diff, diff)
    w = weight[rows, None] * weight[None, :] / (weight[rows, None] + weight[None, :])
    return w * sq


def _number_by_size(raw: np.ndarray) -> np.ndarray:
    """Renumber labels 0..k-1 by descending size (ties: the lower old label first)."""
    counts = np.bincount(raw)
    present = np.flatnonzero(counts)
    order = present[np.argsort(-counts[present], kind="stable")]
    new_id = np.full(counts.shape[0], -1, dtype=np.int32)
    new_id[order] = np.arange(order.shape[0], dtype=np.int32)
    return new_id[raw]


def _group_means(coords: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    size = np.bincount(labels, minlength=k).astype(np.float64)
    sums = np.stack([np.bincount(labels, weights=coords[:, d], minlength=k) for d in range(2)], axis=1)
    return sums / np.maximum(size, 1)[:, None]


def _group_radii(coords: np.ndarray, labels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    distance = np.hypot(*(coords - centres[labels]).T)
    order = np.lexsort((distance, labels))
    sorted_distance = distance[order]
    size = np.bincount(labels, minlength=centres.shape[0])
    start = np.concatenate(([0], np.cumsum(size)[:-1]))
    # linear interpolation between the two order statistics around the quantile (as numpy's default)
    position = (size - 1) * RADIUS_QUANTILE
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    fraction = position - low
    return sorted_distance[start + low] * (1 - fraction) + sorted_distance[start + high] * fraction


def _parents(coarse: np.ndarray, fine: np.ndarray, k: int) -> list[int | None]:
    parent = np.full(k, -1, dtype=np.int64)
    parent[fine] = coarse
    return [int(p) for p in parent]


# --- labels: class-based TF-IDF ---------------------------------------------------------------------------


def clean_title(title: str) -> str:
    """A title as plain lowercase text: inline math dropped, LaTeX accents applied, other commands and braces
    dropped, possessive 's dropped."""
    if not title.isascii() and not unicodedata.is_normalized("NFC", title):
        title = unicodedata.normalize("NFC", title)
    if "$" in title:
        title = _MATH.sub(" ", title)
    if "\\" in title:
        title = _ACCENT.sub(_apply_accent, title)
        title = _COMMAND.sub(" ", title)
    if "{" in title or "}" in title:  # TeX grouping: Schr{\"o}dinger
        title = title.replace("{", "").replace("}", "")
    if "'s" in title or "\u2019s" in title:
        title = _POSSESSIVE.sub("", title)
    return title.lower()


def _apply_accent(match: re.Match[str]) -> str:
    accent, letter = match.group(1) or match.group(2), match.group(3)
    letter = _DOTLESS.get(letter, letter.lstrip("\\"))
    return unicodedata.normalize("NFC", letter + _COMBINING[accent])


def _is_term_word(word: str) -> bool:
    return (
        len(word) > 1 and word not in STOP_WORDS and not word.replace("-", "").isdigit()
        and not word.endswith("-based")
    )


def title_terms(title: str) -> list[str]:
    """The terms of one title: its words (internal hyphens kept) that are not stop words, filler or numbers,
    then the bigrams of two such words that stand next to each other in the title."""
    words = _TOKEN.findall(clean_title(title))
    keep = [_is_term_word(w) for w in words]
    bigrams = [f"{a} {b}" for a, b, ka, kb in zip(words, words[1:], keep, keep[1:], strict=False) if ka and kb]
    return [w for w, k in zip(words, keep, strict=True) if k] + bigrams


def _min_count(n_titles: int) -> int:
    """Times a term must occur to be a label term: 1 below 1k titles, 2 below 200k, else 3."""
    return 1 if n_titles < 1_000 else 2 if n_titles < 200_000 else 3


def term_matrix(titles: Sequence[str], chunk: int = 100_000) -> tuple[sparse.csr_matrix, list[str]]:
    """The title x term count matrix (float32 CSR) of `titles` and its terms (as `title_terms` finds them).

    Terms occurring fewer than `_min_count` times are left out, and only the MAX_VOCABULARY most frequent are
    kept. Fast for millions of titles: each chunk of titles is cleaned and split by regular expressions as
    one string (a NUL between titles), words become integer ids, and the rest is numpy.
    """
    n = len(titles)
    word_ids: defaultdict[str, int] = defaultdict(count().__next__)
    separator = word_ids[_SEPARATOR]
    pieces = []
    for start in range(0, n, chunk):
        part = [str(t) for t in titles[start : start + chunk]]
        text = _SEPARATOR.join(part) + _SEPARATOR
        if text.count(_SEPARATOR) != len(part):  # a title holding the separator itself
            text = "".join(t.replace(_SEPARATOR, " ") + _SEPARATOR for t in part)
        words = _TOKEN_OR_SEPARATOR.findall(clean_title(text))
        pieces.append(np.fromiter(map(word_ids.__getitem__, words), dtype=np.int64, count=len(words)))
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    vocabulary = list(word_ids)  # by id
    width = len(vocabulary)
    keep = np.fromiter(map(_is_term_word, vocabulary), dtype=bool, count=width)
    keep[separator] = False
    ends = np.flatnonzero(ids == separator)
    if ends.size != n:
        raise RuntimeError("title tokenisation lost track of title boundaries")
    doc = np.repeat(np.arange(n), np.diff(ends, prepend=-1))  # the title of each position

    kept = keep[ids]
    unigram_at = np.flatnonzero(kept)
    bigram_at = np.flatnonzero(kept[:-1] & kept[1:])  # a separator is never kept: no bigram spans two titles
    unigram_occurrences = np.bincount(ids[unigram_at], minlength=width)
    bigram_codes, bigram_keys = pd.factorize(ids[bigram_at] * width + ids[bigram_at + 1])
    bigram_occurrences = np.bincount(bigram_codes, minlength=bigram_keys.size)

    # one term key space: unigram k is k, bigram (a, b) is width + a * width + b
    keys = np.concatenate((np.arange(width, dtype=np.int64), width + np.asarray(bigram_keys, dtype=np.int64)))
    occurrences = np.concatenate((unigram_occurrences, bigram_occurrences))
    chosen = np.flatnonzero(occurrences >= _min_count(n))
    if chosen.size > MAX_VOCABULARY:
        chosen = chosen[np.argsort(-occurrences[chosen], kind="stable")[:MAX_VOCABULARY]]
    chosen = chosen[np.argsort(keys[chosen], kind="stable")]  # columns in key order
    column_of = np.full(keys.size, -1, dtype=np.int64)
    column_of[chosen] = np.arange(chosen.size)
    columns = np.concatenate((column_of[ids[unigram_at]], column_of[width + bigram_codes]))
    rows = np.concatenate((doc[unigram_at], doc[bigram_at]))
    present = columns >= 0
    matrix = sparse.csr_matrix(
        (np.ones(int(present.sum()), dtype=np.float32), (rows[present], columns[present])),
        shape=(n, chosen.size),
    )
    matrix.sum_duplicates()
    terms = [_term_text(int(key), vocabulary, width) for key in keys[chosen]]
    return matrix, terms


def _term_text(key: int, vocabulary: list[str], width: int) -> str:
    if key < width:
        return vocabulary[key]
    first, second = divmod(key - width, width)
    return f"{vocabulary[first]} {vocabulary[second]}"


def topic_terms(titles: Sequence[str], assignments: np.ndarray) -> list[list[list[str]]]:
    """The TOP_TERMS most distinctive terms of every topic at every level (c-TF-IDF), best first.

    The titles are tokenised once (`term_matrix`); each level's topic x term counts are a sparse one-hot
    product. For a topic c and a term t (BERTopic's class-based TF-IDF across the topics of the level, with its
    `reduce_frequent_words` square root): score = sqrt(count(t, c) / words(c)) * log(1 + A / f(t)), with
    words(c) all term occurrences in c, A the average words per topic and f(t) the occurrences of t in all
    topics. The square root keeps words common to a whole field ("learning", "networks", "data") from crowding
    out the distinctive ones. Terms absent from a topic are never listed.
    """
    n, levels = assignments.shape
    out: list[list[list[str]]] = (
        [[[] for _ in range(int(assignments[:, level].max()) + 1)] for level in range(levels)] if n else []
    )
    if n == 0:
        return [[] for _ in range(levels)]
    counts, vocabulary = term_matrix(titles)
    if not vocabulary:
        return out
    term_total = np.asarray(counts.sum(axis=0)).ravel()
    is_bigram = np.fromiter((" " in term for term in vocabulary), dtype=bool, count=len(vocabulary))
    rows = np.arange(n)
    for level in range(levels):
        labels = assignments[:, level]
        k = len(out[level])
        one_hot = sparse.csr_matrix((np.ones(n, dtype=np.float32), (labels, rows)), shape=(k, n))
        class_terms = (one_hot @ counts).tocsr()
        words = np.asarray(class_terms.sum(axis=1), dtype=np.float64).ravel()
        idf = np.log1p((words.sum() / k) / np.maximum(term_total, 1))
        for topic in range(k):
            start, end = class_terms.indptr[topic], class_terms.indptr[topic + 1]
            columns = class_terms.indices[start:end]
            scores = np.sqrt(class_terms.data[start:end] / max(words[topic], 1.0)) * idf[columns]
            out[level][topic] = _top(vocabulary, is_bigram, columns, scores)
    return out


def _top(vocabulary: list[str], is_bigram: np.ndarray, columns: np.ndarray, scores: np.ndarray) -> list[str]:
    """The TOP_TERMS best-scoring terms, best first. Ties: a bigram first (its words never occur apart), then by
    column."""
    order = np.lexsort((columns, ~is_bigram[columns], -scores))[:TOP_TERMS]
    return [vocabulary[c] for c in columns[order]]


def label_from_terms(terms: Iterable[str], topic: int = 0) -> str:
    """The first LABEL_TERMS distinct terms joined by ", ".

    A unigram already inside a chosen bigram is skipped, a bigram replaces a chosen unigram it contains, and a
    word counts as already chosen in its singular or plural form. No terms: "topic <n>".
    """
    chosen: list[str] = []
    for term in terms:
        words = [_singular(w) for w in term.split()]
        seen = [[_singular(w) for w in c.split()] for c in chosen]
        if any(words == s for s in seen) or (len(words) == 1 and any(words[0] in s for s in seen)):
            continue
        replaced = [i for i, s in enumerate(seen) if len(s) == 1 and s[0] in words]
        if replaced:
            chosen[replaced[0]] = term
            chosen = [c for i, c in enumerate(chosen) if i not in replaced[1:]]
        else:
            chosen.append(term)
        if len(chosen) == LABEL_TERMS:
            break
    return ", ".join(chosen) if chosen else f"topic {topic}"


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


# --- the database -------------------------------------------------------------------------------------------


def write_topics(conn: psycopg.Connection, map_id: int, paper_ids: np.ndarray, result: TopicLevels) -> None:
    """Store `result` as the topics of map `map_id`, all or nothing, in the caller's transaction.

    Replaces the map's map_topics rows, sets map_points.topics (one topic id per level, coarse first) of the
    papers `paper_ids` (paper_ids[i] is point i of the result; points of the map not among them get '{}') and
    maps.topics_built_at. Rows whose topics do not change are not rewritten.
    """
    paper_ids = np.asarray(paper_ids, dtype=np.int64)
    if paper_ids.shape[0] != result.assignments.shape[0]:
        raise ValueError(f"{paper_ids.shape[0]} paper ids for {result.assignments.shape[0]} points")
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:  # a savepoint in the caller's transaction (or one of its own)
        cur.execute("delete from map_topics where map_id = %s", (map_id,))
        with cur.copy(
            "copy map_topics (map_id, level, topic, parent, label, label_source, terms, x, y, size, radius) "
            "from stdin"
        ) as copy:
            for t in result.topics:
                copy.write_row((
                    map_id, t.level, t.topic, t.parent, t.label, t.label_source, t.terms, t.x, t.y, t.size,
                    t.radius,
                ))
        cur.execute("create temp table topic_assignments (paper_id bigint, topics integer[]) on commit drop")
        with cur.copy("copy topic_assignments (paper_id, topics) from stdin") as copy:
            for chunk in _assignment_lines(paper_ids, result.assignments):
                copy.write(chunk)
        cur.execute("analyze topic_assignments")
        copied = time.perf_counter()
        cur.execute(
            "update map_points mp set topics = t.topics from topic_assignments t "
            "where mp.map_id = %s and mp.paper_id = t.paper_id and mp.topics is distinct from t.topics",
            (map_id,),
        )
        changed = cur.rowcount
        cur.execute(
            "update map_points mp set topics = '{}' where mp.map_id = %s and mp.topics <> '{}' "
            "and not exists (select from topic_assignments t where t.paper_id = mp.paper_id)",
            (map_id,),
        )
        cur.execute("drop table topic_assignments")
        cur.execute("update maps set topics_built_at = now() where id = %s", (map_id,))
    log.info(
        "map %d: %d topics and the topics of %d points written (%d changed) in %.1fs (copy %.1fs)",
        map_id, len(result.topics), paper_ids.shape[0], changed, time.perf_counter() - started, copied - started,
    )


def _assignment_lines(paper_ids: np.ndarray, assignments: np.ndarray, chunk: int = 100_000) -> Iterable[str]:
    """COPY text lines `paper_id<TAB>{t0,t1,...}`, in chunks."""
    for start in range(0, paper_ids.shape[0], chunk):
        ids = paper_ids[start : start + chunk].tolist()
        rows = assignments[start : start + chunk].tolist()
        buffer = io.StringIO()
        buffer.writelines(f"{pid}\t{{{','.join(map(str, row))}}}\n" for pid, row in zip(ids, rows, strict=True))
        yield buffer.getvalue()


def read_map_points(conn: psycopg.Connection, map_id: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(paper ids, n x 2 coordinates, titles) of a map's points, by paper id."""
    with conn.cursor() as cur:
        cur.execute(
            "select mp.paper_id, mp.x, mp.y, p.title from map_points mp join papers p on p.id = mp.paper_id "
            "where mp.map_id = %s order by mp.paper_id",
            (map_id,),
        )
        rows = cur.fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    coords = np.array([(r[1], r[2]) for r in rows], dtype=np.float64).reshape(len(rows), 2)
    return ids, coords, [r[3] for r in rows]


def build_map_topics(conn: psycopg.Connection, map_id: int, seed: int = 42) -> TopicLevels:
    """Cluster and label the points of map `map_id` and store its topics (in the caller's transaction)."""
    if conn.execute("select 1 from maps where id = %s", (map_id,)).fetchone() is None:
        raise ValueError(f"no map with id {map_id}")
    paper_ids, coords, titles = read_map_points(conn, map_id)
    result = cluster_topics(coords, titles, seed=seed)
    write_topics(conn, map_id, paper_ids, result)
    return result


def add_points_to_topics(conn: psycopg.Connection, map_id: int, paper_ids: np.ndarray, coords: np.ndarray) -> int:
    """Put new points of map `map_id` into its existing topics; returns how many topics changed (all levels).

    A new point joins the finest-level topic whose centre is nearest and that topic's ancestors; only those
    topics' sizes change and only the new points' map_points.topics are written, so nothing else of the map
    is read or rewritten. Centres, radii and labels stay as the last full clustering made them: a day's
    papers are a sliver of a topic's thousands, and a map whose share of placed papers passes
    ATLAS_MAP_REBUILD_SHARE is due for a rebuild, which clusters and labels everything again. Returns -1
    when the map has no topics yet (nothing to add to: `build_map_topics` makes them).
    """
    rows = conn.execute(
        "select level, topic, coalesce(parent, -1), x, y from map_topics where map_id = %s order by level, topic",
        (map_id,),
    ).fetchall()
    if not rows:
        return -1
    paper_ids = np.asarray(paper_ids, dtype=np.int64)
    if len(paper_ids) == 0:
        return 0
    table = np.array([r[:3] for r in rows], dtype=np.int64)
    n_levels = int(table[:, 0].max()) + 1
    finest = table[:, 0] == n_levels - 1
    centres = np.array([(r[3], r[4]) for r in rows], dtype=np.float64)[finest]
    _, nearest = cKDTree(centres).query(np.asarray(coords, dtype=np.float64))
    assignments = np.empty((len(paper_ids), n_levels), dtype=np.int32)
    assignments[:, -1] = table[finest, 1][nearest]
    for level in range(n_levels - 2, -1, -1):
        child = table[table[:, 0] == level + 1]
        parent_of = np.full(int(child[:, 1].max()) + 1, -1, dtype=np.int64)
        parent_of[child[:, 1]] = child[:, 2]
        assignments[:, level] = parent_of[assignments[:, level + 1]]
    if (assignments < 0).any():
        raise RuntimeError(f"map {map_id}: a topic without a parent; recompute the topics (`atlas maps topics`)")
    with conn.cursor() as cur:
        cur.execute("create temp table topic_assignments (paper_id bigint, topics integer[]) on commit drop")
        with cur.copy("copy topic_assignments (paper_id, topics) from stdin") as copy:
            for chunk in _assignment_lines(paper_ids, assignments):
                copy.write(chunk)
        cur.execute(
            "update map_points mp set topics = t.topics from topic_assignments t "
            "where mp.map_id = %s and mp.paper_id = t.paper_id",
            (map_id,),
        )
        cur.execute("drop table topic_assignments")
        levels = np.repeat(np.arange(n_levels), len(paper_ids))
        pairs, added = np.unique(np.stack([levels, assignments.T.ravel()], axis=1), axis=0, return_counts=True)
        cur.execute(
            "update map_topics t set size = t.size + a.added "
            "from unnest(%s::smallint[], %s::integer[], %s::integer[]) a(level, topic, added) "
            "where t.map_id = %s and (t.level, t.topic) = (a.level, a.topic)",
            (pairs[:, 0].tolist(), pairs[:, 1].tolist(), added.tolist(), map_id),
        )
        cur.execute("update maps set topics_built_at = now() where id = %s", (map_id,))
    return len(pairs)
