"""The tests' zygote (tests/cli_fork.py) runs `assay` as a fresh interpreter would: the
same output, errors, warnings and exit status (a death by signal included), stdin passed
through, signals passed on, and a command that outlives its shim ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import cli_fork
from tests.conftest import cli_env


@pytest.fixture(autouse=True)
def _zygote_running() -> None:
    if not cli_fork.active():
        pytest.skip("no zygote: ASSAY_TEST_FRESH_PROCESSES=1, or it refused to fork (its stderr)")


MODULE = [sys.executable, "-m", cli_fork.MODULE]


def until(condition, seconds: float = 120.0):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


COMMANDS = [
    ["--version"],
    ["prepare", "data=no_such_set"],
    ["prepare", "data=file", "data.path=missing.csv"],
    ["compose", "--check"],
    ["train", "data=wine", "model.lr=-1"],
]


def compare(project: Path, forked_cmd: list[str], fresh_cmd: list[str], env=None) -> None:
    """The same command through the zygote and in a fresh interpreter: equal answers."""
    env = cli_env() if env is None else env
    before = len(cli_fork.served())
    forked = cli_fork.run(forked_cmd, cwd=project, env=env, capture_output=True)
    assert len(cli_fork.served()) == before + 1, "the zygote did not serve the call"
    fresh_env = {**env, cli_fork.FRESH: "1"}
    fresh = subprocess.run(fresh_cmd, cwd=project, env=fresh_env, capture_output=True)
    assert len(cli_fork.served()) == before + 1
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        fresh.returncode,
        fresh.stdout,
        fresh.stderr,
    )


@pytest.mark.parametrize("args", COMMANDS)
def test_python_m_forked_answers_as_a_fresh_interpreter(project: Path, args: list[str]) -> None:
    compare(project, [*MODULE, *args], [*MODULE, *args])


@pytest.mark.parametrize("args", COMMANDS[:3])
def test_the_shim_on_path_answers_as_the_console_script(project: Path, args: list[str]) -> None:
    real = os.environ[cli_fork.REAL]
    compare(project, ["assay", *args], [real, *args])


def test_warnings_shown_where_pythonwarnings_is_not_set(project: Path) -> None:
    """Without PYTHONWARNINGS (as `dvc repro` starts stages here), a warning the command
    raises reaches stderr as in a fresh interpreter."""
    (project / "warner.py").write_text(WARNER)
    env = {k: v for k, v in cli_env().items() if k != "PYTHONWARNINGS"}
    compare(project, [*MODULE, *WARNS], [*MODULE, *WARNS], env=env)


def test_a_changed_start_up_variable_gets_a_fresh_interpreter(project: Path) -> None:
    before = len(cli_fork.served())
    env = {**cli_env(), "OMP_NUM_THREADS": "3"}
    done = subprocess.run(["assay", "--version"], cwd=project, env=env, capture_output=True)
    assert done.returncode == 0 and done.stdout.startswith(b"assayml ")
    assert len(cli_fork.served()) == before
    again = subprocess.run(["assay", "--version"], cwd=project, env=cli_env(), check=True)
    assert again.returncode == 0 and len(cli_fork.served()) == before + 1  # still serving


# Project modules that Hydra imports as run callbacks, to act inside a command.
WARNER = """
import warnings

from hydra.experimental.callback import Callback

warnings.warn("a user warning from the project", UserWarning)


class Warner(Callback):
    pass
"""
WARNS = ["compose", "+hydra.callbacks.warner._target_=warner.Warner"]
DYING = """
import os
import signal

from hydra.experimental.callback import Callback

if os.environ.get("DIE_BY") == "interrupt":
    raise KeyboardInterrupt
os.kill(os.getpid(), signal.SIGKILL)


class Dying(Callback):
    pass
