"""paper_word_counts (migration 0017): the papers holding each full-text word, kept exact by every load
(new papers count in, a new revision's words replace its old ones), and the word weights of keyword
search read from it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import psycopg
from sample_formats import Sample, write_lines

from app.core.settings import Settings
from etl.load import LoadOptions, load_sources

# Every word whose stored count differs from a count over papers.search_tsv, the table's oracle.
DIFFERENCES = """
select coalesce(c.word, live.word), c.papers, live.papers
  from paper_word_counts c
  full join (select w.word, count(*) as papers
               from papers p, unnest(tsvector_to_array(p.search_tsv)) as w(word) group by w.word) live
    on live.word = c.word
 where c.papers is distinct from live.papers
"""


def differences(settings: Settings) -> list[tuple]:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(DIFFERENCES).fetchall()


def load(settings: Settings, path: Path) -> None:
    load_sources(settings, LoadOptions(sources=[path], progress=False))


def test_loads_keep_the_counts_of_every_word_exact(db: Settings, sample: Sample, tmp_path: Path) -> None:
    rows = sample.rows[:400]
    load(db, write_lines(tmp_path / "first.jsonl", [json.dumps(r) for r in rows[:300]]))
    with psycopg.connect(db.database_url) as conn:
        assert conn.execute("select count(*) from paper_word_counts").fetchone()[0] > 3000
    assert differences(db) == []
    # 100 new papers, and 50 new revisions whose abstract lost its words for others
    revised = [{**r, "revision": 9, "abstract": "Entirely rewritten: zyxwordone appears here only."}
               for r in rows[:50]]
    load(db, write_lines(tmp_path / "second.jsonl", [json.dumps(r) for r in rows[300:] + revised]))
    assert differences(db) == []
    with psycopg.connect(db.database_url) as conn:
        assert conn.execute("select papers from paper_word_counts where word = "
                            "(select lexeme from unnest(to_tsvector('english', 'zyxwordone')))").fetchone() == (50,)
        # the same file again changes nothing, and counts nothing twice
    load(db, write_lines(tmp_path / "again.jsonl", [json.dumps(r) for r in revised]))
    assert differences(db) == []


def test_a_query_words_weight_is_read_from_the_counts(db: Settings, sample: Sample, tmp_path: Path) -> None:
    load(db, write_lines(tmp_path / "some.jsonl", [json.dumps(r) for r in sample.rows[:300]]))
    with psycopg.connect(db.database_url) as conn:
        conn.execute("analyze papers")
        total = conn.execute("select reltuples from pg_class where oid = 'papers'::regclass").fetchone()[0]
        word, held = conn.execute("select word, papers from paper_word_counts where papers between 2 and 14 "
                                  "order by papers desc, word limit 1").fetchone()
        idf, rare = conn.execute("select idf, rare from query_word_idfs(%s)", (word,)).fetchone()
        assert math.isclose(idf, math.log(total / held)) and rare
        # a count the table says is different is the one the weight follows: it is not counted again
        conn.execute("update paper_word_counts set papers = 1 where word = %s", (word,))
        assert math.isclose(conn.execute("select idf from query_word_idfs(%s)", (word,)).fetchone()[0],
                            math.log(total))
