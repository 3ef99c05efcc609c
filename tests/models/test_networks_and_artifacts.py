"""Networks build from config; saved models load back verified, and tampering is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from assayml.errors import ArtifactError, ConfigError
from assayml.models.artifact import WEIGHTS_FILE, ModelSpec, load_model, save_model
from assayml.models.build import build_network
from assayml.models.networks import build_cnn, build_logreg, build_mlp
from assayml.utils.io import atomic_outputs


@pytest.mark.parametrize(
    "net,shape",
    [
        (build_logreg(10, 3), (5, 3)),
        (
            build_mlp(10, 2, hidden=8, layers=3, activation="gelu", dropout=0.2, batch_norm=True),
            (5, 2),
        ),
        (build_cnn(64, 10, image_shape=[8, 8], channels=[4, 8], hidden=16), (5, 10)),
    ],
)
def test_output_shapes(net: torch.nn.Module, shape: tuple[int, int]) -> None:
    assert net(torch.randn(5, 64 if shape[1] == 10 else 10)).shape == shape


def test_cnn_refuses_a_wrong_image_shape() -> None:
    with pytest.raises(ConfigError, match="image_shape"):
        build_network("assayml.models.networks.build_cnn", {"image_shape": [4, 4]}, 64, 10)


def test_unknown_builder_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot import"):
        build_network("assayml.models.networks.build_transformer", {}, 4, 2)


def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    net = build_mlp(4, 2, hidden=8)
    spec = ModelSpec(
        target="assayml.models.networks.build_mlp",
        kwargs={"hidden": 8},
        in_features=4,
        out_features=2,
        task="binary",
        feature_names=list("abcd"),
    )
    with atomic_outputs() as out:
        save_model(out, tmp_path, spec, net.state_dict())
    return tmp_path, net


def test_roundtrip_gives_the_same_function(tmp_path: Path) -> None:
    models, net = saved(tmp_path)
    loaded, spec = load_model(models)
    x = torch.randn(3, 4)
    assert torch.equal(loaded(x), net.eval()(x)) and spec.feature_names == list("abcd")


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    models, _ = saved(tmp_path)
    blob = bytearray((models / WEIGHTS_FILE).read_bytes())
    blob[-1] ^= 0xFF
    (models / WEIGHTS_FILE).write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="SHA-256 does not match"):
        load_model(models)


@pytest.mark.parametrize("damage", ["truncate", "delete_spec", "garbage_spec"])
def test_unreadable_model_files_are_artifact_errors(tmp_path: Path, damage: str) -> None:
    models, _ = saved(tmp_path)
    if damage == "truncate":
        (models / WEIGHTS_FILE).write_bytes(b"\x00\x01")
    elif damage == "delete_spec":
        (models / "model.json").unlink()
    else:
        (models / "model.json").write_text("[1, 2")
    with pytest.raises(ArtifactError):
        load_model(models)
