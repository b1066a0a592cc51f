"""All declared commands, collected from the modules that declare them.

Each module listed in :data:`COMMAND_MODULES` defines ``COMMANDS``, a tuple of
:class:`~pcfij.params.Command`. The CLI builds one sub-command per entry; the ImageJ bridge
registers each command that has a ``title`` as a menu command.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from pcfij.params import Command

COMMAND_MODULES = (
    "pcfij.pcf.commands",
    "pcfij.ccc.commands",
    "pcfij.shift.commands",
    "pcfij.blocks.commands",
    "pcfij.imagej.commands",
)


@lru_cache(maxsize=1)
def all_commands() -> dict[str, Command]:
    """Return ``{cli name: Command}`` for every declared command, in declaration order."""
    out: dict[str, Command] = {}
    for modname in COMMAND_MODULES:
        module = importlib.import_module(modname)
        for cmd in getattr(module, "COMMANDS", ()):
            if cmd.name in out:
                raise RuntimeError(f"command {cmd.name!r} declared twice")
            out[cmd.name] = cmd
    return out


def imagej_commands() -> dict[str, Command]:
    """Return ``{ImageJ menu title: Command}`` for the commands shown in ImageJ."""
    return {c.title: c for c in all_commands().values() if c.title}


def resolve(spec: str):
    """Import ``"module:function"`` and return the function."""
    modname, _, funcname = spec.partition(":")
    return getattr(importlib.import_module(modname), funcname)
