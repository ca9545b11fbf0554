"""The project graph as text: ascii for a terminal, mermaid for Markdown, dot for Graphviz."""

from __future__ import annotations

from typing import Any

__all__ = ["render_graph"]


def render_graph(graph: Any, fmt: str = "ascii") -> str:
    order = graph.topological_order()
    edges = [(up.key, key, up.kind) for key in order for up in graph.upstream(key)]
    disabled = graph.disabled()
    if fmt == "mermaid":
        lines = ["flowchart LR"]
        for pipeline in dict.fromkeys(k.split(".", 1)[0] for k in order):
            lines.append(f"  subgraph {pipeline}")
            lines += [f"    {_id(k)}[\"{k.split('.', 1)[1]}\"]" for k in order
                      if k.startswith(pipeline + ".")]
            lines.append("  end")
        lines += [f"  {_id(a)} --> {_id(b)}" for a, b, _ in edges]
        return "\n".join(lines)
    if fmt == "dot":
        lines = ["digraph odibi {", "  rankdir=LR;"]
        for pipeline in dict.fromkeys(k.split(".", 1)[0] for k in order):
            lines.append(f'  subgraph "cluster_{pipeline}" {{ label="{pipeline}";')
            lines += [f'    "{k}";' for k in order if k.startswith(pipeline + ".")]
            lines.append("  }")
        lines += [f'  "{a}" -> "{b}";' for a, b, _ in edges]
        lines.append("}")
        return "\n".join(lines)
    lines = []
    current = None
    for key in order:
        pipeline, name = key.split(".", 1)
        if pipeline != current:
            lines.append(f"{pipeline}")
            current = pipeline
        ups = graph.upstream(key)
        arrow = "  <- " + ", ".join(
            (u.key if not u.key.startswith(pipeline + ".") else u.key.split(".", 1)[1])
            + ("" if u.kind == "depends_on" else f" ({u.kind})") for u in ups) if ups else ""
        flag = "  [disabled]" if key in disabled else ""
        lines.append(f"  └─ {name}{arrow}{flag}")
    return "\n".join(lines)


def _id(key: str) -> str:
    return key.replace(".", "__")
