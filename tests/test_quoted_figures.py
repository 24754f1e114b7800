"""Figures quoted outside docs/benchmarks.md come from it: every number marked as measured appears there.

The marker convention (docs/benchmarks.md, "Quoting a figure elsewhere"):
- Markdown: `<!--m-->0.9919<!--/m-->` around the number, exactly as docs/benchmarks.md writes it
  (units and words stay outside the marker);
- Python comments, docstrings and SQL headers: `measured: 0.9919` (one number per marker).

docs/benchmarks.md is written by the bench scripts, so a marked figure that is not in it has no source.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "docs" / "benchmarks.md"
MARKDOWN_MARK = re.compile(r"<!--m-->\s*([^<]*?)\s*<!--/m-->")
CODE_MARK = re.compile(r"\bmeasured:\s*([0-9][0-9,]*(?:\.[0-9]+)?)")
NUMBER = re.compile(r"^[0-9][0-9,]*(?:\.[0-9]+)?$")


def quoted_files() -> list[Path]:
    files = [REPO / "README.md"]
    files += [p for p in sorted((REPO / "docs").glob("*.md")) if p != BENCHMARKS]
    for folder, pattern in (("app", "*.py"), ("etl", "*.py"), ("sql", "*.sql")):
        files += sorted((REPO / folder).rglob(pattern))
    return files


def marked_figures(path: Path) -> list[tuple[int, str]]:
    """(line, figure) of every marked figure in one file."""
    pattern = MARKDOWN_MARK if path.suffix == ".md" else CODE_MARK
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        found += [(number, match.group(1)) for match in pattern.finditer(line)]
    return found


def appears_in(figure: str, text: str) -> bool:
    """The figure as a whole number in `text`: not the middle of a longer one (0.99 is not in 0.9919)."""
    return re.search(rf"(?<![0-9.,]){re.escape(figure)}(?![0-9]|[.,][0-9])", text) is not None


def test_marker_extraction_and_matching() -> None:
    assert MARKDOWN_MARK.findall("recall <!--m-->0.9919<!--/m--> at <!--m--> 1.550 <!--/m--> ms") == ["0.9919", "1.550"]
    assert CODE_MARK.findall("# p50 measured: 1,342 s, then measured: 0.90") == ["1,342", "0.90"]
    assert appears_in("0.9919", "| 0.9919 | 1.550 |") and not appears_in("0.99", "| 0.9919 |")
    assert appears_in("1,342", "stage | 1,342 |") and not appears_in("342", "1,342")


def test_every_marked_figure_appears_in_docs_benchmarks() -> None:
    benchmarks = BENCHMARKS.read_text(encoding="utf-8")
    missing, malformed, count = [], [], 0
    for path in quoted_files():
        for line, figure in marked_figures(path):
            count += 1
            where = f"{path.relative_to(REPO)}:{line}: {figure}"
            if not NUMBER.match(figure):
                malformed.append(where)
            elif not appears_in(figure, benchmarks):
                missing.append(where)
    assert not malformed, f"a marker must hold one number, as docs/benchmarks.md writes it: {malformed}"
    assert not missing, f"marked figures that docs/benchmarks.md does not hold (no script measured them): {missing}"
    assert count > 0  # the README quotes measured figures: the markers are in use
