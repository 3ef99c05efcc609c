"""Save and load a trained model: ``model.json`` (how to rebuild it) + ``model.safetensors``.

Weights are stored with safetensors, never pickled. ``model.json`` records the SHA-256 of
the weights file and loading checks it, so an edited or truncated file is refused; the
folder's ``manifest.json`` (:mod:`assayml.models.manifest`) covers every file, ``model.json``
included. Loading imports the builder ``model.json`` names only when the project trusts it
(:mod:`assayml.models.trust`). A folder saved before manifests existed loads with
assayml's own builders only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assayml.errors import ArtifactError
from assayml.models.manifest import MANIFEST_FILE, seal_model, verify_manifest
from assayml.models.trust import BuilderTrust, builtin_trust, project_trust

__all__ = [
    "MANIFEST_FILE",
    "SPEC_FILE",
    "WEIGHTS_FILE",
    "ModelSpec",
    "build_for_spec",
    "load_model",
    "load_spec",
    "save_model",
    "seal_model",  # re-exported: the save path's last step
    "weights_bytes",
]

SPEC_FILE = "model.json"
LIGHTNING_MODULE = "lightning_module"
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
    # builder: ``target`` builds a network from the widths; lightning_module: ``target`` is
    # a user's LightningModule class and ``kwargs`` its constructor arguments
    kind: str = "builder"

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **asdict(self)}


def weights_bytes(state_dict: dict[str, Any]) -> bytes:
    """The state dict in safetensors form (contiguous CPU tensors, deterministic bytes)."""
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()})


def save_model(out, models_dir: str | Path, spec: ModelSpec, state_dict: dict[str, Any]) -> None:
    """Stage ``model.safetensors`` and ``model.json`` in the output batch ``out``.

    Once every other file of the folder is staged, :func:`seal_model` adds the manifest.
    """
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


def build_for_spec(spec: ModelSpec, trust: BuilderTrust | None = None):
    """The untrained network ``spec`` describes: one network, or its ensemble stacked.

    ``trust`` decides whether ``spec.target`` may be imported (default: the project's).
    """
    from assayml.models.build import build_network
    from assayml.models.ensemble import stack_members
    from assayml.models.members import SEQUENTIAL, MemberList  # torch: only to build

    trust = trust or project_trust()
    if spec.kind == LIGHTNING_MODULE:
        from assayml.models.user_module import build_user_module

        members = int(spec.extras.get("members", 0))
        if members:
            return MemberList([build_user_module(spec, trust) for _ in range(members)])
        return build_user_module(spec, trust)

    def one():
        return build_network(spec.target, spec.kwargs, spec.in_features, spec.out_features, trust)

    members = int(spec.extras.get("members", 0))
    if not members:
        return one()
    if spec.extras.get("ensemble") == SEQUENTIAL:
        return MemberList([one() for _ in range(members)])
    return stack_members([one() for _ in range(members)])


def load_model(models_dir: str | Path, trust: BuilderTrust | None = None):
    """Verify the folder, rebuild the network and load its weights; returns (module, spec).

    Args:
        models_dir: the models folder.
        trust: which builders ``model.json`` may name (default: :func:`project_trust`).

    Raises:
        ArtifactError: when a file is missing, unreadable, changed or not in the manifest,
            or the builder is not trusted (nothing is imported then).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    sealed = verify_manifest(models_dir)
    spec = load_spec(models_dir)
    trust = _trust_for(models_dir, spec, trust if sealed else None, sealed)
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
    module = build_for_spec(spec, trust)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ArtifactError(f"{path}: weights do not fit the architecture: {err}") from err
    if spec.kind == LIGHTNING_MODULE:
        from assayml.models.user_module import as_predictor

        module = as_predictor(module, spec.task)
    _attach_postprocess(models_dir, spec)
    return module.eval(), spec


def _attach_postprocess(models_dir, spec: ModelSpec) -> None:
    """Put the folder's fitted bias post-processing (``mitigation.json``, JSON checked by
    :mod:`assayml.mitigation.state`) into ``spec.extras``, where
    ``Sampling.from_extras`` finds it: every caller of :func:`load_model` (evaluate,
    predict, serve, explain, registry compare) then applies it."""
    from assayml.mitigation.state import postprocess_state

    state = postprocess_state(models_dir)
    if state is not None:
        spec.extras["postprocess"] = state


def _trust_for(models_dir, spec: ModelSpec, trust: BuilderTrust | None, sealed: bool):
    """The policy ``spec.target`` passed: the given or project one, or, for a folder saved
    before manifests (nothing vouches for its files), assayml's own builders only."""
    where = str(Path(models_dir) / SPEC_FILE)
    if sealed:
        trust = trust or project_trust()
        trust.check(spec.target, where)
        if spec.kind == LIGHTNING_MODULE:
            from assayml.config.user_modules import nested_targets

            for nested in nested_targets(spec.kwargs):
                trust.check(nested, where)
        return trust
    trust = builtin_trust()
    if not trust.allows(spec.target):
        raise ArtifactError(
            f"{where}: builder '{spec.target}' was not imported: the folder has no "
            f"{MANIFEST_FILE} (saved by an older assayml), and such a folder loads only "
            "with assayml's own builders; re-train the model to save it with a manifest"
        )
    return trust
