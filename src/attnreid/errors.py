"""One error type for bad input: its message is one line naming the file or params key."""
from __future__ import annotations


class InputError(Exception):
    """Bad input from the user (a params key, a file, a folder). The CLI prints it as one line."""
