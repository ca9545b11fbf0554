"""The dependency graph of a project's nodes, keyed ``"pipeline.node"``.

Edges come from three places, in this order of precedence: ``depends_on`` (same pipeline),
``inputs`` (``$pipeline.node`` under an alias, any pipeline) and SQL: the names of *earlier* nodes
of the same pipeline that appear as whole words in the node's SQL steps (see docs/architecture.md,
"Node names in SQL"). Later nodes are never inferred, so a column sharing a later node's name
cannot create a cycle.
"""

from __future__ import annotations

import difflib
import heapq
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from odibi_core.config.node import NodeConfig, SqlFileStep, SqlStep
from odibi_core.config.project import ProjectConfig
from odibi_core.errors import ConfigError, ConfigProblem

__all__ = [
    "GraphProblem",
    "NodeRef",
    "ProjectGraph",
    "Upstream",
    "find_graph_problems",
    "sql_texts",
]

UpstreamKind = Literal["depends_on", "inputs", "sql"]


@dataclass(frozen=True)
class NodeRef:
    """One node of the project: its pipeline, name, config and position in its pipeline."""

    pipeline: str
    name: str
    config: NodeConfig = field(compare=False, repr=False)
    index: int

    @property
    def key(self) -> str:
        """``"pipeline.name"``."""
        return f"{self.pipeline}.{self.name}"


@dataclass(frozen=True)
class Upstream:
    """An edge into a node. ``alias`` is the table name the node's SQL uses for the upstream
    output: the node name for ``depends_on`` and ``sql``, the alias for ``inputs``."""

    key: str
    alias: str
    kind: UpstreamKind


@dataclass(frozen=True)
class GraphProblem:
    """A graph problem at ``key_path`` (e.g. ``pipelines[0].nodes[2].depends_on[0]``).

    ``related`` is the key path of another declaration the problem is about (the first of two
    duplicates), so that the loader can name its file and line too.
    """

    key_path: str
    message: str
    fix: str
    related: str | None = None


