"""Errors a user can fix: the CLI prints them as one line."""


class CliError(Exception):
    """A problem with what the user asked for or with what it needs (broker, monitor)."""
