"""Register the schemas with Hydra's ConfigStore.

Called by the ``assay`` command line and, through the ``hydra_plugins.assayml_schema``
plugin module, by any Hydra process that scans plugins (``dvc exp run`` does), so both
compose ``conf/`` against the same schemas.
"""

from hydra.core.config_store import ConfigStore

from assayml.config import hydra_speedups
from assayml.config.column_schemas import DataConfigNode
from assayml.config.models import CNNConfig, LogRegConfig, MLPConfig
from assayml.config.schema import AssayConfig

ROOT_SCHEMA = "assay_schema"


def register_configs() -> None:
    """Store the root schema and the per-model schemas (idempotent). Storing converts each
    dataclass to an OmegaConf node (~0.17 s for all), and one command called this up to
    three times: once is enough while the store still holds them. Composing from here on
    takes the quicker paths of :mod:`assayml.config.hydra_speedups`."""
    hydra_speedups.install()
    store = ConfigStore.instance()
    if "cnn_schema.yaml" in store.repo.get("model", {}):  # the last one stored below
        return
    store.store(name=ROOT_SCHEMA, node=AssayConfig)
    # `data` is typed Any in the root (a LightningDataModule may stand there); a table
    # data config names this schema in its defaults, so overrides of its keys compose
    # (its column entries untyped until merged with the schema file: column_schemas.py).
    store.store(group="data", name="data_schema", node=DataConfigNode)
    store.store(group="model", name="logreg_schema", node=LogRegConfig)
    store.store(group="model", name="mlp_schema", node=MLPConfig)
    store.store(group="model", name="cnn_schema", node=CNNConfig)
