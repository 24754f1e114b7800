"""Stream the elements of an XML file that hold one paper each (OAI-PMH `record`, Atom `entry`), with
the line where each starts, using expat (no DTDs or external entities are read)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from app.core.records import StructuralError
from etl.sources.detect import GZIP_ERRORS, open_binary

_CHUNK = 1 << 16


@dataclass
class Element:
    """An XML element by its local name (namespace in `namespace`), its attributes, text and children."""

    name: str
    namespace: str
    attributes: dict[str, str]
    line: int
    children: list[Element] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The element's own text, whitespace collapsed."""
        return " ".join("".join(self.parts).split())

    def find(self, name: str) -> Element | None:
        return next((child for child in self.children if child.name == name), None)

    def findall(self, name: str) -> list[Element]:
        return [child for child in self.children if child.name == name]

    def text_of(self, name: str) -> str | None:
        child = self.find(name)
        return child.text or None if child is not None else None

    def descendant(self, name: str) -> Element | None:
        for child in self.children:
            if child.name == name:
                return child
            found = child.descendant(name)
            if found is not None:
                return found
        return None


def _split(name: str) -> tuple[str, str]:
    namespace, _, local = name.rpartition(" ")
    return local, namespace


def iter_elements(path: Path, wanted: frozenset[str], notices: list[Element] | None = None) -> Iterator[Element]:
    """Every element of `path` whose local name is in `wanted` (not nested in another wanted one), whole.

    `notices`: also collects top-level elements named `error` or `resumptionToken` (OAI-PMH).
    Malformed XML raises StructuralError naming the file and line when it is reached.
    """
    done: list[Element] = []
    stack: list[Element] = []
    collecting = 0  # depth of the wanted element being built, 0 when none

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal collecting
        local, namespace = _split(name)
        if collecting:
            element = Element(local, namespace, {_split(k)[0]: v for k, v in attributes.items()},
                              parser.CurrentLineNumber)
            stack[-1].children.append(element)
            stack.append(element)
        elif local in wanted or (notices is not None and local in ("error", "resumptionToken")):
            element = Element(local, namespace, {_split(k)[0]: v for k, v in attributes.items()},
                              parser.CurrentLineNumber)
            stack.append(element)
            collecting = 1
            return
        else:
            return
        collecting += 1

    def end(name: str) -> None:
        nonlocal collecting
        if not collecting:
            return
        element = stack.pop()
        collecting -= 1
        if collecting == 0:
            if element.name in wanted:
                done.append(element)
            elif notices is not None:
                notices.append(element)

    def text(data: str) -> None:
        if collecting:
            stack[-1].parts.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    with open_binary(path) as stream:
        while True:
            try:
                block = stream.read(_CHUNK)
            except GZIP_ERRORS as exc:
                raise StructuralError(f"{path}: corrupt or truncated gzip data: {exc}") from None
            try:
                parser.Parse(block, not block)
            except expat.ExpatError as exc:
                reason = expat.errors.messages[exc.code]
                raise StructuralError(f"{path}: line {exc.lineno}: not well-formed XML: {reason}") from None
            yield from done
            done.clear()
            if not block:
                return
