"""The code imports one way: kernel (app.core) <- etl and app.services <- interfaces (CLI, API).

Every import counts, at the top of a module or inside a function. A test that parses the source, so
an arrow against the layers or an import cycle fails here before anyone reads it in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "etl", "migrations")

# layer -> the layers it may import (itself included)
ALLOWED = {
    "core": {"core"},
    "etl": {"core", "etl"},
    "services": {"core", "services"},
    "api": {"core", "services", "api"},
    "cli": {"core", "services", "etl", "api", "cli"},
    "migrations": {"core", "migrations"},
}


def layer_of(module: str) -> str:
    if module.startswith("app.core"):
        return "core"
    if module.startswith("app.services"):
        return "services"
    if module.startswith("app.api"):
        return "api"
    if module in ("app.cli", "app.__main__"):
        return "cli"
    if module.startswith("etl"):
        return "etl"
    if module.startswith("migrations"):
        return "migrations"
    if module == "app":
        return "core"  # the package marker
    raise AssertionError(f"{module} belongs to no layer: add it to tests/test_layers.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            modules[module_name(path)] = path
    return modules


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in PACKAGES:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph = {}
    for name, path in modules.items():
        targets = imports_of(path, modules)
        # a package's own __init__ is not an arrow (importing app.core.x runs app/__init__ first)
        graph[name] = {t for t in targets if t != name and not name.startswith(t + ".")}
    return graph


def test_every_arrow_follows_the_layers() -> None:
    wrong = [f"{source} ({layer_of(source)}) imports {target} ({layer_of(target)})"
             for source, targets in import_graph().items() for target in sorted(targets)
             if layer_of(target) not in ALLOWED[layer_of(source)]]
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_there_is_no_import_cycle() -> None:
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_function_level_imports() -> None:
    graph = import_graph()
    assert "app.core.migrate" in graph and "app.core.roles" in graph["app.core.migrate"]  # imported in a function


def test_module_names_say_what_they_are() -> None:
    names = [path.name for package in ("app", "etl") for path in (REPO / package).rglob("*.py")]
    for name in ("database.py", "errors.py", "search.py", "models.py"):
        assert names.count(name) <= 1, f"two modules called {name}"
    assert not (REPO / "app" / "api" / "models.py").exists()
