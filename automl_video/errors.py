"""Errors a user can act on: the CLI prints their message as one line and exits non-zero."""


class AutoMLVideoError(Exception):
    """Base of every error caused by input, configuration or state rather than a bug."""
