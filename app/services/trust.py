"""How far a map can be believed, per topic: GET /api/maps/{map}/trust, for the web map's trust colouring.

The local trustworthiness of each point (map_points.trust, etl/maps/trust.py: the share of its 10
nearest papers by embedding that are among its 10 nearest on the map) summarised per topic of the map,
every level: the mean, and the share of papers below LOW_TRUST. The same aggregation as the analysts'
view analytics.map_topic_trust (sql/idempotent/087-analytics-trust.sql), which the API role cannot
read; tests/test_explain.py checks that the two agree.
"""

from __future__ import annotations

from typing import Any

from app.core.pools import Database, fetch_all, fetch_one

LOW_TRUST = 0.3  # at most 2 of a paper's 10 true neighbours drawn next to it (analytics.map_topic_trust)

TOPIC_TRUST_SQL = """
select t.level, t.topic, t.label, t.x, t.y, t.size, count(mp.trust) as papers_with_trust,
       avg(mp.trust)::float8 as mean_trust,
       (count(*) filter (where mp.trust < %(low)s))::float8 / nullif(count(mp.trust), 0) as low_trust_share
  from map_topics t
  join map_points mp on mp.map_id = t.map_id and mp.topics[t.level + 1] = t.topic
 where t.map_id = %(map)s and (%(level)s::integer is null or t.level = %(level)s)
 group by t.level, t.topic, t.label, t.x, t.y, t.size
 order by t.level, mean_trust nulls last, t.topic
"""

MAP_TRUST_SQL = """
select count(trust) as papers_with_trust, count(*) as papers, avg(trust)::float8 as mean_trust,
       (count(*) filter (where trust < %(low)s))::float8 / nullif(count(trust), 0) as low_trust_share
  from map_points where map_id = %(map)s
"""


async def map_trust(pool: Database, map_id: int, level: int | None = None) -> dict[str, Any]:
    """The map's mean local trust and its topics' (one level, or every level), least trustworthy first."""
    params = {"map": map_id, "level": level, "low": LOW_TRUST}
    whole = await fetch_one(pool, MAP_TRUST_SQL, params)
    topics = await fetch_all(pool, TOPIC_TRUST_SQL, params)
    return {"low_trust": LOW_TRUST, **(whole or {}), "topics": topics}
