"""Experiments: run records, sweep summaries and objectives, listing and comparing runs,
and the Optuna search glue. The CLI and the Hydra plugins call into these."""
