"""Moved to :mod:`pcfij.commands.blocks` (re-exported for existing imports; remove later)."""

from pcfij.commands.blocks import COMMANDS, CONVERT, EXPORT, REGIONS

__all__ = ["COMMANDS", "CONVERT", "EXPORT", "REGIONS"]
