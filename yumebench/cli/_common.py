"""Helpers shared by the CLI verbs: one-line errors and the exit codes every command uses.

Exit codes:
    0  success
    1  the run finished but something failed: items that could not be scored or built (listed, and
       in the output's meta / quarantine), or, for ``leaderboard check``, a regression
    2  bad input or usage: a missing, unreadable or malformed file, a non-finite number, a bad flag
    3  the system refused: a full disk, a read-only folder, a permission error
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_IO = 3
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line on stderr and exit with ``code`` (2: bad input or usage)."""
    err_console.print(f"error: {' '.join(str(message).split())}", markup=False)
    raise typer.Exit(code)


def fail_io(error: OSError) -> NoReturn:
    """One line naming the file the system refused, exit 3."""
    from yumebench.files import os_error_line

    fail(os_error_line(error), EXIT_IO)


def writable_or_fail(folder) -> None:
    """Check that ``folder`` can take files before any expensive work starts."""
    from yumebench.files import ensure_writable

    try:
        ensure_writable(folder)
    except OSError as e:
        fail_io(e)


def text_arg_or_fail(value: str | None, flag: str) -> str | None:
    """Arguments arrive with undecodable bytes as surrogates: refuse them before any work starts."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        fail(f"{flag}: not valid UTF-8 text")
    return value
