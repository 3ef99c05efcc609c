"""Config schemas, registration and loading."""

from assayml.config.load import compose, config_hash, load_params, to_typed, to_yaml
from assayml.config.schema import AssayConfig

__all__ = ["AssayConfig", "compose", "config_hash", "load_params", "to_typed", "to_yaml"]
