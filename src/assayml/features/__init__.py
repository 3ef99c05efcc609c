"""Feature pipeline: declared in config, fitted on train only, applied by one code path."""

from assayml.features.transform import FeatureTransform

__all__ = ["FeatureTransform"]
