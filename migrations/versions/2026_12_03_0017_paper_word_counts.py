"""paper_word_counts: how many papers hold each full-text word, for the word weights of keyword and hybrid search.

query_word_idfs (sql/idempotent/040-search.sql) weighted each word of a query by counting, per query, the
papers holding it (up to 5% of the papers): at 1.2M papers that is up to 60,000 heap rows a word, read
for every word of a query before the search itself started. This table holds the count of every
lexeme of papers.search_tsv; `atlas load` keeps it in step with each merge (etl/load.py: the words of
the rows it writes counted in, those of the rows they replace counted out), so a query's words cost one
primary-key lookup each. Filled here from the papers already loaded.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create table paper_word_counts (word text primary key, papers integer not null)")
    op.execute(
        "comment on table paper_word_counts is 'How many papers hold each lexeme of papers.search_tsv (the English "
        "full-text vector of title, authors and abstract); kept in step by atlas load; read by query_word_idfs.'"
    )
    op.execute(
        "insert into paper_word_counts (word, papers) "
        "select w.word, count(*) from papers p, unnest(tsvector_to_array(p.search_tsv)) as w(word) group by w.word"
    )


def downgrade() -> None:
    op.execute("drop table paper_word_counts")
