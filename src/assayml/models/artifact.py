"""Save and load a trained model: ``model.json`` (how to rebuild it) + ``model.safetensors``.

Weights are stored with safetensors, never pickled. ``model.json`` records the SHA-256 of
the weights file and loading checks it, so an edited or truncated file is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assayml.errors import ArtifactError

SPEC_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1


@dataclass
class ModelSpec:
    target: str  # builder, as in model._target_
    kwargs: dict[str, Any]  # architecture arguments
    in_features: int
    out_features: int
    task: str  # binary | multiclass | regression
    feature_names: list[str]
    weights_sha256: str = ""
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. fitted temperature

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **asdict(self)}


def weights_bytes(state_dict: dict[str, Any]) -> bytes:
    """The state dict in safetensors form (contiguous CPU tensors, deterministic bytes)."""
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()})


def save_model(out, models_dir: str | Path, spec: ModelSpec, state_dict: dict[str, Any]) -> None:
    """Stage ``model.safetensors`` and ``model.json`` in the output batch ``out``."""
    blob = weights_bytes(state_dict)
    spec.weights_sha256 = hashlib.sha256(blob).hexdigest()
    out.write_bytes(Path(models_dir) / WEIGHTS_FILE, blob)
    out.write_json(Path(models_dir) / SPEC_FILE, spec.to_dict())


def load_spec(models_dir: str | Path) -> ModelSpec:
    path = Path(models_dir) / SPEC_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no trained model here (run `assay train`)") from None
    except ValueError as err:
        raise ArtifactError(f"{path}: unreadable model description: {err}") from err
    if state.pop("format_version", None) != FORMAT_VERSION:
        raise ArtifactError(f"{path}: unsupported model format")
    try:
        return ModelSpec(**state)
    except TypeError as err:
        raise ArtifactError(f"{path}: malformed model description: {err}") from err


def build_for_spec(spec: ModelSpec):
    """The untrained network ``spec`` describes: one network, or its ensemble stacked."""
    from assayml.models.build import build_network
    from assayml.models.ensemble import stack_members

    def one():
        return build_network(spec.target, spec.kwargs, spec.in_features, spec.out_features)

    members = int(spec.extras.get("members", 0))
    return stack_members([one() for _ in range(members)]) if members else one()


def load_model(models_dir: str | Path):
    """Rebuild the network and load its verified weights; returns (module, spec).

    Raises:
        ArtifactError: when a file is missing, unreadable, or its hash does not match.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    spec = load_spec(models_dir)
    path = Path(models_dir) / WEIGHTS_FILE
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: weights file is missing") from None
    if hashlib.sha256(blob).hexdigest() != spec.weights_sha256:
        raise ArtifactError(
            f"{path}: SHA-256 does not match {SPEC_FILE}; the weights were "
            "changed after training (tampered or corrupt), refusing to load"
        )
    try:
        state = load(blob)
    except SafetensorError as err:
        raise ArtifactError(f"{path}: not a readable safetensors file: {err}") from err
    module = build_for_spec(spec)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ArtifactError(f"{path}: weights do not fit the architecture: {err}") from err
    return module.eval(), spec
