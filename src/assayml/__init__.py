"""assayml: a declarative, config-driven, reproducible ML lifecycle.

Importing this package is cheap on purpose: heavy libraries (torch, lightning, dvc)
are imported inside the stages that need them so that ``assay --help`` stays fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
