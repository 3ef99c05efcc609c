"""``assay`` processes in the tests without paying their imports each time.

Every ``assay`` process spends 5-8 s on 2 cores importing torch, Lightning and the rest
before it reads its arguments, and the suite starts hundreds: directly, and through ``dvc
repro`` and ``dvc exp run``. :func:`start` (once per test process) starts a zygote
(:mod:`tests.cli_zygote`) that imports those libraries once, and puts three shims first on
PATH: ``assay``, ``assay-module`` (what :func:`run` and :func:`popen` put in place of
``python -m assayml.cli.main``) and ``python-c`` (in place of any ``python -c CODE``, such
as a test's wrapper around assay's ``main``). A shim hands its arguments, folder,
environment and its own stdin, stdout and stderr to the zygote, which forks a child that
runs the real command line on them; the shim passes signals on and exits with the child's
status. Each command is still a separate process with its own streams, folder, environment
and exit status; only the imports are shared. Where that cannot be faithful (a start-up
variable such as OMP_NUM_THREADS differs, PYTHONPATH holds another copy of a preloaded
package, the zygote is not there) the shim starts a fresh interpreter, as does every call
under ``ASSAY_TEST_FRESH_PROCESSES=1``. Tests about start-up itself (what ``--help``
imports) start ``python`` directly, and so does what assay itself starts with
``sys.executable`` (``assay reproduce``'s stages, DDP ranks).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODULE = "assayml.cli.main"
ZYGOTE = Path(__file__).with_name("cli_zygote.py")
FRESH = "ASSAY_TEST_FRESH_PROCESSES"
SOCKET = "ASSAY_TEST_ZYGOTE"
REAL = "ASSAY_TEST_REAL_ASSAY"

# The shim: the standard library only and no site (-S), so it starts in milliseconds.
SHIM = """#!{python} -S
import json, os, signal, socket, sys

PYTHON, REAL = {python!r}, os.environ.get({real!r}, "")
MODE = {mode!r}
if MODE == "script" and not REAL:  # no console script to stand for: as `python -m`
    MODE = "module"
FORWARDED = {{signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}}
signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)  # held until they can be passed on


def fresh():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)  # exec keeps the mask
    if MODE == "script":
        os.execv(REAL, [REAL, *sys.argv[1:]])
    if MODE == "code":
        os.execv(PYTHON, [PYTHON, "-c", *sys.argv[1:]])
    os.execv(PYTHON, [PYTHON, "-m", {module!r}, *sys.argv[1:]])


def forward(number, frame):
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass  # it has just ended; its status follows


if os.environ.get({fresh!r}) == "1" or not os.environ.get({socket!r}):
    fresh()
try:
    link = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    link.connect(os.environ[{socket!r}])
    request = {{
        "mode": MODE, "argv0": REAL, "argv": sys.argv[1:],
        "cwd": os.getcwd(), "env": dict(os.environ),
    }}
    socket.send_fds(link, [json.dumps(request).encode() + b"\\n"], [0, 1, 2])
    answers = link.makefile("rb")
    first = json.loads(answers.readline() or b'{{"fresh": 1}}')
except OSError:
    fresh()
if "fresh" in first:
    fresh()
pid = first["pid"]
for number in FORWARDED:
    signal.signal(number, forward)
signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
last = answers.readline()
if not last:  # the command ran (or runs) in the zygote: never start it a second time
    sys.exit("assay test shim: the zygote ended before the command did")
code = json.loads(last)["returncode"]
if code < 0:  # killed by a signal: so is the shim, as its caller would see the process die
    try:
        signal.signal(-code, signal.SIG_DFL)
    except OSError:
        pass  # SIGKILL and SIGSTOP have no handler to reset
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {{-code}})
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


SHIMS = {"assay": "script", "assay-module": "module", "python-c": "code"}


class Zygote:
    def __init__(self) -> None:
        self.owner = os.getpid()
        self.folder = Path(tempfile.mkdtemp(prefix="assay-zygote-"))
        self.bin = self.folder / "bin"
        self.bin.mkdir()
        for name, mode in SHIMS.items():
            shim = self.bin / name
            shim.write_text(
                SHIM.format(
                    python=sys.executable,
                    mode=mode,
                    module=MODULE,
                    real=REAL,
                    fresh=FRESH,
                    socket=SOCKET,
                )
            )
            shim.chmod(0o755)
        self.socket = str(self.folder / "socket")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
        self.process = subprocess.Popen(
            [sys.executable, str(ZYGOTE), self.socket], stdin=subprocess.PIPE, env=env
        )

    def stop(self) -> None:
        if os.getpid() != self.owner:
            return  # a forked copy of the test process: the zygote is not its own
        self.process.stdin.close()  # the zygote ends its children and exits
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


_zygote: Zygote | None = None


def start() -> None:
    """Start this test process's zygote and point ``assay`` (PATH) at its shims."""
    global _zygote
    if _zygote is not None or os.environ.get(FRESH) == "1" or not supported():
        return
    real = shutil.which("assay")
    _zygote = Zygote()
    atexit.register(_zygote.stop)
    if real:
        os.environ[REAL] = real
    os.environ[SOCKET] = _zygote.socket
    os.environ["PATH"] = os.pathsep.join([str(_zygote.bin), os.environ.get("PATH", "")])


