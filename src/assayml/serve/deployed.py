"""A model ready to serve: from the project's ``models/``, a models folder, or a registry
reference (materialised and verified), with its transform, schema and identity."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assayml.data.schema import split_valid
from assayml.errors import ArtifactError
from assayml.features.transform import FeatureTransform
from assayml.models.artifact import load_model
from assayml.models.inference import Predictions, Sampling, predict
from assayml.models.trust import project_trust
from assayml.serve.images import ImageModel

CACHE = ".assay/models"  # registry versions materialised for serving


@dataclass
class Deployed:
    module: Any
    spec: Any
    sampling: Sampling
    transform: FeatureTransform
    schema: dict[str, Any]
    name: str
    version: int | None
    lineage_id: str  # name@version:weights sha256 prefix
    directory: Path

    def metadata(self) -> dict[str, Any]:
        target = self.transform.target
        return {
            "name": self.name,
            "version": self.version,
            "lineage_id": self.lineage_id,
            "task": target.task,
            "classes": target.classes,
            "inputs": self.schema["inputs"],
            "uncertainty": {
                k: v for k, v in self.spec.extras.items() if k not in ("seed", "postprocess")
            },
            "mitigation": self.spec.extras.get("postprocess"),  # group thresholds, if any
        }

    def validate(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        from assayml.stages.features import schema_from_profile

        columns = schema_from_profile({"schema": self.schema["columns"]})
        return split_valid(frame, columns, self.schema["inputs"])

    def predict(self, frame: pd.DataFrame, threshold: float = 0.5) -> Predictions:
        return self.predict_inputs(self.transform.transform(frame), threshold)

    def predict_inputs(self, x: np.ndarray, threshold: float = 0.5) -> Predictions:
        """Predictions for rows already transformed ([rows, features], float32)."""
        return predict(self.module, self.transform, x, threshold, self.sampling)

    def output_frame(self, frame: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
        """The rows with their prediction, class probabilities and uncertainty columns."""
        pred = self.predict(frame, threshold)
        return pd.concat([frame.reset_index(drop=True), prediction_columns(self, pred)], axis=1)


def prediction_columns(deployed: Deployed, pred: Predictions) -> pd.DataFrame:
    target = deployed.transform.target
    if pred.task == "regression":
        columns = {"prediction": pred.predicted}
    else:
        classes = np.asarray(target.classes, dtype=object)
        columns = {"prediction": classes[pred.predicted]}
        columns |= {f"probability_{c}": pred.probabilities[:, i] for i, c in enumerate(classes)}
    columns |= {k: v for k, v in pred.uncertainty.items()}
    return pd.DataFrame(columns)


def load_deployed(
    model: str | None = None, registry: str | None = None, trust_builders: Sequence[str] = ()
) -> Deployed | ImageModel:
    """``None``: the project's ``models/``; a folder; or a registry reference. A user's
    module trained on images from a DataModule loads as an :class:`ImageModel`.

    The model's builder must be one the project trusts (its own, ``conf/model`` targets) or
    in a module of ``trust_builders`` (``--trust-builder``); otherwise exit 2, nothing
    imported.
    """
    trust = project_trust(trust_builders)
    if model is None or Path(model).is_dir():
        directory = Path(model or "models")
        name, version = directory.resolve().name, None
    else:
        from assayml.registry.store import Registry

        store = Registry(registry)
        doc = store.resolve(model)
        name, version = doc["name"], doc["version"]
        directory = store.materialize(doc, Path(CACHE) / name / str(version)) / "model"
    module, spec = load_model(directory, trust)
    lineage_id = (
        f"{name}@{version if version is not None else 'workspace'}:{spec.weights_sha256[:12]}"
    )
    from assayml.serve.images import ImageModel, is_image_model

    if is_image_model(directory, spec):
        sampling = Sampling.from_extras(spec.extras)
        return ImageModel(module, spec, sampling, name, version, lineage_id, directory)
    if spec.kind == "lightning_module" and not spec.feature_names:
        from assayml.errors import ConfigError

        raise ConfigError(
            f"{directory}: trained on a LightningDataModule's inputs of shape "
            f"{spec.extras.get('input_shape')}: predict and serve take table rows (a model "
            "trained on our tables) or PNG images ([channels, height, width] inputs)"
        )
    schema_path = directory / "schema.json"
    if not schema_path.is_file():
        raise ArtifactError(f"{schema_path}: missing (retrain with this version of assayml)")
    schema = json.loads(schema_path.read_text())
    transform = FeatureTransform.load(directory / "feature_transform.json")
    return Deployed(
        module,
        spec,
        Sampling.from_extras(spec.extras),
        transform,
        schema,
        name,
        version,
        lineage_id,
        directory,
    )
