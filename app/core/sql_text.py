"""Reading SQL files as statements, and naming the object each statement defines.

Used to apply sql/idempotent/ and to check that every object there has exactly one definition. The
splitter knows what PostgreSQL's lexer knows about statement ends: quotes, dollar quotes, comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")


def split_statements(text: str) -> list[str]:
    """The statements of a SQL script, without their final `;`, comments inside kept, empty ones dropped."""
    statements: list[str] = []
    start = i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch in ("'", '"'):
            i += 1
            while i < n:
                if text[i] == ch:
                    if i + 1 < n and text[i + 1] == ch:  # doubled quote inside
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif ch == "$" and (match := _DOLLAR_TAG.match(text, i)) and not _is_identifier_char(text, i - 1):
            tag = match.group(0)
            end = text.find(tag, match.end())
            i = n if end < 0 else end + len(tag)
        elif ch == ";" and not _inside_atomic_body(text[start:i]):
            statements.append(text[start:i])
            i += 1
            start = i
        else:
            i += 1
    statements.append(text[start:])
    return [s.strip() for s in statements if strip_comments(s).strip()]


_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\$([A-Za-z_]*)\$.*?\$\1\$", re.S)


def _inside_atomic_body(pending: str) -> bool:
    """True inside a `begin atomic ... end` body, where `;` ends the body's statements, not ours."""
    words = [w.lower() for w in _WORD.findall(_QUOTED.sub(" ", pending))]
    for index, word in enumerate(words):
        if word == "begin" and index + 1 < len(words) and words[index + 1] == "atomic":
            depth = 0
            for later in words[index:]:
                if later in ("begin", "case"):
                    depth += 1
                elif later == "end":
                    depth -= 1
            return depth > 0
    return False


def _is_identifier_char(text: str, index: int) -> bool:
    return index >= 0 and (text[index].isalnum() or text[index] == "_")


def strip_comments(statement: str) -> str:
    """The statement without leading `--` comment lines (enough to read its head)."""
    lines = [line for line in statement.splitlines() if not line.strip().startswith("--")]
    return "\n".join(lines)


@dataclass(frozen=True)
class SqlObject:
    kind: str  # function, procedure, view, trigger, comment, data, call, grant, drop, do
    name: str  # schema-qualified where the SQL qualifies it; a trigger is "name on table"


_NAME = r"([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)?)"
_PATTERNS = [
    ("function", re.compile(rf"^create\s+(?:or\s+replace\s+)?function\s+{_NAME}\s*\(", re.I)),
    ("procedure", re.compile(rf"^create\s+(?:or\s+replace\s+)?procedure\s+{_NAME}\s*\(", re.I)),
    ("view", re.compile(rf"^create\s+(?:or\s+replace\s+)?view\s+{_NAME}", re.I)),
    ("trigger", re.compile(rf"^create\s+(?:or\s+replace\s+)?trigger\s+(\w+).*?\bon\s+{_NAME}", re.I | re.S)),
    ("comment", re.compile(
        r"^comment\s+on\s+((?:function|procedure|view|column|table|schema|trigger)\s+[\w.]+(?:\s+on\s+[\w.]+)?)",
        re.I)),
    ("data", re.compile(rf"^(?:with\b.*?\b)?insert\s+into\s+{_NAME}", re.I | re.S)),
    ("call", re.compile(rf"^call\s+{_NAME}", re.I)),
    ("grant", re.compile(r"^(grant|revoke)\b", re.I)),
    ("do", re.compile(r"^do\b", re.I)),
    ("drop", re.compile(rf"^drop\s+(\w+)\s+(?:if\s+exists\s+)?{_NAME}", re.I)),
]


# Statements that run something rather than define an object: they may repeat.
NOT_DEFINITIONS = ("call", "grant", "drop", "do", "data")


def defined_objects(text: str) -> list[SqlObject]:
    """Every object a SQL script defines, in order (statements that define nothing known are left out)."""
    return [obj for obj in map(defined_object, split_statements(text)) if obj is not None]


def defined_object(statement: str) -> SqlObject | None:
    """What a statement defines (None for statements that define nothing we track)."""
    head = " ".join(strip_comments(statement).split())
    for kind, pattern in _PATTERNS:
        match = pattern.match(head)
        if not match:
            continue
        if kind == "trigger":
            return SqlObject(kind, f"{match.group(1)} on {match.group(2)}".lower())
        if kind == "comment":
            return SqlObject(kind, " ".join(match.group(1).lower().split()))
        if kind == "drop":
            return SqlObject(kind, f"{match.group(1)} {match.group(2)}".lower())
        if kind in ("grant", "do"):
            return SqlObject(kind, head.lower())
        return SqlObject(kind, match.group(1).lower())
    return None
