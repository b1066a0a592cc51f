"""Command declarations of pcfij.blocks (CLI, ImageJ dialog, macro options)."""

COMMANDS = ()