class ProjectGraph:
    """Nodes and edges of a validated project. Build it with :meth:`build`.

    Example:
        >>> graph = ProjectGraph.build(project.config, base_dir=project.root)  # doctest: +SKIP
        >>> graph.select(tags=["daily"])                                      # doctest: +SKIP
        ['sales.raw_orders', 'sales.clean_orders']
    """

    def __init__(
        self, nodes: Mapping[str, NodeRef], upstream: Mapping[str, list[Upstream]]
    ) -> None:
        self._nodes = dict(nodes)
        self._upstream = {key: list(upstream.get(key, [])) for key in self._nodes}
        self._position = {key: position for position, key in enumerate(self._nodes)}
        self._downstream: dict[str, list[str]] = {key: [] for key in self._nodes}
        for key, edges in self._upstream.items():
            for edge in edges:
                if key not in self._downstream[edge.key]:
                    self._downstream[edge.key].append(key)
        self.nodes: Mapping[str, NodeRef] = MappingProxyType(self._nodes)

    @classmethod
    def build(cls, config: ProjectConfig, *, base_dir: Path | None = None) -> ProjectGraph:
        """The graph of ``config``.

        Args:
            config: the project.
            base_dir: the project file's folder; ``sql_file`` steps are read relative to it for SQL
                inference (skipped when ``None``).

        Edges to nodes that do not exist are left out (:func:`find_graph_problems` reports them);
        of two nodes with the same key, the first is kept.
        """
        nodes: dict[str, NodeRef] = {}
        for pipeline in config.pipelines:
            for index, node in enumerate(pipeline.nodes):
                ref = NodeRef(pipeline=pipeline.pipeline, name=node.name, config=node, index=index)
                nodes.setdefault(ref.key, ref)
        keys = set(nodes)
        upstream: dict[str, list[Upstream]] = {}
        for pipeline in config.pipelines:
            for index, node in enumerate(pipeline.nodes):
                key = f"{pipeline.pipeline}.{node.name}"
                if nodes[key].index == index:
                    earlier = [other.name for other in pipeline.nodes[:index]]
                    upstream[key] = _edges(pipeline.pipeline, node, earlier, keys, base_dir)
        return cls(nodes, upstream)

    def node(self, key: str) -> NodeRef:
        """The node ``"pipeline.name"``.

        Raises:
            KeyError: no such node.
        """
        try:
            return self._nodes[key]
        except KeyError:
            raise KeyError(_unknown_message("node", key, list(self._nodes))) from None

    def upstream(self, key: str) -> list[Upstream]:
        """Direct upstream edges: ``depends_on`` (in order), then ``inputs``, then SQL-inferred."""
        self.node(key)
        return list(self._upstream[key])

    def downstream(self, key: str) -> list[str]:
        """Keys of the nodes that read ``key`` directly, in declaration order."""
        self.node(key)
        return sorted(self._downstream[key], key=self._position.__getitem__)

    def input_source(self, key: str) -> str | None:
        """For a node without ``read``: the key of its first ``depends_on`` node; otherwise
        ``None``."""
        ref = self.node(key)
        if ref.config.read is not None:
            return None
        return next((edge.key for edge in self._upstream[key] if edge.kind == "depends_on"), None)

    def topological_order(self, keys: Iterable[str] | None = None) -> list[str]:
        """``keys`` (default: every node) with each node after its upstream nodes; ties keep
        declaration order.

        Raises:
            ConfigError: an unknown key, or a cycle among ``keys``.
        """
        wanted = list(self._nodes) if keys is None else list(dict.fromkeys(keys))
        for key in wanted:
            self.node(key)
        chosen = set(wanted)
        waiting = {key: {e.key for e in self._upstream[key] if e.key in chosen} for key in wanted}
        ready = [(self._position[key], key) for key, deps in waiting.items() if not deps]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, key = heapq.heappop(ready)
            order.append(key)
            for child in self._downstream[key]:
                if child in waiting and key in waiting[child]:
                    waiting[child].discard(key)
                    if not waiting[child]:
                        heapq.heappush(ready, (self._position[child], child))
        if len(order) < len(wanted):
            done = set(order)
            cycles = _find_cycles([key for key in wanted if key not in done], self._upstream_keys)
            text = "; ".join(" → ".join([*cycle, cycle[0]]) for cycle in cycles)
            raise ConfigError(ConfigProblem(f"Dependency cycle: {text}.",
                                            fix="Remove one of the dependencies in the cycle."))
        return order

    def select(
        self,
        *,
        pipelines: Iterable[str] | None = (),
        nodes: Iterable[str] | None = (),
        tags: Iterable[str] | None = (),
        include_upstream: bool = True,
    ) -> list[str]:
        """Keys of the selected nodes, in topological order.

        Within one kind the filters are a union (``tags=["a", "b"]``: either tag); across kinds an
        intersection (``pipelines`` AND ``tags``). No filter selects every node. ``nodes`` accepts
        ``"pipeline.name"`` or a bare ``"name"`` that is unique across pipelines. Disabled nodes are
        not removed: see :meth:`disabled`.

        Raises:
            ConfigError: an unknown pipeline, node or tag (with a did-you-mean), or an ambiguous
                bare node name.
        """
        problems: list[ConfigProblem] = []
        chosen = set(self._nodes)
        pipelines, nodes, tags = list(pipelines or ()), list(nodes or ()), list(tags or ())
        if pipelines:
            known = list(dict.fromkeys(ref.pipeline for ref in self._nodes.values()))
            problems += [_unknown_problem("pipeline", name, known)
                         for name in pipelines if name not in known]
            chosen &= {key for key, ref in self._nodes.items() if ref.pipeline in pipelines}
        if nodes:
            picked: set[str] = set()
            for name in nodes:
                key, problem = self._resolve_node(name)
                if problem:
                    problems.append(problem)
                else:
                    picked.add(key)  # type: ignore[arg-type]
            chosen &= picked
        if tags:
            known = sorted({tag for ref in self._nodes.values() for tag in ref.config.tags})
            problems += [_unknown_problem("tag", tag, known) for tag in tags if tag not in known]
            chosen &= {key for key, ref in self._nodes.items() if set(ref.config.tags) & set(tags)}
        if problems:
            raise ConfigError(problems)
        if include_upstream:
            chosen |= self._ancestors(chosen)
        return self.topological_order(key for key in self._nodes if key in chosen)

    def disabled(self) -> set[str]:
        """Nodes with ``enabled: false`` and everything downstream of them."""
        start = {key for key, ref in self._nodes.items() if not ref.config.enabled}
        return start | self._descendants(start)

    # --- helpers ---

    def _upstream_keys(self, key: str) -> list[str]:
        return [edge.key for edge in self._upstream[key]]

    def _ancestors(self, keys: Iterable[str]) -> set[str]:
        return _reach(keys, self._upstream_keys)

    def _descendants(self, keys: Iterable[str]) -> set[str]:
        return _reach(keys, self._downstream.__getitem__)

    def _resolve_node(self, name: str) -> tuple[str | None, ConfigProblem | None]:
        if name in self._nodes:
            return name, None
        matches = [key for key, ref in self._nodes.items() if ref.name == name]
        if len(matches) == 1:
            return matches[0], None
        if len(matches) > 1:
            return None, ConfigProblem(
                f"Node name '{name}' is in several pipelines: {', '.join(matches)}.",
                fix=f"Name the node with its pipeline: {' or '.join(matches)}.")
        known = [*self._nodes, *(ref.name for ref in self._nodes.values())]
        return None, _unknown_problem("node", name, known)


