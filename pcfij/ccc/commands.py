"""Command declarations of pcfij.ccc (CLI, ImageJ dialog, macro options)."""

COMMANDS = ()
