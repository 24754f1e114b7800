"""Short human topic labels from an OpenAI-compatible chat model (`--llm-labels`), cached in the database.

Each topic's prompt holds its distinctive terms and the titles of the papers nearest its centre. The answer is
cached in topic_label_cache under the SHA-256 of the model and the whole request, so a rebuild asks again
only for topics whose prompt changed. Everything runs in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import openai
import psycopg

from app.core.errors import AtlasError
from app.core.settings import Settings
from etl.maps.topics import label_from_terms

SAMPLE_TITLES = 8
"""Titles in a prompt: the papers nearest the topic's centre (ties: the lower paper id)."""
PROMPT_TERMS = 10
MAX_TITLE_CHARS = 200
MAX_LABEL_WORDS, MAX_LABEL_CHARS = 6, 60
MAX_TOKENS = 20
REQUEST_TIMEOUT_S, REQUEST_RETRIES = 60.0, 2

SYSTEM_PROMPT = (
    "You name regions of a map of arXiv papers. Given a topic's distinctive title terms and the titles of "
    "papers at its centre, reply with a short name for the topic: at most six words, plain text, no quotes, "
    "no final period."
)

_PREFIX = re.compile(r"^(?:topic(?: name)?|label|name)\s*:\s*", re.IGNORECASE)
_QUOTES = "\"'`*\u201c\u201d\u2018\u2019"


class LlmLabelError(AtlasError):
    """LLM labels cannot be made (no model configured, no topics, or the chat server failed)."""


@dataclass
class LlmLabelSummary:
    asked: int
    """Chat requests made (cache misses)."""
    cached: int
    """Topics whose label came from topic_label_cache."""


@dataclass
class TopicPrompt:
    """The chat request that asks for one topic's label, and its cache key."""

    level: int
    topic: int
    terms: list[str]
    messages: list[dict[str, str]]
    key: str


def label_topics_with_llm(
    conn: psycopg.Connection, settings: Settings, map_id: int, *, max_topics: int | None = None
) -> LlmLabelSummary:
    """Label the topics of map `map_id` (coarse levels and big topics first; at most `max_topics`) with the
    chat model ATLAS_LLM_MODEL, asking only for prompts not in topic_label_cache.

    Sets map_topics.label and label_source = 'llm:<model>' (an empty answer keeps the terms label). A failed
    request raises LlmLabelError before any label changes; the answers received until then are written to
    the cache (kept if the caller commits).
    """
    model = settings.llm_model
    if not model:
        raise LlmLabelError(
            "LLM topic labels need a chat model: set ATLAS_LLM_MODEL (and OPENAI_BASE_URL / OPENAI_API_KEY for "
            "an OpenAI-compatible server other than OpenAI's)"
        )
    if max_topics is not None and max_topics < 1:
        raise ValueError(f"max_topics must be >= 1, got {max_topics}")
    prompts = topic_prompts(conn, map_id, model, max_topics=max_topics)
    if not prompts:
        raise LlmLabelError(f"map {map_id} has no topics: build them first")

    keys = sorted({p.key for p in prompts})
    rows = conn.execute(
        "select prompt_sha256, label from topic_label_cache where prompt_sha256 = any(%s)", (keys,)
    ).fetchall()
    answers: dict[str, str] = {key: label for key, label in rows}
    cached = sum(1 for p in prompts if p.key in answers)

    asked = 0
    client: openai.OpenAI | None = None
    for prompt in prompts:
        if prompt.key in answers:
            continue
        if client is None:
            client = openai.OpenAI(
                base_url=settings.openai_base_url, api_key=settings.openai_api_key or "unused",
                timeout=REQUEST_TIMEOUT_S, max_retries=REQUEST_RETRIES,
            )
        answer = clean_label(_ask(client, model, prompt.messages, settings.openai_api_key))
        asked += 1
        conn.execute(
            "insert into topic_label_cache (prompt_sha256, model, label) values (%s, %s, %s) "
            "on conflict (prompt_sha256) do update set label = excluded.label, created_at = now()",
            (prompt.key, model, answer),
        )
        answers[prompt.key] = answer

    updates = []
    for prompt in prompts:
        answer = answers[prompt.key]
        label, source = (answer, f"llm:{model}") if answer else (label_from_terms(prompt.terms, prompt.topic), "terms")
        updates.append((label, source, map_id, prompt.level, prompt.topic))
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "update map_topics set label = %s, label_source = %s where map_id = %s and level = %s and topic = %s",
            updates,
        )
    return LlmLabelSummary(asked=asked, cached=cached)


