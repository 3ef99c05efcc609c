"""What the data stages of a user's LightningDataModule read and record: the features
note that carries the data's identity (so DVC reruns train), `data.rev` redirection of
constructor paths, copies at a revision (inside the root, atomic, keyed by the paths),
the task inferred from the label dtype, and the loaders prepare needs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from assayml.config import compose, to_typed
from assayml.config.schema import Task
from assayml.errors import EXIT_BAD_INPUT, ConfigError, DataError
from tests.conftest import TINY


class TinyData(pl.LightningDataModule):
    """Seeded blobs: two classes, four features, fixed 60/20/20 splits."""

    def __init__(self, rows: int = 60, batch_size: int = 8, seed: int = 0) -> None:
        super().__init__()
        self.rows, self.batch_size, self.seed = rows, batch_size, seed

    def setup(self, stage=None) -> None:
        g = torch.Generator().manual_seed(self.seed)
        y = torch.randint(0, 2, (self.rows,), generator=g)
        x = torch.randn(self.rows, 4, generator=g) + y[:, None]
        n = self.rows // 5
        cuts = {"test": slice(0, n), "val": slice(n, 2 * n), "train": slice(2 * n, None)}
        self.parts = {name: TensorDataset(x[cut], y[cut]) for name, cut in cuts.items()}

    def train_dataloader(self):
        return DataLoader(self.parts["train"], batch_size=self.batch_size)

    def val_dataloader(self):
        return DataLoader(self.parts["val"], batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.parts["test"], batch_size=self.batch_size)


class NoValData(TinyData):
    """Lightning's own val_dataloader: it raises MisconfigurationException."""

    val_dataloader = pl.LightningDataModule.val_dataloader


class NoTestData(TinyData):
    test_dataloader = pl.LightningDataModule.test_dataloader


def _cfg(project: Path, target: str, *overrides: str):
    node = f"_target_: {__name__}.{target}\nbatch_size: 8\n"
    (project / "conf" / "data" / "tiny.yaml").write_text(node)
    return to_typed(compose([*TINY, "data=tiny", *overrides], project / "conf"))


def _note_bytes(cfg) -> bytes:
    from assayml.stages.table import get_stage

    get_stage("prepare").run(cfg)
    get_stage("features").run(cfg)
    return (Path(cfg.paths.features_dir) / "no_transform.json").read_bytes()


# 1. the features note changes with what train will read, and only then


def test_the_features_note_carries_the_data_identity_and_config(project: Path) -> None:
    import json

    first = _note_bytes(_cfg(project, "TinyData"))
    assert _note_bytes(_cfg(project, "TinyData")) == first  # deterministic
    other = _note_bytes(_cfg(project, "TinyData", "data.batch_size=16"))
    assert other != first
    note = json.loads(other)
    assert note["transform"] is None and note["datamodule_config"]["batch_size"] == 16
    assert set(note["data"]) == {"md5", "files", "rev", "rev_commit"}
    profile = json.loads((project / "data/prepared/profile.json").read_text())
    assert profile["datamodule_config"]["batch_size"] == 16  # features' DVC dep changes too


# 2. data.rev points constructor paths into the revision's copy


def _node(**arguments) -> dict:
    return {"_target_": "x.Data", "name": "Data", "files": [], "rev": "v1", **arguments}


@pytest.mark.parametrize(
    "written",
    ["data/raw/x", "./data/raw/x", "data/raw/x/", "data/raw/./x", "data/raw/x/sub/a.png"],
)
def test_rev_redirects_a_path_however_it_is_written(tmp_path: Path, written: str) -> None:
    from assayml.stages.datamodule import revision_paths

    copy = tmp_path / "copy"
    out = revision_paths(_node(root=written, batch_size=8), ["data/raw/x"], copy, tmp_path)
    assert list(out) == ["root"]
    assert Path(out["root"]).relative_to(copy / "data/raw/x") is not None


