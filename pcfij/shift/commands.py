"""Command declarations of pcfij.shift (CLI, ImageJ dialog, macro options)."""

COMMANDS = ()
