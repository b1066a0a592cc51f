"""The ``pcfij`` command line (also ``python -m pcfij``).

Sub-commands are generated from the command declarations (:mod:`pcfij.commands`); each
runs the function of :data:`pcfij.cli.runners.RUNNERS` under its name.

* Bad input (:class:`~pcfij.errors.InputError`, :class:`~pcfij.errors.InputTypeError`) and
  clear operating-system errors (missing file, permission denied, disk full, read-only file
  system, ... with the path) end with one line on stderr (``pcfij <command>: error: ...``)
  and exit status 1, never a traceback.
* Warnings are one line each on stderr (``pcfij <command>: warning: ...``).
* Anything else is a bug in pcfij, not bad input: the traceback is printed with a request
  to report it, and the exit status is 70 (``EX_SOFTWARE``).

Set ``PCFIJ_DEBUG=1`` to see the traceback of every error.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from pcfij import __version__
from pcfij.commands import COMMANDS
from pcfij.errors import InputError, InputTypeError

EXIT_ERROR = 1
EXIT_BUG = 70
EXIT_INTERRUPTED = 130

#: OSError numbers whose message and path say all a user needs (one line, no traceback)
CLEAR_OS_ERRORS = frozenset(getattr(errno, name) for name in (
    "ENOENT", "ENOTDIR", "EISDIR", "EACCES", "EPERM", "ENOSPC", "EDQUOT", "EROFS", "EEXIST",
    "ENAMETOOLONG", "ELOOP", "EIO", "EFBIG", "EMFILE", "ENFILE", "EBUSY", "ETXTBSY", "EPIPE",
    "ENOTEMPTY", "EXDEV") if hasattr(errno, name))

BUG_REPORT = ("this is a bug in pcfij, not a problem with your input: please report it to "
              "the pcfij developers with the command line and the traceback above")


def build_parser() -> argparse.ArgumentParser:
    """Return the argparse parser with one sub-command per declared command."""
    parser = argparse.ArgumentParser(
        prog="pcfij",
        description="Image pair correlation (ipCF), colocalization by cross correlation (CCC) "
        "and shift finding for fluorescence microscopy images.",
    )
    parser.add_argument("--version", action="version", version=f"pcfij {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for cmd in COMMANDS:
        p = cmd.add_to_parser(sub)
        p.set_defaults(_command=cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit status (0 ok, 1 bad input, 70 bug, 130 Ctrl-C)."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    cmd = ns._command
    with warnings.catch_warnings():
        warnings.formatwarning = _warning_line(cmd.name)  # restored on exit
        try:
            from pcfij.cli.runners import RUNNERS  # all CLI modules: after parsing

            runner = RUNNERS[cmd.name]
            return int(runner(cmd.values_from_namespace(ns), ns) or 0)
        except KeyboardInterrupt:
            print(f"pcfij {cmd.name}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - sorted into user errors and bugs below
            if os.environ.get("PCFIJ_DEBUG"):
                raise
            if not is_user_error(exc):
                traceback.print_exc()
                print(f"pcfij {cmd.name}: internal error: {_one_line(exc)}", file=sys.stderr)
                print(f"pcfij {cmd.name}: {BUG_REPORT}", file=sys.stderr)
                return EXIT_BUG
            print(f"pcfij {cmd.name}: error: {_flag_names(cmd, _one_line(exc))}",
                  file=sys.stderr)
            return EXIT_ERROR


def _flag_names(cmd, text: str) -> str:
    """A message that starts with a parameter's Python name ("ntimes must be ...") names
    its CLI flag instead ("--frames must be ..."); so does a parameter quoted anywhere in
    a message (`` `frame_size` `` or `` `skip_bad=True` `` -> ``--frame-size``, ``--skip-bad``;
    the engine's messages name parameters, never flags)."""
    import re

    flags = {p.name: p.flag for p in cmd.params if p.kind != "image"}
    text = re.sub(r"`([A-Za-z_]\w*)(?:=True)?`", lambda m: flags.get(m.group(1), m.group(1)),
                  text)
    head = text.split(" ", 1)[0]
    for p in cmd.params:
        if p.name == head and p.kind != "image":
            return p.flag + text[len(head):]
    return text


def is_user_error(exc: BaseException) -> bool:
    """True for errors a user can fix without a new pcfij: the project's own input errors,
    clear operating-system errors (see :data:`CLEAR_OS_ERRORS`) and running out of memory.

    A bare ``ValueError``/``TypeError`` is not one: input checks raise
    :class:`~pcfij.errors.InputError`/:class:`~pcfij.errors.InputTypeError`, so anything
    else comes from a bug.
    """
    if isinstance(exc, (InputError, InputTypeError, MemoryError)):
        return True
    return isinstance(exc, OSError) and exc.errno in CLEAR_OS_ERRORS


def _warning_line(name: str):
    """A ``warnings.formatwarning`` giving one line (replacing it, not ``showwarning``, keeps
    ``catch_warnings(record=True)`` and ``pytest.warns`` around :func:`main` working)."""
    def fmt(message, category, filename, lineno, line=None) -> str:
        return f"pcfij {name}: warning: {' '.join(str(message).split())}\n"

    return fmt


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{text}: {exc.filename}"
    if isinstance(exc, MemoryError):
        text = "not enough memory" + (f" ({text})" if text != "MemoryError" else "")
    return " ".join(text.split())
