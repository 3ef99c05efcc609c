"""Shell completion: the script `assay completion bash` prints, sourced in a real bash,
completes command names and Hydra groups, options and keys from the project's conf/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import cli_fork
from tests.conftest import cli_env
from tests.trust_helpers import assay


@pytest.fixture
def tab(project: Path, tmp_path_factory: pytest.TempPathFactory):
    """``tab("assay train mod")``: what bash offers there, through the installed script."""
    bin_dir = tmp_path_factory.mktemp("bin")
    program = bin_dir / "assay"  # the console script, for this interpreter
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m assayml.cli.main "$@"\n')
    program.chmod(0o755)
    script = assay(project, "completion", "bash")
    assert script.returncode == 0, script.stderr
    env = cli_env() | {"PATH": f"{bin_dir}:{cli_env()['PATH']}"}

    def complete(line: str) -> list[str]:
        # Words as bash splits them for completion: at blanks, and '=' or ':' (in its
        # COMP_WORDBREAKS) stand as words of their own (checked in an interactive bash).
        words = re.findall(r"[=:]+|[^\s=:]+", line) + ([""] if line.endswith(" ") else [])
        quoted = " ".join(f"'{word}'" for word in words)
        probe = (
            f"{script.stdout}\nCOMP_LINE='{line}'; COMP_POINT={len(line)}; "
            f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
            "_assay_complete; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
        )
        done = subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", probe],
            cwd=project,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return [reply for reply in done.stdout.splitlines() if reply]

    return complete


def test_bash_completes_commands_groups_options_and_keys(tab) -> None:
    assert tab("assay tr") == ["train"]
    assert {"prepare", "run", "registry", "completion"} <= set(tab("assay "))
    keys = tab("assay train mod")
    assert {"model=", "model."} <= set(keys) and all(k.startswith("model") for k in keys)
    # bash has split `model=` into `model` `=`: what it inserts continues from the `=`.
    assert {"=mlp", "=cnn", "=logreg"} <= set(tab("assay train model="))
    assert tab("assay -q train model=ml") == ["mlp"]
    assert tab("assay train model.l") == ["model.layers=", "model.lr="]
    assert "hydra.sweeper.n_trials=" in tab("assay run -m hparams_search=optuna hydra.sweeper.n")
    assert tab("assay train --") == ["--cfg", "--help", "--multirun", "--params"]
    assert tab("assay train --params ") == []  # bash completes file names (-o default)


def test_hydra_flag_prints_the_same_script_and_answers_old_queries(project: Path) -> None:
    script = assay(project, "completion", "bash").stdout
    assert "complete -o default -F _assay_complete assay" in script
    assert assay(project, "train", "-sc", "install=bash").stdout == script
    # A script Hydra generated earlier asks `assay -sc query=bash` with COMP_LINE set.
    old = cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", "-sc", "query=bash"],
        cwd=project,
        capture_output=True,
        text=True,
        env=cli_env() | {"COMP_LINE": "assay train model=m", "COMP_POINT": "19"},
        timeout=120,
    )
    assert old.returncode == 0 and old.stdout.split() == ["model=mlp"]
    wrong = assay(project, "train", "-sc", "install=tcsh")
    assert wrong.returncode == 2 and "install=bash" in wrong.stderr


def test_command_names_complete_without_importing_hydra_or_torch(project: Path) -> None:
    code = (
        "import sys; from assayml.cli.main import main; main(['completion', 'query', 'assay tr']); "
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning', 'hydra')]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["train"]
