"""The one error the harness reports as a single line (exit status 1)."""


class SetupFailed(Exception):
    """Set-up could not be done: the model, the server or the database. One line, no traceback."""
