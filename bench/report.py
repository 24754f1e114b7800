"""Writing benchmark figures into docs/benchmarks.md, one replaceable section per benchmark."""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Every figure here was printed by a script in `bench/`, and each section names the command that made
it. Sections are rewritten when their script runs again. Comparisons are taken side by side in one
run (ratios), since the machine is shared and noisy.
"""


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu or platform.processor()}){memory}, Python {platform.python_version()}"


def command_line() -> str:
    args = [Path(sys.argv[0]).as_posix()] + sys.argv[1:]
    try:
        root = Path(__file__).resolve().parent.parent
        args[0] = str(Path(args[0]).resolve().relative_to(root))
    except ValueError:
        pass
    return ".venv/bin/python " + shlex.join(args)


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=DOC.parent.parent
        ).stdout.strip()
    except OSError:
        return "?"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section `name` of docs/benchmarks.md."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {name}\n\n"
        f"Command: `{command_line()}`  \n"
        f"Run: {stamp}, commit {git_revision()}, {machine()}\n\n{body.strip()}\n<!-- /bench:{name} -->\n"
    )
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    DOC.write_text(text)
    print(f"written to {DOC.relative_to(DOC.parent.parent)} (section {name!r})")


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def load_average_text(values: tuple[float, float, float] | None = None) -> str:
    """The 1/5/15-minute load average (os.getloadavg), as "0.52/0.61/0.70": other work on the machine."""
    one, five, fifteen = values if values is not None else os.getloadavg()
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"
