"""Lineage as indented text, JSON or Graphviz DOT."""

from __future__ import annotations

import json
from typing import Any

from assayml.lineage.graph import Lineage

MARK = {True: "hash link verified", False: "HASH MISMATCH", None: "no hashes to compare"}


def as_text(lineage: Lineage) -> str:
    links = {e.source: e for e in lineage.edges}
    lines = []
    for depth, node in enumerate(lineage.nodes):
        pad = "   " * depth + ("└─ " if depth else "")
        lines.append(f"{pad}{node.label}")
        for key, value in node.attrs.items():
            if key in ("params", "card"):
                value = _flat(value)
            lines.append(f"{'   ' * depth}   {key}: {value}")
        edge = links.get(node.id)
        if edge is not None and edge.target != "data":
            lines.append(f"{'   ' * depth}   <- {edge.target}: {MARK[edge.verified]}")
    return "\n".join(lines)


def as_json(lineage: Lineage) -> str:
    return json.dumps(lineage.to_dict(), indent=2, default=str)


def as_dot(lineage: Lineage) -> str:
    lines = ["digraph lineage {", "  rankdir=BT;", '  node [shape=box, fontname="Helvetica"];']
    shapes = {"model": "box3d", "stage": "box", "data": "cylinder"}
    for node in lineage.nodes:
        detail = "\\n".join(f"{k}: {_short(v)}" for k, v in node.attrs.items() if k != "params")
        lines.append(
            f'  "{node.id}" [shape={shapes[node.kind]}, label="{_escape(node.label)}'
            f'\\n{_escape(detail)}"];'
        )
    for edge in lineage.edges:
        style = "" if edge.verified is not False else ', color=red, label="mismatch"'
        lines.append(f'  "{edge.target}" -> "{edge.source}" [dir=forward{style}];')
    lines.append("}")
    return "\n".join(lines)


def _flat(params: Any, prefix: str = "") -> str:
    if isinstance(params, dict):
        parts = [_flat(v, f"{prefix}{k}.") for k, v in params.items() if k != "columns"]
        return ", ".join(p for p in parts if p)
    return f"{prefix.rstrip('.')}={params}"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 48 else text[:45] + "..."


def _escape(text: str) -> str:
    return text.replace('"', '\\"')
