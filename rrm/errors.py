"""Errors that the command line turns into one-line messages and exit code 2."""


class UserError(Exception):
    """Bad input from the user: a wrong spec, a corrupt artifact, a missing file.

    The message must name the problem (the field, the file, the allowed values)
    so that it can be printed on one line without a traceback.
    """


class SpecError(UserError, ValueError):
    """A spec field holds a value outside its allowed range."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"spec field '{field}': {message}")
