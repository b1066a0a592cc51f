"""The CLI runner of each command, by command name.

A runner is called as ``runner(values: dict, ns: argparse.Namespace) -> int`` with the
parameters the user gave (names of the declaration in :mod:`pcfij.commands`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from pcfij.cli import big, ccc, imagej, pcf, shift

Runner = Callable[[dict, argparse.Namespace], int]

#: ``{command name: runner}`` for every declared command
RUNNERS: dict[str, Runner] = {
    "pcf": pcf.run_pcf,
    "bleach": pcf.run_bleach,
    "simulate": pcf.run_simulate,
    "demo": pcf.run_demo,
    "ccc": ccc.run,
    "ccc-noconf": ccc.run_no_confidence,
    "xcorr": ccc.run_xcorr,
    "shift": shift.run_shift,
    "drift": shift.run_drift,
    "convert": big.run_convert,
    "regions": big.run_regions,
    "export": big.run_export,
    "install-plugins": imagej.run_install_plugins,
    "imagej-run": imagej.run_imagej,
    "local-shifts": imagej.run_local_shifts,
}
