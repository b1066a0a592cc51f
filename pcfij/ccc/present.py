"""What a CCC user sees, with the Fiji plugin's names: built once, rendered by adapters.

:func:`ccc_outputs` turns a :class:`~pcfij.ccc.result.CCCResult` into a
:class:`pcfij.outputs.Outputs` (no files, no Java); the CLI writes it as files
(:mod:`pcfij.cli.ccc`), the ImageJ host shows it as windows. Names follow the plugin
(Colocalization by Cross Correlation 2.2.3):

=================================  ===========================================================
table "CC Results"                 Mean (unit), StDev (unit), Confidence, R-squared, Gaussian
                                   Height (series: "Time of best CC (unit)" first), one column
                                   ``Value`` with the row names as labels
table "Table of correlations"      Distance (unit), Original CC, Subtracted CC, Gaussian fit
                                   (single frames; file "Correlation of images.csv")
table "Correlation over time"      series: Mean, SD, Confidence, R-squared, Gaussian height per
                                   frame (file "Gaussian fits over time.csv")
plot "Correlation of images"       single frames: Gaussian Fit (magenta), Subtracted CC (green),
                                   Original CC (blue)
image "Correlation over time of    series: profiles over time (x = frame, y = distance,
A and B"                           channels Gaussian fit, Subtracted, Original)
images "Contribution of A/B"       contribution images
images "Original CC result", ...   intermediates
=================================  ===========================================================

A failed fit shows the plugin's error values: confidence = R-squared = -1, mean = StDev = the
last distance, and its placeholder curve (see :func:`pcfij.ccc.fit.failed_table_values`);
the Python result keeps NaN and ``fit_ok=False``. Numbers are rounded to the significant
digits like the plugin (``BigDecimal`` with ``HALF_UP``; none = full precision).
"""

from __future__ import annotations

import decimal
import math

import numpy as np

from pcfij.calibration import Calibration
from pcfij.ccc import timeseries
from pcfij.ccc.fit import failed_curve, failed_table_values
from pcfij.outputs import OutImage, OutPlot, Outputs, OutTable

CC_RESULTS = "CC Results"
CORRELATION_TABLE = "Table of correlations"
TIME_TABLE = "Correlation over time"
PLOT_TITLE = "Correlation of images"
FAILED_WARNING = (
    "Failed to fit gaussian curve to cross correlation of {a} and {b}, suggesting no "
    "correlation between the images. Statistical measures are set to error values (-1)."
)
INTERMEDIATE_TITLES = {
    "original_image": "Original CC result",
    "subtracted_image": "Subtracted CC result",
    "gaussian_modified_image": "Gaussian-modified CC result",
}


def round_digits(value, digits: int | None):
    """The plugin's ``getSigDigits``: round half up to ``digits`` significant digits."""
    if value is None or not digits:
        return value
    v = float(value)
    if not math.isfinite(v) or v == 0:
        return v
    ctx = decimal.Context(prec=int(digits), rounding=decimal.ROUND_HALF_UP)
    return float(ctx.create_decimal(v))


def _frame_stats(result, t: int | None) -> dict:
    """Statistics of one frame as the plugin's tables show them (-1 convention)."""
    vals = result.frame_values(t)
    if vals["fit_ok"]:
        return vals
    out = failed_table_values(result.distance)
    if result.confidence is None:
        out["confidence"] = None
    return out


def _time_label(result, values: dict) -> tuple[float, str]:
    interval = float(values.get("frame_interval") or result.frame_interval or 0.0)
    unit = values.get("time_unit") or result.time_unit
    if interval:
        return interval, unit or "sec"
    return 0.0, "frame"


def _tzyx(result, arr):
    arr = np.asarray(arr, dtype=np.float32)
    if result.is_series and result.time_axis:
        arr = np.moveaxis(arr, result.time_axis, 0)
    return arr


def _calibration(result, values: dict) -> Calibration:
    sc = result.scale
    return Calibration(sc[0], sc[1], sc[2] if len(sc) > 2 else 1.0, result.unit,
                       float(values.get("frame_interval") or result.frame_interval or 0.0))


