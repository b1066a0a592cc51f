"""The command declarations: one :class:`~pcfij.params.Command` per command, in one list.

Each declaration lists its parameters once (checks, CLI flags, ImageJ dialog, macro keys) and
holds the engine function it describes (``function=ipcf``). The adapters look commands up
here: the CLI builds one sub-command per entry and finds its runner by name
(:data:`pcfij.cli.runners.RUNNERS`); the ImageJ bridge registers each command that has a
``title`` as a menu command. The engines never import this package: they check their
arguments with their own parameter lists (``pcfij.pcf.parameters``, ``pcfij.ccc.parameters``).
"""

from __future__ import annotations

from pcfij.commands import blocks, ccc, imagej, pcf, shift
from pcfij.params import Command

#: every declared command, in the order of ``pcfij --help``
COMMANDS: list[Command] = [
    *pcf.COMMANDS,
    *ccc.COMMANDS,
    *shift.COMMANDS,
    *blocks.COMMANDS,
    *imagej.COMMANDS,
]


def all_commands() -> dict[str, Command]:
    """Return ``{cli name: Command}`` for every declared command, in declaration order."""
    out: dict[str, Command] = {}
    for cmd in COMMANDS:
        if cmd.name in out:
            raise RuntimeError(f"command {cmd.name!r} declared twice")
        out[cmd.name] = cmd
    return out


def imagej_commands() -> dict[str, Command]:
    """Return ``{ImageJ menu title: Command}`` for the commands shown in ImageJ."""
    return {c.title: c for c in COMMANDS if c.title}


def command(name: str) -> Command:
    """The declaration of CLI command ``name`` (KeyError naming the known ones otherwise)."""
    for cmd in COMMANDS:
        if cmd.name == name:
            return cmd
    raise KeyError(f"no command {name!r}; known: {', '.join(c.name for c in COMMANDS)}")


__all__ = ["COMMANDS", "all_commands", "command", "imagej_commands"]
