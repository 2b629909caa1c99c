"""The import graph of every tiergate package: no cycles between modules, imports run one way.

The graph is read from the source with ``ast`` (imports inside functions and ``TYPE_CHECKING``
blocks included, relative imports resolved, ``from pkg import module`` counted as an import of
``pkg.module``). Layers, lowest first: ``plugin.core`` ← ``nlp`` ← ``connectors`` ← ``localdesk``;
``runtime``; ``plugin.analytics`` and ``jobs``; the shell (the top-level modules of ``plugin/``).
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("plugin", "nlp", "jobs", "connectors", "localdesk", "runtime")

# package -> the packages its modules may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "plugin.core": set(),
    "nlp": {"plugin.core"},
    "connectors": {"plugin.core", "nlp"},
    "localdesk": {"plugin.core", "nlp", "connectors"},
    "runtime": {"plugin.core", "nlp", "connectors"},
    "plugin.analytics": {"plugin.core", "nlp", "connectors", "runtime"},
    "jobs": {"plugin.core", "nlp", "connectors", "runtime", "plugin.analytics"},
    "plugin": {"plugin.core", "nlp", "connectors", "localdesk", "runtime", "plugin.analytics", "jobs"},
}


def modules() -> dict[str, Path]:
    """Dotted name (without ``tiergate.``) -> source file, for every module of every package."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(known: dict[str, Path]) -> dict[str, dict[str, int]]:
    """module -> {imported module: line of the first such import}."""
    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("tiergate.")]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").startswith("tiergate."):
                    target = node.module
                else:
                    continue
                # ``from pkg import module`` imports pkg.module; ``from pkg import name``, pkg
                names = [f"{target}.{a.name}" if f"{target}.{a.name}".removeprefix("tiergate.") in known
                         else target for a in node.names]
            else:
                continue
            for name in names:
                name = name.removeprefix("tiergate.")
                found = _resolve(name, known)
                if found and found != module:
                    graph[module].setdefault(found, node.lineno)
    return graph


def find_cycles(graph: dict[str, dict[str, int]] | dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    nodes = set(graph) | {w for ws in graph.values() for w in ws}
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "plugin" and len(parts) > 1 and parts[1] in ("core", "analytics"):
        return ".".join(parts[:2])
    return parts[0]


def test_the_graph_is_read_and_not_empty():
    known = modules()
    graph = import_graph(known)
    assert len(known) >= 100, sorted(known)
    assert "plugin.core.actions" in graph["plugin.core.decide"]


def test_the_cycle_finder_finds_a_two_module_cycle():
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}}) == []


def test_no_import_cycles():
    cycles = find_cycles(import_graph(modules()))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_packages_import_one_way():
    known = modules()
    bad = []
    for module, imported in sorted(import_graph(known).items()):
        for target, line in sorted(imported.items()):
            src, dst = layer(module), layer(target)
            if src != dst and dst not in ALLOWED[src]:
                path = known[module].relative_to(ROOT)
                bad.append(f"{path}:{line}: {module} imports {target} ({src} may not import {dst})")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)
