"""Errors the CLI reports as one line: bad input (naming the file or params key) and interruption."""
from __future__ import annotations


class InputError(Exception):
    """Bad input from the user (a params key, a file, a folder). The CLI prints it as one line."""


class Interrupted(Exception):
    """Training stopped on a signal after checkpointing; the CLI exits with `status` = 128 + signal
    number, the shell's code for "terminated by that signal"."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.status = 128 + signum
