"""assayml's Optuna sweeper for Hydra: ``hydra/sweeper=assay_optuna`` (see
``conf/hparams_search/optuna.yaml``). Built on current Optuna (5.x) rather than
hydra-optuna-sweeper, which pins Optuna below 3."""
