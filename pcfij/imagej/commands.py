"""Moved to :mod:`pcfij.commands.imagej` (re-exported for existing imports; remove later)."""

from pcfij.commands.imagej import COMMANDS, IMAGEJ_RUN, INSTALL_PLUGINS, LOCAL_SHIFTS

__all__ = ["COMMANDS", "IMAGEJ_RUN", "INSTALL_PLUGINS", "LOCAL_SHIFTS"]
