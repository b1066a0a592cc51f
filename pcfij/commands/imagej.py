"""Declarations of the ImageJ-side commands (adapters only: no engine function).

* ``pcfij install-plugins /path/to/Fiji.app``: compiles the command host
  (``plugins/pcfij/pcfij_.jar``) and records which Python its worker runs.
* ``Find Local Shifts`` (``pcfij local-shifts``): the shift command with local maps, as its own
  ImageJ menu command (the shift declaration has one command with a ``local`` flag).
* ``pcfij imagej-run "pCF Analysis" --image data=in.tif --options "radius=4" -o DIR``: runs an
  ImageJ command's runner on TIFF files and writes ImageJ TIFFs, CSV tables and a
  ``manifest.txt`` (what the drop-in plugins call and then open).
"""

from __future__ import annotations

import argparse

from pcfij.commands.shift import SHIFT
from pcfij.params import REQUIRED, Command, Param


def _install_extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("destination", metavar="FIJI_DIR",
                        help="Fiji.app or ImageJ folder (its plugins/ folder receives "
                        "plugins/pcfij), or a plugins folder itself")


def _run_extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("command_title", metavar="COMMAND",
                        help='ImageJ command title ("pCF Analysis") or CLI name (pcf)')
    parser.add_argument("--image", action="append", default=[], metavar="NAME=FILE",
                        help="input image for the image parameter NAME (data, image1, "
                        "image2, mask ...); repeat for several")
    parser.add_argument("--input-dir", default=None, metavar="DIR",
                        help="folder holding NAME.tif for each image parameter not given "
                        "with --image (what the plugins write)")


INSTALL_PLUGINS = Command(
    name="install-plugins",
    title="",
    summary="Build the pcfij ImageJ/Fiji commands (a Java plugin compiled with javac) into a "
    "Fiji or ImageJ folder and record which Python they run",
    params=(
        Param("python", "path", None, "Python interpreter the plugins call (default: this one)",
              optional=True),
        Param("force", "bool", False, "kept for compatibility: the host jar is always rebuilt"),
        Param("ij_jar", "path", None, "ImageJ jar to compile against (default: the folder's "
              "ij.jar or jars/ij-*.jar, else /usr/share/java/ij.jar)", optional=True),
    ),
    cli_extra=_install_extra,
)

IMAGEJ_RUN = Command(
    name="imagej-run",
    title="",
    summary="Run an ImageJ command's analysis on TIFF files; write ImageJ TIFFs, CSV tables "
    "and manifest.txt (used by the drop-in plugins)",
    params=(
        Param("options", "str", "", "ImageJ macro options, e.g. \"radius=4 points=16\""),
        Param("output", "path", REQUIRED, "output folder", cli="-o"),
    ),
    cli_extra=_run_extra,
)


def _local_shifts() -> Command:
    """"Find Local Shifts": the shift command's declaration with ``local`` always on."""
    return Command(
        name="local-shifts",
        title="Find Local Shifts",
        summary="Local x/y shift maps between two images (Find Shift with --local)",
        params=tuple(p for p in SHIFT.params if p.name != "local"),
        function=SHIFT.function,
    )


LOCAL_SHIFTS = _local_shifts()

COMMANDS = (INSTALL_PLUGINS, IMAGEJ_RUN, LOCAL_SHIFTS)