# --- building edges ---------------------------------------------------------------------------

_SQL_NOISE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.DOTALL)
_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*")


def sql_texts(node: NodeConfig, base_dir: Path | None) -> list[str]:
    """The SQL of a node's steps: inline SQL and, when ``base_dir`` is given, ``sql_file``s that
    exist."""
    texts: list[str] = []
    for step in node.steps:
        if isinstance(step, SqlStep):
            texts.append(step.sql)
        elif isinstance(step, SqlFileStep) and base_dir is not None:
            path = base_dir / step.sql_file
            if path.is_file():
                texts.append(path.read_text(encoding="utf-8"))
    return texts


def _sql_words(texts: Iterable[str]) -> set[str]:
    """Lower-cased words of SQL, without comments and string literals."""
    return {word.lower() for text in texts for word in _WORD.findall(_SQL_NOISE.sub(" ", text))}


def _edges(
    pipeline: str,
    node: NodeConfig,
    earlier: list[str],
    keys: Collection[str],
    base_dir: Path | None,
) -> list[Upstream]:
    edges = [Upstream(f"{pipeline}.{name}", name, "depends_on")
             for name in node.depends_on if f"{pipeline}.{name}" in keys]
    edges += [Upstream(ref, alias, "inputs")
              for alias, ref in node.input_refs.items() if ref in keys]
    words = _sql_words(sql_texts(node, base_dir))
    if words:
        # An inputs alias shadows an earlier node of the same name inside SQL.
        taken = set(node.depends_on) | set(node.inputs)
        for name in dict.fromkeys(earlier):
            if name.lower() in words and name not in taken and name != node.name:
                edges.append(Upstream(f"{pipeline}.{name}", name, "sql"))
    return edges


