"""A DDP rank other than 0: ``python -m assayml.train.ddp_worker CONFIG`` (started by
``train.distributed.ddp_workers``). Fits alongside rank 0 on the resolved config it is
given and writes nothing: no logger, no progress bar, no model, no record."""

from __future__ import annotations

import sys
from dataclasses import replace


def main(config_path: str) -> int:
    from assayml.cli.jobs import quiet_libraries
    from assayml.config.load import load_params, to_typed
    from assayml.stages.train import training_inputs
    from assayml.train.fit import fit_network

    quiet_libraries()
    cfg = to_typed(load_params(config_path))
    cfg = replace(cfg, trainer=replace(cfg.trainer, enable_progress_bar=False))
    inputs = training_inputs(cfg)
    fit_network(cfg, inputs.splits, inputs.out_features, inputs.task, worker=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