"""
DIES = ["prepare", "data=wine", "+hydra.callbacks.dying._target_=dying.Dying"]


@pytest.mark.parametrize(("how", "status"), [("kill", -signal.SIGKILL), ("interrupt", -2)])
def test_a_command_that_dies_of_a_signal_is_seen_to(project: Path, how: str, status: int):
    """SIGKILL from within, or a KeyboardInterrupt (Python then ends by SIGINT): the
    caller sees the signal, through the zygote as from a fresh interpreter."""
    (project / "dying.py").write_text(DYING)
    env = {**cli_env(), "DIE_BY": how}
    for cmd in ([*MODULE, *DIES], ["assay", *DIES]):
        before = len(cli_fork.served())
        forked = cli_fork.run(cmd, cwd=project, env=env, capture_output=True)
        assert forked.returncode == status, forked.stderr
        assert len(cli_fork.served()) == before + 1
    fresh = subprocess.run(
        [*MODULE, *DIES], cwd=project, env={**env, cli_fork.FRESH: "1"}, capture_output=True
    )
    assert fresh.returncode == status


# A project module imported as a run callback: it reads stdin to its end first,
# saying so in a file first, and a SIGTERM makes it leave a file and exit 3.
READER = """
import os
import signal
import sys
from pathlib import Path

from hydra.experimental.callback import Callback


def terminated(number, frame):
    Path("terminated").touch()
    os._exit(3)


signal.signal(signal.SIGTERM, terminated)
Path("reading").touch()
Path("read.txt").write_text(sys.stdin.read())


class Reader(Callback):
    pass
"""
READS_STDIN = ["prepare", "data=wine", "+hydra.callbacks.reader._target_=reader.Reader"]


def start_reader(project: Path, start, cmd: list[str], env=None) -> subprocess.Popen:
    """``cmd`` (with READER as a run callback) started by ``start`` (a Popen) in
    ``project``, its stdin a pipe left open, so that it blocks reading it."""
    (project / "reader.py").write_text(READER)
    return start(
        [*cmd, *READS_STDIN],
        cwd=project,
        env=cli_env() if env is None else env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_stdin_reaches_the_command(project: Path) -> None:
    (project / "reader.py").write_text(READER)
    before = len(cli_fork.served())
    done = cli_fork.run(
        [*MODULE, *READS_STDIN], cwd=project, env=cli_env(), capture_output=True, input=b"rows"
    )
    assert done.returncode == 0, done.stderr
    assert len(cli_fork.served()) == before + 1
    assert (project / "read.txt").read_text() == "rows"


@pytest.mark.parametrize(
    ("number", "status"), [(signal.SIGTERM, 3), (signal.SIGKILL, -signal.SIGKILL)]
)
def test_a_signal_to_the_shim_ends_its_command(project: Path, number: int, status: int) -> None:
    """A command blocked reading a stdin that stays open: SIGTERM is passed on (the
    command's handler runs and exits 3, the shim with it); SIGKILL ends the shim alone, and
    then the zygote ends the command."""
    before = set(cli_fork.served())
    shim = start_reader(project, subprocess.Popen, ["assay"])
    try:
        (child,) = until(lambda: set(cli_fork.served()) - before)
        until((project / "reading").exists)
        shim.send_signal(number)
        assert shim.wait(timeout=60) == status
        until(lambda: not alive(child))
    finally:
        shim.stdin.close()
        shim.wait(timeout=60)
    assert not (project / "read.txt").exists()
    assert (project / "terminated").exists() == (number == signal.SIGTERM)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_dvc_stages_run_through_the_zygote(tmp_path: Path) -> None:
    """`dvc repro` finds the shim first on PATH (tests.repo_helpers.cli_path_env)."""
    from tests.repo_helpers import dvc_run, init_repo

    repo = init_repo(tmp_path / "repo")
    (repo / "dvc.yaml").write_text(
        "stages:\n  version:\n    cmd: assay --version > version.txt\n    outs: [version.txt]\n"
    )
    before = len(cli_fork.served())
    dvc_run(repo, "repro", "-q")
    assert (repo / "version.txt").read_text().startswith("assayml ")
    assert len(cli_fork.served()) == before + 1


def test_a_package_of_its_own_on_pythonpath_gets_a_fresh_interpreter(tmp_path: Path) -> None:
    """Another checkout's assayml on PYTHONPATH (as `assay reproduce` runs a project's own
    code): the zygote's preloaded one must not stand in for it."""
    shadow = tmp_path / "shadow" / "assayml" / "cli"
    shadow.mkdir(parents=True)
    (shadow.parent / "__init__.py").write_text("")
    (shadow / "__init__.py").write_text("")
    (shadow / "main.py").write_text("print('the other checkout')\n")
    env = {**cli_env(), "PYTHONPATH": str(tmp_path / "shadow")}
    before = len(cli_fork.served())
    done = cli_fork.run([*MODULE, "--version"], cwd=tmp_path, env=env, capture_output=True)
    assert done.stdout == b"the other checkout\n", done.stderr
    assert len(cli_fork.served()) == before
    # The folder the zygote's own assayml came from is no other checkout: served.
    import assayml

    env["PYTHONPATH"] = str(Path(assayml.__file__).parents[1])
    done = cli_fork.run([*MODULE, "--version"], cwd=tmp_path, env=env, capture_output=True)
    assert done.stdout.startswith(b"assayml "), done.stderr
    assert len(cli_fork.served()) == before + 1


