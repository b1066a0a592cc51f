"""CLI runners of ``pcfij ccc``, ``pcfij ccc-noconf`` and ``pcfij xcorr``, and the writer of
a CCC output folder.

The folder holds what :func:`pcfij.ccc.present.ccc_outputs` shows, with the Fiji plugin's
file names (written atomically through :func:`pcfij.io.outdir.staged_output_dir`):

=================================  ===========================================================
``CC Results.csv``                 mean, StDev, confidence, R-squared, Gaussian height (series:
                                   time of the best frame first); -1 values for a failed fit
``Summary.txt``                    the same in words, with warnings
``Correlation of images.csv``      single frames: distance, original, subtracted, Gaussian fit
``Correlation of images.png``      single frames: the correlation plot
``Gaussian fits over time.csv``    series: the fit of every frame
``Correlation over time of A and   series: profiles over time (x = frame, y = distance,
B.tif``                            channels: Gaussian fit, subtracted, original)
``Contribution of A.tif`` ...      contribution images (``--contributions``)
``Original CC result.tif`` ...     correlation images (``--intermediates``; always the
                                   correlation image for ``xcorr``)
=================================  ===========================================================
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from pcfij.errors import InputError
from pcfij.io.axes import drop_single_axes
from pcfij.io.outdir import check_writable_target, staged_output_dir
from pcfij.io.tiff import Calibration, read_image, write_imagej_tiff


# ---------------------------------------------------------------------------- reading
def _load(path, role: str):
    """Read an image file; return (data without size-1 axes other than Y and X
    (:func:`pcfij.io.axes.drop_single_axes`), in (T)(Z)YX order, axes, calibration)."""
    img = read_image(path)
    data, axes = img.data, img.axes
    if Path(path).suffix.lower() == ".npy" or len(axes) != data.ndim:
        # arrays carry no axes: 2D = YX, 3D = ZYX (time only with --time-axis), 4D = TZYX
        axes = {2: "YX", 3: "ZYX", 4: "TZYX"}.get(data.ndim, "Q" * data.ndim)
    data, axes = drop_single_axes(data, axes)
    if "C" in axes or "S" in axes:
        c = axes.index("C") if "C" in axes else axes.index("S")
        raise InputError(
            f"{role} {path} has {data.shape[c]} channels (axes {axes}); CCC needs "
            "single-channel images: split the channels and give one file per channel"
        )
    if set(axes) <= set("TZYX") and len(set(axes)) == len(axes):
        order = "".join(a for a in "TZYX" if a in axes)
        data = np.moveaxis(data, [axes.index(a) for a in order], list(range(len(order))))
        axes = order
    return data, axes, img.calibration


def _scale_from(values, axes: str, cal: Calibration):
    if values.get("scale") is not None:
        return values["scale"], (cal.unit if cal.calibrated else "unit")
    spatial = [a for a in axes if a in "ZYX"]
    scale = [cal.pixel_width, cal.pixel_height] + ([cal.voxel_depth] if "Z" in spatial else [])
    if len(spatial) not in (2, 3):  # uncalibrated arrays of unknown axes: let the engine judge
        return None, "pixel"
    unit = cal.unit if cal.calibrated else "pixel"
    return tuple(scale), unit


def _prepare(values: dict, command: str):
    for key in ("image1", "image2"):
        if not values.get(key):
            raise InputError("give two image files (IMAGE1 IMAGE2)")
    mask_path = values.get("mask")
    if mask_path and values.get("no_mask"):
        raise InputError("give either --mask MASK or --no-mask, not both")
    if not mask_path and not values.get("no_mask"):
        raise InputError(
            "give --mask MASK (a mask of every place the signal could be, e.g. the cells) or "
            "--no-mask to analyse the whole image (not recommended)"
        )
    if not values.get("output"):
        raise InputError("give an output folder with -o OUTDIR")
    check_writable_target(values["output"], overwrite=bool(values.get("overwrite")))
    a, axes, cal = _load(values["image1"], "image1")
    b, axes2, _ = _load(values["image2"], "image2")
    if a.shape != b.shape:
        raise InputError(
            f"image1 and image2 have different shapes {a.shape} ({axes}) and {b.shape} "
            f"({axes2}); both images must have the same size and number of frames"
        )
    mask = None
    if mask_path:
        mask, _, _ = _load(mask_path, "mask")
    time_axis = 0 if "T" in axes else values.get("time_axis")
    scale, unit = _scale_from(values, axes, cal)
    return a, b, mask, time_axis, scale, unit, cal


# ---------------------------------------------------------------------------- runners
def _run(values: dict, ns, command: str) -> int:
    from pcfij.ccc import ccc, cross_correlation_profile  # noqa: PLC0415
    from pcfij.commands import all_commands  # noqa: PLC0415

    values = all_commands()[command].validate(values)  # types and ranges, clear messages
    a, b, mask, time_axis, scale, unit, cal = _prepare(values, command)
    common = dict(scale=scale, time_axis=time_axis, unit=unit,
                  significant_digits=values.get("significant_digits"),
                  device=values.get("device", "auto"), frame_interval=cal.frame_interval)
    if command == "xcorr":
        result = cross_correlation_profile(a, b, mask, **common)
    else:
        result = ccc(a, b, mask, confidence=command == "ccc" and values.get("confidence", True),
                     contributions=bool(values.get("contributions")),
                     intermediates=bool(values.get("intermediates")),
                     method=values.get("method", "plugin"), **common)
    names = (Path(values["image1"]).name, Path(values["image2"]).name)
    mask_name = Path(values["mask"]).name if values.get("mask") else None
    out = write_outputs(result, values["output"], calibration=cal,
                        overwrite=bool(values.get("overwrite")), image_names=names,
                        mask_name=mask_name)
    from pcfij.ccc.present import CC_RESULTS, ccc_outputs  # noqa: PLC0415

    shown = ccc_outputs(result, title1=names[0], title2=names[1],
                        values={"frame_interval": cal.frame_interval})
    for table in shown.tables:
        if table.title == CC_RESULTS:
            for name, value in zip(table.labels, table.columns["Value"]):
                print(f"{name}: {value}")
    for line in shown.log:
        print(line)
    print(f"outputs written to {out}")
    return 0


def run(values: dict, ns=None) -> int:
    """``pcfij ccc``: Colocalization by Cross Correlation (``--no-confidence`` allowed)."""
    return _run(values, ns, "ccc")


def run_no_confidence(values: dict, ns=None) -> int:
    """``pcfij ccc-noconf``: CCC - No confidence."""
    return _run(values, ns, "ccc-noconf")


def run_xcorr(values: dict, ns=None) -> int:
    """``pcfij xcorr``: Just Cross Correlation."""
    return _run(values, ns, "xcorr")


# ---------------------------------------------------------------------------- writing
#: file name of each table of :func:`pcfij.ccc.present.ccc_outputs` (the plugin's names)
TABLE_FILES = {
    "CC Results": "CC Results.csv",
    "Table of correlations": "Correlation of images.csv",
    "Correlation over time": "Gaussian fits over time.csv",
}


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (str, bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return repr(float(v))


def write_table(path: Path, table) -> None:
    """One :class:`pcfij.outputs.OutTable` as CSV (row labels, when any, first, under an
    empty header)."""
    names = list(table.columns)
    cols = [list(table.columns[n]) for n in names]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        labels = table.labels
        w.writerow(([""] if labels is not None else []) + names)
        for i, row in enumerate(zip(*cols)):
            w.writerow(([labels[i]] if labels is not None else []) + [_fmt(v) for v in row])


def _safe(name: str) -> str:
    bad = '/\\:*?"<>|\0'
    return "".join("_" if c in bad else c for c in str(name)) or "image"


def write_outputs(result, folder, *, calibration: Calibration | None = None,
                  overwrite: bool = False, image_names=("image1", "image2"),
                  mask_name: str | None = None) -> Path:
    """Write what :func:`pcfij.ccc.present.ccc_outputs` shows into ``folder`` (created
    atomically), with the plugin's file names (module docstring).

    Parameters
    ----------
    result : CCCResult
    folder : path
        The output folder; must not exist or be empty unless ``overwrite``.
    calibration : Calibration, optional
        Supplies the frame interval for the tables of a time series.
    image_names : (str, str)
        Names of image 1 and image 2 (in image titles and file names).
    mask_name : str, optional
        Name of the mask (Summary.txt).
    """
    from pcfij.ccc.present import ccc_outputs, ccc_summary, plot_range  # noqa: PLC0415
    from pcfij.plot.ccc import render_plot  # noqa: PLC0415

    values = {"frame_interval": calibration.frame_interval if calibration else 0.0}
    shown = ccc_outputs(result, title1=image_names[0], title2=image_names[1], values=values)
    with staged_output_dir(folder, overwrite=overwrite) as out:
        for table in shown.tables:
            write_table(out / TABLE_FILES.get(table.title, f"{_safe(table.title)}.csv"), table)
        if result.has_fit:
            text = ccc_summary(result, title1=image_names[0], title2=image_names[1],
                               mask_title=mask_name, values=values)
            (out / "Summary.txt").write_text(text, encoding="utf-8")
        for plot in shown.plots:
            render_plot(plot, xmax=plot_range(result)).savefig(out / f"{_safe(plot.title)}.png")
        used: set = set()
        for img in shown.images:
            name = _safe(img.title)
            while name in used:  # two images with the same name
                name += "_2"
            used.add(name)
            write_imagej_tiff(out / f"{name}.tif", img.data, img.axes, img.calibration,
                              labels=list(img.labels) if img.labels else None)
    return Path(os.path.abspath(folder))
