"""Writing benchmark figures into docs/benchmarks.md, one replaceable section per benchmark.

Every section records the command, the commit (and whether the tree was dirty), the date and the
machine's load average when the script started and when it wrote. Absolute latencies are written only
from a quiet machine (1-minute load average <= QUIET_LOAD at both ends): otherwise `write_section`
refuses, and the script's printed ratios (taken side by side in one run) are what is left.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
QUIET_LOAD = 1.0  # 1-minute load average at or below which absolute latencies may be written
STARTED_LOAD = os.getloadavg()  # when the benchmark script imported this module: its start
HEADER = """# Benchmarks

Every figure here was printed by a script in `bench/`, and each section names the command that made
it. Sections are rewritten when their script runs again. Comparisons are taken side by side in one
run (ratios), since the machine is shared and noisy.

Each section records its commit (marked `(dirty tree)` when uncommitted changes were measured) and
the load average (1/5/15 min) when the script started and when it wrote. `bench/report.py` writes
absolute latencies only when the 1-minute load average was at most 1.0 at both ends; otherwise the
script prints its figures and ratios and leaves the section as it was. Sections written before this
rule (2026-12) record no load average unless their text gives one.

Quoting a figure elsewhere: wrap it as `<!--m-->0.9919<!--/m-->` in Markdown, or write
`measured: 0.9919` in a code comment or SQL header, exactly as it appears here;
tests/test_quoted_figures.py checks that every marked figure in README.md, docs/, app/, etl/ and
sql/ appears in this file.
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
    """The short commit, with "(dirty tree)" when tracked files differ from it: figures of uncommitted code.
    docs/benchmarks.md itself is left out: it is what the benchmarks write, not what they measure."""
    root = DOC.parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=root).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)docs/benchmarks.md"],
                               capture_output=True, text=True, cwd=root).stdout.strip()
    except OSError:
        return "?"
    return f"{commit} (dirty tree)" if dirty else commit


class BusyMachine(RuntimeError):
    """Absolute latencies measured while other work shared the machine: not written."""


def is_quiet(*loads: tuple[float, float, float]) -> bool:
    """Every given load average's 1-minute figure is at or below QUIET_LOAD."""
    return all(load[0] <= QUIET_LOAD for load in loads)


def settle(limit: float = QUIET_LOAD, patience_s: float = 240) -> tuple[float, float, float]:
    """The load average once it has fallen to `limit` (or after `patience_s`): a benchmark's own work
    (16 clients, a model on both cores) lifts the 1-minute figure above 1.0 by itself and it decays
    within a minute or two once the run ends, while another job on the machine keeps it up. So "quiet
    after the run" is read here, after the run's own processes have stopped."""
    deadline = time.monotonic() + patience_s
    while os.getloadavg()[0] > limit and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()


def write_section(
    name: str, body: str, *, latencies: bool = True, load_before: tuple[float, float, float] | None = None,
    patience_s: float = 240,
) -> None:
    """Replace (or append) the section `name` of docs/benchmarks.md.

    `latencies`: the body holds absolute times (ms, s, rows/s); then it is written only when the load
    average was quiet when the run started (`load_before`, default: when this module was imported) and is
    quiet now (waiting up to `patience_s` for the run's own load to decay, bench.report.settle; 0 for a run
    that writes on between its stages), else BusyMachine is raised and nothing is written. Ratios and
    quality figures (recall, MRR) pass latencies=False.
    """
    before = load_before if load_before is not None else STARTED_LOAD
    after = os.getloadavg()
    if latencies and is_quiet(before) and not is_quiet(after):
        after = settle(patience_s=patience_s)  # the run's own load decays once it stops; another job's does not
    if latencies and not is_quiet(before, after):
        raise BusyMachine(
            f"section {name!r} not written: load average {load_average_text(before)} at the start, "
            f"{load_average_text(after)} now (quiet is <= {QUIET_LOAD} on the 1-minute figure); absolute "
            "latencies are written only from a quiet machine: compare the ratios printed above, or run again"
        )
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {name}\n\n"
        f"Command: `{command_line()}`  \n"
        f"Run: {stamp}, commit {git_revision()}, {machine()}; load average (1/5/15 min) "
        f"{load_average_text(before)} at the start, {load_average_text(after)} at the end\n\n"
        f"{body.strip()}\n<!-- /bench:{name} -->\n"
    )
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    DOC.write_text(text)
    print(f"written to {DOC.relative_to(DOC.parent.parent)} (section {name!r})")


def write_when_quiet(name: str, body: str, *, load_before: tuple[float, float, float] | None = None,
                     patience_s: float = 240) -> bool:
    """write_section for a body with latencies; on a busy machine, say why nothing was written (the
    run's figures stay in its printed output) and return False instead of raising."""
    try:
        write_section(name, body, load_before=load_before, patience_s=patience_s)
    except BusyMachine as busy:
        print(busy, flush=True)
        return False
    return True


def maintenance_workers_text(workers: int) -> str:
    """Who built an index, as the bench sections say it: the leader builds too, so N workers are N + 1
    processes ("1 parallel maintenance worker and the leader"; 0: "the leader alone")."""
    if workers == 0:
        return "the leader alone"
    return f"{workers} parallel maintenance worker{'' if workers == 1 else 's'} and the leader"


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def load_average_text(values: tuple[float, float, float] | None = None) -> str:
    """The 1/5/15-minute load average (os.getloadavg), as "0.52/0.61/0.70": other work on the machine."""
    one, five, fifteen = values if values is not None else os.getloadavg()
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"
