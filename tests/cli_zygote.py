"""A process that imports the heavy libraries once and forks a child per ``assay`` call.

Started by :mod:`tests.cli_fork` (one per test process), listening on a Unix socket; the
``assay`` shim (:data:`tests.cli_fork.SHIM`) connects, sends its arguments, folder and
environment with its own stdin, stdout and stderr, and the zygote forks a child that
becomes the command: ``python -m assayml.cli.main ARGS`` (mode ``module``), the ``assay``
console script (mode ``script``) or ``python -c CODE ARGS`` (mode ``code``: a test's own
code, such as a wrapper around assay's ``main``) as Python would start it there, on the
shim's streams. The shim gets the child's pid (to pass signals on) and then its exit
status; if the shim dies first, the child is killed, as a process dies with its parent's
pipe.

It imports libraries and this project's package, never a project's own code, and refuses
to serve if that started a thread that does not survive fork (it exits; shims then go
fresh). Where the interpreter or a preloaded library reads an environment variable at
start-up and the call's value differs from the zygote's, or the call's PYTHONPATH holds
another copy of a preloaded package, it answers ``fresh`` and the shim starts a fresh
interpreter instead.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import selectors
import signal
import socket
import struct
import sys
import warnings
from pathlib import Path

# Before anything adds to them: Python's own filters, which sit after -W/PYTHONWARNINGS'.
DEFAULT_WARNING_FILTERS = list(warnings.filters)

# What `assay` commands import in nearly every call: 5-8 s a process on 2 cores (torch,
# Lightning's import of torch._dynamo, torchmetrics, scikit-learn, pandas), paid here once.
# Not Lightning itself (0.2 s once torch._dynamo is in): on import it gives its loggers a
# console handler of their own only if the root logger has none yet, and a fresh `assay`
# imports it after Hydra has set logging up (so its lines reach the run's log file).
PRELOAD = (
    "torch",
    "torch._dynamo",  # what makes `import lightning` slow; Lightning itself is left out
    "torchmetrics",
    "sklearn.metrics",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "pandas",
    "pyarrow.parquet",
    "scipy.stats",
    "hydra",
    "omegaconf",
    "captum.attr",
    "pandera.pandas",
    "pydantic",
    "filelock",
    "safetensors.torch",
    "tabulate",  # torch._dynamo's, imported when Lightning starts a run
    "assayml.cli.main",
    "assayml.cli.config_commands",
    "assayml.stages.prepare",
    "assayml.stages.features",
    "assayml.stages.train",
    "assayml.stages.evaluate",
    "assayml.stages.explain",
    "assayml.serve.launch",  # uvicorn, FastAPI, Prometheus' client
    "assayml.monitor.run",
    "assayml.forget.run",
    "assayml.registry",
    "assayml.audit",
    "assayml.report.sources",
)
# Read when the interpreter or torch starts, so a forked child cannot take a new value.
STARTUP_VARIABLES = frozenset(
    {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "MPLBACKEND", "CUDA_VISIBLE_DEVICES"}
    | {"LD_PRELOAD", "LD_LIBRARY_PATH", "TORCH_LOGS", "TORCHDYNAMO_DISABLE"}
    | {"LANG", "LC_ALL", "LC_CTYPE", "HOME", "MPLCONFIGDIR"}  # stream encoding, user site
)
FORK_SAFE_THREADS = frozenset({"jemalloc_bg_thd"})
INTERRUPTED = -int(signal.SIGINT)  # run()'s code for a KeyboardInterrupt
# Handled per child: PYTHONPATH (sys.path) and PYTHONWARNINGS (the warning filters).
PER_CALL = frozenset({"PYTHONPATH", "PYTHONWARNINGS"})


def startup(env: dict[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in env.items()
        if k in STARTUP_VARIABLES or (k.startswith("PYTHON") and k not in PER_CALL)
    }


def preload() -> None:
    import gc
    import importlib
    import threading

    for name in PRELOAD:
        importlib.import_module(name)
    set_up_configs()
    # Out of the collector's sight: a collection in a child would otherwise walk (and so
    # copy, page by page) the whole preloaded heap; it halves a short command's time.
    gc.freeze()
    if "lightning" in sys.modules:
        sys.exit("cli_zygote: a preloaded module imported lightning (see PRELOAD)")
    # Native threads too, as fork copies only the calling one; jemalloc's background thread
    # (pyarrow's allocator) restarts itself in a child, through its own fork handlers.
    threads = [comm(task) for task in os.listdir("/proc/self/task") if int(task) != os.getpid()]
    if threading.active_count() != 1 or set(threads) - FORK_SAFE_THREADS:
        sys.exit(f"cli_zygote: a preloaded module started threads {threads}: not forking")


def set_up_configs() -> None:
    """What every command does at its first compose and validation, whatever its config:
    the schemas stored in Hydra's ConfigStore, Hydra's plugin scan (importing every
    ``hydra_plugins`` module) and the empty typed schemas that validation fills; 0.3-0.4 s
    of a child's time, as much as the rest of a short command."""
    from hydra.core.plugins import Plugins

    from assayml.config import load
    from assayml.config.models import BUILTIN_MODEL_SCHEMAS
    from assayml.config.schema import AssayConfig, ColumnSpec, DataConfig
    from assayml.config.store import register_configs

    register_configs()
    Plugins.instance()
    for schema in (AssayConfig, DataConfig, ColumnSpec, *BUILTIN_MODEL_SCHEMAS.values()):
        load._template(schema)
    # Each test project holds a copy of this repository's conf/, and a config text is
    # parsed once a process, whichever folder holds it (config/hydra_speedups.py): composed
    # here, every file a child's compose reads unchanged is parsed already. A warm-up only:
    # without this machine's conf/local/default.yaml (it may name project code), from the
    # repository root (schema files are read from the working folder), and whatever goes
    # wrong is left for the commands themselves to meet.
    repo = Path(__file__).resolve().parents[1]
    with contextlib.suppress(Exception), contextlib.chdir(repo):
        load.to_typed(load.compose(["~local"], repo / "conf"))