def fit_curve_for_tables(result, t: int | None = None) -> np.ndarray | None:
    """The "Gaussian fit" column: the fit, or the plugin's placeholder for a failed fit."""
    if not result.has_fit or result.fit is None:
        return None
    fit = result.fit if not result.is_series else result.fit[t]
    ok = result.fit_ok if not result.is_series else bool(result.fit_ok[t])
    return np.asarray(fit, np.float64) if ok else failed_curve(result.distance)


def plot_range(result) -> float | None:
    """Upper end of the plot's x axis like the plugin: mean + 5 sigma (at least 0.01)."""
    st = _frame_stats(result, None) if result.has_fit else None
    if st is None:
        return None
    return max(st["mean"] + 5 * st["sigma"], 0.01)


def ccc_outputs(result, *, title1: str, title2: str, values: dict) -> Outputs:
    """Everything a CCC analysis shows, named like the Fiji plugin.

    Parameters
    ----------
    result : CCCResult
        From :func:`pcfij.ccc.ccc` or :func:`pcfij.ccc.cross_correlation_profile`.
    title1, title2 : str
        Names of image 1 and image 2 (window titles or file names without extension).
    values : dict
        The command's values; read here: ``frame_interval`` and ``time_unit`` (override the
        result's), ``significant_digits`` (overrides the result's).

    Returns
    -------
    Outputs
        Tables, plot, images and log lines (module docstring).
    """
    out = Outputs()
    digits = values.get("significant_digits", result.significant_digits)

    def r(v):
        return round_digits(v, digits)

    unit = result.unit
    dist = np.asarray(result.distance, np.float64)
    cal = _calibration(result, values)
    if result.has_fit:
        rows: list[tuple[str, float]] = []
        best = result.best_frame if result.is_series else None
        if result.is_series:
            interval, tunit = _time_label(result, values)
            rows.append((f"Time of best CC ({tunit})", r(best * interval) if interval
                         else best))
        st = _frame_stats(result, best)
        rows.append((f"Mean ({unit})", r(st["mean"])))
        rows.append((f"StDev ({unit})", r(st["sigma"])))
        if st["confidence"] is not None:
            rows.append(("Confidence", r(st["confidence"])))
        rows.append(("R-squared", r(st["r_squared"])))
        rows.append(("Gaussian Height", r(st["height"])))
        if result.method == "unbiased":
            ci = np.asarray(result.distance_ci if not result.is_series
                            else result.distance_ci[best], np.float64)
            rows.append((f"Distance 95% CI low ({unit})", r(ci[0])))
            rows.append((f"Distance 95% CI high ({unit})", r(ci[1])))
        out.tables.append(OutTable({"Value": [v for _, v in rows]}, CC_RESULTS,
                                   [n for n, _ in rows]))
    if result.is_series:
        _series_outputs(out, result, title1, title2, values, r)
    else:
        cols = {f"Distance ({unit})": [r(v) for v in dist]}
        if result.original is not None:
            cols["Original CC"] = [r(v) for v in result.original]
        if result.subtracted is not None:
            cols["Subtracted CC"] = [r(v) for v in result.subtracted]
        curve = fit_curve_for_tables(result)
        if curve is not None:
            cols["Gaussian fit"] = [r(v) for v in curve]
        out.tables.append(OutTable(cols, CORRELATION_TABLE))
        plot = OutPlot(PLOT_TITLE, f"Distance ({unit})", "Cross correlation")
        if curve is not None:
            plot.add("Gaussian Fit", dist, curve, "filled", "#ff00ff")
        if result.subtracted is not None:
            plot.add("Subtracted CC", dist, result.subtracted, "circle", "green")
        if result.original is not None:
            plot.add("Original CC", dist, result.original, "circle", "blue")
        out.plots.append(plot)
    for key, ttl in INTERMEDIATE_TITLES.items():
        arr = getattr(result, key)
        if arr is not None:
            arr = _tzyx(result, arr)
            out.images.append(OutImage(arr, _axes(arr, result.is_series), ttl, cal))
    for key, name in (("contribution1", title1), ("contribution2", title2)):
        arr = getattr(result, key)
        if arr is not None:
            arr = _tzyx(result, arr)
            out.images.append(OutImage(arr, _axes(arr, result.is_series),
                                       f"Contribution of {name}", cal))
    if result.has_fit and not np.all(result.fit_ok):
        out.log.append(FAILED_WARNING.format(a=title1, b=title2))
    out.log.extend(line for line in result.message.splitlines() if line)
    return out


