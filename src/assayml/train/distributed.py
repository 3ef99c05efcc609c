"""Distributed data parallel training without the Hydra trap.

Lightning's own DDP launcher starts the other ranks by re-running the command line; under
Hydra each re-run composes the config again and makes its own output directory (with a new
``${now:}``), and under ``-m`` it would start a sweep. Instead, rank 0 starts the other
ranks itself, as ``python -m assayml.train.ddp_worker CONFIG`` with the resolved config it
is running and the usual environment (``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``,
``LOCAL_RANK``); Lightning then sees processes created externally, as under torchrun. The
workers compose nothing and write nothing: they only fit; rank 0 writes checkpoints (as
Lightning does), the model, the records and the run directory, so there is exactly one.

Under an external launcher that starts every rank (torchrun sets ``LOCAL_RANK``; srun with
several tasks sets ``SLURM_NTASKS``) nothing is started here. A SLURM job of one task (a
sweep job under ``hydra/launcher=slurm``) starts its ranks here, as on a workstation, and
tells Lightning so: its SLURM detection would otherwise expect one task per device.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assayml.config.schema import AssayConfig
from assayml.errors import EXIT_INTERNAL, ConfigError

ENV_KEYS = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "NODE_RANK", "LOCAL_RANK")
WORKER_TIMEOUT_S = 120  # for the other ranks to finish after rank 0's fit returned


def local_processes(cfg: AssayConfig) -> int:
    """Processes a DDP run needs on this machine (1: not distributed)."""
    t = cfg.trainer
    if not t.strategy.startswith("ddp"):
        return 1
    if isinstance(t.devices, int):
        return t.devices
    if isinstance(t.devices, list | tuple):
        return len(t.devices)
    raise ConfigError("trainer.devices: give a count or a list of ids for strategy=ddp")


def launched_externally() -> bool:
    return "LOCAL_RANK" in os.environ or int(os.environ.get("SLURM_NTASKS", "1")) > 1


def external_rank() -> int:
    """This process's global rank under an external launcher (torchrun, srun); 0 otherwise."""
    if not launched_externally():
        return 0
    return int(os.environ.get("RANK") or os.environ.get("SLURM_PROCID") or 0)


def cluster_plugins(cfg: AssayConfig, worker: bool) -> list:
    """Lightning plugins for a run whose ranks this module starts (rank 0 or a worker)."""
    if local_processes(cfg) <= 1 or not (worker or not launched_externally()):
        return []
    from lightning.fabric.plugins.environments import LightningEnvironment

    return [LightningEnvironment()]


@contextmanager
def ddp_workers(cfg: AssayConfig) -> Iterator[None]:
    """Around rank 0's ``trainer.fit``: start ranks 1..n-1 and wait for them after."""
    count = local_processes(cfg)
    if count <= 1 or launched_externally():
        yield
        return
    if cfg.trainer.strategy != "ddp" or cfg.trainer.num_nodes != 1:
        raise ConfigError(
            "trainer.strategy: assay starts DDP ranks itself for strategy=ddp on one node; "
            "for several nodes launch with torchrun or SLURM (hydra/launcher=slurm)"
        )
    config_file = Path(cfg.paths.checkpoints_dir) / ".ddp_config.yaml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    from assayml.config.load import to_yaml

    config_file.write_text(to_yaml(cfg))
    saved = {key: os.environ.get(key) for key in ENV_KEYS}
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(_free_port()),
        WORLD_SIZE=str(count),
        NODE_RANK="0",
        LOCAL_RANK="0",
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "assayml.train.ddp_worker", str(config_file)],
            env={**os.environ, "LOCAL_RANK": str(rank)},
            stdout=subprocess.DEVNULL,  # rank 0 reports; a worker's errors go to stderr
        )
        for rank in range(1, count)
    ]
    done = threading.Event()
    watch = threading.Thread(target=_observe, args=(workers, done), daemon=True)
    watch.start()
    try:
        yield
    except BaseException:
        done.set()
        for worker in workers:  # they would wait for rank 0 until the collective timeout
            worker.kill()
        raise
    finally:
        done.set()
        failed = [w.returncode for w in workers if _wait(w) != 0]
        _leave_process_group()
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.update({key: value})
        config_file.unlink(missing_ok=True)
    if failed:
        raise RuntimeError(f"DDP worker processes failed with exit codes {failed}")


def rank_and_world(trainer) -> tuple[int, int]:
    """(global rank, world size) of the running trainer; (0, 1) outside one."""
    if trainer is None:
        return 0, 1
    return trainer.global_rank, trainer.world_size


def _observe(workers: list[subprocess.Popen], done: threading.Event) -> None:
    """A rank that dies leaves the others blocked in a collective (for 30 minutes, gloo's
    default), where no signal handler of this process can run (and Lightning replaces
    SIGTERM's during fit): end this process at once, as Lightning's own launcher does. The
    stage's outputs are written only after fit, so the previous ones stay in place."""
    while not done.wait(0.5):
        for rank, worker in enumerate(workers, start=1):
            if worker.poll() not in (None, 0) and not done.is_set():
                print(
                    f"assay train: DDP rank {rank} failed (exit code {worker.returncode}); "
                    "stopping",
                    file=sys.stderr,
                    flush=True,
                )
                for other in workers:
                    other.kill()
                os._exit(EXIT_INTERNAL)
        if all(w.poll() is not None for w in workers):
            return


def _wait(worker: subprocess.Popen) -> int:
    try:
        return worker.wait(timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        worker.kill()
        return worker.wait()


def _leave_process_group() -> None:
    """Later stages in this process (and the next job of a sweep) start clean."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