def test_hydra_plugins_of_the_calls_own_get_a_fresh_interpreter(project: Path) -> None:
    """Hydra's plugin scan ran in the zygote: a call with a `hydra_plugins` folder of its
    own on its path must get an interpreter whose scan finds it."""
    plugin = project / "mine" / "hydra_plugins" / "mine_plugin"
    plugin.mkdir(parents=True)
    marker = project / "scanned"
    (plugin / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    env = {**cli_env(), "PYTHONPATH": str(project / "mine")}
    before = len(cli_fork.served())
    done = cli_fork.run([*MODULE, "compose"], cwd=project, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert marker.exists()  # the scan found the call's own plugin
    assert len(cli_fork.served()) == before


# What `python -c` sets up, and how its ends are seen: an exception, an exit with a
# message, os._exit, and a SIGKILL from within.
CODE = """
import os, signal, sys
print(repr(sys.argv), repr(sys.path[0]), __name__, sys.modules["__main__"].__dict__ is globals())
how = sys.argv[1]
if how == "raise":
    raise ValueError("from -c")
if how == "exit":
    sys.exit("said and exited")
if how == "_exit":
    sys.stdout.flush()
    os._exit(137)
if how == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("how", ["return", "raise", "exit", "_exit", "kill"])
def test_python_c_forked_answers_as_a_fresh_interpreter(project: Path, how: str) -> None:
    cmd = [sys.executable, "-c", CODE, how, "more"]
    compare(project, cmd, cmd)


def test_popen_kill_ends_the_command_not_only_its_shim(project: Path) -> None:
    """SIGKILL cannot be passed on by a shim: cli_fork.popen's kill() sends it to the
    command itself, which is dead when wait() returns, as a fresh process would be."""
    proc = start_reader(project, cli_fork.popen, MODULE)
    try:
        until((project / "reading").exists)
        child = cli_fork.command_pid(proc)
        assert child != proc.pid and alive(child)  # the forked command, not the shim
        proc.kill()
        assert proc.wait(timeout=60) == -signal.SIGKILL
        assert not alive(child)  # reaped by the zygote before it answered the shim
    finally:
        proc.kill()
        proc.stdin.close()
        proc.wait(timeout=60)
    assert not (project / "terminated").exists()


def test_popen_kill_ends_a_command_its_shim_ran_fresh(project: Path) -> None:
    """Under ASSAY_TEST_FRESH_PROCESSES=1 the shim execs a fresh interpreter (same pid):
    the zygote serves nothing, and kill() reaches that interpreter."""
    before = len(cli_fork.served())
    proc = start_reader(project, cli_fork.popen, MODULE, env={**cli_env(), cli_fork.FRESH: "1"})
    try:
        until((project / "reading").exists)
        assert isinstance(proc, cli_fork.Forked) and proc.command_pid() is None
        proc.kill()
        assert proc.wait(timeout=60) == -signal.SIGKILL
        assert len(cli_fork.served()) == before
    finally:
        proc.kill()
        proc.stdin.close()
        proc.wait(timeout=60)