def _axes(arr: np.ndarray, series: bool) -> str:
    spatial = "ZYX"[-(arr.ndim - (1 if series else 0)):]
    return ("T" if series else "") + spatial


def _series_outputs(out: Outputs, result, title1, title2, values, r) -> None:
    n = result.n_frames
    interval, tunit = _time_label(result, values)
    if result.has_fit:
        stats = [_frame_stats(result, t) for t in range(n)]
        cols = {"Mean": [r(s["mean"]) for s in stats], "SD": [r(s["sigma"]) for s in stats]}
        if result.confidence is not None:
            cols["Confidence"] = [r(s["confidence"]) for s in stats]
        cols["R-squared"] = [r(s["r_squared"]) for s in stats]
        cols["Gaussian height"] = [r(s["height"]) for s in stats]
        labels = [f"{r(t * interval)} {tunit}" if interval else f"Frame {t}" for t in range(n)]
        out.tables.append(OutTable(cols, TIME_TABLE, labels))
        fit = np.stack([fit_curve_for_tables(result, t) for t in range(n)])
    else:
        fit = None
    hm, names = timeseries.heatmap(fit, result.subtracted, result.original)
    luts = {"Gaussian fit": "Magenta", "Subtracted CC": "Green", "Original CC": "Blue"}
    d = result.distance
    info = (f"pcfij CCC: x = frame, y = distance (row k = the k-th distance of the profile, "
            f"{d[0]:g} .. {d[-1]:g} {result.unit}), channels: " + ", ".join(names) + "\n")
    out.images.append(OutImage(hm, "CYX", f"Correlation over time of {title1} and {title2}",
                               None, list(names), info, [luts[nm] for nm in names]))


def ccc_summary(result, *, title1: str, title2: str, mask_title: str | None,
                values: dict | None = None) -> str:
    """The plugin's ``Summary.txt``."""
    values = values or {}
    digits = values.get("significant_digits", result.significant_digits)

    def r(v):
        return round_digits(v, digits)

    text = ("Results generated using pcfij (numbers of Colocalization by Cross Correlation "
            f"2.2.3, method {result.method})\n"
            "Plugin website: https://imagej.net/plugins/colocalization-by-cross-correlation\n\n")
    if not result.has_fit:
        return text
    best = result.best_frame if result.is_series else None
    st = _frame_stats(result, best)
    text += (f'Fit a gaussian curve to the cross-correlation of: \n"{title1}"\n with \n'
             f'"{title2}"\n using the mask \n"{mask_title or "No mask selected"}":')
    if best is not None:
        interval, _ = _time_label(result, values)
        when = f"time {best * interval}, " if interval else ""
        text += f"\n\nBest correlation found at {when}frame {best}"
    text += f"\n\nMean ({result.unit}): {r(st['mean'])}\nStandard deviation: {r(st['sigma'])}"
    text += (f"\n\nConfidence: {r(st['confidence'])}" if st["confidence"] is not None else "\n")
    text += f"\nR-squared: {r(st['r_squared'])}"
    text += f"\n\nGaussian height (generally unused):{r(st['height'])}"
    if not (np.all(result.fit_ok) if result.is_series else result.fit_ok) and (
            st["r_squared"] == -1):
        text += ("\n\nThe negative confidence and R-squared values are an error result that "
                 "indicate that a Gaussian curve could not be fit to the data.\nThis could be "
                 "because no spatial correlation exists, or because the mask was too narrowly "
                 "defined. The mask should NOT be a simple segmentation of the objects you want "
                 "to measure.\nSee the website for details on how to generate a proper mask for "
                 "your data.")
        return text + "\n"
    if st["confidence"] is not None and st["confidence"] < 0.1:
        text += ("\n\nThe confidence value for this correlation is low.\nThis can indicate a "
                 "lack of significant spatial correlation, or simply that additional "
                 "pre-processing steps are required.\nSee the website for more details.")
    if st["r_squared"] is not None and st["r_squared"] < 0.05:
        text += ("\n\nThe R-squared value for the gaussian regression is very low.\nThis can "
                 "indicate a low signal to noise ratio, or that no spatial correlation exists "
                 "and the curve was fit to image noise.\nSee website for more details.")
    return text + "\n"
