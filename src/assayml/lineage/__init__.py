"""Lineage from a model back to raw data, code and config."""
