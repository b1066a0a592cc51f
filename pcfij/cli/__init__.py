"""The ``pcfij`` command line (also ``python -m pcfij``).

Sub-commands are generated from the command declarations (:mod:`pcfij.registry`). Bad input
ends with one line on stderr (``pcfij <command>: error: ...``) and a non-zero exit status,
never a traceback; set ``PCFIJ_DEBUG=1`` to see the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pcfij import __version__
from pcfij.errors import InputError, InputTypeError
from pcfij.registry import all_commands, resolve

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


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
    for cmd in all_commands().values():
        p = cmd.add_to_parser(sub)
        p.set_defaults(_command=cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    cmd = ns._command
    try:
        runner = resolve(cmd.cli_runner)
        return int(runner(cmd.values_from_namespace(ns), ns) or 0)
    except KeyboardInterrupt:
        print(f"pcfij {cmd.name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (InputError, InputTypeError, ValueError, TypeError, OSError, MemoryError) as exc:
        if os.environ.get("PCFIJ_DEBUG"):
            raise
        print(f"pcfij {cmd.name}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{text}: {exc.filename}"
    if isinstance(exc, MemoryError):
        text = "not enough memory" + (f" ({text})" if text != "MemoryError" else "")
    return " ".join(text.split())
