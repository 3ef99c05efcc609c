"""`assay forget` as a user runs it: a CSV with an id column, float labels, gaps and a
3-valued facet; captured traffic without the id; a DVC repository with a registry."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.card_helpers import fill_file_card
from tests.data.test_card import visits
from tests.trust_helpers import assay

USER = ("data=file", "data.path=visits.csv", "data.target=outcome", "data.key=patient_id")
FORGOTTEN = ("P0003", "P0010")


def capture_lines(table: pd.DataFrame) -> list[str]:
    """Records as `assay serve --capture` writes them: inputs without the id or label."""
    rows = table.drop(columns=["patient_id", "outcome"]).to_dict("records")
    return [
        json.dumps(
            {
                "id": f"c{i}",
                "model": "m",
                "inputs": {k: (None if pd.isna(v) else v) for k, v in row.items()},
                "outputs": {"prediction": 0},
            }
        )
        + "\n"
        for i, row in enumerate(rows)
    ]


@pytest.fixture
def prepared(project: Path) -> Path:
    from assayml.config import compose, to_typed
    from assayml.stages.prepare import run_prepare

    visits().to_csv(project / "visits.csv", index=False)
    run_prepare(to_typed(compose(list(USER), project / "conf")))
    (project / "captured").mkdir()
    lines = capture_lines(visits().head(20))
    (project / "captured" / "capture-a.jsonl").write_text("".join(lines))
    pd.DataFrame({"patient_id": [*FORGOTTEN, "P9999"]}).to_csv(project / "keys.csv", index=False)
    return project


def test_forget_by_keys_removes_rows_everywhere_and_records_no_values(prepared: Path) -> None:
    before = (prepared / "visits.csv").read_text().splitlines(keepends=True)
    capture = prepared / "captured" / "capture-a.jsonl"
    captured = capture.read_text().splitlines(keepends=True)
    dry = assay(
        prepared,
        "forget",
        "--keys",
        "keys.csv",
        "--captures",
        "captured",
        "--dry-run",
        "--json",
        *USER,
    )
    assert dry.returncode == 0, dry.stderr
    assert (prepared / "visits.csv").read_text().splitlines(keepends=True) == before
    assert capture.read_text().splitlines(keepends=True) == captured

    done = assay(
        prepared,
        "forget",
        "--keys",
        "keys.csv",
        "--captures",
        "captured",
        "--reason",
        "ticket 17",
        "--json",
        *USER,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["selection"] == {"kind": "keys", "rows": 2, "unmatched_keys": 1}
    # the new version: the two rows gone, every other line byte for byte as it was
    gone = {1 + int(key[1:]) for key in FORGOTTEN}
    after = (prepared / "visits.csv").read_text().splitlines(keepends=True)
    assert after == [line for i, line in enumerate(before) if i not in gone]
    # the workspace's prepared version held one in train and one in test (its fingerprints)
    workspace = next(h for h in outcome["holders"] if h["kind"] == "workspace")
    prints = pd.read_parquet(prepared / "data" / "prepared" / "fingerprints.parquet")
    assert sum(workspace["rows"].values()) == 2 == len(prints) - len(after) + 1
    # captured requests hold no id: matched by their values, and only those two removed
    hit = outcome["captures"][0]
    assert (hit["records"], hit["total"], hit["matched_by"]) == (2, 20, "values")
    left = capture.read_text().splitlines(keepends=True)
    assert left == [line for i, line in enumerate(captured) if i not in (3, 10)]
    # the trail and the report name the request, never what it asked to forget
    report = Path(prepared / outcome["report"]).read_text()
    trail = (prepared / "audit" / "audit.jsonl").read_text()
    entry = json.loads(trail.splitlines()[-1])
    assert entry["action"] == "forget" and entry["details"]["rows"] == 2
    assert entry["details"]["reason"] == "ticket 17"
    table = visits()
    secrets = [*FORGOTTEN, "P9999"]
    for key in FORGOTTEN:
        row = table[table["patient_id"] == key].iloc[0]
        secrets += [repr(float(row["dose"])), f"{row['dose']:.6f}"]
    for text in (report, trail, done.stdout):
        assert not [s for s in secrets if s in text]
    assert assay(prepared, "audit", "verify").returncode == 0


def test_forget_by_query_on_typed_values(prepared: Path) -> None:
    table = visits()
    expected = table.query("site == 'east' and age > 60 and outcome == 1.0")
    done = assay(
        prepared,
        "forget",
        "--where",
        "site == 'east' and age > 60 and outcome == 1",
        "--json",
        *USER,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["selection"]["rows"] == len(expected) > 0
    kept = pd.read_csv(prepared / "visits.csv")
    assert not set(expected["patient_id"]) & set(kept["patient_id"])
    assert len(kept) == len(table) - len(expected)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--where", "age > 3", "--keys", "keys.csv"), "either --where"),
        ((), "either --where"),
        (("--where", "nonexistent > 3"), "'nonexistent' is not a column"),
        (("--where", "@Path('/tmp/assay-pwned').write_text('x') > 0"), "'@' variables"),
        (("--where", "age.to_csv('/tmp/assay-pwned') == 1"), "Call is not allowed"),
        (("--where", "dose[0] > 1"), "Subscript is not allowed"),
        (("--where", "age +"), "--where"),
        (("--where", "age + 1"), "True/False"),
        (("--keys", "keys.csv", "--key", "nope"), "no column 'nope'"),
        (("--keys", "missing.csv"), "missing.csv: no such file"),
        (("--keys", "keys.csv", "--key", "age"), "--keys"),  # no 'age' column in keys.csv
    ],
)
def test_bad_requests_exit_2_naming_what_is_wrong(prepared: Path, args, named) -> None:
    before = (prepared / "visits.csv").read_bytes()
    result = assay(prepared, "forget", *args, *USER)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert (prepared / "visits.csv").read_bytes() == before


def test_only_the_users_own_table_can_be_edited(project: Path) -> None:
    fill_file_card(project / "conf")
    builtin = assay(project, "forget", "--where", "target == 1")
    assert builtin.returncode == 2 and "data.source=file" in builtin.stderr
    pinned = assay(project, "forget", "--where", "age > 1", *USER, "data.rev=v1")
    assert pinned.returncode == 2 and "data.rev=v1" in pinned.stderr


def test_keys_match_whatever_type_the_column_was_read_as() -> None:
    from assayml.data.fingerprints import key_fingerprints
    from assayml.forget.select import by_keys

    table = pd.DataFrame({"id": [7, 8, 70], "x": [0.1, 0.2, 0.3]})
    selection = by_keys(table, pd.Series(["7", "070", "seven"]), "id", "t.csv")
    assert selection.mask.tolist() == [True, False, True]
    assert selection.unmatched_keys == 1  # counted, never echoed
    same = key_fingerprints(pd.Series([7, 7.0, "7", " 7 "], dtype=object))
    assert same.nunique() == 1
    assert key_fingerprints(pd.Series(["P7"])).iloc[0] != same.iloc[0]


@pytest.mark.slow
def test_a_hostile_where_writes_nothing(prepared: Path) -> None:
    target = prepared / "pwned"
    for expression in (
        f"@Path('{target}').write_text('x') > 0",
        f"age.to_csv('{target}') == age.to_csv('{target}')",
        f"@np.save('{target}', 1) == None",
    ):
        result = assay(prepared, "forget", "--where", expression, "--dry-run", *USER)
        assert result.returncode == 2, result.stderr
    assert not list(prepared.glob("pwned*"))


def test_captures_bad_records_are_named_never_quoted_and_exit_3(prepared: Path) -> None:
    capture = prepared / "captured" / "capture-a.jsonl"
    odd = capture.read_text().splitlines(keepends=True)
    odd[5] = odd[5].replace('"age": ', '"age": "SECRET-OTHER-PERSON", "was": ')
    capture.write_text("".join(odd))
    torn = prepared / "captured" / "capture-b.jsonl"
    torn.write_text(odd[0] + "not json at all\n")
    done = assay(prepared, "forget", "--keys", "keys.csv", "--captures", "captured", *USER)
    assert done.returncode == 3, done.stderr
    assert "SECRET" not in done.stdout + done.stderr
    assert "capture-b.jsonl: line 2 is not JSON" in done.stdout
    # the file with a value that is not a number was still searched, and purged
    left = capture.read_text().splitlines(keepends=True)
    assert len(left) == 18 and odd[5] in left
    report = next((prepared / "reports" / "forget").glob("*.json")).read_text()
    assert "SECRET" not in report and "capture-b.jsonl" in report


def test_watch_state_moves_past_removed_records_and_a_tail_is_kept(prepared: Path) -> None:
    capture = prepared / "captured" / "capture-a.jsonl"
    lines = capture.read_bytes().splitlines(keepends=True)
    state_path = prepared / "reports" / "monitor" / "state.json"
    state_path.parent.mkdir(parents=True)
    read = 12  # the watch has read the first 12 records, 3 and 10 among them
    state = {
        "version": 1,
        "watch": str((prepared / "captured").resolve()),
        "last_execution": "x",
        "files": {
            "capture-a.jsonl": {
                "bytes": sum(len(x) for x in lines[:read]),
                "lines": read,
                "execution": "x",
            }
        },
    }
    state_path.write_text(json.dumps(state))
    capture.write_bytes(b"".join(lines) + b'{"id": "half-writ')  # the server is writing
    done = assay(prepared, "forget", "--keys", "keys.csv", "--captures", "captured", *USER)
    assert done.returncode == 0, done.stderr
    after = capture.read_bytes()
    assert after.endswith(b'{"id": "half-writ')
    kept = [line for i, line in enumerate(lines) if i not in (3, 10)]
    assert after == b"".join(kept) + b'{"id": "half-writ'
    moved = json.loads(state_path.read_text())["files"]["capture-a.jsonl"]
    assert moved["lines"] == read - 2 and moved["bytes"] == sum(len(x) for x in kept[:10])


def test_a_failure_after_the_first_write_is_reported_and_audited(
    prepared: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Fault injection: the registry step fails after the data file was rewritten."""
    from assayml.cli.forget_command import run_forget
    from assayml.forget import run

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(run, "flag_registry", broken)
    code = run_forget(["--keys", "keys.csv", *USER])
    assert code == 1
    assert "stopped at registry" in capsys.readouterr().err
    entry = json.loads((prepared / "audit" / "audit.jsonl").read_text().splitlines()[-1])
    assert entry["action"] == "forget.failed" and entry["details"]["failed_at"] == "registry"
    assert entry["details"]["new_data_md5"] is not None  # the data was written, and said so
    report = json.loads(next((prepared / "reports" / "forget").glob("*.json")).read_text())
    assert report["failed_at"] == "registry" and report["data"]["new_md5"]


