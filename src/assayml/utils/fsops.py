"""Crash-safe file-system steps: fsync, an atomic folder exchange, stale temporaries.

A rename is atomic but not durable until its folder is fsynced, and a file's bytes are not
durable until the file is: without both, a power cut after "commit" can leave a record
naming a model whose bytes never reached the disk. Swapping a folder with two renames
leaves a moment with no folder at all; Linux's ``renameat2(RENAME_EXCHANGE)`` swaps two
paths in one step, so a reader (or a kill) always finds one whole folder. Python's
``os`` has no binding for it and no maintained package wraps it, hence ``ctypes``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import uuid
from pathlib import Path

AT_FDCWD = -100  # <fcntl.h>: paths relative to the working directory
RENAME_EXCHANGE = 2  # <linux/fs.h>
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV}


def temp_sibling(final: Path, kind: str = "tmp") -> Path:
    """``.<pid>-<random>.<kind>.<name>`` beside ``final``: the process id says whether
    its writer is still alive (see :func:`remove_stale`)."""
    return final.parent / f".{os.getpid()}-{uuid.uuid4().hex[:8]}.{kind}.{final.name}"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the folder's entries (renames, new files) durable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # some platforms cannot open a folder; nothing more to do there
    try:
        os.fsync(fd)
    except OSError:
        pass  # a file system that does not sync folders (some network mounts)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Every file and folder under ``root``, deepest first, then ``root``."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            fsync_file(Path(folder, name))
        fsync_dir(Path(folder))


def exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` atomically; False where the system cannot (not Linux, or a
    file system without RENAME_EXCHANGE), and nothing was changed."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    done = renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def owner_alive(name: str) -> bool:
    """Whether the process that made the temporary ``name`` (``.<pid>-...``) still runs
    on this host. Names without a pid (older releases) count as orphans."""
    pid_text = name.lstrip(".").split("-", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale(folder: Path, name: str) -> list[Path]:
    """Delete temporaries of ``name`` in ``folder`` left by writers that died (a kill
    during a stage); returns what was removed."""
    removed = []
    if not folder.is_dir():
        return removed
    for kind in ("tmp", "old"):
        for path in folder.glob(f".*.{kind}.{name}"):
            if owner_alive(path.name):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def rename(src: Path, dst: Path) -> None:
    """``os.replace``; one name for every rename a commit makes (tests inject faults here)."""
    os.replace(src, dst)