def test_rev_redirects_absolute_and_nested_paths(tmp_path: Path) -> None:
    from assayml.stages.datamodule import revision_paths

    copy = tmp_path / "copy"
    node = _node(
        root=str(tmp_path / "data/raw/x"),
        opts={"_target_": "x.Opts", "dir": "data/raw/x/train", "mode": "rgb"},
        extra=["elsewhere", "./data/raw/x/labels.csv"],
    )
    out = revision_paths(node, ["./data/raw/x/"], copy, tmp_path)
    assert out["root"] == str(copy / "data/raw/x")
    assert out["opts"] == {
        "_target_": "x.Opts",
        "dir": str(copy / "data/raw/x/train"),
        "mode": "rgb",
    }
    assert out["extra"] == ["elsewhere", str(copy / "data/raw/x/labels.csv")]


def test_rev_with_no_argument_naming_a_declared_path_exits_2(tmp_path: Path) -> None:
    from assayml.stages.datamodule import revision_paths

    node = _node(root="data/raw/y", other="../data/raw/x", batch_size=8)
    with pytest.raises(ConfigError, match=r"data\.root='data/raw/y', data\.other=") as err:
        revision_paths(node, ["data/raw/x"], tmp_path / "copy", tmp_path)
    assert err.value.exit_code == EXIT_BAD_INPUT
    assert "names a path in data.files" in str(err.value)


# 3. copies at a revision


@pytest.mark.parametrize("rel", ["/etc/hosts", "../outside", "data/../../outside"])
def test_declared_paths_outside_the_root_are_refused(tmp_path: Path, rel: str) -> None:
    from assayml.data.module_files import checkout_rev, file_identities

    (tmp_path / "outside").write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(ConfigError, match=r"data\.files"):
        checkout_rev(root, [rel], "HEAD")
    with pytest.raises(ConfigError, match=r"data\.files"):
        file_identities(root, [rel])


@pytest.fixture
def data_repo(tmp_path: Path) -> Path:
    """A git + DVC repository: data/a.txt and data/b.txt tracked by DVC at tag v1, a.txt
    changed (and committed) since."""
    from tests.repo_helpers import commit_data_version, dvc, git, init_repo

    repo = init_repo(tmp_path / "repo")
    (repo / "data").mkdir()
    (repo / "data/b.txt").write_text("B1\n")
    dvc(repo, "add", "-q", "data/b.txt")
    commit_data_version(repo, "data/a.txt", "A1\n", "v1")
    (repo / "data/a.txt").write_text("A2\n")
    dvc(repo, "add", "-q", "data/a.txt")
    git(repo, "commit", "-qam", "a v2")
    return repo


def test_a_copy_is_keyed_by_commit_and_paths(data_repo: Path) -> None:
    from assayml.data.module_files import checkout_rev

    only_a = checkout_rev(data_repo, ["data/a.txt"], "v1")
    both = checkout_rev(data_repo, ["data/b.txt", "data/a.txt"], "v1")
    assert only_a != both and not (only_a / "data/b.txt").exists()
    assert (both / "data/a.txt").read_text() == "A1\n" and (both / "data/b.txt").exists()
    assert checkout_rev(data_repo, ["data/a.txt", "data/b.txt"], "v1") == both  # reused
    assert sorted(p.name for p in only_a.parent.iterdir()) == sorted([only_a.name, both.name])


def test_a_failed_fetch_leaves_nothing_to_reuse(data_repo: Path, monkeypatch) -> None:
    from assayml.data import module_files

    def broken(root, files, commit, rev, into):
        (into / "data").mkdir()
        (into / "data/a.txt").write_text("half")
        raise DataError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(module_files, "_fetch", broken)
        with pytest.raises(DataError, match="killed"):
            module_files.checkout_rev(data_repo, ["data/a.txt"], "v1")
    assert list((data_repo / ".assay/rev").iterdir()) == []
    copy = module_files.checkout_rev(data_repo, ["data/a.txt"], "v1")
    assert (copy / "data/a.txt").read_text() == "A1\n"


