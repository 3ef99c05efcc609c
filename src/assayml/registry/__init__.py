"""The model registry: versions, approvals, stages, content-addressed files."""

from assayml.registry.store import Registry

__all__ = ["Registry"]