def _reach(start: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for nxt in step(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _find_cycles(order: list[str], deps: Callable[[str], Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected knot reachable from ``order``, each as a list of keys
    where every key depends on the next (and the last on the first)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    for start in order:
        if start in state:
            continue
        state[start] = 1
        path = [start]
        stack = [iter(deps(start))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(deps(nxt)))
            elif state[nxt] == 1:
                cycle = path[path.index(nxt):]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    cycles.append(cycle)
    return cycles


# --- problems ---------------------------------------------------------------------------------


def _unknown_message(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"Unknown {kind} '{name}'.{hint}"


def _unknown_problem(kind: str, name: str, known: list[str]) -> ConfigProblem:
    listed = ", ".join(dict.fromkeys(known)) or "(none)"
    return ConfigProblem(_unknown_message(kind, name, known), fix=f"Use one of: {listed}.")


def find_graph_problems(
    config: ProjectConfig, *, base_dir: Path | None = None, skip: Collection[tuple[int, int]] = ()
) -> list[GraphProblem]:
    """Duplicate names, unknown ``depends_on`` / ``inputs`` targets, nodes with nothing to read,
    and dependency cycles.

    Args:
        config: the project (possibly partly validated, see ``skip``).
        base_dir: the project file's folder, for ``sql_file`` steps.
        skip: positions ``(pipeline index, node index)`` of nodes whose own checks to skip
            (stand-ins for nodes that failed validation).
    """
    problems: list[GraphProblem] = []
    first_pipeline: dict[str, int] = {}
    for i, pipeline in enumerate(config.pipelines):
        if pipeline.pipeline in first_pipeline:
            first = first_pipeline[pipeline.pipeline]
            problems.append(GraphProblem(
                f"pipelines[{i}].pipeline", f"Pipeline name '{pipeline.pipeline}' is used twice.",
                "Give each pipeline its own name.", related=f"pipelines[{first}]"))
        else:
            first_pipeline[pipeline.pipeline] = i
        first_node: dict[str, int] = {}
        for j, node in enumerate(pipeline.nodes):
            if node.name in first_node:
                problems.append(GraphProblem(
                    f"pipelines[{i}].nodes[{j}].name",
                    f"Node name '{node.name}' is used twice in pipeline '{pipeline.pipeline}'.",
                    "Give each node of a pipeline its own name.",
                    related=f"pipelines[{i}].nodes[{first_node[node.name]}]"))
            else:
                first_node[node.name] = j

    graph = ProjectGraph.build(config, base_dir=base_dir)
    keys = list(graph.nodes)
    for i, pipeline in enumerate(config.pipelines):
        names = [node.name for node in pipeline.nodes]
        for j, node in enumerate(pipeline.nodes):
            key = f"{pipeline.pipeline}.{node.name}"
            if (i, j) in skip:
                continue
            where = f"pipelines[{i}].nodes[{j}]"
            problems += _depends_on_problems(config, pipeline.pipeline, node, names, where)
            problems += _inputs_problems(node, keys, where)
            if (node.read is None and not node.depends_on and not node.inputs
                    and graph.nodes.get(key) is not None and not graph.upstream(key)):
                problems.append(GraphProblem(
                    where,
                    f"[{key}] Nothing to read: the node has no read, no depends_on and no inputs.",
                    "Add read: {connection: ..., format: ..., path: ...}, or depends_on: [an "
                    "earlier node], or inputs: {alias: $pipeline.node}."))
    problems += _cycle_problems(config, graph)
    return problems


def _depends_on_problems(
    config: ProjectConfig, pipeline: str, node: NodeConfig, names: list[str], where: str
) -> list[GraphProblem]:
    problems = []
    for k, name in enumerate(node.depends_on):
        if name in names:
            continue
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        elsewhere = [p.pipeline for p in config.pipelines if any(n.name == name for n in p.nodes)]
        if elsewhere:
            other = f"{elsewhere[0]}.{name}"
            fix = (f"depends_on only names nodes of the same pipeline; to read {other} use "
                   f"inputs: {{{name}: ${other}}}.")
        else:
            fix = f"Use one of the nodes of pipeline '{pipeline}': {', '.join(names)}."
        problems.append(GraphProblem(
            f"{where}.depends_on[{k}]",
            f"[{pipeline}.{node.name}] depends_on names '{name}', which is not a node of pipeline "
            f"'{pipeline}'.{hint}", fix))
    return problems


def _inputs_problems(node: NodeConfig, keys: list[str], where: str) -> list[GraphProblem]:
    problems = []
    for alias, ref in node.input_refs.items():
        if ref in keys:
            continue
        close = difflib.get_close_matches(ref, keys, n=1)
        hint = f" Did you mean '${close[0]}'?" if close else ""
        pipeline = ref.split(".")[0]
        pipelines = list(dict.fromkeys(key.split(".")[0] for key in keys))
        what = "a node" if pipeline in pipelines else f"a node (there is no pipeline '{pipeline}')"
        problems.append(GraphProblem(
            f"{where}.inputs.{alias}", f"inputs.{alias} names '${ref}', which is not {what}.{hint}",
            f"Write $pipeline.node with an existing node: {', '.join('$' + key for key in keys)}."))
    return problems


def _cycle_problems(config: ProjectConfig, graph: ProjectGraph) -> list[GraphProblem]:
    position = {key: index for index, key in enumerate(graph.nodes)}
    paths = {f"{p.pipeline}.{n.name}": f"pipelines[{i}].nodes[{j}]"
             for i, p in enumerate(config.pipelines) for j, n in enumerate(p.nodes)}
    problems = []
    for cycle in _find_cycles(list(graph.nodes), graph._upstream_keys):
        start = min(range(len(cycle)), key=lambda index: position[cycle[index]])
        cycle = cycle[start:] + cycle[:start]
        first, nxt = cycle[0], cycle[1 % len(cycle)]
        edge = next(e for e in graph.upstream(first) if e.key == nxt)
        node = graph.node(first).config
        if edge.kind == "depends_on":
            key_path = f"{paths[first]}.depends_on[{node.depends_on.index(edge.alias)}]"
        elif edge.kind == "inputs":
            key_path = f"{paths[first]}.inputs.{edge.alias}"
        else:
            key_path = f"{paths[first]}.transform"
        if len(cycle) > 1:
            message = f"Dependency cycle: {' → '.join([*cycle, cycle[0]])}."
        else:
            message = f"Dependency cycle: {first} depends on itself."
        problems.append(GraphProblem(
            key_path, message,
            "Each arrow points at what a node depends on (depends_on, inputs or a node named in "
            "its SQL); remove one of them so the nodes can run in order."))
    return problems
