"""The model -> train link is verified only when every model file is one the record names."""

from __future__ import annotations

from assayml.lineage.graph import build_lineage

RECORD = {"outputs": {"models/model.safetensors": "w1", "models/feature_transform.json": "t"}}


def link(files: dict[str, str]):
    model = {"label": "model models", "attrs": {}, "files": files}
    return build_lineage(model, {"train": RECORD}, None, None).edges[0]


def test_every_model_file_in_the_record_verifies() -> None:
    edge = link({"models/model.safetensors": "w1", "models/feature_transform.json": "t"})
    assert edge.verified is True


def test_a_shared_transform_alone_does_not_verify_another_model() -> None:
    """A record of an earlier run beside a newer model (or the reverse, after a crash)."""
    edge = link({"models/model.safetensors": "w2", "models/feature_transform.json": "t"})
    assert edge.verified is False


def test_no_model_files_means_nothing_to_compare() -> None:
    assert link({}).verified is None
