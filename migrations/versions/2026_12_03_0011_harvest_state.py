"""harvest_state: where `atlas harvest` stands with each OAI-PMH endpoint (last harvested date, and the
resumption token of a harvest that stopped midway)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table harvest_state (
            endpoint          text not null,
            metadata_prefix   text not null,
            set_spec          text not null default '',
            harvested_until   date,
            resumption_token  text,
            token_from        date,
            pages             integer not null default 0,
            records           integer not null default 0,
            updated_at        timestamptz not null default now(),
            primary key (endpoint, metadata_prefix, set_spec)
        )
        """
    )
    op.execute(
        "comment on table harvest_state is 'Where `atlas harvest` stands per OAI-PMH endpoint, metadata format and "
        "set: harvested_until (the last datestamp of a complete harvest: the next one starts there), "
        "resumption_token (of a harvest that stopped midway: the next one resumes with it).'"
    )


def downgrade() -> None:
    op.execute("drop table harvest_state")
