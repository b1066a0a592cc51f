"""Command declarations of pcfij.imagej (CLI, ImageJ dialog, macro options)."""

COMMANDS = ()
