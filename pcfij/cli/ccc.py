"""CLI runners of ``pcfij ccc``, ``pcfij ccc-noconf`` and ``pcfij xcorr``, and the writer of
a CCC output folder (also used by :meth:`pcfij.ccc.CCCResult.save`).

Output folder (written atomically through :func:`pcfij.io.outdir.staged_output_dir`):

========================  ==================================================================
``results.csv``           mean, StDev, confidence, R-squared, Gaussian height (best frame)
``summary.txt``           the same in words, with warnings
``profile.csv``           distance, original, subtracted, Gaussian fit (best frame)
``correlation_plot.png``  the correlation plot
``frames.csv``            time series: the Gaussian fit of every frame
``heatmap.tif/.png``      time series: profiles over time (channels fit, subtracted, original)
``heatmap_distance.csv``  time series: the distance of each heat-map row
``profiles_*.csv``        time series: every frame's profile (one column per frame)
``contribution_*.tif``    contribution images (``--contributions``)
``*_correlation.tif``     correlation images (``--intermediates``; always for ``xcorr``)
========================  ==================================================================
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from pcfij.errors import InputError
from pcfij.io.outdir import check_writable_target, staged_output_dir
from pcfij.io.tiff import Calibration, read_image, write_imagej_tiff


# ---------------------------------------------------------------------------- reading
def _load(path, role: str):
    """Read an image file; return (data without size-1 axes, in (T)(Z)YX order, axes,
    calibration)."""
    img = read_image(path)
    data, axes = img.data, img.axes
    if Path(path).suffix.lower() == ".npy" or len(axes) != data.ndim:
        # arrays carry no axes: 2D = YX, 3D = ZYX (time only with --time-axis), 4D = TZYX
        axes = {2: "YX", 3: "ZYX", 4: "TZYX"}.get(data.ndim, "Q" * data.ndim)
    keep = [i for i, n in enumerate(data.shape) if n != 1]
    data = data.reshape([data.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
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
    from pcfij.registry import all_commands  # noqa: PLC0415

    values = all_commands()[command].validate(values)  # types and ranges, clear messages
    a, b, mask, time_axis, scale, unit, cal = _prepare(values, command)
    common = dict(scale=scale, time_axis=time_axis, unit=unit,
                  significant_digits=values.get("significant_digits"),
                  device=values.get("device", "auto"))
    if command == "xcorr":
        result = cross_correlation_profile(a, b, mask, **common)
    else:
        result = ccc(a, b, mask, confidence=command == "ccc" and values.get("confidence", True),
                     contributions=bool(values.get("contributions")),
                     intermediates=bool(values.get("intermediates")), **common)
    names = (Path(values["image1"]).stem, Path(values["image2"]).stem)
    out = write_outputs(result, values["output"], calibration=cal,
                        overwrite=bool(values.get("overwrite")), image_names=names)
    for name, value in result.results_table(cal.frame_interval):
        print(f"{name}: {value}")
    if result.message:
        print(result.message)
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
def _fmt(v, digits):
    if v is None:
        return ""
    if isinstance(v, (str, bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if digits:
        return f"{v:.{int(digits)}g}"
    return repr(v)


def _write_csv(path: Path, columns: dict, digits) -> None:
    names = list(columns)
    data = [np.asarray(columns[n]) if not isinstance(columns[n], list) else columns[n]
            for n in names]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row in zip(*data):
            w.writerow([_fmt(v, digits) for v in row])


def _image_axes(arr: np.ndarray, series: bool) -> str:
    spatial = "ZYX"[-(arr.ndim - (1 if series else 0)):]
    return ("T" if series else "") + spatial


def _to_tzyx(result, arr):
    if result.is_series and result.time_axis:
        return np.moveaxis(arr, result.time_axis, 0)
    return arr


def write_outputs(result, folder, *, calibration: Calibration | None = None,
                  overwrite: bool = False, image_names=("image1", "image2")) -> Path:
    """Write every output of a CCC result into ``folder`` (created atomically).

    Parameters
    ----------
    result : CCCResult
    folder : path
        The output folder; must not exist or be empty unless ``overwrite``.
    calibration : Calibration, optional
        Pixel size, unit and frame interval for the TIFFs and tables (default: the result's
        scale and unit).
    image_names : (str, str)
        Names used in the contribution image file names.
    """
    from pcfij.plot_ccc import correlation_plot, heatmap_figure  # noqa: PLC0415

    if calibration is None:
        calibration = Calibration()
    cal = Calibration(
        pixel_width=result.scale[0], pixel_height=result.scale[1],
        voxel_depth=result.scale[2] if len(result.scale) > 2 else 1.0,
        unit=result.unit if result.unit not in ("pixel", "unit") else calibration.unit,
        frame_interval=calibration.frame_interval,
    )
    digits = result.significant_digits
    finterval = calibration.frame_interval
    with staged_output_dir(folder, overwrite=overwrite) as out:
        if result.has_fit:
            _write_csv(out / "results.csv",
                       {"Measure": [r[0] for r in result.results_table(finterval)],
                        "Value": [r[1] for r in result.results_table(finterval)]}, digits)
            (out / "summary.txt").write_text(result.summary(), encoding="utf-8")
        _write_csv(out / "profile.csv", result.profile_table(), digits)
        fig = correlation_plot(result)
        fig.savefig(out / "correlation_plot.png")
        if result.is_series:
            if result.has_fit:
                _write_csv(out / "frames.csv", result.frames_table(finterval), digits)
            hm = result.heatmap
            write_imagej_tiff(out / "heatmap.tif", hm, "CYX",
                              labels=list(result.heatmap_channels))
            _write_csv(out / "heatmap_distance.csv",
                       {f"Distance ({result.unit})": result.distance}, digits)
            heatmap_figure(result).savefig(out / "heatmap.png")
            for name, prof in (("original", result.original), ("subtracted", result.subtracted),
                               ("fit", result.fit)):
                if prof is None:
                    continue
                cols = {f"Distance ({result.unit})": result.distance}
                for t in range(prof.shape[0]):
                    cols[f"Frame {t}"] = prof[t]
                _write_csv(out / f"profiles_{name}.csv", cols, digits)
        images = (
            ("original_image", "original_correlation.tif"),
            ("subtracted_image", "subtracted_correlation.tif"),
            ("gaussian_modified_image", "gaussian_modified_correlation.tif"),
            ("contribution1", f"contribution_{_safe(image_names[0])}.tif"),
            ("contribution2", f"contribution_{_safe(image_names[1])}.tif"),
        )
        used = set()
        for attr, fname in images:
            arr = getattr(result, attr)
            if arr is None:
                continue
            if fname in used:  # same names for both images
                fname = fname.replace(".tif", "_2.tif")
            used.add(fname)
            arr = _to_tzyx(result, arr)
            write_imagej_tiff(out / fname, arr, _image_axes(arr, result.is_series), cal)
    return Path(os.path.abspath(folder))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "image"
