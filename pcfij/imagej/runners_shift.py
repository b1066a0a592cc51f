"""ImageJ runners of the shift commands: Find Shift, Find Local Shifts, Correct Drift.

Shifts follow ``pcfij.shift`` (algotom's conventions): (x, y) = (column, row) in pixels;
if ``moving = scipy.ndimage.shift(ref, (dy, dx))`` the reported shift is about (-dx, -dy).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from pcfij.commands.shift import device_arguments
from pcfij.errors import InputError, InputTypeError, renamed
from pcfij.imagej.runner_inputs import stem as _stem
from pcfij.imagej.runner_inputs import warnings_to_log as _warnings_to_log
from pcfij.io.tiff import Calibration, Image
from pcfij.outputs import RESULTS, Context, OutImage, OutPlot, Outputs, OutTable


def _pair(inputs: dict) -> tuple[Image, Image]:
    ref, mov = inputs["ref"], inputs["moving"]
    for name, img in (("reference", ref), ("moving image", mov)):
        if "C" in img.axes or img.data.ndim not in (2, 3):
            raise InputError(f"the {name} ({_stem(img)}, axes {img.axes}) must be a 2D image "
                             "or a single-channel stack")
    if ref.data.shape != mov.data.shape:
        raise InputError(f"the reference ({_stem(ref)}, {ref.data.shape}) and the moving image "
                         f"({_stem(mov)}, {mov.data.shape}) must have the same size")
    return ref, mov


@contextlib.contextmanager
def _titles(ref: Image, mov: Image):
    """Engine errors name ``ref_mat``/``mat``: name the images instead."""
    try:
        yield
    except (InputError, InputTypeError) as exc:
        raise renamed(exc, {"ref_mat": f"the reference ({_stem(ref)})",
                            "mat": f"the moving image ({_stem(mov)})"}) from None


def run_shift(values: dict, inputs: dict, ctx: Context) -> Outputs:
    if values.get("local"):
        return run_local_shifts(values, inputs, ctx)
    from pcfij.shift import find_shift_based_correlation_map

    ref, mov = _pair(inputs)
    ctx.status("correlating")
    with warnings.catch_warnings(record=True) as caught:  # e.g. peak at the margin -> log
        warnings.simplefilter("always")
        with _titles(ref, mov):
            x, y = find_shift_based_correlation_map(
                ref.data, mov.data, margin=values["margin"], method=values["method"],
                size=values["size"],
                **device_arguments(values["gpu"], local=False))
    ctx.progress(1.0)
    cal = mov.calibration
    cols = {"x": [float(x)], "y": [float(y)]}
    if cal.calibrated:
        cols[f"x ({cal.unit})"] = [float(x) * cal.pixel_width]
        cols[f"y ({cal.unit})"] = [float(y) * cal.pixel_height]
    out = Outputs(tables=[OutTable(cols, RESULTS, [f"{_stem(mov)} vs {_stem(ref)}"])])
    _warnings_to_log(caught, out)
    out.log.append(f"Find Shift: {_stem(mov)} relative to {_stem(ref)}: x={x:.4f} y={y:.4f} "
                   "pixels")
    return out


def run_local_shifts(values: dict, inputs: dict, ctx: Context) -> Outputs:
    from pcfij.shift import find_local_shifts

    ref, mov = _pair(inputs)
    ctx.status("finding local shifts")
    with _titles(ref, mov):
        xs, ys = find_local_shifts(
            ref.data, mov.data, dim=int(values["dim"]), win_size=values["win_size"],
            margin=values["margin"], method=values["method"], size=values["size"],
            **device_arguments(values["gpu"], local=True), ncore=values.get("ncore"),
            norm=values["norm"],
            chunk_size=values["chunk_size"])
    ctx.progress(1.0)
    maps = np.stack([np.asarray(xs, np.float32), np.asarray(ys, np.float32)])
    cal = mov.calibration
    out_cal = Calibration(cal.pixel_width, cal.pixel_height, 1.0, cal.unit, 0.0)
    out = Outputs()
    out.images.append(OutImage(
        maps, "CYX", f"{_stem(mov)} local shifts", out_cal, ["x shift", "y shift"],
        "pcfij Find Local Shifts: channel 1 = x shift, channel 2 = y shift (pixels); the "
        f"border of {values['margin'] + (values['win_size'] | 1) // 2} pixels is zero\n",
        ["Grays", "Grays"]))
    inner = (xs != 0) | (ys != 0)
    sel = inner if inner.any() else np.ones_like(inner)
    out.tables.append(OutTable({
        "Map": ["x", "y"],
        "Mean": [float(np.mean(xs[sel])), float(np.mean(ys[sel]))],
        "StdDev": [float(np.std(xs[sel])), float(np.std(ys[sel]))],
        "Min": [float(np.min(xs[sel])), float(np.min(ys[sel]))],
        "Max": [float(np.max(xs[sel])), float(np.max(ys[sel]))],
    }, RESULTS))
    return out


def _reference(text):
    t = str(text).strip().lower()
    if t in ("first", "mean"):
        return t
    try:
        return int(float(t))
    except ValueError:
        raise InputError(f"reference must be first, mean or a frame number; got {text!r}") \
            from None


def run_drift(values: dict, inputs: dict, ctx: Context) -> Outputs:
    from pcfij.shift import register_stack

    img = inputs["stack"]
    if "C" in img.axes:
        raise InputError(f"{_stem(img)} has several channels; split them first "
                         "(Image > Color > Split Channels)")
    if img.data.ndim not in (3, 4):
        raise InputError(f"{_stem(img)} is a single image; Correct Drift needs a time series "
                         "or a z-stack")
    ctx.status("registering frames")
    with warnings.catch_warnings(record=True) as caught:  # e.g. drift at the margin -> log
        warnings.simplefilter("always")
        res = register_stack(
            img.data, _reference(values["reference"]), values["method"],
            margin=values["margin"], sub_pixel_method=values["sub_pixel_method"],
            block=values["block"], correct=True, order=values["order"], mode=values["mode"],
            **device_arguments(values["gpu"], local=False))
    ctx.progress(1.0)
    out = Outputs()
    _warnings_to_log(caught, out)
    out.images.append(OutImage(
        np.asarray(res.corrected, np.float32), img.axes, f"{_stem(img)} drift corrected",
        img.calibration, None,
        f"pcfij Correct Drift of {img.path}: reference={values['reference']} "
        f"method={values['method']}; valid region rows {res.valid[0]}:{res.valid[1]}, "
        f"columns {res.valid[2]}:{res.valid[3]}\n"))
    n = res.drift.shape[0]
    out.tables.append(OutTable(
        {"Frame": np.arange(n), "dx": res.drift[:, 0], "dy": res.drift[:, 1],
         "at_margin": res.at_margin.astype(np.int8)}, RESULTS))
    out.plots.append(OutPlot(f"{_stem(img)} drift", "frame", "drift (pixels)")
                     .add("dx", np.arange(n), res.drift[:, 0], "connected circle", "blue")
                     .add("dy", np.arange(n), res.drift[:, 1], "connected circle", "red"))
    return out


RUNNERS = {
    "shift": run_shift,
    "local-shifts": run_local_shifts,
    "drift": run_drift,
}
