"""The presentation model: what an analysis shows a user, without Java and without files.

An analysis result is turned once into an :class:`Outputs` (images, tables, plots, log
lines, with the names users see). Adapters render it: the ImageJ host as
``ImagePlus``/``ResultsTable``/``Plot`` objects, the CLI as TIFF/CSV/PNG files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pcfij.calibration import Calibration

RESULTS = "Results"


@dataclass
class OutImage:
    """An output image: array + axes (letters of TZCYX) + calibration + labels."""

    data: np.ndarray
    axes: str
    title: str
    calibration: Calibration | None = None
    labels: Sequence[str] | None = None
    info: str = ""
    luts: Sequence[str] | None = None  # one ImageJ LUT name per channel ("Magenta", ...)


@dataclass
class OutTable:
    """A table; the one titled ``"Results"`` is ImageJ's system Results table."""

    columns: dict
    title: str = RESULTS
    labels: Sequence[str] | None = None


@dataclass
class OutPlot:
    """A line/scatter plot: ``series`` is a list of (label, x, y, shape, color)."""

    title: str
    xlabel: str
    ylabel: str
    series: list = field(default_factory=list)

    def add(self, label: str, x, y, shape: str = "line", color: str = "blue") -> OutPlot:
        self.series.append((label, np.asarray(x, float), np.asarray(y, float), shape, color))
        return self


@dataclass
class Outputs:
    images: list[OutImage] = field(default_factory=list)
    tables: list[OutTable] = field(default_factory=list)
    plots: list[OutPlot] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


@dataclass
class Context:
    """Progress/status callbacks given to runners (ImageJ progress bar and status line)."""

    progress: Callable[[float], None] = lambda f: None
    status: Callable[[str], None] = lambda s: None
    command_title: str = ""
