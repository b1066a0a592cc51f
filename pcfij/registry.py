"""Kept for the modules that still import it: the registry is :mod:`pcfij.commands`."""

from pcfij.commands import COMMANDS, all_commands, imagej_commands

__all__ = ["COMMANDS", "all_commands", "imagej_commands"]
