"""Errors that the command line turns into one-line messages and exit code 2."""


def printable(text: str) -> str:
    """``text`` with control characters (newlines, carriage returns, escapes, DEL) written as
    ``\\n``, ``\\r``, ``\\x1b``...: an error message built from bad input stays one line
    and cannot move the cursor of the terminal it is printed on."""
    return "".join(char if char >= " " and char != "\x7f" else repr(char)[1:-1] for char in text)


class UserError(Exception):
    """Bad input from the user: a wrong spec, a corrupt artifact, a missing file.

    The message must name the problem (the field, the file, the allowed values)
    so that it can be printed on one line without a traceback.
    """


class SpecError(UserError, ValueError):
    """A spec field holds a value outside its allowed range."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"spec field '{printable(field)}': {printable(message)}")