def topic_prompts(
    conn: psycopg.Connection, map_id: int, model: str, *, max_topics: int | None = None
) -> list[TopicPrompt]:
    """The chat request of every topic of the map (by level, then topic id), with its cache key."""
    topics = conn.execute(
        "select level, topic, terms from map_topics where map_id = %s order by level, topic limit %s",
        (map_id, max_topics),
    ).fetchall()
    titles: dict[tuple[int, int], list[str]] = {}
    for level, topic, title in conn.execute(
        """
        with chosen as (
            select level, topic, x, y from map_topics where map_id = %(map)s order by level, topic limit %(limit)s
        ), members as (
            select c.level, c.topic, mp.paper_id,
                   row_number() over (partition by c.level, c.topic
                                      order by (mp.x - c.x) ^ 2 + (mp.y - c.y) ^ 2, mp.paper_id) as rank
              from map_points mp
             cross join lateral unnest(mp.topics) with ordinality as u(topic, ordinal)
              join chosen c on c.level = u.ordinal - 1 and c.topic = u.topic
             where mp.map_id = %(map)s
        )
        select m.level, m.topic, p.title
          from members m join papers p on p.id = m.paper_id
         where m.rank <= %(titles)s
         order by m.level, m.topic, m.rank
        """,
        {"map": map_id, "limit": max_topics, "titles": SAMPLE_TITLES},
    ):
        titles.setdefault((level, topic), []).append(title)
    prompts = []
    for level, topic, terms in topics:
        messages = build_messages(list(terms), titles.get((level, topic), []))
        prompts.append(TopicPrompt(level, topic, list(terms), messages, prompt_key(model, messages)))
    return prompts


def build_messages(terms: list[str], titles: list[str]) -> list[dict[str, str]]:
    """The chat messages that ask for one topic's label."""
    lines = [f"Distinctive title terms: {', '.join(terms[:PROMPT_TERMS]) or '(none)'}", "Titles near its centre:"]
    for title in titles:
        text = " ".join(title.split())
        if len(text) > MAX_TITLE_CHARS:
            text = text[: MAX_TITLE_CHARS - 3].rstrip() + "..."
        lines.append(f"- {text}")
    lines.append("Topic name:")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]


def prompt_key(model: str, messages: list[dict[str, str]]) -> str:
    """SHA-256 (hex) of the model and the whole request: the key of topic_label_cache."""
    request: dict[str, Any] = {"model": model, "messages": messages, "temperature": 0, "max_tokens": MAX_TOKENS}
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def clean_label(answer: str | None) -> str:
    """The first line of a model's answer, without a "Topic:" prefix, quotes or a final period, cut to at most
    six words and 60 characters (at a word boundary). Empty when nothing usable is left."""
    line = next((s.strip() for s in (answer or "").splitlines() if s.strip()), "")
    line = _PREFIX.sub("", line).strip().strip(_QUOTES).strip()
    words = line.split()[:MAX_LABEL_WORDS]
    text = ""
    for word in words:
        candidate = f"{text} {word}" if text else word
        if len(candidate) > MAX_LABEL_CHARS:
            break
        text = candidate
    if not text and words:
        text = words[0][:MAX_LABEL_CHARS]
    return text.rstrip(" .,;:-").strip(_QUOTES).strip()


def _ask(client: openai.OpenAI, model: str, messages: list[dict[str, str]], api_key: str | None) -> str:
    where = f"model {model!r} (ATLAS_LLM_MODEL) at {str(client.base_url).rstrip('/')}"
    try:
        response = client.chat.completions.create(
            model=model, messages=messages, temperature=0, max_tokens=MAX_TOKENS,  # type: ignore[arg-type]
        )
    except openai.APIStatusError as exc:
        raise LlmLabelError(
            f"the topic label request to {where} failed with HTTP {exc.status_code}: {_redact(str(exc), api_key)}"
        ) from None
    except openai.OpenAIError as exc:
        raise LlmLabelError(
            f"the topic label request to {where} failed: {type(exc).__name__}: {_redact(str(exc), api_key)}"
        ) from None
    try:
        return response.choices[0].message.content or ""
    except (AttributeError, IndexError, TypeError) as exc:
        raise LlmLabelError(f"{where} sent a malformed chat completion: {exc}") from None


def _redact(text: str, api_key: str | None) -> str:
    return text.replace(api_key, "***") if api_key else text
