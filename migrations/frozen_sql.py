"""The SQL that old migrations applied, frozen: pinned copies in migrations/frozen/, checked by sha256.

Migrations 0002-0009 created their functions and views by running files of sql/. Those files are
copied here as they were when the idempotent layer (sql/idempotent/, app/core/sql_layer.py) took
over, and never edited again: an old migration or downgrade does today exactly what it did then.
Later migrations that retire a definition (0015: the rank-fusion hybrid search) keep what their
downgrade restores here too (hybrid_rrf.sql).
A copy whose sha256 differs from the one pinned below is refused before anything runs.

The live definitions are in sql/idempotent/; `atlas db upgrade` re-applies them after the migrations.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from alembic import op

FROZEN_DIR = Path(__file__).resolve().parent / "frozen"
PINNED_SHA256 = {
    "analytics.sql": "56c29c1e4de43ef3a31ca4f6db7bf512ce82cca670e69094784c094538e61493",
    "analytics_maps.sql": "5702f88285cb45f855fc4f1f501dee9e7f696d9cafddae2940d4875aed1f76b3",
    "author_keys.sql": "2820588c377a36392a8b084d990df667b539ec2d3bd2868d25089e16400ccbc9",
    "categories.sql": "6ffc36f481fa881990f69640ff570bb5028a6530bbdf6774c0612ae2a696a505",
    "embedding_space.sql": "ff1d4f365b2dd2925a1027774ee0cdbe47d023eb89b4cfe80d1e35e4d2dee774",
    "hybrid_rrf.sql": "67f9ef91ca713289f517a7031f7e0a84401507d1488a0e9fd5f7373685a06fa8",
    "map_viewport.sql": "68857e8f8f3b3b5d125a5d7a6eee7ec89ccde47c059c5732d49a142dcd1334d5",
    "maps.sql": "3547853aa013744232c2efe0d8a820e09fad675da752a3ec3925b3e37648aec4",
    "paper_search_tsv.sql": "ea72c6dd3bac21708234c15f372395b5bb810702f06cda3af7c4973878407cac",
    "search.sql": "a8a23c2a66ad8350a2d5d1309155e4f260c17bbcde13f537911afe7943f947de",
    "search_at_scale.sql": "ce309a2c31841e0df6f9b248093a750a8a3e50cd9a3d84f126be9ae607fa550b",
    "search_fields.sql": "9f2c0e15c9ab5c210468b30c8cfd890ce0d07b114435426fbdddcea63595277d",
    "search_filters.sql": "b206fbde43c745178b61e22694005c984bac28ba677ae18c0f465a31da82a61c",
}


class FrozenSqlChanged(RuntimeError):
    """A frozen copy was edited: old migrations must not change behaviour."""


def frozen_sql(name: str) -> str:
    data = (FROZEN_DIR / name).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if PINNED_SHA256.get(name) != digest:
        raise FrozenSqlChanged(
            f"migrations/frozen/{name} has sha256 {digest}, pinned {PINNED_SHA256.get(name)}: frozen SQL is never "
            "edited; change the live definition in sql/idempotent/ instead"
        )
    return data.decode()


def apply_frozen_sql(name: str) -> None:
    """Run one frozen file as a whole (it may hold several statements and dollar quotes)."""
    # Straight to psycopg without parameters: no placeholder parsing of the `%` in RAISE
    # messages, and several statements in one round trip (simple query protocol).
    op.get_bind().connection.driver_connection.execute(frozen_sql(name))


def migration_defined_names() -> set[tuple[str, str]]:
    """(kind, name) of every function, procedure, view and trigger that some migration creates: those
    of the frozen files, and those a migration writes out itself (join_words in 0001)."""
    import re

    from app.core.sql_text import defined_objects

    names: set[tuple[str, str]] = set()
    for path in FROZEN_DIR.glob("*.sql"):
        names.update((obj.kind, obj.name) for obj in defined_objects(path.read_text()))
    inline = re.compile(r"create\s+(?:or\s+replace\s+)?(function|procedure|view)\s+([\w.]+)", re.I)
    for path in (FROZEN_DIR.parent / "versions").glob("*.py"):
        names.update((kind.lower(), name.lower()) for kind, name in inline.findall(path.read_text()))
    return names