def comm(task: str) -> str:
    with open(f"/proc/self/task/{task}/comm") as name:
        return name.read().strip()


class Server:
    def __init__(self, path: str, parent: int) -> None:
        self.parent = parent
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)  # callers queue here while the libraries load
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, self.accept)
        self.selector.register(parent, selectors.EVENT_READ, self.parent_gone)
        self.base_path = [p for p in sys.path[1:] if p not in pythonpath(os.environ)]
        self.own_startup = startup(dict(os.environ))
        # A line per child: its pid, and the pid of the shim it stands for.
        self.served = os.path.join(os.path.dirname(path), "served")
        self.received: dict[socket.socket, tuple[bytes, list[int]]] = {}
        self.children: dict[socket.socket, tuple[int, int]] = {}  # conn -> (pid, pidfd)

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if self.selector.get_map().get(key.fd) is key:  # not closed earlier this round
                    key.data(key.fileobj)

    def parent_gone(self, parent: int) -> None:
        """The test process closed its end of our stdin (or died): end every child, exit."""
        if os.read(parent, 4096):
            return
        for pid, _ in self.children.values():
            os.kill(pid, signal.SIGKILL)
        sys.exit(0)

    def accept(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        self.received[conn] = (b"", [])
        self.selector.register(conn, selectors.EVENT_READ, self.read)

    def read(self, conn: socket.socket) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        except OSError:  # reset by a shim that died: the same as its end of file
            data, fds = b"", []
        if conn in self.children:  # the shim went away (or spoke out of turn): end its child
            if not data:
                self.selector.unregister(conn)  # until the child is reaped
                os.kill(self.children[conn][0], signal.SIGKILL)
            return
        if not data:
            self.close(conn, self.received.pop(conn)[1] + fds)
            return
        buffered, held = self.received[conn]
        self.received[conn] = (buffered + data, held + fds)
        if not data.endswith(b"\n"):
            return
        raw, streams = self.received.pop(conn)
        request = json.loads(raw)
        if (
            len(streams) != 3
            or startup(request["env"]) != self.own_startup
            or self.shadowed(request)
            # -c shows the code's own lines in tracebacks from 3.13 on: not copied here
            or (request["mode"] == "code" and sys.version_info >= (3, 13))
        ):
            with contextlib.suppress(OSError):
                send(conn, fresh=1)
            self.close(conn, streams)
            return
        self.start(conn, request, streams)

    def shadowed(self, request: dict) -> bool:
        """Whether the call's sys.path entries (its PYTHONPATH, its folder under -m) hold
        a package the zygote preloaded from elsewhere (another checkout's assayml on
        PYTHONPATH), which a fresh interpreter would import, or Hydra plugins of their own."""
        folders = pythonpath(request["env"])
        if request["mode"] in ("module", "code"):
            folders.append(request["cwd"])
        for top, home in self.homes.items():
            for folder in folders:
                here = (os.path.join(folder, top), os.path.join(folder, f"{top}.py"))
                if any(map(os.path.exists, here)) and os.path.realpath(folder) != home:
                    return True
        # Hydra's plugin scan ran here before forking (set_up_configs): plugins of the
        # call's own would be found only by a fresh interpreter's scan
        for folder in folders:
            plugins = os.path.realpath(os.path.join(folder, "hydra_plugins"))
            if os.path.isdir(plugins) and plugins not in self.scanned_plugins:
                return True
        return False

    @functools.cached_property
    def scanned_plugins(self) -> set[str]:
        """The ``hydra_plugins`` folders the zygote's own plugin scan read."""
        package = sys.modules.get("hydra_plugins")
        return {os.path.realpath(p) for p in getattr(package, "__path__", [])}

    @functools.cached_property
    def homes(self) -> dict[str, str]:
        """Each preloaded top-level name: the sys.path folder it was imported from."""
        return {
            top: os.path.realpath(imported_from(top))
            for top in {name.split(".")[0] for name in PRELOAD}
        }

    def start(self, conn: socket.socket, request: dict, streams: list[int]) -> None:
        go, ready = os.pipe()  # the child starts the command only once the shim has its pid
        pid = os.fork()
        if pid == 0:
            os.close(ready)
            self.selector.close()
            self.listener.close()
            os.close(self.parent)
            for other, (_, held) in self.received.items():
                other.close()
                for fd in held:  # another caller's streams, half received
                    os.close(fd)
            for other, (_, pidfd) in self.children.items():
                other.close()
                os.close(pidfd)
            conn.close()
            if os.read(go, 1) != b"g":
                os._exit(1)  # the shim is gone: nobody asked for the command any more
            os.close(go)
            become_assay(request, streams, self.base_path)  # never returns
        os.close(go)
        for fd in streams:
            os.close(fd)
        try:
            send(conn, pid=pid)
        except OSError:
            os.close(ready)  # the child exits without running anything
            os.waitpid(pid, 0)
            self.close(conn, [])
            return
        os.write(ready, b"g")
        os.close(ready)
        shim, _, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        with open(self.served, "a") as log:
            log.write(f"{pid} {shim}\n")
        pidfd = os.pidfd_open(pid)
        self.children[conn] = (pid, pidfd)
        self.selector.register(pidfd, selectors.EVENT_READ, lambda _: self.reap(conn))

    def reap(self, conn: socket.socket) -> None:
        pid, pidfd = self.children.pop(conn)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        with contextlib.suppress(OSError):  # else the shim is gone: nobody waits for it
            send(conn, returncode=os.waitstatus_to_exitcode(status))
        self.close(conn, [])

    def close(self, conn: socket.socket, fds: list[int]) -> None:
        for fd in fds:
            os.close(fd)
        if conn in self.selector.get_map():
            self.selector.unregister(conn)
        conn.close()


def imported_from(top: str) -> str:
    """The sys.path folder a preloaded top-level module or package was imported from."""
    module = sys.modules[top]
    path = os.path.dirname(module.__file__)
    return os.path.dirname(path) if module.__file__.endswith("__init__.py") else path


def send(conn: socket.socket, **fields: int) -> None:
    conn.sendall(json.dumps(fields).encode() + b"\n")


def pythonpath(env: dict[str, str]) -> list[str]:
    return [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]


def become_assay(request: dict, streams: list[int], base_path: list[str]) -> None:
    code = 1
    try:
        for target, fd in enumerate(streams):
            os.dup2(fd, target)
            os.close(fd)
        # New stream objects, configured as Python configures them at start-up.
        # Their error handlers as the zygote's start-up chose them (surrogateescape under
        # a C locale or PYTHONUTF8=1, both start-up settings that equal the zygote's).
        sys.stdin = sys.__stdin__ = open(0, errors=sys.__stdin__.errors, closefd=False)  # noqa: SIM115
        unbuffered = bool(request["env"].get("PYTHONUNBUFFERED"))  # as the zygote's (startup)
        sys.stdout = sys.__stdout__ = output(1, sys.__stdout__.errors, unbuffered)
        sys.stderr = sys.__stderr__ = output(2, sys.__stderr__.errors, unbuffered)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        set_warning_options(request["env"].get("PYTHONWARNINGS", ""))
        if request["mode"] == "module":  # as `python -m` has it: run as __main__ only
            sys.modules.pop("assayml.cli.main", None)
        # sys.path as Python builds it: the script's folder (for -m, the working
        # folder; for -c, "", the working folder as it is when imports happen), then
        # PYTHONPATH, then the rest.
        first = {"module": os.getcwd(), "code": ""}.get(
            request["mode"], os.path.dirname(request["argv0"])
        )
        sys.path[:] = [first, *pythonpath(request["env"]), *base_path]
        code = run(request)
    finally:
        if code == INTERRUPTED:  # as the interpreter ends on KeyboardInterrupt: by SIGINT
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        os._exit(code)


def output(fd: int, errors: str, unbuffered: bool) -> io.TextIOWrapper:
    """A standard stream as Python's start-up makes it: under PYTHONUNBUFFERED (-u) every
    write goes straight to the file; otherwise stdout is line-buffered only on a terminal,
    stderr always (Python 3.9+)."""
    raw = open(fd, "wb", buffering=0 if unbuffered else -1, closefd=False)  # noqa: SIM115
    return io.TextIOWrapper(
        raw,
        encoding=sys.__stdout__.encoding,
        errors=errors,
        line_buffering=not unbuffered and (fd == 2 or os.isatty(fd)),
        write_through=unbuffered,
    )


def set_warning_options(value: str) -> None:
    """The warning filters PYTHONWARNINGS would have made: after the libraries' own,
    before Python's defaults (the zygote itself runs without PYTHONWARNINGS)."""
    options = [o for o in value.split(",") if o]
    sys.warnoptions[:] = options
    if not options:
        return
    ours = [f for f in warnings.filters if f not in DEFAULT_WARNING_FILTERS]
    defaults = [f for f in warnings.filters if f in DEFAULT_WARNING_FILTERS]
    warnings.filters[:] = []
    warnings._processoptions(options)
    warnings.filters[:] = [*ours, *warnings.filters, *defaults]
    warnings._filters_mutated()


def run(request: dict) -> int:
    import atexit
    import runpy
    import threading
    import types

    code = 0
    try:
        if request["mode"] == "module":
            sys.argv = ["-m", *request["argv"]]
            runpy.run_module("assayml.cli.main", run_name="__main__", alter_sys=True)
        elif request["mode"] == "code":
            source, *args = request["argv"]
            sys.argv = ["-c", *args]
            main = sys.modules["__main__"] = types.ModuleType("__main__")
            exec(compile(source, "<string>", "exec"), main.__dict__)
        else:
            sys.argv = [request["argv0"], *request["argv"]]
            from assayml.cli.main import entry

            entry()
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException as exc:  # reported as the interpreter reports it
        if request["mode"] == "code" and exc.__traceback__ is not None:
            exc.__traceback__ = exc.__traceback__.tb_next  # from the code's frame, as -c has it
        sys.excepthook(type(exc), exc, exc.__traceback__)
        code = INTERRUPTED if isinstance(exc, KeyboardInterrupt) else 1
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):
            stream.flush()
    return code


def exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    os.close(os.pidfd_open(os.getpid()))  # a kernel without pidfds: no socket, shims go fresh
    server = Server(sys.argv[1], os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    preload()
    server.serve()