VISITS_CONFIG = """\
defaults:
  - data_schema
  - _self_
name: visits
source: file
path: data/raw/visits.csv
target: outcome
key: patient_id
sensitive: [site]
reference_groups: {site: north}
columns:
  patient_id: {dtype: str}
  age: {dtype: float, min: 0, max: 120}
  dose: {dtype: float, nullable: true}
  site: {dtype: category, allowed: [north, south, east]}
  outcome: {dtype: float}
card:
  owner: Clinic data team
  contact: data@clinic.example
  licence: proprietary
  source: EHR extract
  allowed_uses: [readmission research]
  forbidden_uses: [marketing]
  personal_data: true
  retention: 10 years
  access: [clinical-analysts]
"""


@pytest.mark.slow
def test_forget_in_a_dvc_project_flags_the_registry_and_retrains(tmp_path: Path) -> None:
    from tests.repo_helpers import dvc_run, git, make_project_repo, run_env
    from tests.trust_helpers import ASSAY

    repo = make_project_repo(tmp_path / "repo", max_epochs=2)
    (repo / "data" / "raw").mkdir(parents=True, exist_ok=True)
    visits(150).to_csv(repo / "data" / "raw" / "visits.csv", index=False)
    (repo / "conf" / "data" / "visits.yaml").write_text(VISITS_CONFIG)
    run_env(repo, *ASSAY, "compose", "data=visits")
    dvc_run(repo, "add", "-q", "data/raw/visits.csv")
    dvc_run(repo, "repro", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "visits v1")
    registered = assay(repo, "registry", "register", "models", "--name", "visits")
    assert registered.returncode == 0, registered.stderr
    pd.DataFrame({"patient_id": FORGOTTEN}).to_csv(tmp_path / "keys.csv", index=False)

    done = assay(repo, "forget", "--keys", str(tmp_path / "keys.csv"), "--retrain", "--json")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    holding = {h["kind"] for h in outcome["holders"] if h["holds"]}
    assert holding == {"workspace", "commit", "registry"}
    assert outcome["registry_flagged"] == ["visits@1"] and outcome["data"]["dvc_tracked"]
    assert outcome["retrained"]["command"] == "dvc repro"
    shown = assay(repo, "registry", "show", "visits", "1").stdout
    assert "TRAINED ON DELETED DATA" in shown
    # the rebuilt prepared version holds neither subject; DVC tracks the new file
    prints = pd.read_parquet(repo / "data" / "prepared" / "fingerprints.parquet")
    from assayml.data.fingerprints import key_fingerprints

    assert not set(key_fingerprints(pd.Series(FORGOTTEN))) & set(prints["key"])
    assert len(prints) == 148
    assert "Data and pipelines are up to date." in dvc_run(repo, "status").stdout
    actions = [json.loads(x)["action"] for x in (repo / "audit" / "audit.jsonl").open()]
    first = actions.index("forget")  # then the pipeline's own stage entries, then retrain
    assert actions[-1] == "forget retrain" and "stage.train" in actions[first:]
    assert all(a.startswith("stage.") for a in actions[first + 1 : -1])
    assert assay(repo, "audit", "verify").returncode == 0
    # asked again: today's data is clean, the committed version still holds them
    again = assay(repo, "forget", "--keys", str(tmp_path / "keys.csv"), "--dry-run", "--json")
    rows = {h["where"]: h["holds"] for h in json.loads(again.stdout)["holders"]}
    assert rows["workspace"] is False and rows["visits@1"] is True
    assert [w for w, held in rows.items() if w.startswith("commit") and held]


def test_the_dvc_file_tracking_the_table_is_found_file_or_folder(tmp_path: Path) -> None:
    from assayml.forget.run import tracked_by_dvc

    (tmp_path / "data" / "raw").mkdir(parents=True)
    table = Path("data/raw/visits.csv")
    assert tracked_by_dvc(table, tmp_path) is None
    (tmp_path / "data" / "raw.dvc").write_text("outs: []\n")
    assert tracked_by_dvc(table, tmp_path) == Path("data/raw")
    (tmp_path / "data" / "raw" / "visits.csv.dvc").write_text("outs: []\n")
    assert tracked_by_dvc(table, tmp_path) == table
