"""The import graph of odibi's packages: no cycles, and the layers point one way.

Every import of an odibi module counts, at module level and inside functions alike (an import
placed inside a function only hides a cycle; it does not break it); ``from pkg import name`` is an
edge to the submodule ``pkg.name`` when there is one. Imports under ``if TYPE_CHECKING:`` are
skipped by the cycle check: they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The packages whose import graph must have no cycle. Adding a package here is the whole change.
ACYCLIC_PACKAGES = ["odibi_core", "odibi_dagster"]

#: Packages of odibi_core that sit below engines/: they may not import it (engines import them).
BELOW_ENGINES = ["odibi_core.config", "odibi_core.connections", "odibi_core.storage"]


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``file:line``."""

    source: str
    target: str
    file: str
    line: int
    type_checking: bool

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.file}:{self.line})"


def _modules(packages: Sequence[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST, type_checking: bool = False
             ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement in ``node``, at any depth, with whether it is under
    ``if TYPE_CHECKING:``."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, type_checking
        return
    if isinstance(node, ast.If) and _is_type_checking(node):
        for statement in node.body:
            yield from _imports(statement, True)
        for statement in node.orelse:
            yield from _imports(statement, type_checking)
        return
    for child in ast.iter_child_nodes(node):
        yield from _imports(child, type_checking)


def _imported_names(module: str, is_package: bool,
                    node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names ``node`` imports (``from a import b`` -> ``a.b``, else ``a``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def import_edges(packages: Sequence[str]) -> list[Edge]:
    """Every import among the modules of ``packages`` (see the module docstring)."""
    modules = _modules(packages)

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, type_checking in _imports(tree):
            names = _imported_names(module, is_package, node)
            if isinstance(node, ast.ImportFrom):  # the submodule when there is one, else pkg
                subs = [n for n in names[:-1] if n in modules]
                names = subs if len(subs) == len(names) - 1 else [*subs, names[-1]]
            for target in {t for t in map(owner, names) if t is not None and t != module}:
                edges.append(Edge(module, target, str(path.relative_to(ROOT)), node.lineno,
                                  type_checking))
    return edges


def import_cycles(packages: Sequence[str]) -> list[list[Edge]]:
    """The strongly connected components of the runtime import graph of ``packages`` with more
    than one module, each as the edges inside it."""
    edges = [e for e in import_edges(packages) if not e.type_checking]
    graph: dict[str, set[str]] = {m: set() for m in _modules(packages)}
    for edge in edges:
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(start: str) -> None:  # Tarjan, iterative (no recursion limit)
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [sorted((e for e in edges if e.source in c and e.target in c),
                   key=lambda e: (e.source, e.target, e.line)) for c in components]


def _describe(cycles: list[list[Edge]]) -> str:
    lines = []
    for cycle in cycles:
        members = sorted({e.source for e in cycle})
        lines.append(f"cycle of {len(members)} modules: {', '.join(members)}")
        lines += [f"    {edge}" for edge in cycle]
    return "\n".join(lines)


def _assert_acyclic(packages: Sequence[str]) -> None:
    cycles = import_cycles(packages)
    assert not cycles, (
        "Import cycles (break each by moving code to the module it belongs to, not by moving "
        "an import into a function):\n" + _describe(cycles))


def test_no_import_cycle() -> None:
    _assert_acyclic(ACYCLIC_PACKAGES)


def test_config_connections_and_storage_import_nothing_from_engines() -> None:
    wrong = [e for e in import_edges(["odibi_core"])
             if any(e.source == p or e.source.startswith(p + ".") for p in BELOW_ENGINES)
             and (e.target == "odibi_core.engines" or e.target.startswith("odibi_core.engines."))]
    assert not wrong, ("config/, connections/ and storage/ must not import engines/ (engines "
                       "import them):\n" + "\n".join(f"    {e}" for e in wrong))


def test_odibi_core_never_imports_dagster() -> None:
    wrong = []
    for module, path in _modules(["odibi_core"]).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, _ in _imports(tree):
            for name in _imported_names(module, path.name == "__init__.py", node):
                top = name.split(".")[0]
                if top in ("dagster", "odibi_dagster") or top.startswith("dagster_"):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not wrong, "odibi_core must stay framework-free:\n" + "\n".join(sorted(set(wrong)))


# ---- the checker itself ------------------------------------------------------------------------
def _package(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import thing\n",
        "pkg/b.py": "def thing():\n    from pkg import a\n    return a\n",
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
        "pkg/d.py": "from pkg import c\n",
    })
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    (cycle,) = import_cycles(["pkg"])
    assert [str(e) for e in cycle] == ["pkg.a -> pkg.b (pkg/a.py:1)",
                                       "pkg.b -> pkg.a (pkg/b.py:2)"]
    with pytest.raises(AssertionError, match=r"pkg\.b -> pkg\.a \(pkg/b\.py:2\)"):
        _assert_acyclic(["pkg"])
    assert any(e.type_checking and e.target == "pkg.a" for e in import_edges(["pkg"]))
