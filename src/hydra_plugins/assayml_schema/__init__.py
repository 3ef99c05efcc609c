"""Hydra imports every module under ``hydra_plugins`` when it scans for plugins; importing
this one registers assayml's config schemas, so that composing ``conf/`` outside the
``assay`` command (``dvc exp run`` composes params.yaml this way) validates it too."""

from assayml.config.store import register_configs

register_configs()
