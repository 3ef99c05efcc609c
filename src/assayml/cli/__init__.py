"""The ``assay`` command line: thin wrappers over the stage functions."""