def test_a_copy_another_run_finished_first_is_used(data_repo: Path, monkeypatch) -> None:
    from assayml.data import module_files

    real = module_files._fetch

    def racing(root, files, commit, rev, into):
        real(root, files, commit, rev, into)
        other = into.parent / f"{commit}-{module_files.files_key(files)}"
        other.mkdir()
        (other / "winner").write_text("")
        (other / module_files.COMPLETE).write_text(rev)

    monkeypatch.setattr(module_files, "_fetch", racing)
    copy = module_files.checkout_rev(data_repo, ["data/a.txt"], "v1")
    assert (copy / "winner").exists()
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no staging left


def test_under_rev_the_dvc_hash_is_the_revisions(data_repo: Path) -> None:
    from assayml.data.module_files import checkout_rev, file_identities, tracked_md5
    from assayml.records import resolve_rev
    from tests.repo_helpers import dvc_md5, git

    commit = resolve_rev(data_repo, "v1")
    v1 = git(data_repo, "show", "v1:data/a.txt.dvc")
    assert tracked_md5(data_repo, "data/a.txt") == dvc_md5(data_repo / "data/a.txt.dvc")
    copy = checkout_rev(data_repo, ["data/a.txt"], "v1")
    identity = file_identities(data_repo, ["data/a.txt"], copy, commit)["data/a.txt"]
    assert identity["md5"] == identity["dvc_md5"] != tracked_md5(data_repo, "data/a.txt")
    assert identity["dvc_md5"] in v1


# 4. the task from the label dtype; one label per row


def _task_cfg(data: Task = Task.auto, model: Task = Task.auto):
    return SimpleNamespace(data=SimpleNamespace(task=data), model=SimpleNamespace(task=model))


@pytest.mark.parametrize(
    ("labels", "declared", "expected"),
    [
        (torch.tensor([0.0, 1.0, 2.0, 1.0]), Task.auto, ("regression", [])),
        (torch.tensor([0.5, 1.25]), Task.auto, ("regression", [])),
        (torch.tensor([0, 1, 2, 1]), Task.auto, ("multiclass", [0, 1, 2])),
        (torch.tensor([True, False]), Task.auto, ("binary", [0, 1])),
        (torch.tensor([0.0, 1.0]), Task.binary, ("binary", [0, 1])),
        (torch.tensor([0, 3, 7]), Task.regression, ("regression", [])),
    ],
)
def test_the_task_follows_the_label_dtype(labels, declared, expected) -> None:
    from assayml.stages.datamodule import infer_task

    assert infer_task(_task_cfg(data=declared), labels) == expected
    assert infer_task(_task_cfg(model=declared), labels) == expected


def test_fractional_labels_of_a_declared_classifier_exit_2() -> None:
    from assayml.stages.datamodule import infer_task

    with pytest.raises(DataError, match="fractional"):
        infer_task(_task_cfg(data=Task.multiclass), torch.tensor([0.0, 1.5]))


def test_labels_must_be_one_value_per_row() -> None:
    from assayml.stages.datamodule import loader_labels

    x = torch.zeros(6, 4)
    column = DataLoader(TensorDataset(x, torch.arange(6).reshape(6, 1)), batch_size=4)
    labels, shape = loader_labels(column, "here")
    assert labels.tolist() == list(range(6)) and shape == [4]
    one_hot = torch.nn.functional.one_hot(torch.arange(6) % 3, 3)
    with pytest.raises(DataError, match=r"one value per row.*\[4, 3\]") as err:
        loader_labels(DataLoader(TensorDataset(x, one_hot), batch_size=4), "here")
    assert err.value.exit_code == EXIT_BAD_INPUT


# 5. prepare needs val and test loaders, and says why


@pytest.mark.parametrize(
    ("target", "method", "why"),
    [("NoValData", "val_dataloader", "best epoch"), ("NoTestData", "test_dataloader", "evaluate")],
)
def test_a_missing_loader_exits_2_naming_it(project: Path, target, method, why) -> None:
    from assayml.stages.table import get_stage

    with pytest.raises(ConfigError, match=rf"no {method}\(\).*{why}") as err:
        get_stage("prepare").run(_cfg(project, target))
    assert err.value.exit_code == EXIT_BAD_INPUT