def active() -> bool:
    """Whether this test process runs `assay` through a zygote (started, and not ended:
    it exits at start-up where forking would be unsafe, and the shims then go fresh)."""
    return _zygote is not None and _zygote.process.poll() is None


def shim_folders() -> list[str]:
    """The folder of the ``assay`` shim, to go first on a PATH built anew (none if fresh)."""
    return [str(_zygote.bin)] if _zygote else []


def served() -> list[int]:
    """The pids of the processes this test process's zygote has forked, in order."""
    return [child for child, _ in _served()]


def child_of(shim: int, since: int = 0) -> int | None:
    """The pid of the process the zygote forked for the shim with pid ``shim`` (among the
    children served after the first ``since``: pids are reused), if any."""
    return next((child for child, caller in _served()[since:] if caller == shim), None)


def _served() -> list[tuple[int, int]]:
    log = _zygote.folder / "served" if _zygote else None
    text = log.read_text() if log and log.exists() else ""
    lines = text.splitlines(keepends=True)
    # A line the zygote is still writing is left for the next read.
    return [tuple(map(int, line.split())) for line in lines if line.endswith("\n")]


def supported() -> bool:
    """Linux's pidfds, fd passing, and a temp folder short enough for a socket's path."""
    import socket

    short = len(os.path.join(tempfile.gettempdir(), "assay-zygote-xxxxxxxx", "socket")) < 100
    shebang = " " not in sys.executable and len(sys.executable) < 120  # the shims' first line
    return hasattr(os, "pidfd_open") and hasattr(socket, "send_fds") and short and shebang


def run(cmd: list[str] | tuple[str, ...], **kwargs: Any) -> subprocess.CompletedProcess:
    """:func:`subprocess.run`, with ``python -m assayml.cli.main`` and any ``python -c``
    through the zygote (a timeout kills the shim; the zygote then kills the command)."""
    return subprocess.run(through_shim(cmd, kwargs.get("env")) or cmd, **kwargs)


def popen(cmd: list[str] | tuple[str, ...], **kwargs: Any) -> subprocess.Popen:
    """:class:`subprocess.Popen`, as :func:`run` does it; its ``kill()`` (SIGKILL, which no
    shim can pass on) kills the command itself."""
    shimmed = through_shim(cmd, kwargs.get("env"))
    return Forked(shimmed, **kwargs) if shimmed else subprocess.Popen(cmd, **kwargs)


def command_pid(process: subprocess.Popen) -> int:
    """The pid of the process running ``process``'s command: the zygote's child for a shim."""
    child = process.command_pid() if isinstance(process, Forked) else None
    return child or process.pid


class Forked(subprocess.Popen):
    """A shim's process. SIGKILL goes to the command the zygote forked for it: the shim
    then ends as the command did (killed), as a fresh process would have."""

    WAIT_S = 60.0  # for the zygote to fork the command (it may still be importing)

    def __init__(self, args: list[str], **kwargs: Any) -> None:
        self.served_before = len(_served())  # the log's older lines may hold a reused pid
        super().__init__(args, **kwargs)

    def send_signal(self, sig: int) -> None:
        if sig == signal.SIGKILL and self.poll() is None and (child := self.command_pid()):
            kill_child(child)
            return
        super().send_signal(sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def command_pid(self) -> int | None:
        """The forked command's pid; None if the shim went fresh (it became the command),
        has ended, or the zygote did not fork it in time (killing the shim then ends it)."""
        deadline = time.monotonic() + self.WAIT_S
        while self.poll() is None and time.monotonic() < deadline:
            if child := child_of(self.pid, self.served_before):
                return child
            try:
                with open(f"/proc/{self.pid}/cmdline", "rb") as cmdline:
                    if str(_zygote.bin).encode() not in cmdline.read():
                        return None  # exec'd a fresh interpreter
            except FileNotFoundError:
                continue  # it has just ended
            time.sleep(0.005)
        return None


def kill_child(pid: int) -> None:
    """SIGKILL the zygote's child ``pid``, through a pidfd, and only if the process is
    still the zygote's child (not an ended one's reused pid)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # it has ended and been reaped
    try:
        with open(f"/proc/{pid}/stat") as stat:
            parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        if parent == _zygote.process.pid:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except (FileNotFoundError, ProcessLookupError):
        pass  # it ended in between
    finally:
        os.close(pidfd)


def through_shim(cmd: list[str] | tuple[str, ...], env: dict | None = None) -> list[str] | None:
    """``cmd`` through a shim: ``python -m assayml.cli.main ARGS`` as ``assay-module ARGS``,
    ``python -c CODE ARGS`` as ``python-c CODE ARGS``, with this interpreter as python
    (found on the call's PATH); None for any other command, or without a zygote."""
    if _zygote is None or isinstance(cmd, str | bytes) or len(cmd) < 3:
        return None
    program = str(cmd[0])
    if os.sep not in program:
        path = (env or os.environ).get("PATH")
        program = shutil.which(program, path=path) or program
    if os.path.abspath(program) != os.path.abspath(sys.executable):
        return None
    if list(cmd[1:3]) == ["-m", MODULE]:
        return [str(_zygote.bin / "assay-module"), *cmd[3:]]
    if cmd[1] == "-c":
        return [str(_zygote.bin / "python-c"), *cmd[2:]]
    return None
