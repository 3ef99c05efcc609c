"""Lineage: the chain from a model back to the raw bytes, built from what already records it.

The stage records (``records/<stage>.json``: inputs and outputs with their MD5s, config
hash, seed, commit, environment, times), the model's own files (``model.json``, the config
it was trained with) and ``dvc.lock`` (each stage's params and dependency hashes, the raw
file's DVC hash). Each link between two stages is *verified* when the MD5 the later stage
recorded for its input equals the MD5 the earlier stage recorded for that output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CHAIN = ("train", "features", "prepare")  # from the model back towards the data
STAGE_PARAMS = {
    "prepare": ("seed", "data"),
    "features": ("features",),
    "train": ("seed", "model", "trainer", "train", "uncertainty", "calibration"),
}


@dataclass
class Node:
    id: str
    kind: str  # model | stage | data
    label: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Edge:
    source: str  # the later node
    target: str  # what it came from
    verified: bool | None  # hashes matched; None when there was nothing to compare
    via: list[str] = field(default_factory=list)  # the files that link them


@dataclass
class Lineage:
    nodes: list[Node]
    edges: list[Edge]

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": [asdict(n) for n in self.nodes], "edges": [asdict(e) for e in self.edges]}


def build_lineage(
    model: dict[str, Any],
    records: dict[str, dict],
    config: dict | None,
    dvc_lock: dict | None,
    data_card: dict | None = None,
) -> Lineage:
    """``model``: id, label and attributes of the model node; ``records``: stage records;
    ``data_card``: the data's card as the model card recorded it (shown on the data node)."""
    nodes = [Node("model", "model", model["label"], model["attrs"])]
    edges: list[Edge] = []
    later, later_inputs = "model", {p: h for p, h in model.get("files", {}).items()}
    for stage in CHAIN:
        record = records.get(stage)
        if record is None:
            break
        nodes.append(Node(stage, "stage", stage, _stage_attrs(stage, record, config, dvc_lock)))
        edges.append(_link(later, later_inputs, stage, record))
        later, later_inputs = stage, record.get("inputs", {})
    prepare = records.get("prepare")
    if prepare is not None:
        attrs = _data_attrs(prepare["data"], dvc_lock)
        if data_card:
            attrs["card"] = data_card
        nodes.append(Node("data", "data", _data_label(prepare["data"]), attrs))
        edges.append(Edge("prepare", "data", None))
    return Lineage(nodes, edges)


def _link(later: str, inputs: dict[str, str], stage: str, record: dict) -> Edge:
    outputs = record.get("outputs", {})
    shared = [p for p in inputs if p in outputs]
    if later == "model":
        # The model's files are the train stage's outputs, by content: every one of them
        # must be among what the record names, or the record describes another model (a
        # shared transform file alone must not make the link look verified).
        recorded = set(outputs.values())
        matched = [h for h in inputs.values() if h in recorded]
        verified = len(matched) == len(inputs) if inputs else None
        return Edge(later, stage, verified, sorted(matched)[:3])
    if not shared:
        return Edge(later, stage, None)
    return Edge(later, stage, all(inputs[p] == outputs[p] for p in shared), shared)


def _stage_attrs(stage: str, record: dict, config: dict | None, dvc_lock: dict | None):
    env = record.get("environment", {})
    attrs = {
        "finished_at": record.get("finished_at"),
        "seed": record.get("seed"),
        "config_hash": record.get("config_hash"),
        "git_commit": (record.get("git") or {}).get("commit"),
        "git_dirty": (record.get("git") or {}).get("dirty"),
        "python": env.get("python"),
        "torch": (env.get("packages") or {}).get("torch"),
        "assayml": (env.get("packages") or {}).get("assayml"),
        "params": _params(stage, config, dvc_lock),
    }
    return {k: v for k, v in attrs.items() if v is not None}


def _params(stage: str, config: dict | None, dvc_lock: dict | None) -> dict[str, Any]:
    locked = ((dvc_lock or {}).get("stages", {}).get(stage) or {}).get("params", {})
    if locked:
        return locked.get("params.yaml", locked)
    return {k: config[k] for k in STAGE_PARAMS.get(stage, ()) if config and k in config}


def _data_label(data: dict[str, Any]) -> str:
    if data.get("source") == "datamodule":
        files = ", ".join(data.get("files") or {}) or "no files (generated)"
        where = f"{data.get('datamodule')} reading {files}"
    else:
        where = data.get("path") or f"built-in {data.get('name')}"
    return f"{where}" + (f"@{data['rev']}" if data.get("rev") else "")


def _data_attrs(data: dict[str, Any], dvc_lock: dict | None) -> dict[str, Any]:
    attrs = {k: v for k, v in data.items() if v is not None}
    for dep in ((dvc_lock or {}).get("stages", {}).get("prepare") or {}).get("deps", []):
        if data.get("path") and str(data["path"]).startswith(dep["path"]):
            attrs["dvc_lock_dep"] = {"path": dep["path"], "md5": dep.get("md5")}
    return attrs


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None
