"""What a pCF result shows a user: one :class:`~pcfij.outputs.Outputs` for ImageJ and the CLI.

:func:`pcf_outputs` turns an ipCF result into the images, tables and plot with the names a
user sees. The ImageJ host shows them as windows; ``pcfij pcf`` writes the same items as
files (``pcf.tif``, ``bins.csv``, ``points.csv``). No file I/O and no ImageJ here.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from pcfij.calibration import Calibration
from pcfij.outputs import RESULTS, OutImage, OutPlot, Outputs, OutTable
from pcfij.pcf.basics import bin_delays, circle
from pcfij.pcf.ipcf import ipcf_bins

POINTS_TABLE = "pCF Points"


def pcf_outputs(
    result: np.ndarray,
    ntimes: int,
    values: Mapping[str, Any],
    *,
    name: str,
    calibration: Calibration | None = None,
    source: str = "",
    region: tuple[int, int, int, int] | None = None,
) -> Outputs:
    """The presentation of an ipCF result.

    Parameters
    ----------
    result : ndarray, shape (H - 2r, W - 2r, npoints, nbins), float32
        What :func:`pcfij.pcf.ipcf` returned.
    ntimes : int
        Number of frames analysed (after the bleaching correction and ``pow2``).
    values : mapping
        The pCF parameters (``radius``, ``npoints``, ``nbins``, ``bleach_filter``, ``pow2``,
        ``smooth``).
    name : str
        Name of the input (image title or file stem); the image is titled ``"NAME pCF"``.
    calibration : Calibration, optional
        Of the input: pixel size (kept) and frame interval (seconds; adds ``Delay (s)``).
    source : str
        Where the input came from (for the image's Info text).
    region : (x, y, width, height), optional
        Input pixels analysed when a selection restricted the analysis (in pixels).

    Returns
    -------
    Outputs
        Image ``NAME pCF`` (axes TZYX: frames = delay bins, slices = circle points, x/y =
        centre pixel), the ``Results`` table of bins, the ``pCF Points`` table, a plot of the
        mean curve.
    """
    cal = calibration or Calibration()
    r, npoints = int(values["radius"]), int(values["npoints"])
    nb = result.shape[3]
    bins = ipcf_bins(ntimes, int(values["nbins"]))[:nb]
    delays = bin_delays(bins)
    starts = np.concatenate([[0], bins[:-1]])
    offsets = circle(r, npoints)
    angles = 360.0 * np.arange(npoints) / npoints
    fi = cal.frame_interval
    labels = []
    for b in range(nb):
        t = f"{delays[b]:g} frames" + (f" = {delays[b] * fi:g} s" if fi else "")
        for p in range(npoints):
            labels.append(f"point {p} (dx={offsets[p, 0]}, dy={offsets[p, 1]}, "
                          f"{angles[p]:g} deg) delay bin {b}: {t}")
    where = ""
    if region is not None:
        x, y, w, h = region
        where = (f"analysed region: x={x}..{x + w - 1}, y={y}..{y + h - 1} of the input "
                 "(the selection's bounding rectangle)\n")
    info = (
        "pcfij pCF Analysis (image pair correlation function)\n"
        f"input: {source or name}\n"
        f"radius={r} points={npoints} bins={values['nbins']} "
        f"bleach={values.get('bleach_filter', 0)} pow2={bool(values.get('pow2'))} "
        f"smooth={bool(values.get('smooth'))}\n"
        "axes: x, y = centre pixel (input pixel + radius); slices (z) = point on the circle; "
        "frames (t) = logarithmic delay bin (see the Results table for the delays)\n"
        f"frames analysed: {ntimes}\n" + where
    )
    out_cal = Calibration(cal.pixel_width, cal.pixel_height, 1.0, cal.unit, 0.0)
    out = Outputs()
    out.images.append(OutImage(
        np.ascontiguousarray(result.transpose(3, 2, 0, 1)), "TZYX", f"{name} pCF",
        out_cal, labels, info))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_curve = (np.nanmean(result.reshape(-1, nb), axis=0)
                      if np.isfinite(result).any() else np.full(nb, np.nan))
    cols: dict = {
        "Bin": np.arange(nb),
        "Delay (frames)": delays,
        "First delay": starts,
        "Last delay": bins - 1,
    }
    if fi:
        cols["Delay (s)"] = delays * fi
    cols["Mean pCF"] = mean_curve
    out.tables.append(OutTable(cols, RESULTS))
    out.tables.append(OutTable(
        {"Point": np.arange(npoints), "dx": offsets[:, 0], "dy": offsets[:, 1],
         "Angle (deg)": angles}, POINTS_TABLE))
    sl = slice(1, None) if nb > 1 else slice(None)
    out.plots.append(OutPlot(f"{name} mean pCF", "delay (frames)", "pCF").add(
        "mean over pixels and points", delays[sl], mean_curve[sl], "connected circle", "blue"))
    if region is not None:
        out.log.append(f"pCF Analysis: {name}: {where.strip()}")
    return out
