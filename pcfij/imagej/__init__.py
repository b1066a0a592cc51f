"""The ImageJ bridge: start ImageJ, convert images and tables, run pcfij commands in ImageJ.

>>> from pcfij.imagej import start_imagej, to_imageplus, from_imageplus   # doctest: +SKIP
>>> ij = start_imagej(mode="headless")                                    # doctest: +SKIP
>>> imp = to_imageplus(stack, "TYX", title="cells")                       # doctest: +SKIP
>>> ij.run("pCF Analysis", "radius=4 points=16", imp)                     # doctest: +SKIP

Nothing here imports Java until :func:`start_imagej` is called. See ``docs/imagej.md``.
"""

from __future__ import annotations

from typing import Any

from pcfij.imagej.start import ImageJSession, ImageJUnavailable, session, start_imagej

__all__ = [
    "ImageJSession",
    "ImageJUnavailable",
    "from_imageplus",
    "from_results_table",
    "run_command",
    "session",
    "start_imagej",
    "to_imageplus",
    "to_results_table",
]


def __getattr__(name: str) -> Any:  # lazy: these need the JVM only when called
    if name in ("to_imageplus", "from_imageplus", "to_results_table", "from_results_table"):
        from pcfij.imagej import convert

        return getattr(convert, name)
    if name in ("run_command", "run_macro", "register_command", "CommandFailed"):
        from pcfij.imagej import bridge

        return getattr(bridge, name)
    raise AttributeError(name)
