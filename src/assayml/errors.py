"""Errors that carry the exit code the ``assay`` command line promises (see DESIGN.md)."""

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_CHECK_FAILED = 3


class AssayError(Exception):
    """Base class for errors we expect and explain; ``exit_code`` is what the CLI returns."""

    exit_code = EXIT_INTERNAL


class BadInputError(AssayError):
    """Bad data, file or config: the message names the file, key, column or row."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(BadInputError):
    """A config value or key that fails validation."""


class DataError(BadInputError):
    """Input data that is missing, unreadable or violates its declared schema."""


class ArtifactError(BadInputError):
    """A saved artifact (model, transform) that is missing, unreadable or tampered with."""


class CheckFailed(AssayError):
    """A check ran and found problems (monitor violations, irreproducible run)."""

    exit_code = EXIT_CHECK_FAILED
